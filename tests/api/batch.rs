//! `batch` (API.md §12): mixed writes with `$ref` in one transaction, all or nothing, and
//! `Idempotency-Key` on writes.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn new_person(reference: &str, name: &str) -> Value {
    json!({"op": "newObject", "ref": reference, "params": {"objectType": "Person", "properties": {"firstName": name}}})
}

#[tokio::test]
async fn a_form_saves_a_customer_with_orders_and_links_in_one_call() {
    let app = spawn_app().await;
    let body = json!({"operations": [
        {"op": "newObject", "ref": "acme", "params": {"objectType": "Company", "properties": {"name": "Acme"}}},
        {"op": "newObject", "ref": "john", "params": {"objectType": "Person", "properties": {"firstName": "John", "company": "$acme"}}},
        {"op": "newObject", "ref": "o1", "params": {"objectType": "Order", "properties": {"amount": "12.5", "customer": "$john"}}},
        {"op": "saveRelationship", "params": {"parentObjectId": "$john", "childObjectId": "$o1.objectId", "strict": true}},
        {"op": "saveProperty", "params": {"objectId": "$john", "propertyName": "lastName", "propertyValue": "$john.objectNumber"}},
        {"op": "saveProperties", "params": {"objectId": "$o1", "properties": {"amount": 20}}},
    ]});
    let results = app.post("batch", body).await.ok()["results"].clone();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 6);
    let (acme, john, order) = (&results[0], &results[1], &results[2]);
    assert_eq!(john["company"], acme["objectId"]);
    assert_eq!(john["company@display"], "Acme");
    assert_eq!(order["customer@display"], john["objectNumber"]);
    assert_eq!(
        results[3],
        json!({"parentObjectId": john["objectId"], "childObjectId": order["objectId"], "strict": true})
    );
    assert_eq!(results[4]["propertyValue"], john["objectNumber"]);
    assert_eq!(results[4]["propertyName"], "lastName");
    assert_eq!(results[5]["amount"], "20.00");
    let children = app
        .post("getChildren", json!({"objectId": john["objectId"]}))
        .await
        .ok();
    assert_eq!(children[0]["objectId"], order["objectId"]);
}

