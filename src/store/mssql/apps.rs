//! The apps of the deployment on SQL Server: the `Apps` table (migration 0006), and the
//! check that an app's database is ours to migrate.

use chrono::NaiveDateTime;

use super::exec::{self, now, utc};
use super::pool::{Client, Fail};
use super::sql;
use crate::store::{AppRecord, StoreError};

pub async fn record(c: &mut Client, name: &str) -> Result<(), Fail> {
    exec::execute(
        c,
        sql::INSERT_APP,
        params![name.to_ascii_lowercase(), name, now()],
    )
    .await?;
    Ok(())
}

/// Ids of `Objects` continue at `first` at least (`sql::START_IDS_AT`).
pub async fn start_ids_at(c: &mut Client, first: i64) -> Result<(), Fail> {
    exec::execute(c, sql::START_IDS_AT, params![first - 1, now()]).await?;
    Ok(())
}

pub async fn list(c: &mut Client) -> Result<Vec<AppRecord>, Fail> {
    exec::rows(c, sql::SELECT_APPS, Vec::new())
        .await?
        .iter()
        .map(|row| {
            Ok(AppRecord {
                name: exec::req::<&str>(row, 0)?.to_owned(),
                key: exec::req::<&str>(row, 1)?.to_owned(),
                created: utc(exec::req::<NaiveDateTime>(row, 2)?),
            })
        })
        .collect()
}

/// Refuses a database that holds tables but not our migrations table: someone else's,
/// which an app of the same name must never migrate into.
pub async fn refuse_foreign(c: &mut Client, database: &str) -> Result<(), StoreError> {
    let row = exec::row(c, sql::TABLES_AND_OURS, Vec::new())
        .await
        .map_err(|e| StoreError::Database(format!("cannot list the tables of {database}: {e}")))?;
    let (tables, ours) = match &row {
        Some(r) => (
            exec::req::<i32>(r, 0).map_err(fail)?,
            exec::req::<i32>(r, 1).map_err(fail)?,
        ),
        None => (0, 0),
    };
    if tables > 0 && ours == 0 {
        return Err(StoreError::Config(format!(
            "the database {database} exists and holds tables that are not the datastore's; \
             it is not used for an app (rename the app, or move that database away)"
        )));
    }
    Ok(())
}

fn fail(e: Fail) -> StoreError {
    match e {
        Fail::Sql(e) => StoreError::Database(e.to_string()),
        Fail::Store(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::mssql::{admin, connect::ConnectOptions, MssqlStore};
    use crate::store::StoreOptions;

    /// Someone else's application: a table of its own and DbUp's journal, which is called
    /// `SchemaVersions` too (with other columns).
    const FOREIGN_TABLE: &str = "CREATE TABLE dbo.Invoices (Id int NOT NULL PRIMARY KEY); \
CREATE TABLE dbo.SchemaVersions (SchemaVersionsId int NOT NULL PRIMARY KEY, \
ScriptName nvarchar(255) NOT NULL, Applied datetime NOT NULL)";

    #[tokio::test]
    async fn a_database_holding_tables_but_not_ours_is_refused_for_an_app() {
        let Some(url) = std::env::var("DATASTORE_TEST_MSSQL_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            eprintln!("skipped: DATASTORE_TEST_MSSQL_URL is not set");
            return;
        };
        // Named as the API tests name theirs, so that a run that fails here leaves nothing
        // their clean-up does not drop.
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("dstest_{seconds}_{}_foreign", std::process::id());
        let db_url = admin::database_url_with(&url, &name).unwrap();
        let options = ConnectOptions::parse(&db_url).unwrap();
        let mut client = admin::connect_creating(&options).await.unwrap();
        exec::batch(&mut client, FOREIGN_TABLE).await.unwrap();
        drop(client.close().await);

        let refused = MssqlStore::open_app(&db_url, &StoreOptions::default()).await;
        match refused {
            Err(StoreError::Config(message)) => {
                assert!(message.contains(&name), "{message}")
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("a foreign database was adopted"),
        }
        // Nothing of ours was created in it.
        let mut client = admin::connect_creating(&options).await.unwrap();
        let row = exec::row(&mut client, sql::TABLES_AND_OURS, Vec::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(exec::req::<i32>(&row, 0).unwrap(), 2);
        assert_eq!(exec::req::<i32>(&row, 1).unwrap(), 0);
        drop(client.close().await);
        admin::drop_database(&url, &name, Duration::from_secs(30))
            .await
            .unwrap();
    }
}
