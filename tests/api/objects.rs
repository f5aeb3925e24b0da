//! newObject, getObject, saveProperties, changeObjectType (API.md §5).

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn new_object_returns_the_flat_object_with_system_fields_and_converted_values() {
    let app = spawn_app().await;
    let person = app
        .new_object(
            "Person",
            json!({ "firstName": "John", "age": "24", "height": "1,85", "salary": 1234.5 }),
        )
        .await;
    assert!(person["objectId"].as_i64().unwrap() > 0);
    assert_eq!(person["objectType"], "Person");
    assert_eq!(person["firstName"], "John");
    assert_eq!(person["age"], 24);
    assert_eq!(person["height"], 1.85);
    assert_eq!(person["salary"], "1234.50");
    assert!(person["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(person["createdAt"], person["updatedAt"]);
    assert!(
        person.get("lastName").is_none(),
        "a property without a value is absent"
    );
    let again = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(again, person);
}

#[tokio::test]
async fn new_object_numbers_follow_the_configured_prefix_width_and_start() {
    let app = spawn_app().await;
    let first = app.new_object("Person", json!({})).await;
    let second = app.new_object("Person", json!({})).await;
    assert_eq!(first["objectNumber"], "P-0001001");
    assert_eq!(second["objectNumber"], "P-0001002");
    assert_eq!(
        app.new_object("Company", json!({})).await["objectNumber"],
        "C-00001"
    );
    assert_eq!(
        app.new_object("City", json!({})).await["objectNumber"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn object_ids_are_unique_across_types() {
    let app = spawn_app().await;
    let a = app.new_object("Person", json!({})).await;
    let b = app.new_object("City", json!({})).await;
    assert_ne!(a["objectId"], b["objectId"]);
}

#[tokio::test]
async fn new_object_with_one_invalid_value_creates_nothing() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "newObject",
            json!({ "objectType": "Person", "properties": { "firstName": "Jane", "age": "old" } }),
        )
        .await;
    let details = answer.fails(400, "INVALID_VALUE");
    assert_eq!(details["propertyName"], "age");
    assert_eq!(details["propertyType"], "Integer");
    assert_eq!(app.count("Person").await, 0);
    // The failed call did not use up a number.
    assert_eq!(
        app.new_object("Person", json!({})).await["objectNumber"],
        "P-0001001"
    );
}

#[tokio::test]
async fn get_object_of_an_unknown_id_is_object_not_found() {
    let app = spawn_app().await;
    let answer = app.get_object(&json!(999)).await;
    assert_eq!(answer.fails(404, "OBJECT_NOT_FOUND")["objectId"], 999);
}

#[tokio::test]
async fn save_properties_is_all_or_nothing() {
    let app = spawn_app().await;
    let person = app
        .new_object("Person", json!({ "firstName": "John", "age": 30 }))
        .await;
    let id = &person["objectId"];
    let answer = app
        .post("saveProperties", json!({ "objectId": id, "properties": { "firstName": "Jack", "birthDate": "31-02-2000" } }))
        .await;
    assert_eq!(
        answer.fails(400, "INVALID_VALUE")["propertyName"],
        "birthDate"
    );
    assert_eq!(app.get_object(id).await.ok(), person, "nothing changed");

    let saved = app
        .post("saveProperties", json!({ "objectId": id, "properties": { "firstName": "Jack", "age": null, "active": "yes" } }))
        .await
        .ok();
    assert_eq!(saved["firstName"], "Jack");
    assert_eq!(saved["active"], true);
    assert!(saved.get("age").is_none(), "null removed the property");
    assert_eq!(saved["objectNumber"], person["objectNumber"]);
    assert!(saved["updatedAt"].as_str() >= person["updatedAt"].as_str());
    assert_eq!(app.get_object(id).await.ok(), saved);
}

#[tokio::test]
async fn save_properties_of_an_unknown_object_is_object_not_found() {
    let app = spawn_app().await;
    app.post(
        "saveProperties",
        json!({ "objectId": 77, "properties": { "a": 1 } }),
    )
    .await
    .fails(404, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn change_object_type_archives_and_keeps_number_and_properties() {
    let app = spawn_app().await;
    let person = app
        .new_object("Person", json!({ "firstName": "Old", "age": 90 }))
        .await;
    let archived = app
        .post(
            "changeObjectType",
            json!({ "objectId": person["objectId"], "objectType": "ARCH_Person" }),
        )
        .await
        .ok();
    assert_eq!(archived["objectType"], "ARCH_Person");
    assert_eq!(archived["objectNumber"], person["objectNumber"]);
    assert_eq!(
        archived["age"], 90,
        "values keep the type they were saved as"
    );
    assert_eq!(
        app.count("Person").await,
        0,
        "archived objects leave Person lists"
    );
    assert_eq!(app.count("ARCH_Person").await, 1);
    app.post(
        "changeObjectType",
        json!({ "objectId": 4242, "objectType": "X" }),
    )
    .await
    .fails(404, "OBJECT_NOT_FOUND");
    app.post(
        "changeObjectType",
        json!({ "objectId": person["objectId"], "objectType": "not a type" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
}

#[tokio::test]
async fn a_strict_schema_refuses_unknown_types_and_properties() {
    let app = crate::helpers::spawn_app_with_config(
        r#"
schemaMode = "strict"
[types.Person.properties]
name = "String"
"#,
    )
    .await;
    let details = app
        .post("newObject", json!({ "objectType": "Robot" }))
        .await
        .fails(400, "UNKNOWN_OBJECT_TYPE")
        .clone();
    assert_eq!(details["objectType"], "Robot");
    app.post(
        "newObject",
        json!({ "objectType": "Person", "properties": { "nmae": "typo" } }),
    )
    .await
    .fails(400, "UNKNOWN_PROPERTY");
    let person = app.new_object("Person", json!({ "name": "Ann" })).await;
    app.post(
        "saveProperty",
        json!({ "objectId": person["objectId"], "propertyName": "age", "propertyValue": 3 }),
    )
    .await
    .fails(400, "UNKNOWN_PROPERTY");
    // Archiving a configured type is allowed in strict mode too.
    app.post(
        "changeObjectType",
        json!({ "objectId": person["objectId"], "objectType": "ARCH_Person" }),
    )
    .await
    .ok();
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn an_open_schema_stores_unknown_properties_as_strings() {
    let app = spawn_app().await;
    let thing = app
        .new_object("Gadget", json!({ "weight": 12, "colour": "red" }))
        .await;
    assert_eq!(thing["weight"], "12");
    assert_eq!(thing["colour"], "red");
}

#[tokio::test]
async fn reserved_and_malformed_property_names_are_refused() {
    let app = spawn_app().await;
    for name in ["objectId", "createdAt", "9lives", "first-name", ""] {
        let answer = app
            .post(
                "newObject",
                json!({ "objectType": "Person", "properties": { name: "x" } }),
            )
            .await;
        answer.fails(400, "INVALID_PARAMETER");
    }
    assert_eq!(app.count("Person").await, 0);
}
