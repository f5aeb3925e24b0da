//! saveProperty and conversion over HTTP: every type, lookups and lists (API.md §4).

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn save_property_returns_the_stored_columns() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({})).await;
    let id = &person["objectId"];
    let saved = app
        .post(
            "saveProperty",
            json!({ "objectId": id, "propertyName": "birthDate", "propertyValue": "29-02-2024" }),
        )
        .await
        .ok();
    assert_eq!(
        saved,
        json!({
            "objectId": id, "propertyName": "birthDate", "propertyType": "Date",
            "propertyValue": "2024-02-29", "propertyAsDouble": 1709164800000.0
        })
    );
}

#[tokio::test]
async fn every_property_type_converts_over_http() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let cases: Vec<(&str, Value, Value)> = vec![
        ("firstName", json!("Zoë 東京"), json!("Zoë 東京")),
        ("age", json!("42"), json!(42)),
        ("height", json!("1,75"), json!(1.75)),
        ("salary", json!("2500,5"), json!("2500.50")),
        ("birthDate", json!("01-03-2024"), json!("2024-03-01")),
        (
            "lastLogin",
            json!("2024-03-01T15:45:00+02:00"),
            json!("2024-03-01T13:45:00Z"),
        ),
        ("workStart", json!("08:30"), json!("08:30:00")),
        ("active", json!("on"), json!(true)),
        ("status", json!("A"), json!("A")),
        (
            "company",
            company["objectId"].clone(),
            company["objectId"].clone(),
        ),
        ("tags", json!("[\"vip\",\"new\"]"), json!(["vip", "new"])),
        (
            "preferences",
            json!({ "food": "Pasta" }),
            json!({ "food": "Pasta" }),
        ),
        (
            "home",
            json!("51.3,12.3"),
            json!({ "lat": 51.3, "lng": 12.3 }),
        ),
        ("signature", json!("SGFsbG8="), json!("SGFsbG8=")),
        (
            "website",
            json!("https://example.com/cv"),
            json!("https://example.com/cv"),
        ),
    ];
    let person = app.new_object("Person", json!({})).await;
    for (name, input, expected) in cases {
        app.post(
            "saveProperty",
            json!({ "objectId": person["objectId"], "propertyName": name, "propertyValue": input }),
        )
        .await
        .ok();
        let object = app.get_object(&person["objectId"]).await.ok();
        assert_eq!(object[name], expected, "{name}");
    }
    let object = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(object["status@display"], "Active");
    assert_eq!(object["company@display"], "Acme");
}

#[tokio::test]
async fn invalid_values_are_refused_with_the_property_and_type_and_change_nothing() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({ "age": 5 })).await;
    let cases = [
        ("age", json!("five")),
        ("height", json!("1.2.3")),
        ("salary", json!("1.23456")),
        ("birthDate", json!("29-02-2023")),
        ("lastLogin", json!("yesterday")),
        ("workStart", json!("25:00")),
        ("active", json!("maybe")),
        ("status", json!("X")),
        ("tags", json!("{")),
        ("preferences", json!([1])),
        ("home", json!([100, 0])),
        ("signature", json!("***")),
        ("website", json!("ftp://x")),
        ("photo", json!("x.png")),
        ("cv", json!({ "fileId": 1 })),
    ];
    for (name, input) in cases {
        let answer = app
            .post("saveProperty", json!({ "objectId": person["objectId"], "propertyName": name, "propertyValue": input }))
            .await;
        let details = answer.fails(400, "INVALID_VALUE");
        assert_eq!(details["propertyName"], name);
        assert!(details["propertyType"].is_string());
    }
    assert_eq!(app.get_object(&person["objectId"]).await.ok(), person);
}

