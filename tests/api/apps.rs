//! Apps and systems (API.md §9): `/apps/{app}/{endpoint}` and `X-Datastore-System` pick a
//! database of their own, opened on first use; the deployment's DSConfig reaches them all.

use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, spawn_with, SAMPLE_DSCONFIG};
use datastore::auth::Role;

/// The names of the apps recorded in the central database.
async fn recorded_apps(app: &crate::helpers::TestApp) -> Vec<String> {
    let store = app.store().await;
    store
        .apps()
        .await
        .expect("the apps are listed")
        .into_iter()
        .map(|a| a.key)
        .collect()
}

#[tokio::test]
async fn two_apps_do_not_see_each_others_objects() {
    let app = spawn_app().await;
    let (sales, hr) = (app.app_name("sales"), app.app_name("hr"));
    let sales = app.tenant(Some(&sales), None);
    let hr = app.tenant(Some(&hr), None);
    let person = sales
        .new_object("Person", json!({ "firstName": "Ann" }))
        .await;
    // Numbering is per database: each app starts at the configured start.
    assert_eq!(person["objectNumber"], "P-0001001");
    let other = hr.new_object("Person", json!({ "firstName": "Bob" })).await;
    assert_eq!(other["objectNumber"], "P-0001001");
    hr.new_object("Person", json!({ "firstName": "Cid" })).await;

    assert_eq!(
        sales.get_object(&person["objectId"]).await.ok()["firstName"],
        "Ann"
    );
    if person["objectId"] != other["objectId"] {
        hr.get_object(&person["objectId"])
            .await
            .fails(404, "OBJECT_NOT_FOUND");
    }
    assert_eq!(sales.count("Person").await, 1);
    assert_eq!(hr.count("Person").await, 2);
    // The default app saw none of it.
    assert_eq!(app.count("Person").await, 0);
    let mut apps = recorded_apps(&app).await;
    apps.sort();
    let mut expected = vec![app.app_name("hr"), app.app_name("sales")];
    expected
        .iter_mut()
        .for_each(|a| *a = a.to_ascii_lowercase());
    expected.sort();
    assert_eq!(apps, expected);
}

#[tokio::test]
async fn systems_are_separate_from_live_and_from_each_other() {
    let app = spawn_app().await;
    let name = app.app_name("shop");
    for (app_name, label) in [(None, "default"), (Some(name.as_str()), "shop")] {
        let live = app.tenant(app_name, None);
        let staging = app.tenant(app_name, Some("STAGING"));
        let test = app.tenant(app_name, Some("test"));
        live.new_object("City", json!({ "name": "Live" })).await;
        staging
            .new_object("City", json!({ "name": "Staging" }))
            .await;
        staging
            .new_object("City", json!({ "name": "Staging2" }))
            .await;
        assert_eq!(live.count("City").await, 1, "{label}");
        assert_eq!(staging.count("City").await, 2, "{label}");
        assert_eq!(test.count("City").await, 0, "{label}");
        let explicit = app.tenant(app_name, Some("LIVE"));
        assert_eq!(explicit.count("City").await, 1, "{label}");
    }
}

#[tokio::test]
async fn the_default_app_is_the_plain_paths() {
    let app = spawn_app().await;
    let plain = app.new_object("City", json!({ "name": "Oslo" })).await;
    for spelling in ["default", "DEFAULT", "Default"] {
        let scoped = app.tenant(Some(spelling), None);
        let found = scoped.get_object(&plain["objectId"]).await.ok();
        assert_eq!(found, plain);
    }
    let scoped = app
        .tenant(Some("default"), None)
        .new_object("City", json!({ "name": "Rome" }))
        .await;
    assert_eq!(app.get_object(&scoped["objectId"]).await.ok(), scoped);
    // `getConfig` answers the deployment's DSConfig in an app too.
    let config = app
        .tenant(Some(&app.app_name("cfg")), Some("TEST"))
        .post("getConfig", json!({}))
        .await
        .ok();
    assert_eq!(config["schemaMode"], "open");
    assert!(config["types"]["Person"].is_object(), "{config}");
}

