//! Parallel clients: object numbers stay distinct, one property stays one row.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_creating_ten_objects_each_get_eighty_distinct_numbers() {
    let app = Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for client in 0..8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..10 {
                let object = app
                    .new_object("Person", json!({ "firstName": format!("c{client}-{i}") }))
                    .await;
                numbers.push(object["objectNumber"].as_str().unwrap().to_owned());
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 80);
    assert_eq!(distinct.len(), 80, "numbers must not repeat");
    let expected: HashSet<String> = (1001..1081).map(|n| format!("P-{n:07}")).collect();
    assert_eq!(distinct, expected.iter().collect(), "no gaps either");
    assert_eq!(app.count("Person").await, 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_saving_one_property_leave_one_value_and_see_no_error() {
    let app = Arc::new(spawn_app().await);
    let person = app.new_object("Person", json!({})).await;
    let id = person["objectId"].clone();
    let mut tasks = Vec::new();
    for client in 0..8 {
        let app = app.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let answer = app
                    .post("saveProperty", json!({ "objectId": id, "propertyName": "age", "propertyValue": client * 100 + i }))
                    .await;
                assert_eq!(answer.status, 200, "{}", answer.body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let object = app.get_object(&id).await.ok();
    let age = object["age"].as_i64().unwrap();
    assert!(
        (0..800).contains(&age) && age % 100 == 9,
        "the last write of some client wins: {age}"
    );
    let matching = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "filter": { "age": age } }),
        )
        .await;
    assert_eq!(matching.total(), 1);
}
