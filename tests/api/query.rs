//! getObjectListByFilter: every construct of the query language (API.md §8) against real
//! data, table-driven, plus its errors.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// Sample data: three cities, three companies, four people, orders and places.
async fn world(app: &TestApp) -> Value {
    let berlin = app
        .new_object(
            "City",
            json!({ "name": "Berlin", "location": [52.52, 13.405] }),
        )
        .await;
    let leipzig = app
        .new_object(
            "City",
            json!({ "name": "Leipzig", "location": [51.34, 12.37] }),
        )
        .await;
    let munich = app
        .new_object(
            "City",
            json!({ "name": "Munich", "location": [48.14, 11.58] }),
        )
        .await;
    let acme = app
        .new_object(
            "Company",
            json!({ "name": "Acme", "city": berlin["objectId"] }),
        )
        .await;
    let globex = app
        .new_object(
            "Company",
            json!({ "name": "Globex", "city": leipzig["objectId"] }),
        )
        .await;
    app.new_object(
        "Company",
        json!({ "name": "Initech", "city": munich["objectId"] }),
    )
    .await;
    let john = app
        .new_object("Person", json!({
            "firstName": "John", "lastName": "Doe", "age": 24, "company": acme["objectId"],
            "tags": ["vip", "new"], "preferences": { "food": "Pasta", "stars": 5 }, "home": [51.3, 12.3],
            "birthDate": "1990-05-01", "active": true, "status": "A", "height": 1.8, "salary": "1000"
        }))
        .await;
    let jane = app
        .new_object("Person", json!({
            "firstName": "Jane", "lastName": "Doe", "age": 31, "company": globex["objectId"], "tags": [],
            "preferences": { "food": "Pizza" }, "home": [52.5, 13.4], "birthDate": "1985-01-20",
            "active": false, "status": "I", "height": 1.65, "salary": "2500.50"
        }))
        .await;
    let bob = app
        .new_object("Person", json!({
            "firstName": "Bob", "lastName": "Roe", "age": 45, "company": acme["objectId"], "tags": ["x"],
            "home": [48.1, 11.6], "nickname": "Bobby"
        }))
        .await;
    let ann = app
        .new_object(
            "Person",
            json!({ "firstName": "Ann", "lastName": "Smith", "age": 30 }),
        )
        .await;
    let big = app
        .new_object("Order", json!({ "amount": "150", "label": "big" }))
        .await;
    let small = app
        .new_object("Order", json!({ "amount": "50", "label": "small" }))
        .await;
    app.relate(&john, &big, true).await;
    app.relate(&jane, &small, false).await;
    app.new_object(
        "Place",
        json!({ "name": "Office", "users": [john["objectId"], bob["objectId"]] }),
    )
    .await;
    app.new_object(
        "Place",
        json!({ "name": "Home", "users": [ann["objectId"]] }),
    )
    .await;
    json!({ "john": john, "jane": jane, "bob": bob, "ann": ann })
}

