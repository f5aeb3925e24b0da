//! Input read one way only (API.md §2, §4): a key given twice is refused wherever it is,
//! media types are matched whatever their case, and object ids never pass through a float.

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// POSTs `body` as is, with `content_type`.
async fn post_raw(
    app: &TestApp,
    endpoint: &str,
    content_type: &str,
    body: &str,
) -> crate::helpers::Answer {
    app.send(
        app.client
            .post(app.url(endpoint))
            .header("content-type", content_type)
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn a_json_key_given_twice_is_invalid_parameter_at_any_depth_and_stores_nothing() {
    let app = spawn_app().await;
    for body in [
        r#"{"objectType":"Person","objectType":"Company"}"#,
        r#"{"objectType":"Person","properties":{"firstName":"A","firstName":"B"}}"#,
        r#"{"objectType":"Person","properties":{"preferences":{"food":"x","food":"y"}}}"#,
        r#"{"objectType":"Person","properties":{"tags":[{"k":1,"k":2}]}}"#,
    ] {
        let answer = post_raw(&app, "newObject", "application/json", body).await;
        answer.fails(400, "INVALID_PARAMETER");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("more than once"),
            "{body}: {}",
            answer.body
        );
    }
    assert_eq!(app.count("Person").await, 0);
    assert_eq!(app.count("Company").await, 0);
}

#[tokio::test]
async fn a_key_given_twice_in_json_text_of_a_form_is_refused_too() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({})).await;
    let id = person["objectId"].to_string();
    // A map parameter as JSON text.
    app.post_form(
        "saveProperties",
        &[("objectId", &id), ("properties", r#"{"age":1,"age":2}"#)],
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    // A Map property value as JSON text.
    app.post_form(
        "saveProperty",
        &[
            ("objectId", &id),
            ("propertyName", "preferences"),
            ("propertyValue", r#"{"food":"a","food":"b"}"#),
        ],
    )
    .await
    .fails(400, "INVALID_VALUE");
    let stored = app.get_object(&person["objectId"]).await.ok();
    assert!(stored.get("age").is_none() && stored.get("preferences").is_none());
}

#[tokio::test]
async fn media_types_compare_case_insensitively() {
    let app = spawn_app().await;
    let answer = post_raw(
        &app,
        "newObject",
        "Application/JSON; charset=utf-8",
        r#"{"objectType":"Person","properties":{"age":"7"}}"#,
    )
    .await;
    assert_eq!(answer.ok()["age"], 7);
    let answer = post_raw(
        &app,
        "newObject",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "objectType=Company",
    )
    .await;
    assert_eq!(answer.ok()["objectType"], "Company");
    let answer = post_raw(&app, "newObject", "Text/Plain", r#"{"objectType":"City"}"#).await;
    assert_eq!(answer.ok()["objectType"], "City");
    post_raw(&app, "newObject", "Application/XML", "<a/>")
        .await
        .fails(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn a_lookup_id_above_two_to_the_53_is_never_rounded() {
    let app = spawn_app().await;
    let person = app.new_object("Person", json!({})).await;
    // 2^53 + 1 has no double of its own; as a float it would become 2^53.
    let big: i64 = 9_007_199_254_740_993;
    for value in [json!(big), json!(big.to_string())] {
        let answer = app
            .post(
                "saveProperty",
                json!({ "objectId": person["objectId"], "propertyName": "company", "propertyValue": value }),
            )
            .await;
        let details = answer.fails(400, "INVALID_VALUE");
        assert_eq!(details["objectId"], json!(big), "{}", answer.body);
    }
}