#[tokio::test]
async fn a_batch_failing_at_operation_7_of_10_leaves_nothing() {
    let app = spawn_app().await;
    let existing = app.new_object("Person", json!({"firstName": "Old"})).await;
    let mut ops: Vec<Value> = (0..6)
        .map(|i| new_person(&format!("p{i}"), "New"))
        .collect();
    ops[1] = json!({"op": "saveProperty", "params": {"objectId": existing["objectId"], "propertyName": "firstName", "propertyValue": "Changed"}});
    ops.push(json!({"op": "saveProperties", "params": {"objectId": "$p0", "properties": {"age": "not a number"}}}));
    ops.extend((7..10).map(|i| new_person(&format!("p{i}"), "Later")));
    let answer = app.post("batch", json!({ "operations": ops })).await;
    let details = answer.fails(400, "INVALID_VALUE");
    assert_eq!(details["index"], 6, "{}", answer.body);
    assert_eq!(details["propertyName"], "age");
    assert_eq!(
        app.count("Person").await,
        1,
        "nothing of the batch is stored"
    );
    let old = app.get_object(&existing["objectId"]).await.ok();
    assert_eq!(old["firstName"], "Old");
    // Nor did the failed batch leave changes in the log.
    let history = app
        .post("getHistory", json!({"objectId": existing["objectId"]}))
        .await
        .ok();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

#[tokio::test]
async fn a_store_refusal_inside_the_batch_names_its_operation() {
    let app = spawn_app().await;
    let ops = json!([
        new_person("a", "A"),
        {"op": "saveRelationship", "params": {"parentObjectId": "$a", "childObjectId": 999999}},
    ]);
    let answer = app.post("batch", json!({ "operations": ops })).await;
    let details = answer.fails(404, "OBJECT_NOT_FOUND");
    assert_eq!(details["index"], 1);
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn references_to_nothing_are_refused_before_anything_is_written() {
    let app = spawn_app().await;
    for (ops, index) in [
        (
            json!([new_person("a", "A"), {"op": "saveProperty", "params": {"objectId": "$b", "propertyName": "x", "propertyValue": 1}}]),
            1,
        ),
        // A reference to a later operation is not an earlier result.
        (
            json!([{"op": "saveProperty", "params": {"objectId": "$a", "propertyName": "x", "propertyValue": 1}}, new_person("a", "A")]),
            0,
        ),
    ] {
        let answer = app.post("batch", json!({ "operations": ops })).await;
        let details = answer.fails(400, "INVALID_REFERENCE");
        assert_eq!(details["index"], index, "{}", answer.body);
    }
    // A field the result does not have.
    let ops = json!([new_person("a", "A"), {"op": "saveProperty", "params": {"objectId": "$a.nothing", "propertyName": "x", "propertyValue": 1}}]);
    let answer = app.post("batch", json!({ "operations": ops })).await;
    assert_eq!(answer.fails(400, "INVALID_REFERENCE")["index"], 1);
    assert_eq!(app.count("Person").await, 0);
    // `$$` is a literal dollar.
    let ops = json!([{"op": "newObject", "params": {"objectType": "Person", "properties": {"firstName": "$$5"}}}]);
    let results = app.post("batch", json!({ "operations": ops })).await.ok();
    assert_eq!(results["results"][0]["firstName"], "$5");
}

#[tokio::test]
async fn malformed_batches_are_refused_with_their_index() {
    let app = spawn_app().await;
    let answer = app.post("batch", json!({"operations": [new_person("a", "A"), {"op": "getObject", "params": {"objectId": 1}}]})).await;
    assert_eq!(answer.fails(400, "INVALID_PARAMETER")["index"], 1);
    let answer = app.post("batch", json!({"operations": [{"op": "newObject", "params": {"objectType": "Person", "colour": 1}}]})).await;
    assert_eq!(answer.fails(400, "UNKNOWN_PARAMETER")["index"], 0);
    let answer = app
        .post(
            "batch",
            json!({"operations": [new_person("a", "A"), new_person("a", "B")]}),
        )
        .await;
    assert_eq!(answer.fails(400, "INVALID_PARAMETER")["index"], 1);
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "newObject", "params": {"objectType": "P"}}))
        .collect();
    app.post("batch", json!({ "operations": too_many }))
        .await
        .fails(400, "INVALID_PARAMETER");
    app.post("batch", json!({}))
        .await
        .fails(400, "MISSING_PARAMETER");
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn a_retried_write_with_an_idempotency_key_answers_the_first_answer() {
    let app = spawn_app().await;
    let send = |key: &str, body: Value| {
        app.client
            .post(app.url("newObject"))
            .header("Idempotency-Key", key)
            .json(&body)
    };
    let body = json!({"objectType": "Person", "properties": {"firstName": "Once"}});
    let first = app.send(send("k-1", body.clone())).await.ok();
    let again = app.send(send("k-1", body.clone())).await;
    assert_eq!(again.headers["Idempotent-Replayed"], "true");
    assert_eq!(again.ok(), first);
    assert_eq!(app.count("Person").await, 1);
    // The same key with another body is refused; another key writes again.
    let other = json!({"objectType": "Person", "properties": {"firstName": "Twice"}});
    app.send(send("k-1", other.clone()))
        .await
        .fails(422, "IDEMPOTENCY_KEY_REUSED");
    app.send(send("k-2", other)).await.ok();
    assert_eq!(app.count("Person").await, 2);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_write_once() {
    let app = spawn_app().await;
    let ops = json!({"operations": [new_person("a", "A"), new_person("b", "B")]});
    let tries = (0..8).map(|_| {
        app.send(
            app.client
                .post(app.url("batch"))
                .header("Idempotency-Key", "same")
                .json(&ops),
        )
    });
    let answers = futures_util::future::join_all(tries).await;
    let bodies: Vec<Value> = answers.into_iter().map(|a| a.ok()).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every retry answers the first answer"
    );
    assert_eq!(app.count("Person").await, 2, "written once");
}

