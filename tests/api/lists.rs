//! getObjectListTable: columns, parent, filters, ordering by value, paging, CSV (API.md §7).

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn people(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for (first, last, age, status) in [
        ("Ann", "Doe", 9, "A"),
        ("Bob", "Doe", 10, "I"),
        ("Cid", "Roe", 100, "A"),
        ("Dee", "Poe", 31, "A"),
    ] {
        out.push(
            app.new_object(
                "Person",
                json!({ "firstName": first, "lastName": last, "age": age, "status": status }),
            )
            .await,
        );
    }
    out.push(
        app.new_object("Person", json!({ "firstName": "Eve" }))
            .await,
    );
    out
}

fn names(body: &Value) -> Vec<&str> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|o| o["firstName"].as_str().unwrap_or("-"))
        .collect()
}

#[tokio::test]
async fn numbers_sort_by_value_not_by_text_and_missing_values_come_last() {
    let app = spawn_app().await;
    people(&app).await;
    let body = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "orderBy": "age" }),
        )
        .await
        .ok();
    assert_eq!(names(&body), ["Ann", "Bob", "Dee", "Cid", "Eve"]);
    let body = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "orderBy": "age DESC" }),
        )
        .await
        .ok();
    assert_eq!(names(&body), ["Cid", "Dee", "Bob", "Ann", "Eve"]);
    let body = app
        .get(
            "getObjectListTable",
            &[
                ("objectType", "Person"),
                ("orderBy", "lastName DESC,firstName"),
            ],
        )
        .await
        .ok();
    assert_eq!(names(&body), ["Cid", "Dee", "Ann", "Bob", "Eve"]);
}

#[tokio::test]
async fn filters_are_equalities_by_value_and_anded() {
    let app = spawn_app().await;
    people(&app).await;
    let answer = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "filter": { "lastName": "Doe", "age": "010" } }),
        )
        .await;
    assert_eq!(answer.total(), 1);
    assert_eq!(names(&answer.ok()), ["Bob"]);
    let answer = app
        .get(
            "getObjectListTable",
            &[
                ("objectType", "Person"),
                ("filter", r#"{"status":"A"}"#),
                ("orderBy", "firstName"),
            ],
        )
        .await;
    assert_eq!(names(&answer.ok()), ["Ann", "Cid", "Dee"]);
    app.post(
        "getObjectListTable",
        json!({ "objectType": "Person", "filter": { "age": "old" } }),
    )
    .await
    .fails(400, "INVALID_VALUE");
}

#[tokio::test]
async fn paging_keeps_the_total_count_of_all_matches() {
    let app = spawn_app().await;
    people(&app).await;
    let answer = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "orderBy": ["firstName"], "offset": 1, "limit": 2 }),
        )
        .await;
    assert_eq!(answer.total(), 5);
    assert_eq!(names(&answer.ok()), ["Bob", "Cid"]);
    app.post(
        "getObjectListTable",
        json!({ "objectType": "Person", "limit": -1 }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
}

#[tokio::test]
async fn columns_restrict_the_properties_returned() {
    let app = spawn_app().await;
    people(&app).await;
    let body = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "properties": "firstName,status", "limit": 1 }),
        )
        .await
        .ok();
    let first = body[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "objectId",
            "objectType",
            "objectNumber",
            "createdAt",
            "updatedAt",
            "firstName",
            "status",
            "status@display"
        ]
    );
    assert_eq!(first["status@display"], "Active");
}

#[tokio::test]
async fn parent_object_id_lists_only_its_children() {
    let app = spawn_app().await;
    let all = people(&app).await;
    let company = app.new_object("Company", json!({})).await;
    app.relate(&company, &all[1], false).await;
    app.relate(&company, &all[3], true).await;
    let answer = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "parentObjectId": company["objectId"] }),
        )
        .await;
    assert_eq!(answer.total(), 2);
    assert_eq!(names(&answer.ok()), ["Bob", "Dee"]);
}

