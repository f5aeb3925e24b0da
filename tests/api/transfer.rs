//! Export, import and copy-system (API.md §9, docs/EXPORT.md), files included: through the
//! CLI and over HTTP, on the test's backend; the SQLite → SQL Server → SQLite round trip
//! when `DATASTORE_TEST_MSSQL_URL` is set.

use std::path::{Path, PathBuf};

use datastore::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{datastore_command, eventually, mssql_url, spawn_app, spawn_with, TestApp};

/// Objects of numbered types, Lookups with display texts (one showing a number), a List,
/// many property types, strict and loose relationships.
async fn fill(app: &TestApp) -> Vec<Value> {
    let city = app
        .new_object(
            "City",
            json!({ "name": "Berlin", "location": [52.52, 13.405] }),
        )
        .await;
    let company = app
        .new_object(
            "Company",
            json!({ "name": "Acme", "city": city["objectId"], "founded": "01-03-1999" }),
        )
        .await;
    let mut people = Vec::new();
    for (i, name) in ["Ada", "Bob", "Cyd"].iter().enumerate() {
        let person = app
            .new_object(
                "Person",
                json!({
                    "firstName": name, "age": 30 + i, "height": 1.5 + i as f64 / 10.0,
                    "salary": "2500,5", "birthDate": "01-03-1990",
                    "lastLogin": "2024-03-01T15:45:00+02:00", "workStart": "08:30",
                    "active": "on", "status": "A", "company": company["objectId"],
                    "tags": "[\"vip\",\"new\"]", "preferences": { "food": "Pasta" },
                    "home": "51.3,12.3", "signature": "SGFsbG8=", "nickname": "über ✓",
                }),
            )
            .await;
        app.relate(&company, &person, i == 0).await;
        people.push(person);
    }
    let order = app
        .new_object(
            "Order",
            json!({ "amount": "12.30", "customer": people[1]["objectId"] }),
        )
        .await;
    app.relate(&people[1], &order, false).await;
    vec![city, company, people[0].clone(), order]
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Runs `datastore ARGS --database DB`; the output, whether it succeeded or not.
fn run(database: &str, args: &[&str]) -> std::process::Output {
    datastore_command()
        .args(args)
        .args(["--database", database])
        .output()
        .expect("the binary runs")
}

fn export(app: &TestApp, file: &Path, system: &str) -> Vec<Value> {
    app.cli(&[
        "export",
        "--output",
        file.to_str().unwrap(),
        "--system",
        system,
    ]);
    records(file)
}

fn records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .expect("the export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The records without what differs between two exports of the same data: the header's
/// time, and `fields` of it.
fn comparable(mut records: Vec<Value>, fields: &[&str]) -> Vec<Value> {
    let header = records[0].as_object_mut().expect("a header");
    header.remove("exportedAt");
    for field in fields {
        header.remove(*field);
    }
    records
}

fn write_lines(path: &Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn import(app: &TestApp, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", "--input", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&app.database, &args)
}

#[track_caller]
fn refused(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a refusal: {stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
}

#[tokio::test]
async fn export_import_export_gives_the_same_records() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    fill(&source).await;
    let first = export(&source, &files.path().join("a.jsonl"), "LIVE");
    assert_eq!(first[0]["record"], "header");
    assert_eq!(first[0]["format"], "datastore-export");
    let end = first.last().unwrap();
    assert_eq!(
        (end["record"].as_str(), end["objects"].as_u64()),
        (Some("end"), Some(6))
    );
    assert!(first
        .iter()
        .any(|r| r["record"] == "relationship" && r["strict"] == true));
    assert!(first
        .iter()
        .any(|r| r["record"] == "numbering" && r["objectType"] == "Person"));
    let out = import(&target, &files.path().join("a.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 6 objects"));
    let second = export(&target, &files.path().join("b.jsonl"), "LIVE");
    assert_eq!(comparable(second, &[]), comparable(first, &[]));
    // Display texts are as exported, the object reads as it did.
    let person = target.get_object(&json!(3)).await.ok();
    assert_eq!(person["company@display"], "Acme");
    assert_eq!(person["status@display"], "Active");
    assert_eq!(person["nickname"], "über ✓");
}

#[tokio::test]
async fn importing_into_a_system_with_data_is_refused_unless_replace() {
    let (app, files) = (spawn_app().await, dir());
    fill(&app).await;
    let file = files.path().join("a.jsonl");
    let before = export(&app, &file, "LIVE");
    let other = app.new_object("City", json!({ "name": "Paris" })).await;
    refused(&import(&app, &file, &[]), "--replace");
    assert_eq!(app.count("City").await, 2, "nothing changed");
    let out = import(&app, &file, &["--replace"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The running server sees the replaced data at once.
    assert_eq!(app.count("City").await, 1);
    app.get_object(&other["objectId"])
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    let after = export(&app, &files.path().join("b.jsonl"), "LIVE");
    assert_eq!(comparable(after, &[]), comparable(before, &[]));
}

#[tokio::test]
async fn a_bad_file_is_refused_naming_the_line_and_changes_nothing() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    fill(&source).await;
    let good = export(&source, &files.path().join("a.jsonl"), "LIVE");
    target.new_object("City", json!({ "name": "Paris" })).await;
    let last = good.len();
    let first_object = good.iter().position(|r| r["record"] == "object").unwrap();
    let object_line = move |n: usize| first_object + n;
    let relationship_line = good
        .iter()
        .rposition(|r| r["record"] == "relationship")
        .unwrap();
    type Change = Box<dyn Fn(&mut Vec<Value>)>;
    let cases: Vec<(&str, Change, String)> = vec![
        (
            "not JSON",
            Box::new(|_| {}),
            "line 3: not a JSON object".into(),
        ),
        (
            "unknown kind",
            Box::new(move |r| r[object_line(1)]["record"] = json!("gadget")),
            format!("line {}: unknown record kind `gadget`", object_line(1) + 1),
        ),
        (
            "format version",
            Box::new(|r| r[0]["formatVersion"] = json!(99)),
            "line 1: format version 99".into(),
        ),
        (
            "no header",
            Box::new(|r| {
                r.remove(0);
            }),
            "line 1: the file does not start with a header".into(),
        ),
        (
            "duplicate id",
            Box::new(move |r| {
                r[object_line(1)]["objectId"] = r[object_line(0)]["objectId"].clone()
            }),
            format!("line {}: object 1 appears twice", object_line(1) + 1),
        ),
        (
            "missing object",
            Box::new(move |r| r[relationship_line]["childObjectId"] = json!(999)),
            format!(
                "line {}: the relationship's child object 999 is not in the data",
                relationship_line + 1
            ),
        ),
        (
            "counts",
            Box::new(move |r| r[last - 1]["objects"] = json!(7)),
            format!("line {last}: the end record counts 7 objects"),
        ),
        (
            "cut short",
            Box::new(|r| {
                r.pop();
            }),
            format!(
                "line {}: the file ends here without its end record",
                last - 1
            ),
        ),
    ];
    for (what, change, message) in cases {
        let mut records = good.clone();
        change(&mut records);
        let file = files.path().join("bad.jsonl");
        write_lines(&file, &records);
        if what == "not JSON" {
            let text = std::fs::read_to_string(&file).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            lines[2] = "{\"record\":\"object\",";
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        }
        refused(&import(&target, &file, &["--replace"]), &message);
        assert_eq!(target.count("City").await, 1, "{what}: nothing changed");
        assert_eq!(target.count("Person").await, 0, "{what}: nothing changed");
    }
    // A file cut in the middle of a line.
    let text = std::fs::read_to_string(files.path().join("a.jsonl")).unwrap();
    let file = files.path().join("cut.jsonl");
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let out = import(&target, &file, &["--replace"]);
    refused(&out, "line ");
    assert_eq!(target.count("City").await, 1, "nothing changed");
}

#[tokio::test]
async fn new_objects_after_an_import_continue_ids_and_numbers() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    let objects = fill(&source).await;
    let file = files.path().join("a.jsonl");
    let records = export(&source, &file, "LIVE");
    let out = import(&target, &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let max_id = records
        .iter()
        .filter_map(|r| r["objectId"].as_i64())
        .max()
        .unwrap();
    let person = target
        .new_object("Person", json!({ "firstName": "Dan" }))
        .await;
    assert!(person["objectId"].as_i64().unwrap() > max_id, "{person}");
    assert_eq!(person["objectNumber"], "P-0001004", "numbers continue");
    let company = target
        .new_object("Company", json!({ "name": "Beta" }))
        .await;
    assert_eq!(company["objectNumber"], "C-00002");
    assert_eq!(objects[2]["objectNumber"], "P-0001001");
}

#[tokio::test]
async fn copy_system_replaces_the_target_via_the_cli_and_over_http() {
    let (app, files) = (spawn_app().await, dir());
    let objects = fill(&app).await;
    let out = run(&app.database, &["copy-system", "LIVE", "TEST"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = export(&app, &files.path().join("live.jsonl"), "LIVE");
    let test = export(&app, &files.path().join("test.jsonl"), "TEST");
    assert_eq!(test[0]["system"], "TEST");
    // TEST's database holds no DSConfig of its own (the header says which one LIVE had).
    let ignored = ["system", "configVersion"];
    assert_eq!(comparable(test, &ignored), comparable(live, &ignored));
    // LIVE changes; a copy over HTTP makes TEST the same again, its old data gone.
    app.post("dropObject", json!({ "objectId": objects[3]["objectId"] }))
        .await
        .ok();
    app.new_object("City", json!({ "name": "Rome" })).await;
    let answer = app
        .post(
            "copySystem",
            json!({ "fromSystem": "LIVE", "toSystem": "TEST" }),
        )
        .await
        .ok();
    assert_eq!(answer["objects"], 6);
    assert_eq!(answer["toSystem"], "TEST");
    let live = export(&app, &files.path().join("live2.jsonl"), "LIVE");
    let test = export(&app, &files.path().join("test2.jsonl"), "TEST");
    assert!(!test.iter().any(|r| r["objectId"] == objects[3]["objectId"]));
    assert_eq!(comparable(test, &ignored), comparable(live, &ignored));
    // The same system twice, or no system, is refused.
    app.post(
        "copySystem",
        json!({ "fromSystem": "TEST", "toSystem": "test" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    app.post(
        "copySystem",
        json!({ "fromSystem": "PROD", "toSystem": "TEST" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    refused(
        &run(&app.database, &["copy-system", "TEST", "TEST"]),
        "same system",
    );
}

#[tokio::test]
async fn export_data_streams_the_cli_export_to_admins_only() {
    let (app, files) = (spawn_app().await, dir());
    fill(&app).await;
    let cli = export(&app, &files.path().join("a.jsonl"), "LIVE");
    let (admin, _) = app.create_key(Role::Admin, None, None).await;
    let (writer, _) = app.create_key(Role::Write, None, None).await;
    // The service learns within a second that keys exist.
    let enforced = eventually(10, || async {
        app.get("getConfig", &[]).await.status.as_u16() == 401
    })
    .await;
    assert!(enforced, "keys are enforced");
    app.with_key(&writer)
        .get("exportData", &[])
        .await
        .fails(403, "FORBIDDEN");
    app.with_key(&writer)
        .post(
            "copySystem",
            json!({ "fromSystem": "LIVE", "toSystem": "TEST" }),
        )
        .await
        .fails(403, "FORBIDDEN");
    let answer = app.with_key(&admin).get("exportData", &[]).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(
        answer.headers["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let text = answer.body.as_str().expect("JSON Lines").to_owned();
    let http: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(comparable(http, &[]), comparable(cli, &[]));
}

#[tokio::test]
async fn sqlite_to_sql_server_and_back_is_unchanged() {
    let Some(_) = mssql_url() else {
        eprintln!("SKIPPED sqlite_to_sql_server_and_back_is_unchanged: DATASTORE_TEST_MSSQL_URL is not set");
        return;
    };
    let sqlite = |s: &mut datastore::settings::Settings, dir: &Path| {
        s.database = format!("sqlite://{}", dir.join("d.db").display());
    };
    let (embedded, mssql, back, files) = (
        spawn_with(sqlite).await,
        spawn_app().await,
        spawn_with(sqlite).await,
        dir(),
    );
    fill(&embedded).await;
    fill_files(&embedded, 300 * 1024).await;
    let path = |name: &str| -> PathBuf { files.path().join(name) };
    let first = export(&embedded, &path("a.jsonl"), "LIVE");
    assert_eq!(first[0]["source"], "sqlite");
    let out = import(&mssql, &path("a.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let middle = export(&mssql, &path("b.jsonl"), "LIVE");
    assert_eq!(middle[0]["source"], "mssql");
    assert_eq!(
        comparable(middle, &["source"]),
        comparable(first.clone(), &["source"])
    );
    let out = import(&back, &path("b.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = export(&back, &path("c.jsonl"), "LIVE");
    assert_eq!(comparable(last, &[]), comparable(first, &[]));
}

#[tokio::test]
async fn exports_of_several_pages_round_trip() {
    let (target, files) = (spawn_app().await, dir());
    // Past one page of objects (1,000) and one of relationships (5,000), written as a file.
    let mut records = vec![json!({
        "record": "header", "format": "datastore-export", "formatVersion": 1, "app": "default",
        "system": "LIVE", "exportedAt": "2026-01-01T00:00:00.000Z", "source": "sqlite",
        "configVersion": 1,
    })];
    for id in 1..=2100 {
        records.push(json!({
            "record": "object", "objectId": id, "objectType": "City", "objectNumber": null,
            "createdAt": "2026-01-01T00:00:00.123Z", "updatedAt": "2026-01-02T00:00:00.000Z",
            "properties": [{ "name": "name", "type": "String", "value": format!("City {id}"),
                             "asDouble": null, "asString": null }],
        }));
    }
    for parent in 1..=3 {
        for child in parent + 1..=parent + 1700 {
            records.push(json!({
                "record": "relationship", "parentObjectId": parent, "childObjectId": child,
                "strict": child % 2 == 0,
            }));
        }
    }
    for (ty, prefix, width, next) in [("Company", "C-", 5, 1), ("Person", "P-", 7, 1001)] {
        records.push(json!({
            "record": "numbering", "objectType": ty, "prefix": prefix, "width": width,
            "nextNumber": next, "active": true,
        }));
    }
    records.push(json!({
        "record": "end", "objects": 2100, "properties": 2100, "relationships": 5100,
        "numbering": 2, "files": 0, "fileChunks": 0,
    }));
    let file = files.path().join("a.jsonl");
    write_lines(&file, &records);
    let out = import(&target, &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(target.count("City").await, 2100);
    let exported = export(&target, &files.path().join("b.jsonl"), "LIVE");
    let ignored = ["source"];
    assert_eq!(
        comparable(exported, &ignored),
        comparable(records, &ignored)
    );
}

#[tokio::test]
async fn export_to_stdout_and_import_from_stdin() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    fill(&source).await;
    let file = files.path().join("a.jsonl");
    let records = export(&source, &file, "LIVE");
    let out = source.cli(&["export", "--output", "-"]);
    let piped: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(comparable(piped, &[]), comparable(records, &[]));
    let out = datastore_command()
        .args(["import", "--input", "-", "--database", &target.database])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(target.count("Person").await, 3);
}

#[tokio::test]
async fn a_serve_process_answers_an_import_at_once() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    fill(&source).await;
    let file = files.path().join("a.jsonl");
    export(&source, &file, "LIVE");
    let serve = target.serve_process();
    let count = |answer: crate::helpers::Answer| answer.total();
    let people = json!({ "objectType": "Person", "limit": 0 });
    assert_eq!(
        count(serve.app.post("getObjectListTable", people.clone()).await),
        0
    );
    let out = import(&target, &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(serve.app.post("getObjectListTable", people).await), 3);
    let person = serve
        .app
        .post("getObject", json!({ "objectId": 3 }))
        .await
        .ok();
    assert_eq!(person["company@display"], "Acme");
}

/// A person with a FileLink (`cv`, `size` bytes) and an Image (`photo`, small); the
/// person's id and the two files' bytes.
async fn fill_files(app: &TestApp, size: usize) -> (Value, Vec<u8>, Vec<u8>) {
    use crate::files::{bytes, file_part, upload};
    let id = app
        .new_object("Person", json!({ "firstName": "Fay" }))
        .await["objectId"]
        .clone();
    let cv = bytes(size, 7);
    let photo = bytes(1000, 8);
    upload(
        app,
        &id,
        "cv",
        file_part(cv.clone(), "cv ä.pdf", "application/pdf"),
    )
    .await
    .ok();
    upload(
        app,
        &id,
        "photo",
        file_part(photo.clone(), "me.png", "image/png"),
    )
    .await
    .ok();
    (id, cv, photo)
}

/// The bytes and ETag getFile answers (in `system`, LIVE when `None`).
async fn file_of(
    app: &TestApp,
    id: &Value,
    property: &str,
    system: Option<&str>,
) -> (Vec<u8>, String) {
    let headers: Vec<(&str, &str)> = system
        .map(|s| vec![("X-Datastore-System", s)])
        .unwrap_or_default();
    let response = crate::files::get_file(app, id, property, &headers).await;
    assert_eq!(response.status().as_u16(), 200, "getFile {property}");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    (response.bytes().await.unwrap().to_vec(), etag)
}

#[tokio::test]
async fn files_round_trip_with_their_bytes_and_etags() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    fill(&source).await;
    let (id, cv, photo) = fill_files(&source, 3 * 1024 * 1024 + 17).await;
    let first = export(&source, &files.path().join("a.jsonl"), "LIVE");
    let file_records: Vec<Value> = first
        .iter()
        .filter(|r| r["record"] == "file")
        .cloned()
        .collect();
    assert_eq!(file_records.len(), 2);
    assert_eq!(file_records[0]["objectId"], id);
    assert_eq!(file_records[0]["propertyName"], "cv");
    assert_eq!(file_records[1]["contentType"], "image/png");
    let chunks = first.iter().filter(|r| r["record"] == "fileChunk").count();
    let end = first.last().unwrap();
    assert_eq!(end["files"], 2);
    assert_eq!(end["fileChunks"], chunks);
    assert!(chunks > 2, "a 3 MiB file is in several chunks");
    let out = import(&target, &files.path().join("a.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = export(&target, &files.path().join("b.jsonl"), "LIVE");
    assert_eq!(comparable(second, &[]), comparable(first, &[]));
    for (property, data) in [("cv", &cv), ("photo", &photo)] {
        let (before, etag_before) = file_of(&source, &id, property, None).await;
        let (after, etag_after) = file_of(&target, &id, property, None).await;
        assert!(
            after == *data && before == after,
            "{property}: the bytes differ"
        );
        assert_eq!(etag_after, etag_before);
    }
    // A later upload gets a higher file id.
    let max_file = file_records
        .iter()
        .filter_map(|r| r["fileId"].as_i64())
        .max()
        .unwrap();
    let object = crate::files::upload(
        &target,
        &id,
        "cv",
        crate::files::file_part(b"new".to_vec(), "new.txt", "text/plain"),
    )
    .await
    .ok();
    assert!(
        object["cv"]["fileId"].as_i64().unwrap() > max_file,
        "{object}"
    );
}

#[tokio::test]
async fn bad_file_records_are_refused_naming_the_line_and_change_nothing() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    let (id, _, _) = fill_files(&source, 600 * 1024).await;
    let good = export(&source, &files.path().join("a.jsonl"), "LIVE");
    target.new_object("City", json!({ "name": "Paris" })).await;
    let file_line = good.iter().position(|r| r["record"] == "file").unwrap();
    let chunk = file_line + 1;
    let next_file = good.iter().rposition(|r| r["record"] == "file").unwrap();
    assert_eq!(next_file, file_line + 4, "a 600 KiB file is in 3 chunks");
    let file_id = good[file_line]["fileId"].clone();
    type Change = Box<dyn Fn(&mut Vec<Value>)>;
    let cases: Vec<(&str, Change, String)> = vec![
        (
            "bad base64",
            Box::new(move |r| r[chunk + 1]["data"] = json!("not base64!")),
            format!("line {}: the chunk's data is not base64", chunk + 2),
        ),
        (
            "size",
            Box::new(move |r| {
                r[file_line]["size"] = json!(r[file_line]["size"].as_u64().unwrap() + 1)
            }),
            format!(
                "line {}: file {file_id} (line {}) holds {} bytes in its chunks, its record says {}",
                next_file + 1,
                file_line + 1,
                600 * 1024,
                600 * 1024 + 1
            ),
        ),
        (
            "sha256",
            Box::new(move |r| r[file_line]["sha256"] = json!("0".repeat(64))),
            format!(
                "line {}: the bytes of file {file_id} (line {}) do not have the sha256",
                next_file + 1,
                file_line + 1
            ),
        ),
        (
            "gap",
            Box::new(move |r| {
                r.remove(chunk + 1);
            }),
            format!("line {}: chunk 2 of file {file_id} where chunk 1 comes next", chunk + 2),
        ),
        (
            "missing object",
            Box::new(move |r| r[file_line]["objectId"] = json!(999)),
            format!(
                "line {}: the object 999 of file {file_id} is not in the data",
                file_line + 1
            ),
        ),
        (
            "not its property",
            Box::new(move |r| r[file_line]["propertyName"] = json!("firstName")),
            format!("line {}: property `firstName` of object {id} is of type", file_line + 1),
        ),
    ];
    for (what, change, message) in cases {
        let mut records = good.clone();
        change(&mut records);
        // The end record counts what the file holds, so that only the change is wrong.
        let last = records.len() - 1;
        records[last]["fileChunks"] = json!(records
            .iter()
            .filter(|r| r["record"] == "fileChunk")
            .count());
        let file = files.path().join("bad.jsonl");
        write_lines(&file, &records);
        refused(&import(&target, &file, &["--replace"]), &message);
        assert_eq!(target.count("City").await, 1, "{what}: nothing changed");
        assert_eq!(target.count("Person").await, 0, "{what}: nothing changed");
        assert!(
            crate::files::stored_files(&target).await.is_empty(),
            "{what}: no file stored"
        );
    }
    // Cut short in the middle of a file's chunks.
    let file = files.path().join("cut.jsonl");
    write_lines(&file, &good[..chunk + 1]);
    refused(&import(&target, &file, &["--replace"]), "cut short");
    assert!(crate::files::stored_files(&target).await.is_empty());
}

#[tokio::test]
async fn copy_system_copies_files_via_the_cli_and_over_http() {
    let app = spawn_app().await;
    let (id, cv, photo) = fill_files(&app, 700 * 1024).await;
    let out = run(&app.database, &["copy-system", "LIVE", "TEST"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (live_etag, test) = (
        file_of(&app, &id, "cv", None).await.1,
        file_of(&app, &id, "cv", Some("TEST")).await,
    );
    assert!(test.0 == cv, "the bytes differ");
    assert_eq!(test.1, live_etag);
    // Over HTTP, into STAGING.
    let answer = app
        .post(
            "copySystem",
            json!({ "fromSystem": "LIVE", "toSystem": "STAGING" }),
        )
        .await
        .ok();
    assert_eq!(answer["files"], 2);
    let staged = file_of(&app, &id, "photo", Some("STAGING")).await;
    assert!(staged.0 == photo, "the bytes differ");
}

#[tokio::test]
async fn an_import_with_replace_replaces_the_targets_files() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    let (id, cv, _) = fill_files(&source, 1000).await;
    let file = files.path().join("a.jsonl");
    let records = export(&source, &file, "LIVE");
    // The target has files of its own, on an object the import replaces.
    fill_files(&target, 2000).await;
    fill_files(&target, 3000).await;
    refused(&import(&target, &file, &[]), "--replace");
    assert_eq!(
        crate::files::stored_files(&target).await.len(),
        4,
        "unchanged"
    );
    let out = import(&target, &file, &["--replace"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: Vec<i64> = crate::files::stored_files(&target)
        .await
        .iter()
        .map(|f| f.file_id)
        .collect();
    let exported: Vec<i64> = records
        .iter()
        .filter(|r| r["record"] == "file")
        .filter_map(|r| r["fileId"].as_i64())
        .collect();
    assert_eq!(stored, exported);
    assert!(file_of(&target, &id, "cv", None).await.0 == cv);
}

/// The secondary indexes of the EAV tables as the schema holds them (SQLite).
fn eav_indexes(database: &str) -> Vec<(String, String)> {
    let path = database
        .strip_prefix("sqlite://")
        .expect("a SQLite database");
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ('Objects', 'Properties', 'Relationships') ORDER BY name",
        )
        .unwrap();
    let all = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    all
}

/// The embedded store builds the EAV tables' secondary indexes after an import's rows (it
/// drops them in the import's transaction): a failed import gives them back with the
/// rollback, a finished one has them all, the same as before, and queries use them.
#[tokio::test]
async fn an_import_rebuilds_the_indexes_and_a_failed_one_keeps_them() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    if !target.database.starts_with("sqlite://") {
        return;
    }
    fill(&source).await;
    let good = export(&source, &files.path().join("a.jsonl"), "LIVE");
    let before = eav_indexes(&target.database);
    assert!(
        before.iter().any(|(n, _)| n == "IX_Properties_Value"),
        "{before:?}"
    );
    // Refused at its end record: every object was written, then rolled back.
    let mut bad = good.clone();
    let end = bad.len() - 1;
    bad[end]["objects"] = json!(7);
    let file = files.path().join("bad.jsonl");
    write_lines(&file, &bad);
    refused(
        &import(&target, &file, &[]),
        "the end record counts 7 objects",
    );
    assert_eq!(eav_indexes(&target.database), before);
    assert_eq!(target.count("Person").await, 0);
    let out = import(&target, &files.path().join("a.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(eav_indexes(&target.database), before);
    // Again over the data (replace): the same.
    let out = import(&target, &files.path().join("a.jsonl"), &["--replace"]);
    assert!(out.status.success());
    assert_eq!(eav_indexes(&target.database), before);
    let found = target
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": "age >= 31" }),
        )
        .await
        .ok();
    let expected = source
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": "age >= 31" }),
        )
        .await
        .ok();
    assert_eq!(found, expected);
    assert_eq!(found.as_array().unwrap().len(), 2, "{found}");
}

/// An import keeps the counts of a path through a Lookup right (it rebuilds the projections
/// without counting each row, then counts once) and later writes move them again.
#[tokio::test]
async fn path_counts_are_right_after_an_import_and_follow_later_writes() {
    let (source, target, files) = (spawn_app().await, spawn_app().await, dir());
    let mut companies = Vec::new();
    for city in ["Berlin", "Paris"] {
        let c = source.new_object("City", json!({ "name": city })).await;
        let company = source
            .new_object("Company", json!({ "name": city, "city": c["objectId"] }))
            .await;
        companies.push(company["objectId"].clone());
    }
    let mut people = Vec::new();
    for i in 0..4 {
        let company = &companies[usize::from(i == 3)];
        people.push(
            source
                .new_object(
                    "Person",
                    json!({
                        "age": i,
                        "company": company,
                        "status": if i < 3 { "A" } else { "I" },
                        "firstName": "Emma",
                        "lastName": if i == 1 { "Roe" } else { "Doe" },
                    }),
                )
                .await,
        );
    }
    export(&source, &files.path().join("p.jsonl"), "LIVE");
    let out = import(&target, &files.path().join("p.jsonl"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let in_city = |city: &'static str| {
        let target = &target;
        async move {
            let query = format!("company.city.name == \"{city}\"");
            target
                .post(
                    "getObjectListByFilter",
                    json!({ "objectType": "Person", "query": query }),
                )
                .await
                .total()
        }
    };
    assert_eq!((in_city("Berlin").await, in_city("Paris").await), (3, 1));
    target
        .post(
            "saveProperty",
            json!({ "objectId": people[0]["objectId"], "propertyName": "company", "propertyValue": companies[1] }),
        )
        .await
        .ok();
    assert_eq!((in_city("Berlin").await, in_city("Paris").await), (2, 2));
    // The counts per value (migration 0071): taken by the import's rebuild, moved by writes.
    let counted = |query: &'static str| {
        let target = &target;
        async move {
            target
                .post(
                    "getObjectListByFilter",
                    json!({ "objectType": "Person", "query": query }),
                )
                .await
                .total()
        }
    };
    let all = || async { target.count("Person").await };
    assert_eq!(
        (
            counted("age >= 1 and age < 3").await,
            counted("status == \"A\"").await,
            all().await
        ),
        (2, 3, 4)
    );
    target
        .post(
            "saveProperties",
            json!({ "objectId": people[0]["objectId"], "properties": { "age": 2, "status": "I" } }),
        )
        .await
        .ok();
    target.new_object("Person", json!({ "age": 1 })).await;
    assert_eq!(
        (
            counted("age >= 1 and age < 3").await,
            counted("status == \"A\"").await,
            all().await
        ),
        (4, 2, 5)
    );
    // The counts per pair (migration 0072; the sample DSConfig counts "firstName, status"
    // and "lastName, age"): taken by the import's rebuild (people[0] was saved above),
    // moved by writes of either column, the table view's two filters counted from them.
    let emma_i = || async {
        target
            .post(
                "getObjectListTable",
                json!({ "objectType": "Person", "filter": { "firstName": "Emma", "status": "I" } }),
            )
            .await
            .total()
    };
    assert_eq!(
        (
            counted("firstName == \"Emma\" and status == \"A\"").await,
            emma_i().await,
            counted("lastName == \"Doe\" and age >= 1").await,
        ),
        (2, 2, 3)
    );
    target
        .post(
            "saveProperty",
            json!({ "objectId": people[1]["objectId"], "propertyName": "lastName", "propertyValue": "Doe" }),
        )
        .await
        .ok();
    target
        .post(
            "saveProperty",
            json!({ "objectId": people[3]["objectId"], "propertyName": "firstName", "propertyValue": null }),
        )
        .await
        .ok();
    assert_eq!(
        (
            counted("firstName == \"Emma\" and status == \"A\"").await,
            emma_i().await,
            counted("lastName == \"Doe\" and age >= 1").await,
        ),
        (2, 1, 4)
    );
}