/// The names of the objects a query returns, in the order returned.
async fn names(app: &TestApp, object_type: &str, query: &str) -> Vec<String> {
    let answer = app
        .post(
            "getObjectListByFilter",
            json!({ "objectType": object_type, "query": query }),
        )
        .await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    let total = answer.total();
    let body = answer.ok();
    let out: Vec<String> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["firstName"]
                .as_str()
                .or(o["name"].as_str())
                .or(o["label"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    assert!(
        total >= out.len() as u64,
        "{query}: X-Total-Count {total} < {}",
        out.len()
    );
    out
}

async fn sorted(app: &TestApp, object_type: &str, query: &str) -> Vec<String> {
    let mut n = names(app, object_type, query).await;
    n.sort();
    n
}

#[tokio::test]
async fn every_construct_of_the_query_language_selects_the_right_objects() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let john_id = w["john"]["objectId"].as_i64().unwrap();
    let id_query = format!("objectId == id({john_id})");
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        ("Person", "firstName == \"John\"", vec!["John"]),
        ("Person", "firstName==\"John\"", vec!["John"]),
        ("Person", "firstName startswith \"J\"", vec!["Jane", "John"]),
        ("Person", "firstName startswith \"j\"", vec![]),
        ("Person", "firstName like \"OH\"", vec!["John"]),
        ("Person", "age == 24", vec!["John"]),
        ("Person", "age == \"24\"", vec!["John"]),
        ("Person", "age != 24", vec!["Ann", "Bob", "Jane"]),
        ("Person", "age > 24", vec!["Ann", "Bob", "Jane"]),
        ("Person", "age >= 31", vec!["Bob", "Jane"]),
        ("Person", "age < 30", vec!["John"]),
        ("Person", "age <= 30", vec!["Ann", "John"]),
        ("Person", "age > 24 and age < 40", vec!["Ann", "Jane"]),
        ("Person", "height > 1.7", vec!["John"]),
        ("Person", "salary >= 2500", vec!["Jane"]),
        ("Person", "birthDate > date(631152000000)", vec!["John"]),
        ("Person", "birthDate < \"01-01-1990\"", vec!["Jane"]),
        ("Person", "active == true", vec!["John"]),
        ("Person", "active == false", vec!["Jane"]),
        ("Person", "status == \"A\"", vec!["John"]),
        ("Person", "company == null", vec!["Ann"]),
        ("Person", "company != null", vec!["Bob", "Jane", "John"]),
        ("Person", "nickname == null", vec!["Ann", "Jane", "John"]),
        ("Person", &id_query, vec!["John"]),
        ("Person", "objectNumber == \"P-0001001\"", vec!["John"]),
        (
            "Person",
            "createdAt > date(0)",
            vec!["Ann", "Bob", "Jane", "John"],
        ),
        ("Person", "tags size 0", vec!["Jane"]),
        ("Person", "tags size 2", vec!["John"]),
        ("Person", "tags == \"vip\"", vec!["John"]),
        ("Person", "tags like \"VI\"", vec!["John"]),
        ("Person", "preferences.food == \"Pasta\"", vec!["John"]),
        ("Person", "preferences.food == \"pasta\"", vec![]),
        ("Person", "preferences.food like \"pasta\"", vec!["John"]),
        ("Person", "preferences.stars > 3", vec!["John"]),
        ("Person", "company.name == \"Acme\"", vec!["Bob", "John"]),
        ("Person", "company.city.name == \"Leipzig\"", vec!["Jane"]),
        (
            "Person",
            "company.city.name != \"Leipzig\"",
            vec!["Ann", "Bob", "John"],
        ),
        ("Person", "children.Order.amount > 100", vec!["John"]),
        ("Person", "children.Order.label == \"small\"", vec!["Jane"]),
        (
            "Order",
            "parents.Person.lastName == \"Doe\"",
            vec!["big", "small"],
        ),
        (
            "Order",
            "parents.Person.firstName == \"Jane\"",
            vec!["small"],
        ),
        ("Place", "users.age > 40", vec!["Office"]),
        ("Place", "users.firstName == \"Ann\"", vec!["Home"]),
        (
            "Person",
            "firstName == \"John\" or firstName == \"Bob\" and age > 100",
            vec!["John"],
        ),
        (
            "Person",
            "(firstName == \"John\" or firstName == \"Bob\") and age > 100",
            vec![],
        ),
        (
            "Person",
            "lastName == \"Doe\" and (age < 25 or age > 30)",
            vec!["Jane", "John"],
        ),
        ("Person", "nickname == \"Bobby\"", vec!["Bob"]),
        ("Person", "home within [51.3, 12.3, 50.0]", vec!["John"]),
        (
            "Person",
            "home within [51.3, 12.3, 300.0] filter age > 30",
            vec!["Jane"],
        ),
        ("Person", "", vec!["Ann", "Bob", "Jane", "John"]),
    ];
    for (object_type, query, expected) in cases {
        assert_eq!(
            sorted(&app, object_type, query).await,
            expected,
            "{object_type}: {query}"
        );
    }
}

#[tokio::test]
async fn order_offset_and_limit_page_the_results_in_order() {
    let app = spawn_app().await;
    world(&app).await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("age > 0 order by age", vec!["John", "Ann", "Jane", "Bob"]),
        ("order by age DESC", vec!["Bob", "Jane", "Ann", "John"]),
        (
            "order by lastName, firstName desc",
            vec!["John", "Jane", "Bob", "Ann"],
        ),
        ("age > 0 order by age offset 1 limit 2", vec!["Ann", "Jane"]),
        (
            "order by createdAt DESC, objectId DESC limit 2",
            vec!["Ann", "Bob"],
        ),
        (
            "firstName startswith \"J\" order by firstName offset 1",
            vec!["John"],
        ),
        ("home near [52.5, 13.4]", vec!["Jane", "John", "Bob"]),
        ("home near [52.5, 13.4,] limit 1", vec!["Jane"]),
        (
            "home near [48.0, 11.0] filter lastName == \"Doe\"",
            vec!["John", "Jane"],
        ),
        (
            "home near [52.5, 13.4] order by firstName",
            vec!["Bob", "Jane", "John"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(names(&app, "Person", query).await, expected, "{query}");
    }
    let answer = app
        .post("getObjectListByFilter", json!({ "objectType": "Person", "query": "age > 0 order by age", "limit": 1, "offset": 1 }))
        .await;
    assert_eq!(answer.total(), 4, "X-Total-Count counts every match");
    assert_eq!(answer.ok()[0]["firstName"], "Ann");
}

#[tokio::test]
async fn results_take_columns_and_csv_like_table_views() {
    let app = spawn_app().await;
    world(&app).await;
    let body = app
        .get(
            "getObjectListByFilter",
            &[
                ("objectType", "Person"),
                ("query", "age == 24"),
                ("properties", "firstName,company"),
            ],
        )
        .await
        .ok();
    assert_eq!(body[0]["company@display"], "Acme");
    assert!(body[0].get("age").is_none());
    let response = app
        .client
        .get(app.url("getObjectListByFilter"))
        .query(&[
            ("objectType", "Person"),
            ("query", "age == 24"),
            ("properties", "firstName"),
            ("format", "csv"),
        ])
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("objectId,objectType,objectNumber,createdAt,updatedAt,firstName\n"),
        "{text}"
    );
    assert!(text.trim_end().ends_with(",John"), "{text}");
}

