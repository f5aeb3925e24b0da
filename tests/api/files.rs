//! Files in the database (API.md §9): uploadFile streams a multipart file into chunks,
//! getFile streams it back with Range, ETag and If-None-Match; replacing, removing the
//! property or dropping the object removes the file. The sample DSConfig gives Person an
//! Image (`photo`) and a FileLink (`cv`).

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, Answer, TestApp};
use datastore::store::{FileInfo, StoreOptions};

/// Bytes that do not repeat in any short period (a chunk boundary mix-up shows).
pub(crate) fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn file_part(data: Vec<u8>, name: &str, content_type: &str) -> Part {
    Part::bytes(data)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .expect("a media type")
}

pub(crate) async fn upload(app: &TestApp, id: &Value, property: &str, part: Part) -> Answer {
    let form = Form::new()
        .text("objectId", id.to_string())
        .text("propertyName", property.to_owned())
        .part("file", part);
    app.send(app.client.post(app.url("uploadFile")).multipart(form))
        .await
}

pub(crate) async fn get_file(
    app: &TestApp,
    id: &Value,
    property: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.get(app.url("getFile")).query(&[
        ("objectId", id.to_string()),
        ("propertyName", property.to_owned()),
    ]);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("the request is sent")
}

/// Every file row of the test's database, pending ones too (read through the store).
pub(crate) async fn stored_files(app: &TestApp) -> Vec<FileInfo> {
    let options = StoreOptions {
        pool_size: 1,
        migrate: false,
    };
    let store = datastore::store::open(&app.database, &options)
        .await
        .expect("the store opens");
    store.files(0, 1000).await.expect("files are listed")
}

async fn person(app: &TestApp) -> Value {
    app.new_object("Person", json!({ "firstName": "John" }))
        .await["objectId"]
        .clone()
}

#[tokio::test]
async fn a_3_mib_file_comes_back_byte_for_byte_with_its_headers() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let data = bytes(3 * 1024 * 1024 + 123, 1);
    let object = upload(
        &app,
        &id,
        "cv",
        file_part(data.clone(), "lebenslauf ä.pdf", "application/pdf"),
    )
    .await
    .ok();
    let cv = &object["cv"];
    assert_eq!(cv["name"], "lebenslauf ä.pdf");
    assert_eq!(cv["size"], data.len());
    assert_eq!(cv["contentType"], "application/pdf");
    assert!(cv["fileId"].as_i64().is_some(), "{object}");

    let response = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], data.len().to_string().as_str());
    assert_eq!(headers["accept-ranges"], "bytes");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''lebenslauf%20%C3%A4%2Epdf"),
        "{disposition}"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    let body = response.bytes().await.expect("the bytes");
    assert!(body.as_ref() == data.as_slice(), "the bytes differ");

    // POST works as well, and the object shows the file.
    let posted = app
        .client
        .post(app.url("getFile"))
        .json(&json!({ "objectId": id, "propertyName": "cv" }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    assert_eq!(posted.bytes().await.unwrap().len(), data.len());
    assert_eq!(app.get_object(&id).await.ok()["cv"], *cv);

    // The same ETag: 304 without a body.
    let again = get_file(&app, &id, "cv", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());
    let other = get_file(&app, &id, "cv", &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn ranges_are_answered_206_and_ranges_outside_416() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let data = bytes(600 * 1024, 2);
    upload(
        &app,
        &id,
        "photo",
        file_part(data.clone(), "me.png", "image/png"),
    )
    .await
    .ok();
    let n = data.len();
    for (range, from, to) in [
        ("bytes=0-9".to_owned(), 0, 9),
        // Across a chunk boundary (256 KiB).
        (format!("bytes={}-{}", 262_100, 262_200), 262_100, 262_200),
        (format!("bytes={}-", n - 5), n - 5, n - 1),
        ("bytes=-300000".to_owned(), n - 300_000, n - 1),
        (format!("bytes=10-{}", n + 1000), 10, n - 1),
    ] {
        let response = get_file(&app, &id, "photo", &[("Range", &range)]).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {from}-{to}/{n}").as_str()
        );
        assert_eq!(
            response.headers()["content-length"],
            (to - from + 1).to_string().as_str()
        );
        let body = response.bytes().await.unwrap();
        assert!(
            body.as_ref() == &data[from..=to],
            "{range}: the bytes differ"
        );
    }
    let outside = get_file(&app, &id, "photo", &[("Range", &format!("bytes={n}-"))]).await;
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        outside.headers()["content-range"],
        format!("bytes */{n}").as_str()
    );
    // Several ranges: the whole file.
    let several = get_file(&app, &id, "photo", &[("Range", "bytes=0-1,5-6")]).await;
    assert_eq!(several.status(), StatusCode::OK);
    assert_eq!(several.bytes().await.unwrap().len(), n);
    // An image is shown inline.
    let whole = get_file(&app, &id, "photo", &[]).await;
    let disposition = whole.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline;"), "{disposition}");
}

