//! Several processes on one database (API.md §2, §10): instances behind a load balancer and
//! the CLI never disagree — counts, the active DSConfig and what a write is converted with.

use serde_json::json;

use crate::helpers::{eventually, spawn_app, SAMPLE_DSCONFIG};

/// The sample DSConfig with `age` a String and a new Integer property `shoeSize`.
fn changed_dsconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let target = dir.join("dsconfig-v2");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(SAMPLE_DSCONFIG).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text
            .replace(
                "age = \"Integer\"",
                "age = \"String\"\nshoeSize = \"Integer\"",
            )
            .replace("value = \"Active\"", "value = \"Enabled\"");
        std::fs::write(target.join(path.file_name().unwrap()), text).unwrap();
    }
    target
}

#[tokio::test]
async fn counts_follow_the_writes_of_another_process() {
    let app = spawn_app().await;
    let other = app.serve_process();
    // Remembered by this process...
    assert_eq!(app.count("Person").await, 0);
    let query = json!({ "objectType": "Person", "query": "age > 20" });
    assert_eq!(
        app.post("getObjectListByFilter", query.clone())
            .await
            .total(),
        0
    );
    // ... while the other one writes.
    for age in [21, 22, 23] {
        other
            .app
            .post(
                "newObject",
                json!({ "objectType": "Person", "properties": { "age": age } }),
            )
            .await
            .ok();
    }
    assert_eq!(app.count("Person").await, 3);
    let answer = app.post("getObjectListByFilter", query).await;
    assert_eq!(answer.total(), 3);
    assert_eq!(answer.body.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn counts_follow_the_writes_of_another_instance() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(|_, _| {}).await;
    assert_eq!(app.count("City").await, 0);
    assert_eq!(peer.count("City").await, 0);
    peer.new_object("City", json!({ "name": "Berlin" })).await;
    assert_eq!(app.count("City").await, 1);
    app.new_object("City", json!({ "name": "Paris" })).await;
    assert_eq!(peer.count("City").await, 2);
}

#[tokio::test]
async fn get_config_shows_the_version_and_the_same_dsconfig_keeps_it() {
    let app = spawn_app().await;
    let version = |c: &serde_json::Value| c["version"].as_i64().unwrap_or(-1);
    let first = app.get("getConfig", &[]).await.ok();
    assert_eq!(version(&first), 1);
    // A second instance started with the same DSConfig stores nothing new.
    let same = app.spawn_peer(|_, _| {}).await;
    assert_eq!(version(&same.get("getConfig", &[]).await.ok()), 1);
    // One started with another makes it the active one, for every instance.
    let changed = app
        .spawn_peer(|s, dir| s.dsconfig = changed_dsconfig(dir))
        .await;
    let config = changed.get("getConfig", &[]).await.ok();
    assert_eq!(version(&config), 2);
    assert_eq!(
        config["types"]["Person"]["properties"]["shoeSize"]["type"],
        "Integer"
    );
    for instance in [&app, &same] {
        let switched = eventually(5, || async {
            version(&instance.get("getConfig", &[]).await.ok()) == 2
        })
        .await;
        assert!(
            switched,
            "an instance still shows the old DSConfig after 5 s"
        );
    }
}

#[tokio::test]
async fn a_dsconfig_applied_by_the_cli_converts_the_next_write_of_every_instance() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let v2 = changed_dsconfig(dir.path());
    // Warm: this instance converts with version 1.
    app.new_object("Person", json!({ "age": 30 })).await;
    let out = app.cli(&["dsconfig", "apply", v2.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("version 2"));
    // The very next write, before any poll: converted with version 2, never with 1.
    let refused = app
        .post(
            "newObject",
            json!({ "objectType": "Person", "properties": { "shoeSize": "big" } }),
        )
        .await;
    refused.fails(400, "INVALID_VALUE");
    let person = app.new_object("Person", json!({ "age": "thirty" })).await;
    assert_eq!(person["age"], "thirty", "age is a String in version 2");
    assert_eq!(app.get("getConfig", &[]).await.ok()["version"], 2);
}

#[tokio::test]
async fn a_dsconfig_applied_again_unchanged_keeps_its_version() {
    let app = spawn_app().await;
    let out = app.cli(&["dsconfig", "apply", SAMPLE_DSCONFIG]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already stored as version 1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(app.get("getConfig", &[]).await.ok()["version"], 1);
}

#[tokio::test]
async fn a_type_removed_by_a_dsconfig_from_the_cli_is_refused_by_the_next_type_change() {
    let strict = |types: &str| format!("schemaMode = \"strict\"\n{types}");
    let app = crate::helpers::spawn_app_with_config(&strict(
        "[types.Person.properties]\nname = \"String\"\n\n[types.Robot.properties]\nname = \"String\"\n",
    ))
    .await;
    let person = app.new_object("Person", json!({ "name": "Ann" })).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        strict("[types.Person.properties]\nname = \"String\"\n"),
    )
    .unwrap();
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    // Before any poll: checked against the stored DSConfig, where Robot no longer exists.
    app.post(
        "changeObjectType",
        json!({ "objectId": person["objectId"], "objectType": "Robot" }),
    )
    .await
    .fails(400, "UNKNOWN_OBJECT_TYPE");
    assert_eq!(
        app.get_object(&person["objectId"]).await.ok()["objectType"],
        "Person"
    );
}

/// Instances started at the same moment on a database that does not exist yet all come
/// up: whichever loses the race to create and migrate it waits for the others, and all
/// then serve the same data. (Simultaneous starts on a new SQLite file made one of two
/// exit with "the database is busy" about one time in four.)
#[tokio::test]
async fn processes_started_at_once_on_a_new_database_all_serve() {
    use crate::helpers::{mssql_database_name, mssql_url, StartingServe};
    for _round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let (database, mssql) = match mssql_url() {
            Some(url) => {
                let name = mssql_database_name(&url).await;
                let database = datastore::store::mssql::database_url_with(&url, &name).unwrap();
                (database, Some((url, name)))
            }
            None => (
                format!("sqlite://{}", dir.path().join("new.db").display()),
                None,
            ),
        };
        // All started before any is waited for.
        let starting: Vec<StartingServe> =
            (0..3).map(|_| StartingServe::spawn(&database)).collect();
        let serving: Vec<_> = starting.into_iter().map(StartingServe::listening).collect();
        let created = serving[0]
            .app
            .post(
                "newObject",
                json!({ "objectType": "City", "properties": { "name": "Lyon" } }),
            )
            .await
            .ok();
        let id = created["objectId"].clone();
        for other in &serving {
            let read = other
                .app
                .post("getObject", json!({ "objectId": id }))
                .await
                .ok();
            assert_eq!(read["name"], "Lyon");
        }
        drop(serving);
        if let Some((url, name)) = mssql {
            datastore::store::mssql::drop_database(&url, &name, std::time::Duration::from_secs(30))
                .await
                .unwrap();
        }
    }
}

