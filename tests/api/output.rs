//! Output rules of API.md §2 and §4: absent values are absent attributes, CSV cells never
//! run as formulas, and a CSV header depends on the request only.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, TestApp};

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

/// A CSV answer's rows, its header first.
async fn csv(app: &TestApp, endpoint: &str, params: Value) -> Vec<Vec<String>> {
    let mut params = params;
    params["format"] = json!("csv");
    let answer = app.post(endpoint, params).await;
    let text = answer.ok();
    let text = text.as_str().expect("a CSV body");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

const SYSTEM: [&str; 5] = [
    "objectId",
    "objectType",
    "objectNumber",
    "createdAt",
    "updatedAt",
];

/// System fields, then `columns`.
fn header(columns: &[&str]) -> Vec<String> {
    SYSTEM
        .iter()
        .chain(columns)
        .map(|s| s.to_string())
        .collect()
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

#[tokio::test]
async fn csv_cells_a_spreadsheet_would_run_as_a_formula_start_with_an_apostrophe() {
    let app = spawn_app().await;
    let company = app
        .new_object("Company", json!({ "name": "=HYPERLINK(\"http://x\")" }))
        .await;
    app.new_object(
        "Person",
        json!({ "firstName": "@SUM(A1)", "lastName": "+49 30", "age": -5,
                "company": company["objectId"], "nickname": "\tx", "motto": "\rx", "note": "a=b" }),
    )
    .await;
    let columns = "firstName,lastName,age,company,nickname,motto,note";
    for rows in [
        csv(
            &app,
            "getObjectListTable",
            json!({ "objectType": "Person", "properties": columns }),
        )
        .await,
        csv(
            &app,
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": "age < 0", "properties": columns }),
        )
        .await,
    ] {
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            rows[1][5..],
            [
                "'@SUM(A1)",
                "'+49 30",
                "'-5",
                company["objectId"].to_string().as_str(),
                "'=HYPERLINK(\"http://x\")",
                "'\tx",
                "'\rx",
                "a=b"
            ]
        );
    }
}

#[tokio::test]
async fn the_csv_header_depends_only_on_the_request_never_on_the_page() {
    let app = spawn_app().await;
    app.new_object("Person", json!({ "firstName": "Ann" }))
        .await;
    app.new_object(
        "Person",
        json!({ "firstName": "Bob", "age": 3, "nickname": "B" }),
    )
    .await;
    // A property of another type is no column of Person.
    app.new_object("Company", json!({ "motto": "m" })).await;

    // Every property Person has in the DSConfig, plus those found on Persons, by name; a
    // List or Lookup column followed by its display column.
    let config = app.get("getConfig", &[]).await.ok();
    let declared = config["types"]["Person"]["properties"].as_object().unwrap();
    let mut names: Vec<&str> = declared.keys().map(String::as_str).collect();
    names.push("nickname");
    names.sort_unstable();
    let mut columns = Vec::new();
    for name in names {
        columns.push(name.to_owned());
        if matches!(declared.get(name).map(|p| &p["type"]), Some(t) if *t == "Lookup" || *t == "List")
        {
            columns.push(format!("{name}@display"));
        }
    }
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    assert!(columns.contains(&"status@display") && columns.contains(&"company@display"));
    for params in [
        json!({ "objectType": "Person", "limit": 1 }),
        json!({ "objectType": "Person", "offset": 1 }),
        json!({ "objectType": "Person", "filter": { "firstName": "Nobody" } }),
    ] {
        let rows = csv(&app, "getObjectListTable", params.clone()).await;
        assert_eq!(rows[0], header(&columns), "{params}");
    }
    let rows = csv(
        &app,
        "getObjectListByFilter",
        json!({ "objectType": "Person", "query": "firstName == \"Ann\"" }),
    )
    .await;
    assert_eq!(rows[0], header(&columns));

    // With `properties`, exactly those, display columns by the DSConfig.
    let rows = csv(
        &app,
        "getObjectListTable",
        json!({ "objectType": "Person", "properties": "firstName,company,status", "limit": 0 }),
    )
    .await;
    assert_eq!(
        rows,
        [header(&[
            "firstName",
            "company",
            "company@display",
            "status",
            "status@display"
        ])]
    );
    // A type with no objects and no DSConfig: the system fields alone.
    let rows = csv(
        &app,
        "getObjectListTable",
        json!({ "objectType": "Nothing" }),
    )
    .await;
    assert_eq!(rows, [header(&[])]);
}

#[tokio::test]
async fn a_lookup_the_dsconfig_no_longer_declares_keeps_its_display_column() {
    const WITH_BOSS: &str = r#"
[types.Person.properties]
name = "String"
boss = { type = "Lookup", objectType = "Person", display = "name" }
"#;
    const WITHOUT_BOSS: &str = "[types.Person.properties]\nname = \"String\"\n";
    let first = spawn_with(|s, d| dsconfig(s, d, WITH_BOSS)).await;
    let ann = first.new_object("Person", json!({ "name": "Ann" })).await;
    first
        .new_object("Person", json!({ "name": "Bob", "boss": ann["objectId"] }))
        .await;
    let database = first.database.clone();
    let second = spawn_with(move |s, d| {
        s.database = database;
        dsconfig(s, d, WITHOUT_BOSS);
    })
    .await;
    // Only Ann on the page, who has no boss: the column is there all the same.
    let rows = csv(
        &second,
        "getObjectListTable",
        json!({ "objectType": "Person", "limit": 1 }),
    )
    .await;
    assert_eq!(rows[0], header(&["boss", "boss@display", "name"]));
    let rows = csv(
        &second,
        "getObjectListTable",
        json!({ "objectType": "Person", "properties": ["boss"], "filter": { "name": "Ann" } }),
    )
    .await;
    assert_eq!(rows[0], header(&["boss", "boss@display"]));
    drop(second);
    drop(first);
}

/// Serves the DSConfig `toml` from the test's directory.
fn dsconfig(settings: &mut datastore::settings::Settings, dir: &std::path::Path, toml: &str) {
    let path = dir.join("dsconfig");
    std::fs::create_dir_all(&path).expect("create the DSConfig dir");
    std::fs::write(path.join("test.toml"), toml).expect("write the DSConfig");
    settings.dsconfig = path;
}