#[tokio::test]
async fn an_oversized_upload_is_answered_413_and_stores_nothing() {
    let app = spawn_with(|settings, _| settings.max_upload = 1024 * 1024).await;
    let id = person(&app).await;
    let big = bytes(3 * 1024 * 1024, 3);
    // Content-Length known (reqwest computes it for byte parts).
    upload(
        &app,
        &id,
        "cv",
        file_part(big.clone(), "big.bin", "application/octet-stream"),
    )
    .await
    .fails(413, "TOO_LARGE");
    // Length unknown (a stream): the limit is found while streaming.
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let part = Part::stream(reqwest::Body::wrap_stream(stream))
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    upload(&app, &id, "cv", part).await.fails(413, "TOO_LARGE");
    assert!(stored_files(&app).await.is_empty(), "no file is kept");
    assert!(app.get_object(&id).await.ok().get("cv").is_none());
    // Within the limit it works.
    upload(
        &app,
        &id,
        "cv",
        file_part(bytes(1000, 4), "small.bin", "application/octet-stream"),
    )
    .await
    .ok();
}

#[tokio::test]
async fn replacing_a_file_removes_the_old_one_and_saving_empty_removes_it() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let first = upload(
        &app,
        &id,
        "cv",
        file_part(bytes(1000, 5), "a.txt", "text/plain"),
    )
    .await
    .ok();
    let second = upload(
        &app,
        &id,
        "cv",
        file_part(bytes(2000, 6), "b.txt", "text/plain"),
    )
    .await
    .ok();
    assert_ne!(first["cv"]["fileId"], second["cv"]["fileId"]);
    let files = stored_files(&app).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(Some(files[0].file_id), second["cv"]["fileId"].as_i64());
    // A text file is never shown inline, and runs nothing opened directly.
    let response = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(response.headers()["content-security-policy"], "sandbox");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(response.bytes().await.unwrap().len(), 2000);

    app.post(
        "saveProperty",
        json!({ "objectId": id, "propertyName": "cv", "propertyValue": null }),
    )
    .await
    .ok();
    assert!(stored_files(&app).await.is_empty());
    let gone = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "FILE_NOT_FOUND");
    // A value cannot be saved into a file property.
    app.post(
        "saveProperties",
        json!({ "objectId": id, "properties": { "cv": "x" } }),
    )
    .await
    .fails(400, "INVALID_VALUE");
}

