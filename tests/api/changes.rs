//! The change log (API.md §12): `getHistory` after every kind of write, its paging, the
//! acting key, and retention.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

async fn history(app: &crate::helpers::TestApp, id: &Value) -> Vec<Value> {
    app.post("getHistory", json!({ "objectId": id }))
        .await
        .ok()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An object's whole history, read `limit` at a time, each page after the last id seen.
async fn paged(app: &crate::helpers::TestApp, id: &Value, limit: u32) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .post(
                "getHistory",
                json!({"objectId": id, "after": after, "limit": limit}),
            )
            .await
            .ok();
        let page = page.as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= limit as usize);
        after = last["changeId"].as_i64().unwrap();
        seen.extend(page);
    }
    seen
}

#[tokio::test]
async fn history_follows_every_kind_of_write_and_survives_the_drop() {
    let app = spawn_app().await;
    let acme = app.new_object("Company", json!({"name": "Acme"})).await;
    let john = app
        .new_object(
            "Person",
            json!({"firstName": "John", "age": 24, "company": acme["objectId"]}),
        )
        .await;
    let id = &john["objectId"];
    app.post(
        "saveProperty",
        json!({"objectId": id, "propertyName": "age", "propertyValue": "25"}),
    )
    .await
    .ok();
    app.post(
        "saveProperties",
        json!({"objectId": id, "properties": {"firstName": "Johnny", "age": null, "status": "A"}}),
    )
    .await
    .ok();
    app.post(
        "changeObjectType",
        json!({"objectId": id, "objectType": "ARCH_Person"}),
    )
    .await
    .ok();
    app.post(
        "saveRelationship",
        json!({"parentObjectId": acme["objectId"], "childObjectId": id, "strict": false}),
    )
    .await
    .ok();
    app.post(
        "dropRelationship",
        json!({"parentObjectId": acme["objectId"], "childObjectId": id}),
    )
    .await
    .ok();
    app.post("dropObject", json!({"objectId": id})).await.ok();

    let changes = history(&app, id).await;
    let ops: Vec<&str> = changes
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "newObject",
            "saveProperties",
            "saveProperties",
            "changeObjectType",
            "saveRelationship",
            "dropRelationship",
            "dropObject"
        ]
    );
    let ids: Vec<i64> = changes
        .iter()
        .map(|c| c["changeId"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    let created = &changes[0]["changes"];
    assert_eq!(created["firstName"], json!({"to": "John"}));
    assert_eq!(created["age"], json!({"to": 24}));
    assert_eq!(created["company"], json!({"to": acme["objectId"]}));
    assert_eq!(created["company@display"], json!({"to": "Acme"}));
    assert_eq!(created["objectType"], json!({"to": "Person"}));
    assert_eq!(created["objectNumber"]["to"], john["objectNumber"]);
    assert_eq!(changes[1]["changes"]["age"], json!({"from": 24, "to": 25}));
    assert!(changes[1]["changes"]["updatedAt"]["to"].is_string());
    let saved = &changes[2]["changes"];
    assert_eq!(saved["firstName"], json!({"from": "John", "to": "Johnny"}));
    assert_eq!(
        saved["age"],
        json!({"from": 25}),
        "a removed property has no `to`"
    );
    assert_eq!(saved["status@display"], json!({"to": "Active"}));
    assert_eq!(
        changes[3]["changes"]["objectType"],
        json!({"from": "Person", "to": "ARCH_Person"})
    );
    assert_eq!(
        changes[4]["changes"],
        json!({"parentObjectId": {"to": acme["objectId"]}, "childObjectId": {"to": id}, "strict": {"to": false}})
    );
    assert_eq!(changes[5]["changes"]["strict"], json!({"from": false}));
    let dropped = &changes[6]["changes"];
    assert_eq!(dropped["firstName"], json!({"from": "Johnny"}));
    assert_eq!(dropped["objectType"], json!({"from": "ARCH_Person"}));
    // The relationship is a change of the parent too.
    let parent_ops: Vec<String> = history(&app, &acme["objectId"])
        .await
        .iter()
        .map(|c| c["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        parent_ops,
        ["newObject", "saveRelationship", "dropRelationship"]
    );
}

#[tokio::test]
async fn history_pages_with_after_and_limit() {
    let app = spawn_app().await;
    let p = app.new_object("Person", json!({"age": 0})).await;
    for age in 1..=5 {
        app.post(
            "saveProperty",
            json!({"objectId": p["objectId"], "propertyName": "age", "propertyValue": age}),
        )
        .await
        .ok();
    }
    let seen: Vec<Value> = paged(&app, &p["objectId"], 2)
        .await
        .iter()
        .map(|c| c["changes"]["age"]["to"].clone())
        .collect();
    assert_eq!(
        seen,
        [json!(0), json!(1), json!(2), json!(3), json!(4), json!(5)]
    );
    app.post(
        "getHistory",
        json!({"objectId": p["objectId"], "after": -1}),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    // An object that never existed has no history (not an error: it may have been pruned).
    assert_eq!(history(&app, &json!(987654)).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_change_names_the_key_that_made_it() {
    let app = spawn_app().await;
    let (key, key_id) = app
        .create_key(datastore::auth::Role::Write, None, None)
        .await;
    let keyed = app.with_key(&key);
    let p = keyed
        .post("newObject", json!({"objectType": "Person"}))
        .await
        .ok();
    keyed
        .post(
            "saveProperty",
            json!({"objectId": p["objectId"], "propertyName": "age", "propertyValue": 3}),
        )
        .await
        .ok();
    let changes = keyed
        .post("getHistory", json!({"objectId": p["objectId"]}))
        .await
        .ok();
    for c in changes.as_array().unwrap() {
        assert_eq!(c["keyId"], key_id.as_str(), "{c}");
        assert!(!c.to_string().contains(&key), "never the key itself");
    }
}

#[tokio::test]
async fn retention_prunes_the_oldest_changes_only() {
    let app = spawn_app().await;
    let p = app.new_object("Person", json!({"age": 1})).await;
    let store = app.store().await;
    // Nothing is old enough yet.
    assert_eq!(
        datastore::service::history::prune_once(store.as_ref(), 90).await,
        0
    );
    assert_eq!(history(&app, &p["objectId"]).await.len(), 1);
    // Everything made before tomorrow goes, a batch at a time.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(store.prune_changes(tomorrow, 500).await.unwrap(), 1);
    assert_eq!(history(&app, &p["objectId"]).await.len(), 0);
    let page = store
        .changes_since(0, &Default::default(), 10)
        .await
        .unwrap();
    assert!(
        page.pruned_through >= 1,
        "the log says how far it was pruned"
    );
    // A later write is logged as before.
    app.post(
        "saveProperty",
        json!({"objectId": p["objectId"], "propertyName": "age", "propertyValue": 2}),
    )
    .await
    .ok();
    assert_eq!(history(&app, &p["objectId"]).await.len(), 1);
}

/// One batch (one job of the writer, one transaction) that makes, changes and drops the
/// same object, beside one that changes another object many times: each object's history
/// is its own changes, in order, after the batch as after single writes.
#[tokio::test]
async fn history_of_objects_written_and_dropped_inside_one_batch() {
    let app = spawn_app().await;
    let kept = app.new_object("Person", json!({"firstName": "K"})).await;
    let kept_id = kept["objectId"].clone();
    let mut ops = vec![
        json!({"op": "newObject", "ref": "p", "params": {"objectType": "Person", "properties": {"firstName": "A"}}}),
    ];
    for age in 1..=3 {
        ops.push(json!({"op": "saveProperty", "params": {"objectId": "$p", "propertyName": "age", "propertyValue": age}}));
        ops.push(json!({"op": "saveProperty", "params": {"objectId": kept_id, "propertyName": "age", "propertyValue": age}}));
    }
    ops.push(json!({"op": "dropObject", "params": {"objectId": "$p"}}));
    let results = app.post("batch", json!({ "operations": ops })).await.ok()["results"].clone();
    let made = results[0]["objectId"].clone();
    let ops_of = |changes: &[Value]| -> Vec<String> {
        changes
            .iter()
            .map(|c| c["operation"].as_str().unwrap().to_owned())
            .collect()
    };
    let dropped = history(&app, &made).await;
    assert_eq!(
        ops_of(&dropped),
        [
            "newObject",
            "saveProperties",
            "saveProperties",
            "saveProperties",
            "dropObject"
        ]
    );
    let ages: Vec<&Value> = dropped[1..4]
        .iter()
        .map(|c| &c["changes"]["age"]["to"])
        .collect();
    assert_eq!(ages, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(dropped[4]["changes"]["age"], json!({"from": 3}));
    let kept_history = history(&app, &kept_id).await;
    assert_eq!(
        ops_of(&kept_history),
        [
            "newObject",
            "saveProperties",
            "saveProperties",
            "saveProperties"
        ]
    );
    // And on after the batch, paged one at a time.
    app.post(
        "saveProperty",
        json!({"objectId": kept_id, "propertyName": "age", "propertyValue": 4}),
    )
    .await
    .ok();
    let seen = paged(&app, &kept_id, 1).await;
    assert_eq!(ops_of(&seen), ops_of(&history(&app, &kept_id).await));
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[4]["changes"]["age"], json!({"from": 3, "to": 4}));
}

#[tokio::test]
async fn an_upload_is_recorded_as_a_save_of_its_property() {
    let app = spawn_app().await;
    let john = app.new_object("Person", json!({"firstName": "John"})).await;
    let id = &john["objectId"];
    let part = crate::files::file_part(b"PNG".to_vec(), "me.png", "image/png");
    let answer = crate::files::upload(&app, id, "photo", part).await.ok();
    let changes = history(&app, id).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    let upload = &changes[1];
    assert_eq!(upload["operation"], "saveProperties");
    assert_eq!(upload["changes"]["photo"]["from"], Value::Null);
    assert_eq!(upload["changes"]["photo"]["to"], answer["photo"]);
    assert_eq!(upload["changes"]["photo"]["to"]["name"], "me.png");
}
