//! HEAD (RFC 9110 §9.3.2): every endpoint that takes GET answers HEAD with GET's status and
//! headers and no body, as load balancers, IIS/ARR health probes and `curl -I` expect;
//! endpoints that do not take GET answer HEAD `405` in the contract's error shape. The
//! answers are read off the socket, so a body sent after the headers would show.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::files::{bytes, file_part, upload};
use crate::helpers::{spawn_app, TestApp};

/// A HEAD answer as it came over the wire.
struct Raw {
    status: u16,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    /// Whatever followed the headers until the server closed the connection.
    rest: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `HEAD /{path}` (HTTP/1.1, `Connection: close`) with `extra` header lines and reads
/// the connection to its end.
async fn head(app: &TestApp, path: &str, extra: &[(&str, &str)]) -> Raw {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("the server listens");
    let mut request = format!("HEAD /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    // The server closes after the answer (`Connection: close`); a HEAD that ran a stream
    // (an event stream never ends) would hold it open.
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .unwrap_or_else(|_| panic!("HEAD /{path} was not answered and closed within 10 s"))
        .unwrap();
    let end = (bytes.windows(4))
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&bytes)));
    let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = (lines.next().unwrap().split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        rest: bytes[end + 4..].to_vec(),
    }
}

/// GET of the same path with the same header lines: status, headers, body length.
async fn get(
    app: &TestApp,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, usize) {
    // Redirects are answers to compare, not to follow.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(app.url(path));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the request is sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a body");
    (status, headers, body.len())
}

/// The headers that must be the same on GET and HEAD (per-request ones such as
/// `x-request-id` and `date` are not compared).
const SAME: &[&str] = &[
    "content-type",
    "content-length",
    "x-total-count",
    "etag",
    "content-disposition",
    "content-range",
    "accept-ranges",
    "location",
    "allow",
    "cache-control",
    "content-security-policy",
    "x-content-type-options",
];

/// Asserts that HEAD `path` answers as GET does, without a body; returns the HEAD answer.
async fn like_get(app: &TestApp, path: &str, extra: &[(&str, &str)]) -> Raw {
    let (status, headers, length) = get(app, path, extra).await;
    let raw = head(app, path, extra).await;
    assert_eq!(raw.status, status, "HEAD /{path}: the status of GET");
    for name in SAME {
        assert_eq!(
            raw.header(name),
            headers.get(*name).map(|v| v.to_str().unwrap()),
            "HEAD /{path}: header {name} as on GET"
        );
    }
    if let Some(n) = raw.header("content-length") {
        assert_eq!(
            n.parse::<usize>().unwrap(),
            length,
            "HEAD /{path}: GET's length"
        );
    }
    assert!(
        raw.rest.is_empty(),
        "HEAD /{path} sent a body: {:?}",
        String::from_utf8_lossy(&raw.rest)
    );
    raw
}