#[tokio::test]
async fn csv_has_a_header_row_and_one_row_per_object() {
    let app = spawn_app().await;
    people(&app).await;
    let response = app
        .client
        .get(app.url("getObjectListTable"))
        .query(&[
            ("objectType", "Person"),
            ("properties", "firstName,age,status"),
            ("format", "csv"),
            ("limit", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["X-Total-Count"], "5");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "objectId,objectType,objectNumber,createdAt,updatedAt,firstName,age,status,status@display"
    );
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].contains(",P-0001001,") && lines[1].ends_with(",Ann,9,A,Active"),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn bad_list_parameters_are_refused() {
    let app = spawn_app().await;
    for body in [
        json!({ "objectType": "Person", "format": "xml" }),
        json!({ "objectType": "Person", "orderBy": "age sideways" }),
        json!({ "objectType": "Person", "filter": "not json" }),
        json!({ "objectType": "Person", "properties": ["objectType"] }),
        json!({ "objectType": "Person", "parentObjectId": "x" }),
    ] {
        app.post("getObjectListTable", body)
            .await
            .fails(400, "INVALID_PARAMETER");
    }
    app.post("getObjectListTable", json!({}))
        .await
        .fails(400, "MISSING_PARAMETER");
}

#[tokio::test]
async fn the_limit_is_capped_by_the_setting() {
    let app = crate::helpers::spawn_with(|s, _| s.max_results = 2).await;
    people(&app).await;
    let answer = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "limit": 50 }),
        )
        .await;
    assert_eq!(answer.total(), 5);
    assert_eq!(answer.ok().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn text_filters_are_exact_and_text_sorts_ignore_case() {
    let app = spawn_app().await;
    let long = "x".repeat(450);
    let longer_tail = format!("{}y{}", "x".repeat(420), "x".repeat(29));
    for last in ["Doe", "doe", "Doe ", long.as_str(), longer_tail.as_str()] {
        app.new_object("Person", json!({ "firstName": last, "lastName": last }))
            .await;
    }
    for (value, expected) in [
        ("Doe", 1),
        ("doe", 1),
        ("Doe ", 1),
        ("DOE", 0),
        (long.as_str(), 1),
        (&long[..400], 0),
    ] {
        let answer = app
            .post(
                "getObjectListTable",
                json!({ "objectType": "Person", "filter": { "lastName": value } }),
            )
            .await;
        assert_eq!(answer.total(), expected, "filter {value:?}");
    }
    for (first, _) in [("ann", 0), ("Bob", 1), ("cid", 2)] {
        app.new_object("Person", json!({ "firstName": first }))
            .await;
    }
    let body = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "orderBy": "firstName", "limit": 3 }),
        )
        .await
        .ok();
    assert_eq!(names(&body), ["ann", "Bob", "cid"]);
}

#[tokio::test]
async fn the_total_count_follows_every_write_at_once() {
    let app = spawn_app().await;
    people(&app).await;
    let count = |query: &'static str| {
        let app = &app;
        async move {
            app.post(
                "getObjectListByFilter",
                json!({ "objectType": "Person", "query": query }),
            )
            .await
            .total()
        }
    };
    // The same statements twice (the second answer may come from memory), then a write.
    assert_eq!(count("age > 9").await, 3);
    assert_eq!(count("age > 9").await, 3);
    assert_eq!(app.count("Person").await, 5);
    let added = app.new_object("Person", json!({ "age": 50 })).await;
    assert_eq!(count("age > 9").await, 4, "a new object counts at once");
    assert_eq!(app.count("Person").await, 6);
    app.post(
        "saveProperty",
        json!({ "objectId": added["objectId"], "propertyName": "age", "propertyValue": 1 }),
    )
    .await
    .ok();
    assert_eq!(count("age > 9").await, 3, "a changed value counts at once");
    app.post("dropObject", json!({ "objectId": added["objectId"] }))
        .await
        .ok();
    assert_eq!(
        app.count("Person").await,
        5,
        "a dropped object stops counting at once"
    );
}
