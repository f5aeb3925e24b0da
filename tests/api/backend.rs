//! Which backend the suite ran on. Without `DATASTORE_TEST_MSSQL_URL` the SQL Server run is
//! reported as skipped (an ignored test says so), never as passed.

use serde_json::json;

use crate::helpers::{mssql_url, spawn_app, spawn_with};

#[tokio::test]
#[cfg_attr(
    not(mssql_tests),
    ignore = "skipped: SQL Server (set DATASTORE_TEST_MSSQL_URL to run the suite on it)"
)]
async fn the_suite_runs_on_sql_server_in_a_database_of_its_own() {
    let url = mssql_url().expect("DATASTORE_TEST_MSSQL_URL is set for this run");
    let app = spawn_app().await;
    let name = app
        .mssql_database
        .clone()
        .expect("the test's server runs on SQL Server");
    app.get("health", &[]).await.ok();
    app.new_object("Person", json!({ "firstName": "Ann" }))
        .await;
    let databases = datastore::store::mssql::databases_with_prefix(&url, &name)
        .await
        .expect("the server lists its databases");
    assert!(
        databases.contains(&name),
        "{name} is not among {databases:?}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(mssql_tests),
    ignore = "skipped: SQL Server (set DATASTORE_TEST_MSSQL_URL to run the suite on it)"
)]
async fn a_sql_server_database_keeps_its_dsconfig_and_numbering_across_starts() {
    let first = spawn_app().await;
    let name = first.mssql_database.clone().expect("a SQL Server database");
    first.new_object("Person", json!({})).await;
    let url = datastore::store::mssql::database_url_with(&mssql_url().unwrap(), &name).unwrap();
    let second = spawn_with(move |s, d| {
        s.database = url;
        s.dsconfig = d.join("missing");
    })
    .await;
    let config = second.get("getConfig", &[]).await.ok();
    assert_eq!(config["types"]["Person"]["numbering"]["prefix"], "P-");
    assert_eq!(
        second.new_object("Person", json!({})).await["objectNumber"],
        "P-0001002"
    );
    drop(second);
    drop(first);
}