#[tokio::test]
async fn null_or_empty_removes_a_property() {
    let app = spawn_app().await;
    let person = app
        .new_object("Person", json!({ "firstName": "A", "age": 3 }))
        .await;
    let id = &person["objectId"];
    let removed = app
        .post(
            "saveProperty",
            json!({ "objectId": id, "propertyName": "age", "propertyValue": null }),
        )
        .await
        .ok();
    assert_eq!(removed["propertyValue"], Value::Null);
    assert_eq!(removed["propertyType"], "Integer");
    app.post_form(
        "saveProperty",
        &[
            ("objectId", &id.to_string()),
            ("propertyName", "firstName"),
            ("propertyValue", ""),
        ],
    )
    .await
    .ok();
    let object = app.get_object(id).await.ok();
    assert!(
        object.get("age").is_none() && object.get("firstName").is_none(),
        "{object}"
    );
}

#[tokio::test]
async fn a_lookup_must_point_at_an_existing_object_of_its_type() {
    let app = spawn_app().await;
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    let person = app.new_object("Person", json!({})).await;
    let answer = app
        .post("saveProperty", json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": 987654 }))
        .await;
    assert_eq!(answer.fails(400, "INVALID_VALUE")["propertyType"], "Lookup");
    let answer = app
        .post("saveProperty", json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": city["objectId"] }))
        .await;
    assert_eq!(
        answer.fails(400, "INVALID_VALUE")["propertyName"],
        "company"
    );
    assert_eq!(app.get_object(&person["objectId"]).await.ok(), person);
}

#[tokio::test]
async fn a_lookup_display_text_follows_its_target() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let a = app
        .new_object("Person", json!({ "company": company["objectId"] }))
        .await;
    let b = app
        .new_object(
            "Person",
            json!({ "company": company["objectId"].to_string() }),
        )
        .await;
    assert_eq!(a["company@display"], "Acme");
    app.post("saveProperty", json!({ "objectId": company["objectId"], "propertyName": "name", "propertyValue": "Acme Corp" }))
        .await
        .ok();
    for p in [&a, &b] {
        let object = app.get_object(&p["objectId"]).await.ok();
        assert_eq!(object["company@display"], "Acme Corp");
    }
    app.post(
        "saveProperties",
        json!({ "objectId": company["objectId"], "properties": { "name": null } }),
    )
    .await
    .ok();
    assert_eq!(
        app.get_object(&a["objectId"]).await.ok()["company@display"],
        Value::Null
    );
    // A lookup displaying the target's objectNumber.
    let order = app
        .new_object("Order", json!({ "customer": a["objectId"] }))
        .await;
    assert_eq!(order["customer@display"], a["objectNumber"]);
}

#[tokio::test]
async fn form_and_query_string_input_work_like_json() {
    let app = spawn_app().await;
    let created = app
        .post_form(
            "newObject",
            &[
                ("objectType", "Person"),
                ("properties", r#"{"age":"7","tags":["a"]}"#),
            ],
        )
        .await
        .ok();
    assert_eq!(created["age"], 7);
    assert_eq!(created["tags"], json!(["a"]));
    let id = created["objectId"].to_string();
    let fetched = app.get("getObject", &[("objectId", &id)]).await.ok();
    assert_eq!(fetched, created);
    let saved = app
        .post_form(
            "saveProperty",
            &[
                ("objectId", &id),
                ("propertyName", "active"),
                ("propertyValue", "1"),
            ],
        )
        .await
        .ok();
    assert_eq!(saved["propertyValue"], true);
}

#[tokio::test]
async fn archived_owners_and_targets_keep_lookup_display_texts_current() {
    let app = spawn_app().await;
    let company = app.new_object("Company", json!({ "name": "Acme" })).await;
    let person = app
        .new_object("Person", json!({ "company": company["objectId"] }))
        .await;
    for (object, archived) in [(&person, "ARCH_Person"), (&company, "ARCH_Company")] {
        app.post(
            "changeObjectType",
            json!({ "objectId": object["objectId"], "objectType": archived }),
        )
        .await
        .ok();
    }
    app.post("saveProperty", json!({ "objectId": company["objectId"], "propertyName": "name", "propertyValue": "Acme Archive" }))
        .await
        .ok();
    let shown = app.get_object(&person["objectId"]).await.ok();
    assert_eq!(shown["company@display"], "Acme Archive");
}
