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
