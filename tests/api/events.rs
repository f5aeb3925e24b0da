//! `GET /events` (API.md §12): live changes as Server-Sent Events, filtered, resumable,
//! across instances and processes sharing one database.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// One event of a stream.
#[derive(Debug, Clone)]
struct Event {
    id: i64,
    event: String,
    data: Value,
}

/// A client of an event stream.
struct Sse {
    response: reqwest::Response,
    buffer: String,
    /// Comment lines seen.
    comments: usize,
}

impl Sse {
    async fn open(base: &str, query: &[(&str, &str)], last: Option<i64>) -> Sse {
        let mut request = reqwest::Client::new()
            .get(format!("{base}/events"))
            .query(query);
        if let Some(id) = last {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("the stream opens");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert!(response
            .headers()
            .get("content-encoding")
            .is_none_or(|v| v == "identity"));
        Sse {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event within `seconds`, comments skipped.
    async fn next(&mut self, seconds: u64) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).expect("data is JSON");
                    }
                }
                if let Some(id) = id {
                    return Some(Event { id, event, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Events until `n` arrived (or `seconds` passed).
    async fn take(&mut self, n: usize, seconds: u64) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < n {
            match self.next(seconds).await {
                Some(e) => events.push(e),
                None => break,
            }
        }
        events
    }
}

async fn save_age(app: &TestApp, id: &Value, age: i64) {
    app.post(
        "saveProperty",
        json!({"objectId": id, "propertyName": "age", "propertyValue": age}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_stream_opens_with_a_comment_and_carries_changes_without_values() {
    let app = spawn_app().await;
    let mut sse = Sse::open(&app.address, &[], None).await;
    // The comment arrives before any change.
    assert!(sse.next(1).await.is_none());
    assert!(sse.comments >= 1, "a comment at once on connect");
    let p = app.new_object("Person", json!({"age": 1})).await;
    save_age(&app, &p["objectId"], 2).await;
    let events = sse.take(2, 5).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].event, "newObject");
    assert_eq!(events[1].event, "saveProperties");
    assert_eq!(events[1].data["objectId"], p["objectId"]);
    assert_eq!(events[1].data["objectType"], "Person");
    assert!(events[0].id < events[1].id);
    assert!(
        events[1].data.get("changes").is_none(),
        "no values: {}",
        events[1].data
    );
    assert!(events[1].data["changed"]
        .as_array()
        .unwrap()
        .contains(&json!("age")));
}

#[tokio::test]
async fn a_stream_filters_by_type_and_by_object() {
    let app = spawn_app().await;
    let mut people = Sse::open(
        &app.address,
        &[("objectType", "Person"), ("objectType", "City")],
        None,
    )
    .await;
    let c = app.new_object("Company", json!({"name": "Acme"})).await;
    let p = app.new_object("Person", json!({"age": 1})).await;
    let mut one = Sse::open(
        &app.address,
        &[("objectId", &c["objectId"].to_string())],
        None,
    )
    .await;
    app.new_object("City", json!({"name": "Berlin"})).await;
    app.post(
        "saveProperty",
        json!({"objectId": c["objectId"], "propertyName": "name", "propertyValue": "Acme 2"}),
    )
    .await
    .ok();
    let events = people.take(2, 5).await;
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.data["objectType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Person", "City"]);
    assert_eq!(events[0].data["objectId"], p["objectId"]);
    let mine = one.take(1, 5).await;
    assert_eq!(mine[0].data["objectId"], c["objectId"]);
    assert_eq!(mine[0].event, "saveProperties");
    app.get("events", &[("color", "red")])
        .await
        .fails(400, "UNKNOWN_PARAMETER");
}

#[tokio::test]
async fn a_client_that_disconnects_and_resumes_misses_nothing() {
    let app = spawn_app().await;
    let p = app.new_object("Person", json!({"age": 0})).await;
    let mut sse = Sse::open(&app.address, &[], None).await;
    save_age(&app, &p["objectId"], 1).await;
    let first = sse.take(1, 5).await;
    assert_eq!(first.len(), 1);
    let last = first[0].id;
    drop(sse);
    // Written while nobody listens.
    for age in 2..=6 {
        save_age(&app, &p["objectId"], age).await;
    }
    let mut resumed = Sse::open(&app.address, &[], Some(last)).await;
    let events = resumed.take(5, 5).await;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(events.len(), 5, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > last);
    let history = app
        .post(
            "getHistory",
            json!({"objectId": p["objectId"], "after": last}),
        )
        .await
        .ok();
    let logged: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["changeId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, logged, "exactly the log after the last id seen");
}

#[tokio::test]
async fn a_last_event_id_older_than_the_log_answers_reset() {
    let app = spawn_app().await;
    let p = app.new_object("Person", json!({"age": 0})).await;
    save_age(&app, &p["objectId"], 1).await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    app.store()
        .await
        .prune_changes(tomorrow, 500)
        .await
        .unwrap();
    let mut sse = Sse::open(&app.address, &[], Some(1)).await;
    let reset = sse.next(5).await.expect("an event");
    assert_eq!(reset.event, "reset", "{reset:?}");
    assert!(reset.data["prunedThrough"].as_i64().unwrap() >= 2);
    // After it, the stream goes on with new changes.
    save_age(&app, &p["objectId"], 2).await;
    let next = sse.next(5).await.expect("an event");
    assert_eq!(next.event, "saveProperties");
    assert!(next.id > reset.data["prunedThrough"].as_i64().unwrap());
}

#[tokio::test]
async fn a_write_on_another_instance_reaches_the_stream_within_a_second() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(|_, _| {}).await;
    let mut sse = Sse::open(&app.address, &[], None).await;
    // The peer's first write opens its connections; the second is timed.
    peer.new_object("Person", json!({"age": 0})).await;
    assert_eq!(sse.take(1, 15).await.len(), 1);
    let started = std::time::Instant::now();
    let p = peer.new_object("Person", json!({"age": 1})).await;
    let written = started.elapsed();
    let events = sse.take(1, 5).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["objectId"], p["objectId"]);
    let after_write = started.elapsed() - written;
    assert!(
        after_write < Duration::from_secs(1),
        "{after_write:?} after the write"
    );
}

#[tokio::test]
async fn a_write_on_another_serve_process_reaches_this_ones_stream() {
    let app = spawn_app().await;
    let other = app.serve_process();
    let mut sse = Sse::open(&app.address, &[("objectType", "Person")], None).await;
    let p = other
        .app
        .post(
            "newObject",
            json!({"objectType": "Person", "properties": {"age": 7}}),
        )
        .await
        .ok();
    let events = sse.take(1, 15).await;
    assert_eq!(events.len(), 1, "the other process's write arrives");
    assert_eq!(events[0].data["objectId"], p["objectId"]);
    // And the other way round: this one's writes reach a stream of the other process.
    let mut theirs = Sse::open(&other.app.address, &[("objectType", "Person")], None).await;
    let q = app.new_object("Person", json!({"age": 8})).await;
    let events = theirs.take(1, 15).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["objectId"], q["objectId"]);
}

