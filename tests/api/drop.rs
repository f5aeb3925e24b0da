//! dropObject's rules: listed child types go too, strict others block, lookups protect
//! their targets, and a refusal deletes nothing (API.md §6).

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn exists(app: &TestApp, object: &Value) -> bool {
    app.get_object(&object["objectId"])
        .await
        .status
        .is_success()
}

#[tokio::test]
async fn a_strict_child_of_an_unlisted_type_blocks_the_drop_and_nothing_is_deleted() {
    let app = spawn_app().await;
    let customer = app.new_object("Person", json!({})).await;
    let order = app.new_object("Order", json!({})).await;
    let note = app.new_object("Note", json!({})).await;
    app.relate(&customer, &order, true).await;
    app.relate(&order, &note, true).await;

    let details = app
        .post("dropObject", json!({ "objectId": customer["objectId"] }))
        .await
        .fails(409, "STRICT_CHILDREN_EXIST")
        .clone();
    assert_eq!(details["childObjectTypes"], json!(["Order"]));
    // Orders listed, but the order's strict Note is not: still refused, all of it.
    let details = app
        .post(
            "dropObject",
            json!({ "objectId": customer["objectId"], "childObjectTypes": ["Order"] }),
        )
        .await
        .fails(409, "STRICT_CHILDREN_EXIST")
        .clone();
    assert_eq!(details["childObjectTypes"], json!(["Note"]));
    for o in [&customer, &order, &note] {
        assert!(exists(&app, o).await);
    }

    let dropped = app
        .post_form(
            "dropObject",
            &[
                ("objectId", &customer["objectId"].to_string()),
                ("childObjectTypes", "Order, Note"),
            ],
        )
        .await
        .ok();
    assert_eq!(
        dropped["deletedObjectIds"],
        json!([customer["objectId"], order["objectId"], note["objectId"]])
    );
    for o in [&customer, &order, &note] {
        assert!(!exists(&app, o).await);
    }
}

#[tokio::test]
async fn non_strict_children_not_listed_survive_without_their_relationship() {
    let app = spawn_app().await;
    let parent = app.new_object("Person", json!({})).await;
    let loose = app.new_object("City", json!({})).await;
    let other_parent = app.new_object("Company", json!({})).await;
    app.relate(&parent, &loose, false).await;
    app.relate(&other_parent, &loose, false).await;
    let dropped = app
        .post("dropObject", json!({ "objectId": parent["objectId"] }))
        .await
        .ok();
    assert_eq!(dropped["deletedObjectIds"], json!([parent["objectId"]]));
    assert!(exists(&app, &loose).await);
    let parents = app
        .post("getParents", json!({ "objectId": loose["objectId"] }))
        .await
        .ok();
    assert_eq!(
        parents.as_array().unwrap().len(),
        1,
        "only the surviving parent's link remains"
    );
    assert_eq!(parents[0]["objectId"], other_parent["objectId"]);
}

#[tokio::test]
async fn listed_children_are_dropped_recursively_even_when_not_strict() {
    let app = spawn_app().await;
    let root = app.new_object("Folder", json!({})).await;
    let sub = app.new_object("Folder", json!({})).await;
    let leaf = app.new_object("Folder", json!({})).await;
    app.relate(&root, &sub, false).await;
    app.relate(&sub, &leaf, false).await;
    // A cycle must not loop forever.
    app.relate(&leaf, &root, false).await;
    let dropped = app
        .post(
            "dropObject",
            json!({ "objectId": root["objectId"], "childObjectTypes": "Folder" }),
        )
        .await
        .ok();
    assert_eq!(dropped["deletedObjectIds"].as_array().unwrap().len(), 3);
    assert_eq!(app.count("Folder").await, 0);
}

#[tokio::test]
async fn an_object_referenced_by_a_lookup_cannot_be_dropped() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let person = app
        .new_object("Person", json!({ "company": company["objectId"] }))
        .await;
    let details = app
        .post("dropObject", json!({ "objectId": company["objectId"] }))
        .await
        .fails(409, "REFERENCED_BY_LOOKUP")
        .clone();
    assert_eq!(details["objectIds"], json!([person["objectId"]]));
    assert!(exists(&app, &company).await);
    // Once the reference is gone, the drop goes through.
    app.post(
        "saveProperty",
        json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": null }),
    )
    .await
    .ok();
    app.post("dropObject", json!({ "objectId": company["objectId"] }))
        .await
        .ok();
}

#[tokio::test]
async fn a_lookup_between_objects_dropped_together_does_not_block() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({})).await;
    let order = app
        .new_object("Order", json!({ "customer": person["objectId"] }))
        .await;
    app.relate(&person, &order, true).await;
    let dropped = app
        .post(
            "dropObject",
            json!({ "objectId": person["objectId"], "childObjectTypes": ["Order"] }),
        )
        .await
        .ok();
    assert_eq!(dropped["deletedObjectIds"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn dropping_an_unknown_object_is_not_found() {
    let app = spawn_app().await;
    app.post("dropObject", json!({ "objectId": 123456 }))
        .await
        .fails(404, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn a_strict_link_back_to_an_object_being_dropped_does_not_block() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({})).await;
    let order = app.new_object("Order", json!({})).await;
    app.relate(&person, &order, false).await;
    app.relate(&order, &person, true).await;
    let dropped = app
        .post(
            "dropObject",
            json!({ "objectId": person["objectId"], "childObjectTypes": ["Order"] }),
        )
        .await
        .ok();
    assert_eq!(
        dropped["deletedObjectIds"],
        json!([person["objectId"], order["objectId"]])
    );
}
