//! API keys on the embedded store: the `ApiKeys` table (migration 0004).

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::{ApiKeyRecord, StoreError};

const COLUMNS: &str = "Id, Name, Role, App, Salt, Hash, Last4, Created, Expires, Revoked";

/// Times as every other time of this store: UTC text that sorts as it compares.
fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn time(text: &str) -> Result<DateTime<Utc>, rusqlite::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

fn record(r: &Row<'_>) -> Result<ApiKeyRecord, rusqlite::Error> {
    let opt_time = |i: usize| -> Result<Option<DateTime<Utc>>, rusqlite::Error> {
        r.get::<_, Option<String>>(i)?
            .as_deref()
            .map(time)
            .transpose()
    };
    Ok(ApiKeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        app: r.get(3)?,
        salt: r.get(4)?,
        hash: r.get(5)?,
        last4: r.get(6)?,
        created: time(&r.get::<_, String>(7)?)?,
        expires: opt_time(8)?,
        revoked: opt_time(9)?,
    })
}

pub(super) fn insert(conn: &mut Connection, key: &ApiKeyRecord) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        &format!("INSERT INTO ApiKeys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL) ON CONFLICT (Id) DO NOTHING"),
        params![
            key.id,
            key.name,
            key.role,
            key.app,
            key.salt,
            key.hash,
            key.last4,
            text(key.created),
            key.expires.map(text),
        ],
    )?;
    Ok(inserted > 0)
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM ApiKeys WHERE Id = ?1"))?
        .query_row([id], record)
        .optional()?)
}

pub(super) fn list(conn: &Connection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM ApiKeys ORDER BY Created, Id"
    ))?;
    let keys = stmt.query_map([], record)?.collect::<Result<_, _>>()?;
    Ok(keys)
}

pub(super) fn revoke(
    conn: &mut Connection,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE ApiKeys SET Revoked = ?2 WHERE Id = ?1 AND Revoked IS NULL",
        params![id, text(at)],
    )?;
    let found: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM ApiKeys WHERE Id = ?1)",
        [id],
        |r| r.get(0),
    )?;
    Ok(found)
}

/// Whether any key was ever created (revoked and expired ones count: once keys are in use,
/// the service never runs open again).
pub(super) fn any(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM ApiKeys)")?
        .query_row([], |r| r.get(0))?)
}
