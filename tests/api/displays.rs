//! Display texts never go stale (API.md §4): through chains of Lookups, and when a new
//! DSConfig changes a list item's value or a Lookup's `display`.

use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with_config, TestApp};

const CHAIN: &str = r#"
[[lists.Level]]
code = "G"
value = "Gold"

[[lists.Level]]
code = "S"
value = "Silver"

[types.City.properties]
name = "String"

[types.Company.properties]
name = "String"
city = { type = "Lookup", objectType = "City", display = "name" }
level = { type = "List", list = "Level" }

[types.Person.properties]
employer = { type = "Lookup", objectType = "Company", display = "city" }
employerLevel = { type = "Lookup", objectType = "Company", display = "level" }

[types.Badge.properties]
holder = { type = "Lookup", objectType = "Person", display = "employer" }
"#;

/// What CHAIN becomes: another value for Gold, and Person.employer displays the name.
fn chain_v2() -> String {
    CHAIN
        .replace("value = \"Gold\"", "value = \"Golden\"")
        .replace(
            "employer = { type = \"Lookup\", objectType = \"Company\", display = \"city\" }",
            "employer = { type = \"Lookup\", objectType = \"Company\", display = \"name\" }",
        )
}

struct World {
    city: Value,
    company: Value,
    person: Value,
    badge: Value,
}

async fn world(app: &TestApp) -> World {
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    let company = app
        .new_object(
            "Company",
            json!({ "name": "Acme", "city": city["objectId"], "level": "G" }),
        )
        .await;
    let person = app
        .new_object(
            "Person",
            json!({ "employer": company["objectId"], "employerLevel": company["objectId"] }),
        )
        .await;
    let badge = app
        .new_object("Badge", json!({ "holder": person["objectId"] }))
        .await;
    World {
        city,
        company,
        person,
        badge,
    }
}

async fn display(app: &TestApp, object: &Value, property: &str) -> Value {
    app.get_object(&object["objectId"]).await.ok()[format!("{property}@display")].clone()
}

async fn save(app: &TestApp, object: &Value, name: &str, value: Value) {
    app.post(
        "saveProperty",
        json!({ "objectId": object["objectId"], "propertyName": name, "propertyValue": value }),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_lookup_displaying_a_lookup_follows_changes_down_the_chain() {
    let app = spawn_app_with_config(CHAIN).await;
    let w = world(&app).await;
    assert_eq!(display(&app, &w.person, "employer").await, "Berlin");
    assert_eq!(display(&app, &w.badge, "holder").await, "Berlin");
    save(&app, &w.city, "name", json!("Munich")).await;
    assert_eq!(display(&app, &w.person, "employer").await, "Munich");
    assert_eq!(display(&app, &w.badge, "holder").await, "Munich");
    let rome = app.new_object("City", json!({ "name": "Rome" })).await;
    save(&app, &w.company, "city", rome["objectId"].clone()).await;
    assert_eq!(display(&app, &w.person, "employer").await, "Rome");
    assert_eq!(display(&app, &w.badge, "holder").await, "Rome");
    // A display property without a value leaves the chain without a display text.
    save(&app, &rome, "name", Value::Null).await;
    assert!(display(&app, &w.person, "employer").await.is_null());
    assert!(display(&app, &w.badge, "holder").await.is_null());
}

#[tokio::test]
async fn a_lookup_displaying_a_list_shows_the_item_value_and_follows_it() {
    let app = spawn_app_with_config(CHAIN).await;
    let w = world(&app).await;
    assert_eq!(display(&app, &w.person, "employerLevel").await, "Gold");
    save(&app, &w.company, "level", json!("S")).await;
    assert_eq!(display(&app, &w.person, "employerLevel").await, "Silver");
}

#[tokio::test]
async fn a_new_dsconfig_applied_by_the_cli_rewrites_every_display_text_it_changes() {
    let app = spawn_app_with_config(CHAIN).await;
    let w = world(&app).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chain.toml"), chain_v2()).unwrap();
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    // The CLI rewrites them before it exits.
    assert_eq!(display(&app, &w.company, "level").await, "Golden");
    assert_eq!(display(&app, &w.person, "employerLevel").await, "Golden");
    assert_eq!(display(&app, &w.person, "employer").await, "Acme");
    assert_eq!(display(&app, &w.badge, "holder").await, "Acme");
    // And they keep following under the new DSConfig.
    save(&app, &w.company, "name", json!("Acme Ltd")).await;
    assert_eq!(display(&app, &w.person, "employer").await, "Acme Ltd");
    assert_eq!(display(&app, &w.badge, "holder").await, "Acme Ltd");
}

#[tokio::test]
async fn an_instance_started_with_a_changed_dsconfig_rewrites_the_display_texts() {
    let app = spawn_app_with_config(CHAIN).await;
    let w = world(&app).await;
    let _peer = app
        .spawn_peer(|s, dir| {
            let v2 = dir.join("dsconfig-v2");
            std::fs::create_dir_all(&v2).unwrap();
            std::fs::write(v2.join("chain.toml"), chain_v2()).unwrap();
            s.dsconfig = v2;
        })
        .await;
    let followed = eventually(10, || async {
        display(&app, &w.person, "employerLevel").await == "Golden"
            && display(&app, &w.badge, "holder").await == "Acme"
    })
    .await;
    assert!(
        followed,
        "the display texts did not follow the new DSConfig"
    );
}
