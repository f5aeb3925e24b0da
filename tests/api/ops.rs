//! Running in production (issue 8): metrics, request ids, security headers, CORS, the
//! concurrency bound, the rate limit, trusted proxies, the base path, JSON logs.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::helpers::{eventually, mssql_url, spawn_app, spawn_with, TestApp, SAMPLE_DSCONFIG};

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of one sample line, e.g. `name{labels}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_endpoint_and_status_never_by_raw_path() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({ "age": 3 })).await;
    app.get_object(&person["objectId"]).await.ok();
    for id in ["987654", "987655"] {
        app.get("getObject", &[("objectId", id)])
            .await
            .fails(404, "OBJECT_NOT_FOUND");
    }
    app.get("no/such/path/4242", &[])
        .await
        .fails(404, "NOT_FOUND");
    let text = scrape(&app).await;
    let count = |labels: &str| sample(&text, &format!("datastore_http_requests_total{{{labels}}}"));
    assert_eq!(count(r#"endpoint="newObject",status="200""#), Some(1.0));
    assert_eq!(count(r#"endpoint="getObject",status="404""#), Some(2.0));
    assert_eq!(count(r#"endpoint="unmatched",status="404""#), Some(1.0));
    assert_eq!(
        sample(
            &text,
            r#"datastore_http_request_duration_seconds_count{endpoint="getObject"}"#
        ),
        Some(3.0)
    );
    assert!(
        !text.contains("4242") && !text.contains("no/such"),
        "{text}"
    );
    assert!(!text.contains("987654"), "no parameter in a label: {text}");
    // The store's gauges: a running writer queue and reader pool.
    assert!(sample(&text, "datastore_store_writer_queue_depth").is_some());
    // The default pool: twice the cores within 4..=16 on SQLite, 16 on SQL Server.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = if mssql_url().is_some() {
        16
    } else {
        (cores * 2).clamp(4, 16)
    };
    assert_eq!(
        sample(&text, "datastore_store_connections_max"),
        Some(pool as f64)
    );
    assert!(text.contains("datastore_store_errors_total"));
    // The memory gauges: on SQLite, its heap and the properties the read above kept (on
    // SQL Server both may be 0: no SQLite database need be open).
    let heap = sample(&text, "datastore_sqlite_heap_bytes").expect("the SQLite heap gauge");
    let kept = sample(&text, "datastore_properties_cache_bytes").expect("the cache gauge");
    assert!(kept <= 16.0 * 1024.0 * 1024.0, "{kept}");
    if mssql_url().is_none() {
        assert!(heap > 0.0, "{heap}");
        assert!(kept > 0.0, "the object read is kept");
    }
    // The scrape itself is counted from the next one on.
    let again = scrape(&app).await;
    assert!(again.contains(r#"datastore_http_requests_total{endpoint="metrics",status="200"} 1"#));
}

fn request_id(headers: &HeaderMap) -> String {
    headers["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_request_id_is_echoed_when_sane_and_generated_otherwise() {
    let app = spawn_app().await;
    let given = app
        .send(
            app.client
                .get(app.url("health"))
                .header("X-Request-Id", "abc-123_XYZ"),
        )
        .await;
    assert_eq!(request_id(&given.headers), "abc-123_XYZ");
    let generated = app.send(app.client.get(app.url("health"))).await;
    let first = request_id(&generated.headers);
    assert_eq!(first.len(), 16);
    let second = request_id(&app.send(app.client.get(app.url("health"))).await.headers);
    assert_ne!(first, second);
    for bad in ["has space".to_owned(), "x".repeat(129), String::new()] {
        let answer = app
            .send(
                app.client
                    .get(app.url("health"))
                    .header("X-Request-Id", &bad),
            )
            .await;
        let id = request_id(&answer.headers);
        assert_ne!(id, bad);
        assert_eq!(id.len(), 16);
    }
    // Error answers carry it too.
    let failed = app
        .send(
            app.client
                .get(app.url("getObject"))
                .header("X-Request-Id", "err-1"),
        )
        .await;
    failed.fails(400, "MISSING_PARAMETER");
    assert_eq!(request_id(&failed.headers), "err-1");
}

fn assert_security_headers(headers: &HeaderMap) {
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let ok = app.send(app.client.get(app.url("health"))).await;
    assert_security_headers(&ok.headers);
    let created = app
        .send(
            app.client
                .post(app.url("newObject"))
                .json(&json!({ "objectType": "Person" })),
        )
        .await;
    assert_security_headers(&created.headers);
    let not_found = app.get("getObject", &[("objectId", "99999")]).await;
    not_found.fails(404, "OBJECT_NOT_FOUND");
    assert_security_headers(&not_found.headers);
    let no_route = app.get("nothing/here", &[]).await;
    no_route.fails(404, "NOT_FOUND");
    assert_security_headers(&no_route.headers);
    let method = app.send(app.client.get(app.url("newObject"))).await;
    method.fails(405, "METHOD_NOT_ALLOWED");
    assert_security_headers(&method.headers);
    assert_eq!(
        method.headers["allow"], "POST",
        "RFC 9110: a 405 says what is allowed"
    );
    let read = app.send(app.client.delete(app.url("getObject"))).await;
    read.fails(405, "METHOD_NOT_ALLOWED");
    assert_eq!(read.headers["allow"], "GET, HEAD, POST");
    let health = app.send(app.client.post(app.url("health"))).await;
    assert_eq!(health.headers["allow"], "GET, HEAD");
}

const FORMS: &str = "https://forms.example.com";

#[tokio::test]
async fn cors_lets_a_configured_origin_in_and_no_other() {
    let app = spawn_with(|s, _| s.ops.cors_origins = vec![FORMS.into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("newObject"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type, x-api-key")
    };
    let allowed = app.send(preflight(FORMS)).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(allowed.headers["access-control-allow-origin"], FORMS);
    assert_security_headers(&allowed.headers);
    let refused = app.send(preflight("https://evil.example.net")).await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    assert!(!refused.headers.contains_key("access-control-allow-origin"));
    // The refusal speaks the contract's error shape.
    assert!(
        refused.body["error"]["code"].is_string(),
        "{}",
        refused.body
    );
    assert!(refused.body["error"]["message"].is_string());
    // HEAD with a key is preflighted too (every GET address takes HEAD).
    let head = app
        .send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("getObject"))
                .header("Origin", FORMS)
                .header("Access-Control-Request-Method", "HEAD")
                .header("Access-Control-Request-Headers", "authorization"),
        )
        .await;
    assert!(head.status.is_success(), "{} {}", head.status, head.body);
    assert_eq!(head.headers["access-control-allow-origin"], FORMS);
    // A simple request from the form's origin can read the answer.
    let simple = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("Origin", FORMS)
                .json(&json!({ "objectType": "Person" })),
        )
        .await;
    assert_eq!(simple.headers["access-control-allow-origin"], FORMS);
    assert_eq!(simple.ok()["objectType"], "Person");
}

#[tokio::test]
async fn without_cors_origins_no_cross_origin_header_is_sent() {
    let app = spawn_app().await;
    let answer = app
        .send(app.client.get(app.url("health")).header("Origin", FORMS))
        .await;
    assert!(!answer.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn beyond_the_concurrency_bound_requests_are_refused_with_503() {
    let app = spawn_with(|s, _| s.ops.max_concurrent_requests = 1).await;
    // A request whose body never ends holds the only slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{\"objectType\":".to_vec())).await.unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let held = tokio::spawn(
        app.client
            .post(app.url("newObject"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    // In flight once a scrape (itself in flight) sees two requests.
    let entered = eventually(10, || async {
        sample(&scrape(&app).await, "datastore_http_requests_in_flight").unwrap_or(0.0) >= 2.0
    })
    .await;
    assert!(entered, "the held request never reached the service");
    let refused = app.get("getObject", &[("objectId", "1")]).await;
    refused.fails(503, "UNAVAILABLE");
    assert_eq!(refused.headers["retry-after"], "1");
    // Health and metrics stay reachable for load balancers and scrapers.
    assert_eq!(app.get("health", &[]).await.status, 200);
    assert_eq!(
        app.client
            .get(app.url("metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The held request finishes and frees its slot.
    tx.send(Ok(b"\"Person\"}".to_vec())).await.unwrap();
    drop(tx);
    let finished = held.await.unwrap().unwrap();
    assert_eq!(finished.status(), 200);
    app.get("getObject", &[("objectId", "1")]).await.ok();
}

/// Sends `n` quick requests with `headers`; returns the statuses and the last 429's
/// `Retry-After`.
async fn burst(app: &TestApp, n: usize, headers: &[(&str, String)]) -> (Vec<u16>, Option<String>) {
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..n {
        let mut request = app.client.get(app.url("getConfig"));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let answer = app.send(request).await;
        if answer.status == 429 {
            assert_eq!(answer.code(), "TOO_MANY_REQUESTS");
            retry_after = answer.headers["retry-after"]
                .to_str()
                .ok()
                .map(str::to_owned);
        }
        statuses.push(answer.status.as_u16());
    }
    (statuses, retry_after)
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_client() {
    let app = spawn_with(|s, _| s.ops.rate_limit = Some(1)).await;
    let (statuses, retry_after) = burst(&app, 10, &[]).await;
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another API key is another client, on the same address.
    let key = format!("dsk_0123456789abcdef_{}", "1".repeat(64));
    let (statuses, _) = burst(&app, 1, &[("X-Api-Key", key)]).await;
    assert_eq!(statuses, [200]);
    // Health stays reachable.
    assert_eq!(app.get("health", &[]).await.status, 200);
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let trusted = spawn_with(|s, _| {
        s.ops.rate_limit = Some(1);
        s.ops.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        // Behind proxies the service never runs open: keyless requests get 401 from
        // authentication, which comes after the limiter.
        s.admin_key = Some("an-admin-key-for-a-service-behind-a-proxy-0123".into());
    })
    .await;
    for i in 1..=8 {
        // Each forwarded address is its own client: never limited.
        let (statuses, _) = burst(
            &trusted,
            1,
            &[("X-Forwarded-For", format!("203.0.113.{i}"))],
        )
        .await;
        assert_eq!(statuses, [401], "client {i}");
    }
    let untrusted = spawn_with(|s, _| s.ops.rate_limit = Some(1)).await;
    let mut statuses = Vec::new();
    for i in 1..=8 {
        let (s, _) = burst(
            &untrusted,
            1,
            &[("X-Forwarded-For", format!("203.0.113.{i}"))],
        )
        .await;
        statuses.extend(s);
    }
    assert!(
        statuses.contains(&429),
        "the header was believed: {statuses:?}"
    );
}

const ENDPOINTS: [&str; 16] = [
    "newObject",
    "getObject",
    "saveProperty",
    "saveProperties",
    "changeObjectType",
    "dropObject",
    "saveRelationship",
    "dropRelationship",
    "getChildren",
    "getParents",
    "getObjectListTable",
    "getObjectListByFilter",
    "getConfig",
    "getList",
    "health",
    "metrics",
];

#[tokio::test]
async fn every_endpoint_and_the_metrics_live_under_the_base_path() {
    let app = spawn_with(|s, _| s.base_path = "/datastore".into()).await;
    let root = app.address.trim_end_matches("/datastore").to_owned();
    for endpoint in ENDPOINTS {
        let inside = app
            .send(app.client.post(app.url(endpoint)).json(&json!({})))
            .await;
        assert_ne!(inside.code(), "NOT_FOUND", "{endpoint} under the base path");
        if endpoint != "health" {
            let outside = app
                .send(
                    app.client
                        .post(format!("{root}/{endpoint}"))
                        .json(&json!({})),
                )
                .await;
            outside.fails(404, "NOT_FOUND");
        }
    }
    let text = scrape(&app).await;
    assert!(text.contains(r#"datastore_http_requests_total{endpoint="getObject",status="400"} 1"#));
}

/// `datastore serve` in a process of its own, with its stderr lines on a channel.
struct Process {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    /// Lines read while waiting for it to listen.
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Process {
    fn start(extra: &[&str]) -> Process {
        Process::start_with(extra, None)
    }

    /// With `RUST_LOG` set to `rust_log` (else unset).
    fn start_with(extra: &[&str], rust_log: Option<&str>) -> Process {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let port = crate::helpers::free_port();
        let mut child = crate::helpers::datastore_command()
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--database")
            .arg(format!("sqlite://{}", dir.path().join("d.db").display()))
            .args(["--dsconfig", SAMPLE_DSCONFIG])
            .args(extra)
            .env_remove("RUST_LOG")
            .envs(rust_log.map(|filter| ("RUST_LOG", filter)))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) {
            let listening = line.contains("listening");
            seen.push(line);
            if listening {
                break;
            }
        }
        Process {
            child,
            port,
            lines,
            seen,
            _dir: dir,
        }
    }

    fn url(&self, endpoint: &str) -> String {
        format!("http://127.0.0.1:{}/{endpoint}", self.port)
    }

    /// Stops it gracefully (SIGTERM), checks that it exits 0, and gives every line it logged.
    fn stop(self) -> Vec<String> {
        self.terminate();
        let (code, lines) = self.wait();
        assert_eq!(code, Some(0), "a graceful stop exits 0");
        lines
    }

    fn terminate(&self) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }

    /// Waits for the exit; its code and every line it logged.
    fn wait(mut self) -> (Option<i32>, Vec<String>) {
        let code = self.child.wait().unwrap().code();
        let mut lines = std::mem::take(&mut self.seen);
        lines.extend(self.lines.iter());
        (code, lines)
    }
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    let server = Process::start(&["--log-format", "json"]);
    let answer = reqwest::Client::new()
        .get(server.url("getObject?objectId=77"))
        .header("X-Request-Id", "log-check-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let lines = server.stop();
    let objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request_line = objects
        .iter()
        .find(|o| o["fields"]["message"] == "request")
        .expect("a request log line");
    assert_eq!(request_line["span"]["request_id"], "log-check-42");
    assert_eq!(request_line["span"]["endpoint"], "getObject");
    assert_eq!(request_line["fields"]["status"], 404);
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    let server = Process::start(&[]);
    let client = reqwest::Client::new();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{\"objectType\":".to_vec())).await.unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let held = tokio::spawn(
        client
            .post(server.url("newObject"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    let metrics = server.url("metrics");
    let entered = eventually(10, || {
        let request = client.get(&metrics);
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            sample(&text, "datastore_http_requests_in_flight").unwrap_or(0.0) >= 2.0
        }
    })
    .await;
    assert!(entered, "the held request never reached the service");
    server.terminate();
    // The stop has begun (it is logged) while the request is still in flight.
    let stopping = server
        .lines
        .recv_timeout(Duration::from_secs(10))
        .into_iter()
        .chain(server.lines.iter())
        .any(|l| l.contains("stop signal received"));
    assert!(stopping);
    tx.send(Ok(b"\"Person\"}".to_vec())).await.unwrap();
    drop(tx);
    let finished = held.await.unwrap().unwrap();
    assert_eq!(finished.status(), 200);
    let (code, _) = server.wait();
    assert_eq!(code, Some(0), "a graceful stop exits 0");
}

#[tokio::test]
async fn text_logs_into_a_file_or_pipe_are_plain_lines_with_the_endpoint() {
    let server = Process::start(&[]);
    let answer = reqwest::Client::new()
        .get(server.url("apps/nosuchapp/getObject?objectId=77"))
        .header("X-Request-Id", "text-log-7")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let lines = server.stop();
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a log that is no terminal: {lines:?}"
    );
    let request_line = lines
        .iter()
        .find(|l| l.contains("request_id=text-log-7") && l.contains("status=404"))
        .unwrap_or_else(|| panic!("no request line in {lines:?}"));
    // The app's form of an endpoint is labelled as the endpoint, never by its raw path.
    assert!(
        request_line.contains("endpoint=getObject"),
        "{request_line}"
    );
}

#[tokio::test]
async fn lines_logged_inside_a_request_carry_its_span_made_when_first_used() {
    // The request span is made only when something inside the request logs (here: opening
    // the new app's database, in its own `tenants.open` span); its lines say what an eagerly
    // made span said.
    let server = Process::start(&[]);
    let answer = reqwest::Client::new()
        .post(server.url("apps/spanapp/newObject"))
        .header("X-Request-Id", "lazy-span-9")
        .json(&json!({ "objectType": "Person" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let lines = server.stop();
    let opened = lines
        .iter()
        .find(|l| l.contains("opened the app's database"))
        .unwrap_or_else(|| panic!("no line of the app's opening in {lines:?}"));
    assert!(
        opened.contains(
            r#"INFO request{request_id=lazy-span-9 method=POST client=127.0.0.1 scheme="http"}:tenants.open{app=spanapp system=LIVE}: "#
        ),
        "{opened}"
    );
    let request_line = lines
        .iter()
        .find(|l| l.contains("request_id=lazy-span-9") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no request line in {lines:?}"));
    assert!(
        request_line.contains(
            r#"INFO request{request_id=lazy-span-9 method=POST client=127.0.0.1 scheme="http" endpoint=newObject}: datastore::ops: request path=/apps/spanapp/newObject status=200 ms="#
        ),
        "{request_line}"
    );
}

/// A `RUST_LOG` directive on the request span's fields keeps the request lines it selects
/// (the line is asked for inside the span, as when it was always a `tracing` event in it).
#[tokio::test]
async fn a_log_filter_on_the_request_span_keeps_the_lines_it_selects() {
    let server = Process::start_with(&[], Some("warn,[request{endpoint=getObject}]=info"));
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(server.url("newObject"))
        .header("X-Request-Id", "filtered-new")
        .json(&json!({ "objectType": "Person" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read = client
        .post(server.url("getObject"))
        .header("X-Request-Id", "filtered-get")
        .json(&json!({ "objectId": created["objectId"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let lines = server.stop();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request_id=filtered-get") && l.contains("status=200")),
        "no line of the selected request in {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("request_id=filtered-new")),
        "a line of a request the filter does not select in {lines:?}"
    );
}

#[tokio::test]
async fn health_is_never_limited_at_either_address() {
    let app = spawn_with(|s, _| {
        s.base_path = "/datastore".into();
        s.ops.rate_limit = Some(1);
    })
    .await;
    let root = app.address.trim_end_matches("/datastore").to_owned();
    for _ in 0..5 {
        let inside = app.send(app.client.get(app.url("health"))).await;
        assert_eq!(inside.status, 200);
        let outside = app.send(app.client.get(format!("{root}/health"))).await;
        assert_eq!(outside.status, 200);
    }
}