#[tokio::test]
async fn bad_app_names_are_refused_and_nothing_is_opened() {
    let app = spawn_app().await;
    for bad in [
        "my-app",
        "master",
        "fooTEST",
        "barStaging",
        "1abc",
        "global",
    ] {
        let answer = app
            .tenant(Some(bad), None)
            .post("newObject", json!({ "objectType": "City" }))
            .await;
        let details = answer.fails(400, "INVALID_PARAMETER");
        assert_eq!(details["app"], bad, "{bad}");
    }
    // Over 64 characters.
    let long = "a".repeat(65);
    app.tenant(Some(&long), None)
        .post("getConfig", json!({}))
        .await
        .fails(400, "INVALID_PARAMETER");
    assert!(recorded_apps(&app).await.is_empty());
    // `/health` and `/metrics` are not per app.
    let answer = app.get("apps/x/health", &[]).await;
    assert_eq!(answer.status.as_u16(), 404);
}

#[tokio::test]
async fn bad_or_repeated_system_headers_are_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let name = app.app_name("hdr");
    for bad in ["PROD", "", "LIVE,TEST"] {
        let answer = app
            .tenant(Some(&name), Some(bad))
            .post("newObject", json!({ "objectType": "City" }))
            .await;
        let details = answer.fails(400, "INVALID_PARAMETER");
        assert_eq!(details["header"], "X-Datastore-System", "{bad}");
    }
    let twice = app
        .client
        .post(app.url(&format!("apps/{name}/newObject")))
        .header("X-Datastore-System", "LIVE")
        .header("X-Datastore-System", "TEST")
        .json(&json!({ "objectType": "City" }));
    app.send(twice).await.fails(400, "INVALID_PARAMETER");
    // On the plain paths too, and nothing was stored in the default app either.
    let plain = app
        .client
        .post(app.url("newObject"))
        .header("X-Datastore-System", "PRODUCTION")
        .json(&json!({ "objectType": "City" }));
    app.send(plain).await.fails(400, "INVALID_PARAMETER");
    assert_eq!(app.count("City").await, 0);
    assert!(recorded_apps(&app).await.is_empty());
}

/// Every endpoint that takes the header checks it, even one that reads no database
/// (found by schemathesis: `validateConfig` answered 200 to `X-Datastore-System: AAA`).
#[tokio::test]
async fn validate_config_checks_the_system_header_too() {
    let app = spawn_app().await;
    let files = json!({ "files": { "a.toml": "[types.A.properties]\nx = \"String\"\n" } });
    let bad = app
        .client
        .post(app.url("validateConfig"))
        .header("X-Datastore-System", "AAA")
        .json(&files);
    let answer = app.send(bad).await;
    assert_eq!(
        answer.fails(400, "INVALID_PARAMETER")["header"],
        "X-Datastore-System"
    );
    let good = app
        .client
        .post(app.url("validateConfig"))
        .header("X-Datastore-System", "TEST")
        .json(&files);
    assert_eq!(app.send(good).await.ok()["valid"], true);
}

#[tokio::test]
async fn an_app_key_works_on_its_own_app_in_any_case_and_is_forbidden_elsewhere() {
    let app = spawn_app().await;
    let name = app.app_name("keyed");
    let (key, _) = app.create_key(Role::Write, Some(&name), None).await;
    let own = app
        .tenant(Some(&name.to_ascii_uppercase()), Some("STAGING"))
        .with_key(&key);
    let city = own.new_object("City", json!({ "name": "Bergen" })).await;
    let lower = app
        .tenant(Some(&name.to_ascii_lowercase()), Some("STAGING"))
        .with_key(&key);
    assert_eq!(lower.get_object(&city["objectId"]).await.ok(), city);
    let elsewhere = app
        .tenant(Some(&app.app_name("other")), None)
        .with_key(&key);
    elsewhere
        .post("getConfig", json!({}))
        .await
        .fails(403, "FORBIDDEN");
    let default = app.tenant(None, None).with_key(&key);
    default
        .post("getConfig", json!({}))
        .await
        .fails(403, "FORBIDDEN");
}

