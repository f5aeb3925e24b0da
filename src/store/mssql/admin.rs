//! Databases themselves: created on start when the one named is missing, and dropped by
//! the test harness (each test runs in a database of its own).
//!
//! Creating a database needs `CREATE ANY DATABASE` (or `dbcreator`) in `master`; a login
//! that only has rights inside an existing database never gets here, because the first
//! connection goes straight to its database.

use std::time::Duration;

use super::connect::ConnectOptions;
use super::exec;
use super::pool::{self, Client};
use super::sql;
use crate::store::StoreError;

/// Login errors that mean "the database named does not exist": 4060 from SQL Server,
/// 911 from engines that report it like `USE` does.
const NO_SUCH_DATABASE: [u32; 2] = [4060, 911];

fn connect_error(options: &ConnectOptions, e: bb8_tiberius::Error) -> StoreError {
    let port = options.port.map(|p| format!(":{p}")).unwrap_or_default();
    StoreError::Database(format!(
        "cannot connect to SQL Server at {}{port}: {e}",
        options.host
    ))
}

fn server_code(e: &bb8_tiberius::Error) -> Option<u32> {
    match e {
        bb8_tiberius::Error::Tiberius(t) => t.code(),
        _ => None,
    }
}

/// Connects to the database `options` names; when it does not exist, creates it from
/// `master` first. The real connection error surfaces here, not as a pool timeout.
pub async fn connect_creating(options: &ConnectOptions) -> Result<Client, StoreError> {
    match pool::connect(options).await {
        Ok(client) => Ok(client),
        Err(e) if server_code(&e).is_some_and(|c| NO_SUCH_DATABASE.contains(&c)) => {
            let Some(name) = options.database.as_deref() else {
                return Err(connect_error(options, e));
            };
            let mut master = pool::connect(&options.with_database(Some("master")))
                .await
                .map_err(|e| connect_error(options, e))?;
            // Another process creating databases at the same moment can make the server
            // refuse this one once ("tuple concurrently updated"): try a few times.
            let mut attempt = 1;
            while let Err(e) = exec::execute(&mut master, sql::CREATE_DATABASE, params![name]).await
            {
                if attempt >= 5 {
                    return Err(fail_text("cannot create the database", name, e));
                }
                tracing::debug!(database = name, error = ?e, "retrying CREATE DATABASE");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                attempt += 1;
            }
            drop(master.close().await);
            tracing::info!(database = name, "created the database");
            pool::connect(options)
                .await
                .map_err(|e| connect_error(options, e))
        }
        Err(e) => Err(connect_error(options, e)),
    }
}

fn fail_text(what: &str, name: &str, e: pool::Fail) -> StoreError {
    match e {
        pool::Fail::Sql(e) => StoreError::Database(format!("{what} {name}: {e}")),
        pool::Fail::Store(e) => e,
    }
}

/// The same connection string naming another database (either form).
pub fn database_url_with(url: &str, database: &str) -> Result<String, StoreError> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
        let mut parsed = url::Url::parse(trimmed)
            .map_err(|e| StoreError::Config(format!("not a valid URL ({e})")))?;
        parsed.set_path(&format!("/{database}"));
        return Ok(parsed.to_string());
    }
    let kept: Vec<&str> = trimmed
        .split(';')
        .filter(|part| {
            let key: String = part
                .split('=')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            !part.trim().is_empty()
                && !matches!(key.as_str(), "database" | "initialcatalog" | "databasename")
        })
        .collect();
    Ok(format!("{};Database={database}", kept.join(";")))
}

async fn master(url: &str) -> Result<Client, StoreError> {
    let options = ConnectOptions::parse(url)?.with_database(Some("master"));
    pool::connect(&options)
        .await
        .map_err(|e| connect_error(&options, e))
}

/// Drops database `name` on the server of `url`, retrying for up to `patience` while
/// sessions that just closed are still leaving it.
pub async fn drop_database(url: &str, name: &str, patience: Duration) -> Result<(), StoreError> {
    let mut client = master(url).await?;
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match exec::execute(&mut client, sql::DROP_DATABASE, params![name]).await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(database = name, error = ?e, "database still in use");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(fail_text("cannot drop the database", name, e)),
        }
    }
    drop(client.close().await);
    Ok(())
}

/// Whether the database `url` names exists (checked from `master`; nothing is created).
pub async fn database_exists(url: &str) -> Result<bool, StoreError> {
    let Some(name) = ConnectOptions::parse(url)?.database else {
        return Ok(true);
    };
    let mut client = master(url).await?;
    let rows = exec::rows(&mut client, sql::DATABASE_EXISTS, params![name.as_str()])
        .await
        .map_err(|e| fail_text("cannot look for the database", &name, e))?;
    let exists = match rows.first() {
        Some(row) => exec::req::<i32>(row, 0)
            .map_err(|e| fail_text("cannot look for the database", &name, e))?,
        None => 0,
    };
    drop(client.close().await);
    Ok(exists == 1)
}

/// Names of the databases on the server of `url` that start with `prefix`.
pub async fn databases_with_prefix(url: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut client = master(url).await?;
    let pattern = format!(
        "{}%",
        prefix
            .replace('[', "[[]")
            .replace('_', "[_]")
            .replace('%', "[%]")
    );
    let rows = exec::rows(&mut client, sql::DATABASES_LIKE, params![pattern])
        .await
        .map_err(|e| fail_text("cannot list databases like", prefix, e))?;
    let names = rows
        .iter()
        .map(|r| exec::text(r, 0).map(Option::unwrap_or_default))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail_text("cannot list databases like", prefix, e))?;
    drop(client.close().await);
    Ok(names
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_database_in_either_form() {
        assert_eq!(
            database_url_with(
                "mssql://sa:pw@h:1433/master?trustServerCertificate=true",
                "t_1"
            )
            .unwrap(),
            "mssql://sa:pw@h:1433/t_1?trustServerCertificate=true"
        );
        assert_eq!(
            database_url_with(
                "Server=h;Initial Catalog=master;User Id=sa;Password=pw",
                "t_1"
            )
            .unwrap(),
            "Server=h;User Id=sa;Password=pw;Database=t_1"
        );
    }
}
