//! Projections (docs/QUERY.md, "Projections"): every write path keeps the answers of queries
//! and table views over projected types right, a DSConfig change rebuilds them, `datastore
//! reindex` rebuilds them, and a second process never answers from one that is not complete.
//! (The proof that the projection answers exactly what the EAV plan answers, over random data
//! and queries, is the property test in `src/store/sqlite/projection_tests.rs`.)

use std::path::Path;

use serde_json::{json, Value};

use crate::helpers::{datastore_command, eventually, spawn_app, TestApp, SAMPLE_DSCONFIG};

/// (total, ids) of a query over Person.
async fn query(app: &TestApp, text: &str) -> (u64, Vec<i64>) {
    let answer = app
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "Person", "query": text }),
        )
        .await;
    let total = answer.total();
    (total, ids(&answer.ok()))
}

/// (total, ids) of a table view over Person.
async fn table(app: &TestApp, body: Value) -> (u64, Vec<i64>) {
    let answer = app.post("getObjectListTable", body).await;
    let total = answer.total();
    (total, ids(&answer.ok()))
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .expect("an array")
        .iter()
        .map(|o| o["objectId"].as_i64().expect("an objectId"))
        .collect()
}

async fn person(app: &TestApp, properties: Value) -> i64 {
    app.new_object("Person", properties).await["objectId"]
        .as_i64()
        .unwrap()
}

/// Every projection of the app's database is complete.
async fn complete(app: &TestApp) -> bool {
    app.store()
        .await
        .projections()
        .await
        .unwrap()
        .iter()
        .all(|p| p.built_up_to.is_none())
}

#[tokio::test]
async fn every_write_path_keeps_the_answers_right() {
    let app = spawn_app().await;
    let a = person(
        &app,
        json!({ "lastName": "Doe", "age": 30, "status": "A", "birthDate": "1990-01-01" }),
    )
    .await;
    let b = person(
        &app,
        json!({ "lastName": "doe", "age": 40, "status": "A", "birthDate": "1980-01-01" }),
    )
    .await;
    let c = person(
        &app,
        json!({ "lastName": "Meier", "age": 50, "status": "I", "birthDate": "1970-01-01" }),
    )
    .await;
    let d = person(&app, json!({ "lastName": "Doe", "status": "A" })).await;
    if app.store().await.backend() == "sqlite" {
        assert!(
            complete(&app).await,
            "a new database's projections are complete at once"
        );
    }
    let by_birth = "status == \"A\" order by birthDate desc";
    assert_eq!(query(&app, by_birth).await, (3, vec![a, b, d]));
    assert_eq!(
        query(&app, "lastName == \"Doe\" order by age").await,
        (2, vec![a, d])
    );
    assert_eq!(query(&app, "age == null").await, (1, vec![d]));
    assert_eq!(
        query(&app, "age != 30 order by age desc").await,
        (3, vec![c, b, d])
    );

    // saveProperty, saveProperties, a property removed.
    app.post(
        "saveProperty",
        json!({ "objectId": d, "propertyName": "birthDate", "propertyValue": "2000-01-01" }),
    )
    .await
    .ok();
    assert_eq!(query(&app, by_birth).await, (3, vec![d, a, b]));
    app.post(
        "saveProperties",
        json!({ "objectId": a, "properties": { "status": "I", "age": 45 } }),
    )
    .await
    .ok();
    assert_eq!(query(&app, by_birth).await, (2, vec![d, b]));
    assert_eq!(query(&app, "age > 41 order by age").await, (2, vec![a, c]));
    app.post(
        "saveProperty",
        json!({ "objectId": b, "propertyName": "age", "propertyValue": null }),
    )
    .await
    .ok();
    assert_eq!(query(&app, "age == null").await, (2, vec![b, d]));
    let view =
        json!({ "objectType": "Person", "filter": { "status": "A" }, "orderBy": "birthDate DESC" });
    assert_eq!(table(&app, view.clone()).await, (2, vec![d, b]));

    // changeObjectType: out of the type's answers, and back in with its values.
    app.post(
        "changeObjectType",
        json!({ "objectId": d, "objectType": "ARCH_Person" }),
    )
    .await
    .ok();
    assert_eq!(query(&app, by_birth).await, (1, vec![b]));
    assert_eq!(table(&app, view.clone()).await, (1, vec![b]));
    app.post(
        "changeObjectType",
        json!({ "objectId": d, "objectType": "Person" }),
    )
    .await
    .ok();
    assert_eq!(query(&app, by_birth).await, (2, vec![d, b]));

    // dropObject.
    app.post("dropObject", json!({ "objectId": b })).await.ok();
    assert_eq!(query(&app, by_birth).await, (1, vec![d]));
    assert_eq!(table(&app, view).await, (1, vec![d]));

    // A Lookup path from the projected root, after the target's display changes.
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    let company = app
        .new_object(
            "Company",
            json!({ "name": "Acme", "city": city["objectId"] }),
        )
        .await;
    app.post(
        "saveProperty",
        json!({ "objectId": c, "propertyName": "company", "propertyValue": company["objectId"] }),
    )
    .await
    .ok();
    assert_eq!(
        query(&app, "company.city.name == \"Berlin\"").await,
        (1, vec![c])
    );
    app.post(
        "saveProperty",
        json!({ "objectId": city["objectId"], "propertyName": "name", "propertyValue": "Bonn" }),
    )
    .await
    .ok();
    assert_eq!(
        query(&app, "company.city.name == \"Berlin\"").await,
        (0, vec![])
    );
    assert_eq!(
        query(&app, "company.city.name == \"Bonn\"").await,
        (1, vec![c])
    );
}