#[tokio::test]
async fn head_answers_every_get_endpoint_as_get_does_without_a_body() {
    let app = spawn_app().await;
    let john = app
        .new_object("Person", json!({ "firstName": "John", "age": 42 }))
        .await;
    let id = john["objectId"].to_string();

    let health = like_get(&app, "health", &[]).await;
    assert_eq!(health.status, 200);
    assert_ne!(
        health.header("content-length"),
        Some("0"),
        "{:?}",
        health.headers
    );

    let object = like_get(&app, &format!("getObject?objectId={id}"), &[]).await;
    assert_eq!(object.status, 200);
    assert!(object.header("content-type").unwrap().contains("json"));
    assert!(
        object
            .header("content-length")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 20
    );

    let table = like_get(&app, "getObjectListTable?objectType=Person", &[]).await;
    assert_eq!(table.header("x-total-count"), Some("1"));
    like_get(&app, "getObjectListTable?objectType=Person&format=csv", &[]).await;
    like_get(
        &app,
        "getObjectListByFilter?objectType=Person&query=age%20%3E%2040",
        &[],
    )
    .await;
    like_get(&app, &format!("getChildren?objectId={id}"), &[]).await;
    like_get(&app, "getConfig", &[]).await;
    like_get(&app, "getObjectTypes", &[]).await;
    like_get(&app, "getAggregate?objectType=Person&aggregate=count", &[]).await;
    like_get(&app, &format!("getHistory?objectId={id}"), &[]).await;
    like_get(&app, "openapi.json", &[]).await;
    like_get(&app, "docs", &[]).await;
    like_get(&app, "admin", &[]).await;
    like_get(&app, "admin/", &[]).await;
    // The metrics change with every request (this one counted): the same status and type.
    let metrics = head(&app, "metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(metrics.rest.is_empty());
    // An error answer of a GET endpoint: the same 404 and its JSON length.
    let missing = like_get(&app, "getObject?objectId=999999", &[]).await;
    assert_eq!(missing.status, 404);
    // A streamed answer (an export): the same headers, no body, and it closes.
    like_get(&app, "exportData", &[]).await;
}

#[tokio::test]
async fn head_of_a_file_gives_its_length_and_ranges_without_reading_it() {
    let app = spawn_app().await;
    let john = app
        .new_object("Person", json!({ "firstName": "John" }))
        .await;
    let data = bytes(300_000, 9);
    upload(
        &app,
        &john["objectId"],
        "cv",
        file_part(data, "cv.pdf", "application/pdf"),
    )
    .await
    .ok();
    let path = format!("getFile?objectId={}&propertyName=cv", john["objectId"]);
    let whole = like_get(&app, &path, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-length"), Some("300000"));
    assert!(whole.header("etag").is_some());
    let part = like_get(&app, &path, &[("Range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-length"), Some("100"));
    assert_eq!(part.header("content-range"), Some("bytes 100-199/300000"));
    let etag = whole.header("etag").unwrap().to_owned();
    let unchanged = like_get(&app, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(unchanged.status, 304);
}

#[tokio::test]
async fn head_of_the_event_stream_answers_its_headers_and_closes() {
    let app = spawn_app().await;
    let raw = head(&app, "events", &[]).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("text/event-stream"));
    assert!(
        raw.rest.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&raw.rest)
    );
}

#[tokio::test]
async fn head_on_an_endpoint_without_get_is_405_in_the_contract_shape_and_changes_nothing() {
    let app = spawn_app().await;
    for endpoint in [
        "newObject",
        "saveProperty",
        "batch",
        "uploadFile",
        "copySystem",
    ] {
        let raw = head(&app, &format!("{endpoint}?objectType=Person"), &[]).await;
        assert_eq!(raw.status, 405, "HEAD /{endpoint}");
        assert_eq!(raw.header("allow"), Some("POST"), "HEAD /{endpoint}");
        assert!(raw.rest.is_empty(), "HEAD /{endpoint} sent a body");
        // The headers of the contract's error body (ERRORS.md): JSON, and the length of
        // `{"error":{"code":"METHOD_NOT_ALLOWED",...}}` as GET gets it with its own method
        // name in the message.
        assert!(raw.header("content-type").unwrap().contains("json"));
        let (status, _, get_length) = get(&app, endpoint, &[]).await;
        assert_eq!(status, 405);
        let body: Value = app
            .send(app.client.get(app.url(endpoint)))
            .await
            .fails(405, "METHOD_NOT_ALLOWED")
            .clone();
        assert!(body.is_null(), "no details: {body}");
        assert_eq!(
            raw.header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            get_length + "HEAD".len() - "GET".len(),
            "HEAD /{endpoint}: the same error body with HEAD for GET in its message"
        );
    }
    assert_eq!(app.count("Person").await, 0, "a HEAD wrote nothing");
    // A path that is no endpoint: 404, no body.
    let raw = head(&app, "nothing/here", &[]).await;
    assert_eq!(raw.status, 404);
    assert!(raw.rest.is_empty());
    // Read endpoints name HEAD among their methods.
    let other = app.send(app.client.delete(app.url("getObject"))).await;
    other.fails(405, "METHOD_NOT_ALLOWED");
    assert_eq!(other.headers["allow"], "GET, HEAD, POST");
}
