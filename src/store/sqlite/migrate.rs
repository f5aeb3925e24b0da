//! Versioned migrations of the embedded store, recorded in `SchemaVersions`.

use rusqlite::{params, Connection, TransactionBehavior};

use crate::store::StoreError;

/// A migration: its version, a name for the log, and its SQL.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Versions match `migrations/mssql/` one for one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "config_version",
        sql: include_str!("../../../migrations/sqlite/0002_config_version.sql"),
    },
    Migration {
        version: 3,
        name: "snapshot_reads",
        sql: include_str!("../../../migrations/sqlite/0003_snapshot_reads.sql"),
    },
    Migration {
        version: 4,
        name: "api_keys",
        sql: include_str!("../../../migrations/sqlite/0004_api_keys.sql"),
    },
    Migration {
        version: 5,
        name: "files",
        sql: include_str!("../../../migrations/sqlite/0005_files.sql"),
    },
    Migration {
        version: 6,
        name: "apps",
        sql: include_str!("../../../migrations/sqlite/0006_apps.sql"),
    },
    Migration {
        version: 20,
        name: "projections",
        sql: include_str!("../../../migrations/sqlite/0020_projections.sql"),
    },
    Migration {
        version: 40,
        name: "changes",
        sql: include_str!("../../../migrations/sqlite/0040_changes.sql"),
    },
    Migration {
        version: 60,
        name: "idempotency_token",
        sql: include_str!("../../../migrations/sqlite/0060_idempotency_token.sql"),
    },
    Migration {
        version: 61,
        name: "change_chain",
        sql: include_str!("../../../migrations/sqlite/0061_change_chain.sql"),
    },
    Migration {
        version: 70,
        name: "lookup_counts",
        sql: include_str!("../../../migrations/sqlite/0070_lookup_counts.sql"),
    },
    Migration {
        version: 71,
        name: "value_counts",
        sql: include_str!("../../../migrations/sqlite/0071_value_counts.sql"),
    },
    Migration {
        version: 72,
        name: "pair_counts",
        sql: include_str!("../../../migrations/sqlite/0072_pair_counts.sql"),
    },
    Migration {
        version: 73,
        name: "object_versions",
        sql: include_str!("../../../migrations/sqlite/0073_object_versions.sql"),
    },
    Migration {
        version: 74,
        name: "object_versions_drawn",
        sql: include_str!("../../../migrations/sqlite/0074_object_versions_drawn.sql"),
    },
    Migration {
        version: 75,
        name: "text_prefix_200",
        sql: include_str!("../../../migrations/sqlite/0075_text_prefix_200.sql"),
    },
];

const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS SchemaVersions (
    Version   INTEGER PRIMARY KEY,
    Name      TEXT NOT NULL,
    AppliedAt TEXT NOT NULL
)";

/// Applies every migration not yet recorded, each in its own transaction.
pub(crate) fn run(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute(CREATE_VERSIONS, [])?;
    let done = applied(conn)?;
    if let Some(newest) = done.last() {
        if *newest > MIGRATIONS.last().map_or(0, |m| m.version) {
            return Err(StoreError::Config(format!(
                "the database has schema version {newest}, newer than this build knows"
            )));
        }
    }
    for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have applied it since the first look: look again, under the
        // write lock.
        if applied(&tx)?.contains(&m.version) {
            continue;
        }
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO SchemaVersions (Version, Name, AppliedAt) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, super::objects::now_text()],
        )?;
        tx.commit()?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

/// Versions applied so far, oldest first.
pub(crate) fn applied(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'SchemaVersions')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT Version FROM SchemaVersions ORDER BY Version")?;
    let versions = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(versions)
}
