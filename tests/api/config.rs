//! getConfig, getList, and the DSConfig on start (API.md §10).

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};
use datastore::settings::Settings;
use datastore::startup::{Application, StartupError};

#[tokio::test]
async fn get_config_returns_the_active_dsconfig() {
    let app = spawn_app().await;
    let config = app.get("getConfig", &[]).await.ok();
    assert_eq!(config["schemaMode"], "open");
    assert_eq!(
        config["types"]["Person"]["numbering"],
        json!({ "prefix": "P-", "width": 7, "start": 1001 })
    );
    assert_eq!(
        config["types"]["Person"]["properties"]["company"],
        json!({ "type": "Lookup", "objectType": "Company", "display": "name" })
    );
    app.post("getConfig", json!({ "verbose": true }))
        .await
        .fails(400, "UNKNOWN_PARAMETER");
}

#[tokio::test]
async fn get_list_returns_items_in_declared_order() {
    let app = spawn_app().await;
    let items = app
        .get("getList", &[("listName", "PersonStatus")])
        .await
        .ok();
    assert_eq!(
        items,
        json!([{ "code": "A", "value": "Active" }, { "code": "I", "value": "Inactive" }])
    );
    app.get("getList", &[("listName", "Nope")])
        .await
        .fails(404, "UNKNOWN_LIST");
    app.get("getList", &[])
        .await
        .fails(400, "MISSING_PARAMETER");
}

#[tokio::test]
async fn serve_refuses_an_invalid_dsconfig_and_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let dsconfig = dir.path().join("dsconfig");
    std::fs::create_dir_all(&dsconfig).unwrap();
    std::fs::write(
        dsconfig.join("a.toml"),
        "[types.Person.properties]\nage = \"Integr\"\n",
    )
    .unwrap();
    let mut settings =
        Settings::with_database(format!("sqlite://{}", dir.path().join("d.db").display()));
    settings.listen = "127.0.0.1:0".into();
    settings.dsconfig = dsconfig;
    match Application::build(settings).await {
        Err(StartupError::InvalidDsconfig { errors, .. }) => {
            let text = errors.to_string();
            assert!(text.contains("a.toml:2:"), "{text}");
        }
        Err(other) => panic!("expected an invalid DSConfig, got {other}"),
        Ok(_) => panic!("an invalid DSConfig must stop the start"),
    }
}

#[tokio::test]
async fn without_a_dsconfig_directory_the_stored_one_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("d.db").display());
    // The first start applies the sample and stores it.
    {
        let db = database.clone();
        let app = spawn_with(move |s, _| s.database = db).await;
        app.new_object("Person", json!({})).await;
    }
    let db = database.clone();
    let app = spawn_with(move |s, d| {
        s.database = db;
        s.dsconfig = d.join("missing");
    })
    .await;
    let config = app.get("getConfig", &[]).await.ok();
    assert_eq!(config["types"]["Person"]["numbering"]["prefix"], "P-");
    // Numbering carries on where it was.
    assert_eq!(
        app.new_object("Person", json!({})).await["objectNumber"],
        "P-0001002"
    );
}