#[tokio::test]
async fn a_dsconfig_applied_by_the_cli_reaches_an_open_app() {
    let app = spawn_app().await;
    let name = app.app_name("strict");
    let tenant = app.tenant(Some(&name), Some("STAGING"));
    // Open: an undeclared type is accepted.
    tenant.new_object("Gadget", json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(SAMPLE_DSCONFIG).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("schemaMode = \"open\"", "schemaMode = \"strict\"");
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    let strict = eventually(10, || async {
        let answer = tenant
            .post("newObject", json!({ "objectType": "Gizmo" }))
            .await;
        answer.status.as_u16() == 400 && answer.code() == "UNKNOWN_OBJECT_TYPE"
    })
    .await;
    assert!(strict, "the app never saw the strict DSConfig");
    let config = tenant.post("getConfig", json!({})).await.ok();
    assert_eq!(config["schemaMode"], "strict");
    // An app opened afterwards gets it at once.
    let later = app.tenant(Some(&app.app_name("later")), None);
    later
        .post("newObject", json!({ "objectType": "Gizmo" }))
        .await
        .fails(400, "UNKNOWN_OBJECT_TYPE");
}

#[tokio::test]
async fn many_apps_with_few_open_all_answer_correctly() {
    let app = spawn_with(|settings, _| {
        settings.max_open_apps = 2;
        settings.app_pool_size = 1;
    })
    .await;
    let names: Vec<String> = (0..5).map(|i| app.app_name(&format!("many{i}"))).collect();
    let mut ids: Vec<Value> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let tenant = app.tenant(Some(name), None);
        let city = tenant
            .new_object("City", json!({ "name": format!("city {i}") }))
            .await;
        ids.push(city["objectId"].clone());
    }
    // Twice round: every app is closed and opened again on the way.
    for _ in 0..2 {
        for (i, name) in names.iter().enumerate() {
            let tenant = app.tenant(Some(name), None);
            let city = tenant.get_object(&ids[i]).await.ok();
            assert_eq!(city["name"], format!("city {i}"));
            assert_eq!(tenant.count("City").await, 1);
        }
    }
    let metrics = app.get("metrics", &[]).await.ok();
    let open: u64 = metrics
        .as_str()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("datastore_apps_open "))
        })
        .and_then(|n| n.trim().parse().ok())
        .expect("datastore_apps_open in the metrics");
    assert!((1..=2).contains(&open), "{open} apps open");
    // Requests to apps count under the endpoint's name, never under a path with the app.
    let text = metrics.as_str().unwrap_or_default();
    assert!(text.contains(r#"endpoint="getObject""#), "{text}");
    assert!(!text.contains("many0"), "an app name in the metrics");
}

#[tokio::test]
async fn concurrent_first_requests_to_a_new_app_both_succeed() {
    let app = spawn_app().await;
    let name = app.app_name("race");
    let tenant = app.tenant(Some(&name), Some("TEST"));
    let requests = (0..6).map(|i| {
        let tenant = &tenant;
        async move {
            tenant
                .post(
                    "newObject",
                    json!({ "objectType": "Person", "properties": { "age": i } }),
                )
                .await
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    for answer in answers {
        answer.ok();
    }
    assert_eq!(tenant.count("Person").await, 6);
}

#[tokio::test]
async fn a_browser_form_may_send_the_system_header_to_an_app() {
    let forms = "https://forms.example.com";
    let app = spawn_with(|s, _| s.ops.cors_origins = vec![forms.into()]).await;
    let name = app.app_name("forms");
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url(&format!("apps/{name}/newObject")),
        )
        .header("Origin", forms)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, x-datastore-system",
        );
    let allowed = app.send(preflight).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(allowed.headers["access-control-allow-origin"], forms);
}

#[tokio::test]
async fn a_key_for_an_app_that_cannot_exist_is_not_created() {
    let app = spawn_app().await;
    let out = crate::helpers::datastore_command()
        .args(["keys", "create", "--role", "read", "--app", "my-app"])
        .args(["--database", &app.database])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("my-app"), "{stderr}");
    assert!(app.store().await.api_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_instances_share_an_apps_data_and_its_dsconfig() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(|_, _| {}).await;
    let name = app.app_name("shared");
    let first = app.tenant(Some(&name), Some("STAGING"));
    let second = peer.tenant(Some(&name), Some("STAGING"));
    let city = first.new_object("City", json!({ "name": "Turin" })).await;
    assert_eq!(second.get_object(&city["objectId"]).await.ok(), city);
    second.new_object("City", json!({ "name": "Graz" })).await;
    assert_eq!(first.count("City").await, 2);
    // A DSConfig applied once reaches the app on both instances.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(SAMPLE_DSCONFIG).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("schemaMode = \"open\"", "schemaMode = \"strict\"");
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    for tenant in [&first, &second] {
        let strict = eventually(10, || async {
            tenant.post("getConfig", json!({})).await.ok()["schemaMode"] == "strict"
        })
        .await;
        assert!(strict, "an instance never saw the strict DSConfig");
        tenant
            .post("newObject", json!({ "objectType": "Gizmo" }))
            .await
            .fails(400, "UNKNOWN_OBJECT_TYPE");
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_datastore_database_is_never_used_for_an_app() {
    let app = spawn_app().await;
    let Some(path) = app.database.strip_prefix("sqlite://") else {
        // SQL Server's refusal of a foreign database is tested in `store::mssql::apps`.
        return;
    };
    let url = datastore::tenancy::database_url(
        &app.database,
        &datastore::tenancy::Owner::App("foreign".parse().unwrap()),
        datastore::tenancy::System::Live,
    )
    .unwrap();
    let foreign = url.strip_prefix("sqlite://").unwrap().to_owned();
    assert_ne!(foreign, path);
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE Invoices (Id INTEGER PRIMARY KEY, Total REAL)")
            .unwrap();
    }
    let answer = app
        .tenant(Some("foreign"), None)
        .post("getConfig", json!({}))
        .await;
    answer.fails(409, "CONFLICT");
    // Untouched: still only its own table.
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1);
    // A file that is not SQLite at all is refused the same way, not a 500.
    std::fs::write(&foreign, b"not a database, just text").unwrap();
    app.tenant(Some("foreign"), None)
        .post("getConfig", json!({}))
        .await
        .fails(409, "CONFLICT");
}

#[tokio::test]
async fn reads_of_an_app_without_a_database_answer_empty_and_create_nothing() {
    let app = spawn_app().await;
    let name = app.app_name("ghost");
    let ghost = app.tenant(Some(&name), Some("STAGING"));
    assert_eq!(ghost.count("City").await, 0);
    ghost
        .get_object(&json!(1))
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    let config = ghost.post("getConfig", json!({})).await.ok();
    assert!(config["types"]["Person"].is_object(), "{config}");
    // The same validation as anywhere: a bad query is still a 400.
    ghost
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "City", "query": "name ==" }),
        )
        .await
        .fails(400, "QUERY_SYNTAX");
    // Nothing was created, nothing recorded.
    assert!(recorded_apps(&app).await.is_empty());
    let url = datastore::tenancy::database_url(
        &app.database,
        &datastore::tenancy::Owner::App(name.parse().unwrap()),
        datastore::tenancy::System::Staging,
    )
    .unwrap();
    assert!(!datastore::store::database_exists(&url).await.unwrap());
    // The first write creates it.
    ghost.new_object("City", json!({ "name": "Oslo" })).await;
    assert_eq!(ghost.count("City").await, 1);
    assert!(datastore::store::database_exists(&url).await.unwrap());
}