#[tokio::test]
async fn malformed_queries_are_query_syntax_with_the_position_of_the_fault() {
    let app = spawn_app().await;
    world(&app).await;
    let cases = [
        ("age >> 3", 5),
        ("firstName == \"abc", 13),
        ("age > 3 and", 11),
        ("limit 5 offset 3", 8),
        ("age == \"old\"", 7),
        ("firstName.length == 3", 10),
        ("home near [95, 0]", 0),
        ("a == 1 and home near [1, 2]", 16),
        ("age like 3", 9),
        ("company.city.name.x == 1", 18),
    ];
    for (query, position) in cases {
        let answer = app
            .post(
                "getObjectListByFilter",
                json!({ "objectType": "Person", "query": query }),
            )
            .await;
        let details = answer.fails(400, "QUERY_SYNTAX");
        assert_eq!(details["position"], position, "{query}: {}", answer.body);
        assert!(
            details["expected"].as_str().is_some_and(|e| !e.is_empty()),
            "{query}"
        );
    }
    app.post(
        "getObjectListByFilter",
        json!({ "objectType": "Person", "query": "limit 3", "limit": 2 }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    app.post(
        "getObjectListByFilter",
        json!({ "objectType": "Person", "query": "age > 1", "where": 1 }),
    )
    .await
    .fails(400, "UNKNOWN_PARAMETER");
}

#[tokio::test]
async fn a_strict_schema_refuses_unknown_properties_in_queries() {
    let app = crate::helpers::spawn_app_with_config(
        "schemaMode = \"strict\"\n[types.Person.properties]\nname = \"String\"\nage = \"Integer\"\n",
    )
    .await;
    app.new_object("Person", json!({ "name": "A", "age": 3 }))
        .await;
    let answer = app
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": "age > 1 and nmae == \"A\"" }),
        )
        .await;
    let details = answer.fails(400, "UNKNOWN_PROPERTY");
    assert_eq!(details["position"], 12);
    assert_eq!(details["propertyName"], "nmae");
    assert_eq!(
        names(&app, "Person", "age > 1 and name == \"A\"").await,
        ["A"]
    );
}

#[tokio::test]
async fn query_values_are_data_never_sql() {
    let app = spawn_app().await;
    world(&app).await;
    let hostile = [
        "firstName == \"x' OR 1=1 --\"",
        "firstName == \"\\\"); DROP TABLE Objects; --\"",
        "preferences.food == \"') OR ('1'='1\"",
        "firstName like \"%\"",
        "firstName startswith \"_\"",
    ];
    for query in hostile {
        assert!(names(&app, "Person", query).await.is_empty(), "{query}");
    }
    assert_eq!(app.count("Person").await, 4);
}

#[tokio::test]
async fn oversized_queries_are_refused_as_bad_requests() {
    let app = spawn_app().await;
    world(&app).await;
    let long_path = format!("{}x == 1", "a.".repeat(12));
    let many = vec!["age > 0"; 101].join(" and ");
    for query in [
        long_path.as_str(),
        many.as_str(),
        "createdAt > date(-62135596800001)",
        "updatedAt < date(1500000000000000)",
    ] {
        let answer = app
            .post(
                "getObjectListByFilter",
                json!({ "objectType": "Person", "query": query }),
            )
            .await;
        answer.fails(400, "QUERY_SYNTAX");
    }
    // Many comparisons within the limit still work (more than are rendered as joins).
    let twenty = vec!["age > 0"; 20].join(" and ");
    assert_eq!(
        sorted(&app, "Person", &twenty).await,
        ["Ann", "Bob", "Jane", "John"]
    );
    let filters: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("p{i}"), json!("x"))).collect();
    app.post(
        "getObjectListTable",
        json!({ "objectType": "Person", "filter": filters }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
}
