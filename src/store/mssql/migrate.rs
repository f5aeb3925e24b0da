//! Versioned migrations of the SQL Server store, recorded in `SchemaVersions` version for
//! version like the embedded store's.
//!
//! A migration file is T-SQL as SSMS and sqlcmd run it: batches separated by `GO` lines.
//! Each migration runs in one transaction under an application lock, so two services
//! starting at once apply it once. A migration of statements that cannot run in a
//! transaction (`ALTER DATABASE`) is written to be run again safely and runs without one;
//! only its record is written under the lock.

use super::exec::{self, now};
use super::pool::{Client, Fail};
use super::sql;
use crate::store::StoreError;

/// A migration: its version, a name for the log, and its T-SQL.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    /// False for a migration that cannot run in a transaction (and may run twice).
    pub transactional: bool,
}

/// Every migration, in order. Versions match `migrations/sqlite/` one for one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/mssql/0001_initial.sql"),
        transactional: true,
    },
    Migration {
        version: 2,
        name: "config_version",
        sql: include_str!("../../../migrations/mssql/0002_config_version.sql"),
        transactional: true,
    },
    Migration {
        version: 3,
        name: "snapshot_reads",
        sql: include_str!("../../../migrations/mssql/0003_snapshot_reads.sql"),
        transactional: false,
    },
    Migration {
        version: 4,
        name: "api_keys",
        sql: include_str!("../../../migrations/mssql/0004_api_keys.sql"),
        transactional: true,
    },
    Migration {
        version: 5,
        name: "files",
        sql: include_str!("../../../migrations/mssql/0005_files.sql"),
        transactional: true,
    },
    Migration {
        version: 6,
        name: "apps",
        sql: include_str!("../../../migrations/mssql/0006_apps.sql"),
        transactional: true,
    },
    Migration {
        version: 20,
        name: "projections",
        sql: include_str!("../../../migrations/mssql/0020_projections.sql"),
        transactional: true,
    },
    Migration {
        version: 40,
        name: "changes",
        sql: include_str!("../../../migrations/mssql/0040_changes.sql"),
        transactional: true,
    },
    Migration {
        version: 60,
        name: "idempotency_token",
        sql: include_str!("../../../migrations/mssql/0060_idempotency_token.sql"),
        transactional: true,
    },
    Migration {
        version: 61,
        name: "change_chain",
        sql: include_str!("../../../migrations/mssql/0061_change_chain.sql"),
        transactional: true,
    },
    Migration {
        version: 70,
        name: "lookup_counts",
        sql: include_str!("../../../migrations/mssql/0070_lookup_counts.sql"),
        transactional: true,
    },
    Migration {
        version: 71,
        name: "value_counts",
        sql: include_str!("../../../migrations/mssql/0071_value_counts.sql"),
        transactional: true,
    },
    Migration {
        version: 72,
        name: "pair_counts",
        sql: include_str!("../../../migrations/mssql/0072_pair_counts.sql"),
        transactional: true,
    },
    Migration {
        version: 73,
        name: "object_versions",
        sql: include_str!("../../../migrations/mssql/0073_object_versions.sql"),
        transactional: true,
    },
    Migration {
        version: 74,
        name: "object_versions_drawn",
        sql: include_str!("../../../migrations/mssql/0074_object_versions_drawn.sql"),
        transactional: true,
    },
    Migration {
        version: 75,
        name: "text_prefix_200",
        sql: include_str!("../../../migrations/mssql/0075_text_prefix_200.sql"),
        transactional: true,
    },
];

/// The batches of a script: the text between lines that hold only `GO` (any case, an
/// optional `;` or trailing comment aside). Batches with nothing but comments are left out.
pub fn split_batches(script: &str) -> Vec<String> {
    let mut batches = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        let word = line
            .split("--")
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(';');
        if word.eq_ignore_ascii_case("go") {
            batches.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    batches.push(current);
    batches
        .into_iter()
        .filter(|b| {
            b.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
        .map(|b| b.trim().to_owned())
        .collect()
}

/// Versions applied so far, oldest first.
pub async fn applied(c: &mut Client) -> Result<Vec<i64>, Fail> {
    let exists = exec::row(c, sql::VERSIONS_TABLE_EXISTS, Vec::new())
        .await?
        .map(|r| exec::get::<i32>(&r, 0))
        .transpose()?
        .flatten()
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    exec::rows(c, sql::SELECT_VERSIONS, Vec::new())
        .await?
        .iter()
        .map(|r| exec::req::<i64>(r, 0))
        .collect()
}

/// Applies every migration not yet recorded, each in its own transaction.
pub async fn run(c: &mut Client) -> Result<(), StoreError> {
    let db = |e: tiberius::error::Error| StoreError::Database(format!("migration: {e}"));
    exec::batch(c, sql::CREATE_VERSIONS).await.map_err(db)?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    for m in MIGRATIONS {
        if !m.transactional && !applied(c).await.map_err(fail)?.contains(&m.version) {
            for batch in split_batches(m.sql) {
                exec::batch(c, &batch).await.map_err(db)?;
            }
        }
        exec::batch(c, sql::BEGIN).await.map_err(db)?;
        let result = apply(c, m, newest).await;
        let end = if result.is_ok() {
            sql::COMMIT
        } else {
            sql::ROLLBACK
        };
        exec::batch(c, end).await.map_err(db)?;
        if result.map_err(fail)? {
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
    }
    Ok(())
}

fn fail(e: Fail) -> StoreError {
    match e {
        Fail::Sql(e) => StoreError::Database(format!("migration: {e}")),
        Fail::Store(e) => e,
    }
}

/// Applies `m` unless it is recorded; true when it was applied.
async fn apply(c: &mut Client, m: &Migration, newest: i64) -> Result<bool, Fail> {
    exec::batch(c, sql::MIGRATION_LOCK).await?;
    let done = applied(c).await?;
    if let Some(&last) = done.last() {
        if last > newest {
            return Err(Fail::Store(StoreError::Config(format!(
                "the database has schema version {last}, newer than this build knows"
            ))));
        }
    }
    if done.contains(&m.version) {
        return Ok(false);
    }
    if m.transactional {
        for batch in split_batches(m.sql) {
            exec::batch(c, &batch).await?;
        }
    }
    exec::execute(c, sql::INSERT_VERSION, params![m.version, m.name, now()]).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lines_split_batches_and_comment_only_batches_vanish() {
        let script = "-- header\nGO\nCREATE TABLE a (x int);\nCREATE INDEX i ON a (x);\n  go  \n\
                      CREATE TABLE b (y int); -- GO inside a line stays\nGO -- done\n-- trailing\n";
        assert_eq!(
            split_batches(script),
            [
                "CREATE TABLE a (x int);\nCREATE INDEX i ON a (x);",
                "CREATE TABLE b (y int); -- GO inside a line stays",
            ]
        );
    }

    #[test]
    fn the_shipped_migrations_are_versioned_in_order_and_split() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions.first(), Some(&1));
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        let embedded: Vec<i64> = crate::store::sqlite::migration_versions();
        assert_eq!(versions, embedded, "both backends have the same versions");
        for m in MIGRATIONS {
            let batches = split_batches(m.sql);
            // A version with nothing to do here says so in comments alone.
            let only_comments = m
                .sql
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"));
            assert_eq!(batches.is_empty(), only_comments, "{}", m.name);
            assert!(batches
                .iter()
                .all(|b| !b.lines().any(|l| l.trim().eq_ignore_ascii_case("go"))));
        }
    }
}