/// The store's side of a retry taking over a claim: the first request's write (still
/// running, past the stale limit) rolls back instead of writing a second time, and a
/// committed claim is never taken over.
#[tokio::test]
async fn a_claim_taken_over_by_a_retry_rolls_the_first_write_back() {
    use datastore::store::changes::{claiming, IdempotencyClaim};
    use datastore::store::{Claim, NewObject, StoreError};

    let app = spawn_app().await;
    let store = app.store().await;
    let version = store.config_versions().await.unwrap().version;
    let person = || NewObject {
        object_type: "Person".into(),
        properties: Vec::new(),
        config_version: version,
    };
    let claim = |token: &str| IdempotencyClaim {
        key: "-:slow".into(),
        token: token.into(),
    };
    let long_ago = chrono::Utc::now() - chrono::Duration::seconds(120);
    let soon = chrono::Utc::now() + chrono::Duration::seconds(5);
    // The first request claims; a retry finds it stale and takes it over.
    let first = store.claim_idempotency("-:slow", "h", "first", long_ago);
    assert_eq!(first.await.unwrap(), Claim::Claimed);
    let retry = store.claim_idempotency("-:slow", "h", "retry", soon);
    assert_eq!(retry.await.unwrap(), Claim::Claimed);
    // The first one's write comes late: it rolls back, nothing of it stays.
    let late = claiming(claim("first"), store.new_object(person())).await;
    assert!(
        matches!(late, Err(StoreError::IdempotencyClaimLost)),
        "{late:?}"
    );
    assert_eq!(app.count("Person").await, 0);
    // The retry's write stands; its claim is committed, and a write under the lost claim
    // still cannot follow it.
    claiming(claim("retry"), store.new_object(person()))
        .await
        .unwrap();
    let late = claiming(claim("first"), store.new_object(person())).await;
    assert!(matches!(late, Err(StoreError::IdempotencyClaimLost)));
    assert_eq!(app.count("Person").await, 1);
    // Committed without an answer (its process stopped just after the commit): a third
    // try, even past the stale limit, does not take it over.
    let third = store.claim_idempotency("-:slow", "h", "third", soon);
    assert_eq!(
        third.await.unwrap(),
        Claim::Taken {
            body_hash: "h".into(),
            response: None,
            committed: true,
            stale: true
        }
    );
    // A finish under the lost token changes nothing; under its own it stores the answer.
    store
        .finish_idempotency("-:slow", "first", None)
        .await
        .unwrap();
    store
        .finish_idempotency("-:slow", "first", Some("lost".into()))
        .await
        .unwrap();
    store
        .finish_idempotency("-:slow", "retry", Some("answer".into()))
        .await
        .unwrap();
    let again = store.claim_idempotency("-:slow", "h", "fourth", soon);
    assert!(
        matches!(again.await.unwrap(), Claim::Taken { response: Some(r), .. } if r == "answer")
    );
}

/// The SQLite file of `app` (`None` on SQL Server).
fn sqlite_file(app: &crate::helpers::TestApp) -> Option<String> {
    app.database.strip_prefix("sqlite://").map(str::to_owned)
}

/// A batch is one write under its `Idempotency-Key`: its claim is marked committed once,
/// not once per operation. (SQL Server marks when it writes the batch's changes, once by
/// construction; on SQLite a trigger counts the marks.)
#[tokio::test]
async fn a_batch_marks_its_idempotency_claim_once() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    let conn = rusqlite::Connection::open(file).unwrap();
    conn.execute_batch(
        "CREATE TABLE MarkCount (n INTEGER NOT NULL); INSERT INTO MarkCount VALUES (0);
         CREATE TRIGGER CountMarks AFTER UPDATE OF Status ON IdempotencyKeys WHEN NEW.Status = 2
         BEGIN UPDATE MarkCount SET n = n + 1; END;",
    )
    .unwrap();
    let marks = || -> i64 {
        conn.query_row("SELECT n FROM MarkCount", [], |r| r.get(0))
            .unwrap()
    };
    let ops: Vec<Value> = (0..5).map(|i| new_person(&format!("p{i}"), "P")).collect();
    let send = |key: &str| {
        app.client
            .post(app.url("batch"))
            .header("Idempotency-Key", key)
            .json(&json!({ "operations": ops }))
    };
    app.send(send("once")).await.ok();
    assert_eq!(marks(), 1, "five operations, one mark");
    assert_eq!(app.count("Person").await, 5);
    // Its replay marks nothing; a single write marks once too.
    app.send(send("once")).await.ok();
    assert_eq!(marks(), 1);
    app.send(
        app.client
            .post(app.url("newObject"))
            .header("Idempotency-Key", "single")
            .json(&json!({"objectType": "Person"})),
    )
    .await
    .ok();
    assert_eq!(marks(), 2);
}

/// A plan of `n` new people, for the store's side.
struct People {
    n: usize,
    version: i64,
}

impl datastore::store::BatchPlan for People {
    fn len(&self) -> usize {
        self.n
    }

    fn target(
        &self,
        _: usize,
        _: &[datastore::store::WriteOutcome],
    ) -> Result<Option<i64>, datastore::store::BatchError> {
        Ok(None)
    }

    fn step(
        &self,
        _: usize,
        _: &[datastore::store::WriteOutcome],
        _: Option<&str>,
    ) -> Result<datastore::store::WriteOp, datastore::store::BatchError> {
        Ok(datastore::store::WriteOp::NewObject(
            datastore::store::NewObject {
                object_type: "Person".into(),
                properties: Vec::new(),
                config_version: self.version,
            },
        ))
    }
}

