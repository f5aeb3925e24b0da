//! changeObjectType keeps Lookups valid (API.md §6): the type of an object that Lookups
//! point at changes only by an archive (`ARCH_` + its type) or its reverse, and after one
//! those Lookups keep working and keep following the object's display property.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn change_type(app: &TestApp, object: &Value, object_type: &str) -> crate::helpers::Answer {
    app.post(
        "changeObjectType",
        json!({ "objectId": object["objectId"], "objectType": object_type }),
    )
    .await
}

async fn rename(app: &TestApp, company: &Value, name: &str) {
    app.post(
        "saveProperty",
        json!({ "objectId": company["objectId"], "propertyName": "name", "propertyValue": name }),
    )
    .await
    .ok();
}

#[tokio::test]
async fn changing_the_type_of_an_object_lookups_point_at_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let mut owners = Vec::new();
    for _ in 0..3 {
        let person = app
            .new_object("Person", json!({ "company": company["objectId"] }))
            .await;
        owners.push(person["objectId"].clone());
    }
    let details = change_type(&app, &company, "City")
        .await
        .fails(409, "REFERENCED_BY_LOOKUP")
        .clone();
    assert_eq!(details["objectIds"], json!(owners));
    assert_eq!(app.get_object(&company["objectId"]).await.ok(), company);

    // Archived, it still cannot become anything but its original again.
    change_type(&app, &company, "ARCH_Company").await.ok();
    for other in ["ARCH_City", "City", "ARCH_ARCH_Company"] {
        change_type(&app, &company, other)
            .await
            .fails(409, "REFERENCED_BY_LOOKUP");
    }
    let archived = app.get_object(&company["objectId"]).await.ok();
    assert_eq!(archived["objectType"], "ARCH_Company");

    // Once no Lookup points at it, any type goes.
    for owner in &owners {
        app.post(
            "saveProperty",
            json!({ "objectId": owner, "propertyName": "company", "propertyValue": null }),
        )
        .await
        .ok();
    }
    let city = change_type(&app, &company, "City").await.ok();
    assert_eq!(city["objectType"], "City");
}

#[tokio::test]
async fn a_refused_type_change_lists_at_most_100_referencing_objects_in_id_order() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let mut owners = Vec::new();
    for _ in 0..101 {
        let person = app
            .new_object("Person", json!({ "company": company["objectId"] }))
            .await;
        owners.push(person["objectId"].as_i64().unwrap());
    }
    let details = change_type(&app, &company, "City")
        .await
        .fails(409, "REFERENCED_BY_LOOKUP")
        .clone();
    owners.sort_unstable();
    assert_eq!(details["objectIds"], json!(owners[..100]));
}

#[tokio::test]
async fn lookups_keep_working_when_their_target_is_archived_and_restored() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let person = app
        .new_object(
            "Person",
            json!({ "company": company["objectId"], "age": 40 }),
        )
        .await;
    let resave = |properties: Value| {
        let app = &app;
        let id = person["objectId"].clone();
        async move {
            app.post(
                "saveProperties",
                json!({ "objectId": id, "properties": properties }),
            )
            .await
            .ok()
        }
    };

    change_type(&app, &company, "ARCH_Company").await.ok();
    // Saving the value the Lookup already holds is accepted, alone or with others.
    let saved = app
        .post(
            "saveProperty",
            json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": company["objectId"] }),
        )
        .await
        .ok();
    assert_eq!(saved["propertyValue"], company["objectId"]);
    assert_eq!(saved["propertyAsString"], "Acme");
    resave(json!({ "company": company["objectId"], "age": 41 })).await;
    // The display text follows the archived target's display property.
    rename(&app, &company, "Acme (archived)").await;
    let shown = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(shown["company"], company["objectId"]);
    assert_eq!(shown["company@display"], "Acme (archived)");

    change_type(&app, &company, "Company").await.ok();
    resave(json!({ "company": company["objectId"] })).await;
    rename(&app, &company, "Acme again").await;
    let shown = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(shown["company@display"], "Acme again");
    assert_eq!(shown["age"], 41);
}

#[tokio::test]
async fn a_new_lookup_to_an_archived_object_is_refused() {
    let app = spawn_app().await;
    let archived = app.new_object("Company", json!({ "name": "Old" })).await;
    let current = app.new_object("Company", json!({ "name": "New" })).await;
    change_type(&app, &archived, "ARCH_Company").await.ok();
    let details = app
        .post(
            "newObject",
            json!({ "objectType": "Person", "properties": { "company": archived["objectId"] } }),
        )
        .await
        .fails(400, "INVALID_VALUE")
        .clone();
    assert_eq!(details["propertyName"], "company");
    // Nor may a Lookup that points elsewhere move to it.
    let person = app
        .new_object("Person", json!({ "company": current["objectId"] }))
        .await;
    app.post(
        "saveProperty",
        json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": archived["objectId"] }),
    )
    .await
    .fails(400, "INVALID_VALUE");
    let unchanged = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(unchanged["company"], current["objectId"]);
    assert_eq!(app.count("Person").await, 1);
}
