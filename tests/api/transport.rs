//! The transport rules of API.md §2: methods, parameters, errors, limits, base path, health.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn health_answers_ok_once_the_database_does() {
    let app = spawn_app().await;
    assert_eq!(app.get("health", &[]).await.ok(), json!({ "status": "ok" }));
}

#[tokio::test]
async fn unknown_parameters_are_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let details = app
        .post(
            "newObject",
            json!({ "objectType": "Person", "propertes": { "age": 3 } }),
        )
        .await
        .fails(400, "UNKNOWN_PARAMETER")
        .clone();
    assert_eq!(details["parameters"], json!(["propertes"]));
    app.get("getObject", &[("objectId", "1"), ("objectID", "1")])
        .await
        .fails(400, "UNKNOWN_PARAMETER");
    // A typo in a required name reports the typo, not the missing name.
    app.post("newObject", json!({ "objectTyp": "Person" }))
        .await
        .fails(400, "UNKNOWN_PARAMETER");
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn missing_and_malformed_parameters_are_refused() {
    let app = spawn_app().await;
    app.post("getObject", json!({}))
        .await
        .fails(400, "MISSING_PARAMETER");
    app.post("newObject", json!({ "objectType": "" }))
        .await
        .fails(400, "MISSING_PARAMETER");
    app.post("getObject", json!({ "objectId": "abc" }))
        .await
        .fails(400, "INVALID_PARAMETER");
    app.post("getObject", json!({ "objectId": 1.5 }))
        .await
        .fails(400, "INVALID_PARAMETER");
    app.post(
        "newObject",
        json!({ "objectType": "Person", "properties": [1, 2] }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    app.post("newObject", json!({ "objectType": 12 }))
        .await
        .fails(400, "INVALID_PARAMETER");
    app.post(
        "saveProperty",
        json!({ "objectId": 1, "propertyName": "a" }),
    )
    .await
    .fails(400, "MISSING_PARAMETER");
    // A name given twice, once in the query string and once in the body.
    let answer = app
        .send(
            app.client
                .post(app.url("getObject?objectId=1"))
                .json(&json!({ "objectId": 2 })),
        )
        .await;
    answer.fails(400, "INVALID_PARAMETER");
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests_not_crashes() {
    let app = spawn_app().await;
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("content-type", "application/json")
                .body("{\"objectType\": "),
        )
        .await;
    answer.fails(400, "INVALID_PARAMETER");
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("content-type", "application/json")
                .body("[1,2]"),
        )
        .await;
    answer.fails(400, "INVALID_PARAMETER");
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("content-type", "application/xml")
                .body("<a/>"),
        )
        .await;
    answer.fails(415, "UNSUPPORTED_MEDIA_TYPE");
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("objectType=%FF%FE"),
        )
        .await;
    answer.fails(400, "INVALID_PARAMETER");
    // The service is still there.
    app.get("health", &[]).await.ok();
}

#[tokio::test]
async fn write_endpoints_refuse_get_and_unknown_endpoints_are_not_found() {
    let app = spawn_app().await;
    app.get("newObject", &[("objectType", "Person")])
        .await
        .fails(405, "METHOD_NOT_ALLOWED");
    app.get("dropObject", &[("objectId", "1")])
        .await
        .fails(405, "METHOD_NOT_ALLOWED");
    app.post("nosuchEndpoint", json!({}))
        .await
        .fails(404, "NOT_FOUND");
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn bodies_over_the_limit_are_payload_too_large() {
    let app = spawn_with(|s, _| s.body_limit = 1024).await;
    let big = "x".repeat(2000);
    app.post(
        "newObject",
        json!({ "objectType": "Person", "properties": { "firstName": big } }),
    )
    .await
    .fails(413, "PAYLOAD_TOO_LARGE");
    // Chunked, without a Content-Length header.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..10).map(|_| Ok("y".repeat(200))).collect();
    let stream = futures_util::stream::iter(chunks);
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(stream)),
        )
        .await;
    answer.fails(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(app.count("Person").await, 0);
}

#[tokio::test]
async fn a_base_path_prefixes_every_endpoint() {
    let app = spawn_with(|s, _| s.base_path = "/datastore/".into()).await;
    assert!(app.address.ends_with("/datastore"));
    let created = app.new_object("Person", json!({ "age": 1 })).await;
    assert_eq!(created["age"], 1);
    let root = app.address.trim_end_matches("/datastore");
    let outside = app
        .send(
            app.client
                .post(format!("{root}/newObject"))
                .json(&json!({})),
        )
        .await;
    outside.fails(404, "NOT_FOUND");
    let health = app.send(app.client.get(format!("{root}/health"))).await;
    assert_eq!(health.ok(), json!({ "status": "ok" }));
}

#[tokio::test]
async fn json_without_a_content_type_is_understood() {
    let app = spawn_app().await;
    let answer = app
        .send(
            app.client
                .post(app.url("newObject"))
                .body(r#"{"objectType":"Person"}"#),
        )
        .await;
    assert_eq!(answer.ok()["objectType"], "Person");
}