/// A page answered from the properties an instance keeps in memory shows another process's
/// writes at once: a save, a property removed, a display text refreshed by a rename.
#[tokio::test]
async fn kept_properties_follow_the_writes_of_another_process() {
    let app = spawn_app().await;
    let other = app.serve_process();
    let company = app.new_object("Company", json!({ "name": "Acme" })).await["objectId"]
        .as_i64()
        .unwrap();
    let person = app
        .new_object(
            "Person",
            json!({ "lastName": "Doe", "age": 30, "company": company }),
        )
        .await["objectId"]
        .as_i64()
        .unwrap();
    let view = json!({ "objectType": "Person", "filter": { "lastName": "Doe" }, "orderBy": "age" });
    let first = || async { app.post("getObjectListTable", view.clone()).await.ok()[0].clone() };
    let get = || async {
        app.get("getObject", &[("objectId", &person.to_string())])
            .await
            .ok()
    };
    // Read twice: the second answer's properties come from memory.
    assert_eq!(first().await["age"], 30);
    assert_eq!(first().await["company@display"], "Acme");
    assert_eq!(get().await["age"], 30);
    assert_eq!(get().await["age"], 30);
    let save = |id: i64, properties: serde_json::Value| {
        let other = &other;
        async move {
            other
                .app
                .post(
                    "saveProperties",
                    json!({ "objectId": id, "properties": properties }),
                )
                .await
                .ok();
        }
    };
    save(person, json!({ "age": 31 })).await;
    assert_eq!(get().await["age"], 31);
    assert_eq!(first().await["age"], 31);
    save(person, json!({ "age": null })).await;
    assert!(
        get().await.get("age").is_none(),
        "the removed property is gone from getObject"
    );
    assert!(
        first().await.get("age").is_none(),
        "the removed property is gone"
    );
    save(company, json!({ "name": "Acme 2" })).await;
    assert_eq!(get().await["company@display"], "Acme 2");
    assert_eq!(first().await["company@display"], "Acme 2");
}