#[tokio::test]
async fn concurrent_writers_never_commit_an_id_below_one_a_reader_saw() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(|_, _| {}).await;
    // Writers of different objects run at once and meet at the change ids; two writers
    // of each object meet at the object too.
    let mut people = Vec::new();
    for _ in 0..8 {
        people.push(app.new_object("Person", json!({"age": 0})).await["objectId"].clone());
    }
    let mut sse = Sse::open(&app.address, &[], None).await;
    let writes = 40;
    let write = |on: &TestApp, i: usize| {
        let id = &people[i % people.len()];
        let body = json!({"objectId": id, "propertyName": "age", "propertyValue": i});
        on.client.post(on.url("saveProperty")).json(&body).send()
    };
    let mut all = Vec::new();
    for i in 0..writes {
        all.push(write(if i % 2 == 0 { &app } else { &peer }, i));
    }
    for r in futures_util::future::join_all(all).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let events = sse.take(writes, 15).await;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(events.len(), writes, "every write arrives once");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order: {ids:?}");
    // Exactly the log: nothing committed later below an id the stream had passed.
    let mut logged = Vec::new();
    for id in &people {
        let history = app
            .post("getHistory", json!({"objectId": id, "after": ids[0] - 1}))
            .await
            .ok();
        let changes = history.as_array().cloned().unwrap_or_default();
        logged.extend(changes.iter().map(|c| c["changeId"].as_i64().unwrap()));
    }
    logged.sort_unstable();
    assert_eq!(logged, ids);
}

/// An import replaces the data wholesale: the change log starts over, every open stream
/// gets a `reset` (refetch), and no history of a replaced object shows under the imported
/// object that has its id now.
#[tokio::test]
async fn an_import_restarts_the_log_and_resets_every_stream() {
    let app = spawn_app().await;
    let p = app.new_object("Person", json!({"age": 0})).await;
    save_age(&app, &p["objectId"], 1).await;
    let mut sse = Sse::open(&app.address, &[], None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.jsonl");
    let file = file.to_str().unwrap();
    app.cli(&["export", "--output", file]);
    // Another process (the CLI) imports: the head watcher finds the restart by polling.
    app.cli(&["import", "--input", file, "--replace"]);
    let reset = sse.next(5).await.expect("an event");
    assert_eq!(reset.event, "reset", "{reset:?}");
    let history = app
        .post("getHistory", json!({"objectId": p["objectId"]}))
        .await
        .ok();
    assert_eq!(history, json!([]), "the history starts at the import");
    // The log goes on after the restart, with ids past it.
    save_age(&app, &p["objectId"], 2).await;
    let next = sse.next(5).await.expect("an event");
    assert_eq!(next.event, "saveProperties");
    assert!(next.id > reset.data["prunedThrough"].as_i64().unwrap());
    let history = app
        .post("getHistory", json!({"objectId": p["objectId"]}))
        .await
        .ok();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    // A client that resumes with an id from before the import is told to refetch too.
    let mut resumed = Sse::open(&app.address, &[], Some(2)).await;
    assert_eq!(resumed.next(5).await.expect("an event").event, "reset");
}
