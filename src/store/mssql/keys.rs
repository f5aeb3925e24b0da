//! API keys on SQL Server: the `ApiKeys` table (migration 0004).

use chrono::{DateTime, NaiveDateTime, Utc};
use tiberius::Row;

use super::exec::{self, utc};
use super::pool::{Client, Fail};
use super::sql;
use crate::store::ApiKeyRecord;

/// A time as `datetime2(3)` keeps it (UTC, milliseconds).
fn stored(t: DateTime<Utc>) -> NaiveDateTime {
    DateTime::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or(t)
        .naive_utc()
}

fn record(row: &Row) -> Result<ApiKeyRecord, Fail> {
    let text = |i| -> Result<String, Fail> { Ok(exec::req::<&str>(row, i)?.to_owned()) };
    Ok(ApiKeyRecord {
        id: text(0)?,
        name: text(1)?,
        role: text(2)?,
        app: exec::text(row, 3)?,
        salt: text(4)?,
        hash: text(5)?,
        last4: text(6)?,
        created: utc(exec::req(row, 7)?),
        expires: exec::get::<NaiveDateTime>(row, 8)?.map(utc),
        revoked: exec::get::<NaiveDateTime>(row, 9)?.map(utc),
    })
}

fn flag(row: Option<Row>) -> Result<bool, Fail> {
    Ok(match row {
        Some(r) => exec::req::<i32>(&r, 0)? > 0,
        None => false,
    })
}

pub async fn insert(c: &mut Client, key: &ApiKeyRecord) -> Result<bool, Fail> {
    let row = exec::row(
        c,
        sql::INSERT_API_KEY,
        params![
            key.id.as_str(),
            key.name.as_str(),
            key.role.as_str(),
            key.app.clone(),
            key.salt.as_str(),
            key.hash.as_str(),
            key.last4.as_str(),
            stored(key.created),
            key.expires.map(stored),
        ],
    )
    .await?;
    flag(row)
}

pub async fn get(c: &mut Client, id: &str) -> Result<Option<ApiKeyRecord>, Fail> {
    exec::row(c, sql::SELECT_API_KEY, params![id])
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

pub async fn list(c: &mut Client) -> Result<Vec<ApiKeyRecord>, Fail> {
    exec::rows(c, sql::SELECT_API_KEYS, Vec::new())
        .await?
        .iter()
        .map(record)
        .collect()
}

pub async fn revoke(c: &mut Client, id: &str, at: DateTime<Utc>) -> Result<bool, Fail> {
    let found = exec::sets(c, sql::REVOKE_API_KEY, params![id, stored(at)])
        .await?
        .into_iter()
        .flatten()
        .next();
    flag(found)
}

pub async fn any(c: &mut Client) -> Result<bool, Fail> {
    flag(exec::row(c, sql::ANY_API_KEY, Vec::new()).await?)
}
