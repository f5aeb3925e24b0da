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
