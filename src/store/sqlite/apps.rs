//! The apps of the deployment on the embedded store: the `Apps` table (migration 0006).

use rusqlite::{params, Connection};

use crate::store::{AppRecord, StoreError};

pub(super) fn record(conn: &mut Connection, name: &str) -> Result<(), StoreError> {
    let now = super::objects::now_text();
    conn.execute(
        "INSERT INTO Apps (NameKey, Name, CreatedAt) VALUES (?1, ?2, ?3) \
         ON CONFLICT (NameKey) DO NOTHING",
        params![name.to_ascii_lowercase(), name, now],
    )?;
    Ok(())
}

/// `Objects` uses AUTOINCREMENT: the next id is above both the highest id and the table's
/// `sqlite_sequence` entry, so raising that entry to `first - 1` (never lowering it) makes
/// ids start at `first`. One write transaction: the writer lock serialises processes.
pub(super) fn start_ids_at(conn: &mut Connection, first: i64) -> Result<(), StoreError> {
    let tx = super::objects::begin(conn)?;
    tx.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'Objects', ?1 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'Objects')",
        params![first - 1],
    )?;
    tx.execute(
        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'Objects' AND seq < ?1",
        params![first - 1],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn list(conn: &Connection) -> Result<Vec<AppRecord>, StoreError> {
    let mut stmt = conn.prepare("SELECT Name, NameKey, CreatedAt FROM Apps ORDER BY NameKey")?;
    let apps = stmt
        .query_map([], |r| {
            let created: String = r.get(2)?;
            let created = super::keys::time(&created)?;
            Ok(AppRecord {
                name: r.get(0)?,
                key: r.get(1)?,
                created,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(apps)
}
