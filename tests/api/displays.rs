//! Display texts never go stale (API.md §4): through chains of Lookups, and when a new
//! DSConfig changes a list item's value or a Lookup's `display`.

use std::path::Path;
use std::sync::Arc;

use datastore::dsconfig::{self, Config};
use datastore::service::{displays, ActiveConfig, Datastore};
use datastore::store::{self, StoreOptions};
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
    let followed = eventually(30, || async {
        display(&app, &w.person, "employerLevel").await == "Golden"
            && display(&app, &w.badge, "holder").await == "Acme"
    })
    .await;
    assert!(
        followed,
        "the display texts did not follow the new DSConfig"
    );
}

fn two_displays(dir: &Path, name: &str, display: &str) -> Config {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("c.toml"),
        format!(
            "[types.Company.properties]\nname = \"String\"\ncode = \"String\"\n\n\
             [types.Person.properties]\n\
             employer = {{ type = \"Lookup\", objectType = \"Company\", display = \"{display}\" }}\n"
        ),
    )
    .unwrap();
    dsconfig::load_dir(&d).unwrap()
}

fn props(v: Value) -> Option<serde_json::Map<String, Value>> {
    v.as_object().cloned()
}

/// Process A stores v2 and starts its (slow) refresh; process B stores v3 and finishes its
/// refresh first; A's remaining batches then run. They must not write v2's texts over v3's.
#[tokio::test]
async fn a_refresh_for_an_older_dsconfig_never_overwrites_the_texts_of_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store = store::open(&url, &StoreOptions::default()).await.unwrap();
    let v1 = two_displays(dir.path(), "v1", "name");
    let v2 = two_displays(dir.path(), "v2", "code");
    let a1 = store.apply_config(&v1).await.unwrap();
    let ds = Datastore::new(
        store.clone(),
        Arc::new(ActiveConfig::new(
            v1.clone(),
            a1.version,
            chrono_tz::UTC,
            100,
        )),
    );
    let company = ds
        .new_object("Company", props(json!({ "name": "Acme", "code": "AC" })))
        .await
        .unwrap();
    let person = ds
        .new_object("Person", props(json!({ "employer": company["objectId"] })))
        .await
        .unwrap();
    assert_eq!(person["employer@display"], "Acme");

    // A: v2 (display = code) is stored; its refresh is computed but has not run yet.
    let a2 = store.apply_config(&v2).await.unwrap();
    assert!(a2.changed);
    // B: v1 again (a rolled-back deploy) becomes v3 and its refresh completes.
    let a3 = store.apply_config(&v1).await.unwrap();
    assert_eq!(a3.version, 3);
    displays::refresh(
        store.as_ref(),
        &v1,
        a3.version,
        a3.previous.as_ref(),
        &displays::GlobalTargets::Here,
    )
    .await
    .unwrap();
    // A's refresh now runs its batches.
    displays::refresh(
        store.as_ref(),
        &v2,
        a2.version,
        a2.previous.as_ref(),
        &displays::GlobalTargets::Here,
    )
    .await
    .unwrap();

    let stored = store.stored_config().await.unwrap().unwrap();
    assert_eq!((stored.version, stored.displays_version), (3, 3));
    let id = person["objectId"].as_i64().unwrap();
    let now = ds.get_object(id).await.unwrap();
    assert_eq!(
        now["employer@display"], "Acme",
        "v3 displays the name, and DisplaysVersion = 3 says the texts are current"
    );
}

/// A DSConfig with one List property whose list has `n` items, `c0`..: `value{i}` (the
/// values of `changed` read `new{i}` instead, and `removed` is left out).
fn long_list(n: usize, changed: usize, removed: Option<usize>) -> String {
    let mut toml =
        String::from("[types.Thing.properties]\nkind = { type = \"List\", list = \"Kinds\" }\n");
    for i in (0..n).filter(|i| Some(*i) != removed) {
        let value = if i == changed {
            format!("new{i}")
        } else {
            format!("value{i}")
        };
        toml.push_str(&format!(
            "\n[[lists.Kinds]]\ncode = \"c{i}\"\nvalue = \"{value}\"\n"
        ));
    }
    toml
}

#[tokio::test]
async fn a_changed_or_removed_item_of_a_long_list_changes_or_clears_its_display_texts() {
    let app = spawn_app_with_config(&long_list(1200, usize::MAX, None)).await;
    let changed = app.new_object("Thing", json!({ "kind": "c1100" })).await;
    let removed = app.new_object("Thing", json!({ "kind": "c1199" })).await;
    let same = app.new_object("Thing", json!({ "kind": "c3" })).await;
    assert_eq!(display(&app, &changed, "kind").await, "value1100");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.toml"), long_list(1200, 1100, Some(1199))).unwrap();
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    assert_eq!(display(&app, &changed, "kind").await, "new1100");
    assert!(display(&app, &removed, "kind").await.is_null());
    assert_eq!(display(&app, &same, "kind").await, "value3");
}
