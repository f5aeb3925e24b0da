//! Output rules of API.md §2 and §4: absent values are absent attributes.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

/// Fails when `value` holds a `null` anywhere.
#[track_caller]
fn assert_no_null(value: &Value) {
    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(map) => map.values().any(has_null),
            _ => false,
        }
    }
    assert!(!has_null(value), "a null in {value}");
}

#[tokio::test]
async fn an_absent_value_is_an_absent_attribute_never_null() {
    let app = spawn_app().await;
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    assert_no_null(&city);
    assert!(city.get("objectNumber").is_none(), "{city}");
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let person = app
        .new_object(
            "Person",
            json!({ "firstName": "Ann", "company": company["objectId"] }),
        )
        .await;
    assert_eq!(person["company@display"], "Acme");
    // The target loses its display property: the Lookup keeps its value, no display text.
    app.post(
        "saveProperties",
        json!({ "objectId": company["objectId"], "properties": { "name": null } }),
    )
    .await
    .ok();
    let object = app.get_object(&person["objectId"]).await.ok();
    assert_no_null(&object);
    assert_eq!(object["company"], company["objectId"]);
    assert!(object.get("company@display").is_none(), "{object}");

    // saveProperty leaves out the columns without a value.
    let saved = app
        .post(
            "saveProperty",
            json!({ "objectId": person["objectId"], "propertyName": "firstName", "propertyValue": "Jo" }),
        )
        .await
        .ok();
    let keys: Vec<&String> = saved.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["objectId", "propertyName", "propertyType", "propertyValue"]
    );
    let removed = app
        .post(
            "saveProperty",
            json!({ "objectId": person["objectId"], "propertyName": "age", "propertyValue": null }),
        )
        .await
        .ok();
    assert_eq!(
        removed,
        json!({ "objectId": person["objectId"], "propertyName": "age", "propertyType": "Integer" })
    );

    // Lists and relationships render objects the same way.
    app.relate(&company, &person, false).await;
    app.relate(&person, &city, false).await;
    for answer in [
        app.post("getChildren", json!({ "objectId": company["objectId"] }))
            .await,
        app.post("getChildren", json!({ "objectId": person["objectId"] }))
            .await,
        app.post("getParents", json!({ "objectId": city["objectId"] }))
            .await,
        app.post("getObjectListTable", json!({ "objectType": "City" }))
            .await,
        app.post("getObjectListTable", json!({ "objectType": "Person" }))
            .await,
        app.post(
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": "firstName == \"Jo\"" }),
        )
        .await,
    ] {
        let body = answer.ok();
        assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
        assert_no_null(&body);
    }
}