/// A batch whose claim a retry took over (it ran past the stale limit) rolls back and
/// fails as a whole: the failure names no operation, on either backend.
#[tokio::test]
async fn a_batch_whose_claim_was_taken_over_fails_as_a_whole() {
    use datastore::store::changes::{claiming, IdempotencyClaim};
    use datastore::store::{BatchError, StoreError};

    let app = spawn_app().await;
    let store = app.store().await;
    let version = store.config_versions().await.unwrap().version;
    let long_ago = chrono::Utc::now() - chrono::Duration::seconds(120);
    let soon = chrono::Utc::now() + chrono::Duration::seconds(5);
    store
        .claim_idempotency("-:batch", "h", "first", long_ago)
        .await
        .unwrap();
    store
        .claim_idempotency("-:batch", "h", "retry", soon)
        .await
        .unwrap();
    let claim = IdempotencyClaim {
        key: "-:batch".into(),
        token: "first".into(),
    };
    let plan = std::sync::Arc::new(People { n: 4, version });
    let failed = claiming(claim, store.batch(plan)).await.unwrap_err();
    assert!(
        matches!(
            failed.error,
            BatchError::Store(StoreError::IdempotencyClaimLost)
        ),
        "{failed:?}"
    );
    assert_eq!(failed.index, None, "no operation failed, the batch did");
    assert_eq!(app.count("Person").await, 0);
}

/// Over HTTP (on SQLite, where a trigger can take the claim over while the batch runs):
/// `409 IDEMPOTENCY_KEY_IN_USE` with `details.header` and no `details.index`, and nothing
/// written.
#[tokio::test]
async fn a_batch_that_lost_its_claim_answers_without_an_operation_index() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    let conn = rusqlite::Connection::open(file).unwrap();
    // Another request takes every claim of key `stolen` over as soon as it is made.
    conn.execute_batch(
        "CREATE TRIGGER Steal AFTER INSERT ON IdempotencyKeys WHEN NEW.IdemKey = '-:stolen'
         BEGIN UPDATE IdempotencyKeys SET Token = 'thief' WHERE IdemKey = NEW.IdemKey; END;",
    )
    .unwrap();
    let ops: Vec<Value> = (0..3).map(|i| new_person(&format!("p{i}"), "P")).collect();
    let answer = app
        .send(
            app.client
                .post(app.url("batch"))
                .header("Idempotency-Key", "stolen")
                .json(&json!({ "operations": ops })),
        )
        .await;
    let details = answer.fails(409, "IDEMPOTENCY_KEY_IN_USE");
    assert_eq!(
        details,
        &json!({"header": "Idempotency-Key"}),
        "{}",
        answer.body
    );
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(!message.starts_with("operation"), "{message}");
    assert_eq!(app.count("Person").await, 0);
}

/// Two service processes on one database, each with requests carrying one key at once:
/// one writes, every other answers its answer; the same key with another body is refused
/// as a whole (no operation index).
#[tokio::test]
async fn one_idempotency_key_across_two_processes_writes_once() {
    let app = spawn_app().await;
    let peer = app.serve_process();
    let ops = json!({"operations": [new_person("a", "A"), new_person("b", "B")]});
    let send = |address: &str, key: &str, body: &Value| {
        let request = app
            .client
            .post(format!("{address}/batch"))
            .header("Idempotency-Key", key)
            .json(body);
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON");
            (status, body)
        }
    };
    let mut tries = Vec::new();
    for address in [&app.address, &peer.app.address] {
        for _ in 0..4 {
            tries.push(send(address, "shared", &ops));
        }
    }
    let answers = futures_util::future::join_all(tries).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            body, &answers[0].1,
            "every request answers the first answer"
        );
    }
    assert_eq!(app.count("Person").await, 2, "written once");
    // The same key with two bodies at once, one on each process: one of them writes,
    // the other is refused without naming an operation.
    let other = json!({"operations": [new_person("c", "C")]});
    let (first, second) = tokio::join!(
        send(&app.address, "two-bodies", &ops),
        send(&peer.app.address, "two-bodies", &other)
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422], "{first:?} {second:?}");
    let refused = if first.0 == 422 { &first.1 } else { &second.1 };
    assert_eq!(refused["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        refused["error"]["details"],
        json!({"header": "Idempotency-Key"})
    );
    let written = if first.0 == 200 { 2 } else { 1 };
    assert_eq!(app.count("Person").await, 2 + written);
}