#[tokio::test]
async fn dropping_the_object_removes_its_files_and_changing_its_type_keeps_them() {
    let app = spawn_app().await;
    let id = person(&app).await;
    upload(
        &app,
        &id,
        "cv",
        file_part(bytes(10, 7), "a.txt", "text/plain"),
    )
    .await
    .ok();
    upload(
        &app,
        &id,
        "photo",
        file_part(bytes(10, 8), "a.gif", "image/gif"),
    )
    .await
    .ok();
    app.post(
        "changeObjectType",
        json!({ "objectId": id, "objectType": "ARCH_Person" }),
    )
    .await
    .ok();
    assert_eq!(stored_files(&app).await.len(), 2);
    assert_eq!(
        get_file(&app, &id, "cv", &[]).await.status(),
        StatusCode::OK
    );
    app.post("dropObject", json!({ "objectId": id })).await.ok();
    assert!(stored_files(&app).await.is_empty());
    let gone = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn uploads_to_the_wrong_property_or_object_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let part = || file_part(bytes(5000, 9), "a.txt", "text/plain");
    upload(&app, &id, "firstName", part())
        .await
        .fails(400, "INVALID_VALUE");
    // An Image takes images only.
    upload(&app, &id, "photo", part())
        .await
        .fails(400, "INVALID_VALUE");
    upload(&app, &json!(999_999), "cv", part())
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    // The file before the other fields: stored first, then refused and removed.
    let form = Form::new()
        .part("file", part())
        .text("objectId", "999999")
        .text("propertyName", "cv");
    app.send(app.client.post(app.url("uploadFile")).multipart(form))
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    // A field twice, an unknown field, no file, not multipart.
    let form = Form::new()
        .text("objectId", id.to_string())
        .text("objectId", id.to_string())
        .text("propertyName", "cv")
        .part("file", part());
    app.send(app.client.post(app.url("uploadFile")).multipart(form))
        .await
        .fails(400, "INVALID_PARAMETER");
    let form = Form::new()
        .text("objectId", id.to_string())
        .text("propertyName", "cv")
        .text("color", "red")
        .part("file", part());
    let details = app
        .send(app.client.post(app.url("uploadFile")).multipart(form))
        .await
        .fails(400, "UNKNOWN_PARAMETER")
        .clone();
    assert_eq!(
        details["accepted"],
        json!(["objectId", "propertyName", "file"])
    );
    let form = Form::new()
        .text("objectId", id.to_string())
        .text("propertyName", "cv");
    app.send(app.client.post(app.url("uploadFile")).multipart(form))
        .await
        .fails(400, "MISSING_PARAMETER");
    app.post(
        "uploadFile",
        json!({ "objectId": id, "propertyName": "cv" }),
    )
    .await
    .fails(415, "UNSUPPORTED_MEDIA_TYPE");
    assert!(
        stored_files(&app).await.is_empty(),
        "no pending file is left"
    );
    assert!(app.get_object(&id).await.ok().get("cv").is_none());
    // getFile of a property without a file, and on a missing object.
    let none = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let missing = get_file(&app, &json!(999_999), "cv", &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn concurrent_uploads_to_one_property_leave_exactly_one_file() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let uploads = (0..6).map(|i| {
        let app = &app;
        let id = id.clone();
        async move {
            upload(
                app,
                &id,
                "cv",
                file_part(
                    bytes(300 * 1024, 10 + i),
                    &format!("{i}.bin"),
                    "application/octet-stream",
                ),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(uploads).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let files = stored_files(&app).await;
    assert_eq!(files.len(), 1, "{files:?}");
    let object = app.get_object(&id).await.ok();
    assert_eq!(object["cv"]["fileId"].as_i64(), Some(files[0].file_id));
    assert_eq!(
        files[0].owner,
        Some((id.as_i64().unwrap(), "cv".to_owned()))
    );
}

/// Export, then import with `--replace` while the service runs: the file keeps its id,
/// its bytes, Range and ETag; a file uploaded afterwards gets a higher id.
#[tokio::test]
async fn an_imported_file_keeps_its_id_is_served_and_later_ids_are_higher() {
    let app = spawn_app().await;
    let id = person(&app).await;
    let data = bytes(300 * 1024, 20);
    upload(
        &app,
        &id,
        "cv",
        file_part(data.clone(), "old.pdf", "application/pdf"),
    )
    .await
    .ok();
    let before = app.get_object(&id).await.ok();
    let file_id = before["cv"]["fileId"].as_i64().expect("a file id");
    let etag = get_file(&app, &id, "cv", &[]).await.headers()["etag"].clone();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let path = path.to_str().unwrap();
    app.cli(&["export", "--output", path]);
    app.cli(&["import", "--input", path, "--replace"]);

    let after = app.get_object(&id).await.ok();
    assert_eq!(after["cv"], before["cv"], "{after}");
    let files = stored_files(&app).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].file_id, file_id);
    assert_eq!(files[0].chunks(), 2);
    let response = get_file(&app, &id, "cv", &[("Range", "bytes=262100-262200")]).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert!(response.bytes().await.unwrap().as_ref() == &data[262_100..=262_200]);
    let whole = get_file(&app, &id, "cv", &[]).await;
    assert_eq!(whole.headers()["etag"], etag);
    assert!(whole.bytes().await.unwrap().as_ref() == data.as_slice());

    // A new file gets a higher id.
    let other = person(&app).await;
    upload(
        &app,
        &other,
        "cv",
        file_part(bytes(10, 21), "new.txt", "text/plain"),
    )
    .await
    .ok();
    let next = app.get_object(&other).await.ok()["cv"]["fileId"]
        .as_i64()
        .expect("a file id");
    assert!(next > file_id, "{next} after {file_id}");
}

#[tokio::test]
async fn pending_files_are_swept_once_old_and_linked_ones_never() {
    use datastore::store::NewFile;
    let app = spawn_app().await;
    let id = person(&app).await;
    upload(
        &app,
        &id,
        "cv",
        file_part(bytes(10, 30), "a.txt", "text/plain"),
    )
    .await
    .ok();
    let options = StoreOptions {
        pool_size: 1,
        migrate: false,
    };
    let store = datastore::store::open(&app.database, &options)
        .await
        .unwrap();
    let pending = store
        .create_file(&NewFile {
            name: "left.bin".into(),
            content_type: "application/octet-stream".into(),
            chunk_size: 1024,
        })
        .await
        .unwrap();
    store
        .write_file_chunk(pending, 0, vec![1, 2, 3])
        .await
        .unwrap();
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.sweep_pending_files(an_hour_ago).await.unwrap(), 0);
    assert_eq!(stored_files(&app).await.len(), 2);
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(store.sweep_pending_files(later).await.unwrap(), 1);
    let left = stored_files(&app).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].owner.is_some());
    assert_eq!(
        get_file(&app, &id, "cv", &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_lookup_displaying_a_file_property_shows_the_file_name() {
    let app = crate::helpers::spawn_app_with_config(
        r#"
[types.Doc.properties]
scan = "FileLink"

[types.Task.properties]
doc = { type = "Lookup", objectType = "Doc", display = "scan" }
"#,
    )
    .await;
    let doc = app.new_object("Doc", json!({})).await["objectId"].clone();
    let task = app.new_object("Task", json!({ "doc": doc })).await["objectId"].clone();
    upload(
        &app,
        &doc,
        "scan",
        file_part(bytes(10, 31), "scan.pdf", "application/pdf"),
    )
    .await
    .ok();
    assert_eq!(app.get_object(&task).await.ok()["doc@display"], "scan.pdf");
    app.post(
        "saveProperty",
        json!({ "objectId": doc, "propertyName": "scan", "propertyValue": "" }),
    )
    .await
    .ok();
    assert!(app
        .get_object(&task)
        .await
        .ok()
        .get("doc@display")
        .is_none());
}