fn cli(database: &str, args: &[&str]) -> std::process::Output {
    datastore_command()
        .args(args)
        .args(["--database", database])
        .output()
        .expect("the binary runs")
}

/// The sample DSConfig with one more composite index on Person.
fn changed_dsconfig(dir: &Path) -> std::path::PathBuf {
    let target = dir.join("dsconfig");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(SAMPLE_DSCONFIG).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "index = [\"status, birthDate\"",
            "index = [\"age, lastName\", \"status, birthDate\"",
        );
        std::fs::write(target.join(path.file_name().unwrap()), text).unwrap();
    }
    target
}

#[tokio::test]
async fn import_a_dsconfig_change_and_reindex_rebuild_the_projections() {
    let (app, files) = (spawn_app().await, tempfile::tempdir().unwrap());
    let mut expected = Vec::new();
    for i in 0..30 {
        let id = person(
            &app,
            json!({ "lastName": if i % 3 == 0 { "Doe" } else { "Roe" }, "age": i, "status": if i % 2 == 0 { "A" } else { "I" } }),
        )
        .await;
        if i % 3 == 0 && i > 10 {
            expected.push(id);
        }
    }
    let text = "lastName == \"Doe\" and age > 10 order by age";
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );

    // An import into another database: its projections follow the imported rows.
    let file = files.path().join("export.jsonl");
    let out = cli(
        &app.database,
        &["export", "--output", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = spawn_app().await;
    let out = cli(
        &target.database,
        &["import", "--input", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        query(&target, text).await,
        (expected.len() as u64, expected.clone())
    );

    if app.store().await.backend() != "sqlite" {
        return;
    }
    assert!(complete(&target).await);
    // A DSConfig that adds an index, applied by another process: the index is made there
    // in place, the projection kept (nothing to rebuild: a new property's rebuild is
    // `a_changed_layout_is_rebuilt_by_batches_and_used_only_when_complete`); this process
    // answers right all along.
    let dir = changed_dsconfig(files.path());
    let out = cli(&app.database, &["dsconfig", "apply", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("projections rebuilt"));
    assert!(complete(&app).await);
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );

    // reindex: one type, then all; an unknown type is refused.
    let out = cli(&app.database, &["reindex", "--type", "Person"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilt the projections of Person"));
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );
    let out = cli(&app.database, &["reindex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&app.database, &["reindex", "--type", "Nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`Nope` has no projection"));
    assert!(complete(&app).await);
    assert_eq!(query(&app, text).await, (expected.len() as u64, expected));
}

#[tokio::test]
async fn another_process_writes_and_this_one_answers_from_the_projection() {
    let app = spawn_app().await;
    let other = app.serve_process();
    let mut written = Vec::new();
    for i in 0..40 {
        let object = other
            .app
            .post(
                "newObject",
                json!({ "objectType": "Person", "properties": { "age": i % 7, "status": if i % 2 == 0 { "A" } else { "I" }, "birthDate": format!("{}-01-01", 1950 + i) } }),
            )
            .await
            .ok();
        written.push((object["objectId"].as_i64().unwrap(), i));
    }
    let mut expected: Vec<i64> = written
        .iter()
        .filter(|(_, i)| i % 2 == 0 && i % 7 > 2)
        .map(|(id, _)| *id)
        .collect();
    expected.reverse();
    let text = "status == \"A\" and age > 2 order by birthDate desc";
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );
    // A write by the other process is seen at once, count included.
    let (first, _) = written[0];
    other
        .app
        .post(
            "saveProperty",
            json!({ "objectId": first, "propertyName": "age", "propertyValue": 6 }),
        )
        .await
        .ok();
    expected.push(first);
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );
    other
        .app
        .post("dropObject", json!({ "objectId": first }))
        .await
        .ok();
    expected.pop();
    assert_eq!(
        query(&app, text).await,
        (expected.len() as u64, expected.clone())
    );
    // A reindex by a third process: answers stay right while it runs and after.
    let database = app.database.clone();
    let reindex = std::thread::spawn(move || cli(&database, &["reindex"]));
    for _ in 0..5 {
        assert_eq!(
            query(&app, text).await,
            (expected.len() as u64, expected.clone())
        );
    }
    let out = reindex.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(eventually(10, || async { complete(&app).await }).await);
    assert_eq!(query(&app, text).await, (expected.len() as u64, expected));
}
