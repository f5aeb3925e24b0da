//! Sending statements and reading what comes back: bound parameters, result sets (empty
//! ones included, which tiberius's `into_results` can lose), and typed columns.

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use tiberius::{FromSql, Query, QueryItem, Row};

use super::pool::{Client, Fail};
use crate::model::{ObjectId, PropertyType};
use crate::store::{ObjectRecord, PropertyRow, StoreError};

/// A value bound to `@Pn`.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Float(f64),
    Text(String),
    OptFloat(Option<f64>),
    OptText(Option<String>),
    Bool(bool),
    Time(NaiveDateTime),
    OptTime(Option<NaiveDateTime>),
    /// `varbinary(max)` (a file's chunk).
    Bytes(Vec<u8>),
}

impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Float(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}

impl From<Option<f64>> for Param {
    fn from(v: Option<f64>) -> Self {
        Param::OptFloat(v)
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::OptText(v)
    }
}

impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl From<NaiveDateTime> for Param {
    fn from(v: NaiveDateTime) -> Self {
        Param::Time(v)
    }
}

impl From<Option<NaiveDateTime>> for Param {
    fn from(v: Option<NaiveDateTime>) -> Self {
        Param::OptTime(v)
    }
}

impl Param {
    fn is_null(&self) -> bool {
        matches!(
            self,
            Param::OptFloat(None) | Param::OptText(None) | Param::OptTime(None)
        )
    }
}

/// `sql` with every `@P{n}` (not `@P{n}0`...) replaced by `NULL`.
pub(super) fn inline_null(sql: &str, n: usize) -> String {
    let name = format!("@P{n}");
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(&name) {
        let after = &rest[at + name.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&name);
        } else {
            out.push_str("NULL");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The statement with its parameters bound.
///
/// tiberius sends a NULL parameter with the TDS type NULLTYPE (0x1F) instead of its declared
/// type; SQL Server accepts that, stricter TDS servers refuse it. A NULL is therefore written
/// into the statement as `NULL`, and a placeholder `0` keeps the later positions.
fn query(sql: &str, params: Vec<Param>) -> Query<'_> {
    let nulls: Vec<usize> = (1..=params.len())
        .filter(|n| params[n - 1].is_null())
        .collect();
    let mut q = if nulls.is_empty() {
        Query::new(sql)
    } else {
        Query::new(
            nulls
                .iter()
                .fold(sql.to_owned(), |s, n| inline_null(&s, *n)),
        )
    };
    for p in params {
        match p {
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::OptFloat(Some(v)) => q.bind(v),
            Param::OptText(Some(v)) => q.bind(v),
            Param::OptTime(Some(v)) => q.bind(v),
            Param::OptFloat(None) | Param::OptText(None) | Param::OptTime(None) => q.bind(0i32),
            Param::Bool(v) => q.bind(v),
            Param::Time(v) => q.bind(v),
            Param::Bytes(v) => q.bind(v),
        }
    }
    q
}

/// Runs a statement without parameters (session options, transaction control).
pub async fn batch(client: &mut Client, sql: &str) -> Result<(), tiberius::error::Error> {
    client.simple_query(sql).await?.into_results().await?;
    Ok(())
}

/// Runs statements; the rows each one affected.
pub async fn execute(client: &mut Client, sql: &str, params: Vec<Param>) -> Result<Vec<u64>, Fail> {
    Ok(query(sql, params)
        .execute(client)
        .await?
        .rows_affected()
        .to_vec())
}

/// Runs statements; every result set, in order, empty ones included.
pub async fn sets(
    client: &mut Client,
    sql: &str,
    params: Vec<Param>,
) -> Result<Vec<Vec<Row>>, Fail> {
    let mut stream = query(sql, params).query(client).await?;
    let mut sets: Vec<Vec<Row>> = Vec::new();
    while let Some(item) = stream.try_next().await? {
        match item {
            QueryItem::Metadata(_) => sets.push(Vec::new()),
            QueryItem::Row(row) => match sets.last_mut() {
                Some(set) => set.push(row),
                None => sets.push(vec![row]),
            },
        }
    }
    Ok(sets)
}

/// Runs statements; the rows of the first result set.
pub async fn rows(client: &mut Client, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, Fail> {
    Ok(sets(client, sql, params)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Runs statements; the first row of the first result set, if any.
pub async fn row(client: &mut Client, sql: &str, params: Vec<Param>) -> Result<Option<Row>, Fail> {
    Ok(rows(client, sql, params).await?.into_iter().next())
}

/// Column `i`, NULL as `None`.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<Option<T>, Fail> {
    Ok(row.try_get::<T, usize>(i)?)
}

/// Column `i`, which must not be NULL.
pub fn req<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, Fail> {
    get(row, i)?.ok_or_else(|| {
        Fail::Store(StoreError::Database(format!(
            "column {i} of a result is unexpectedly NULL"
        )))
    })
}

/// Text column `i`, owned.
pub fn text(row: &Row, i: usize) -> Result<Option<String>, Fail> {
    Ok(get::<&str>(row, i)?.map(str::to_owned))
}

pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

/// Now, as stored: UTC, whole milliseconds (what `datetime2(3)` keeps).
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let ms = now.and_utc().timestamp_millis();
    DateTime::from_timestamp_millis(ms).map_or(now, |t| t.naive_utc())
}

/// `ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt` from column `at` on.
pub fn object_from_row(row: &Row, at: usize) -> Result<ObjectRecord, Fail> {
    Ok(ObjectRecord {
        id: req::<ObjectId>(row, at)?,
        object_type: req::<&str>(row, at + 1)?.to_owned(),
        object_number: text(row, at + 2)?,
        created_at: utc(req(row, at + 3)?),
        updated_at: utc(req(row, at + 4)?),
        properties: Vec::new(),
    })
}

/// `PropertyName, PropertyType, PropertyValue, PropertyAsDouble, PropertyAsString` from `at`.
pub fn property_from_row(row: &Row, at: usize) -> Result<PropertyRow, Fail> {
    let ty: &str = req(row, at + 1)?;
    Ok(PropertyRow {
        name: req::<&str>(row, at)?.to_owned(),
        property_type: ty.parse().unwrap_or(PropertyType::String),
        value: req::<&str>(row, at + 2)?.to_owned(),
        as_double: get::<f64>(row, at + 3)?,
        as_string: text(row, at + 4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::inline_null;

    #[test]
    fn null_parameters_are_inlined_by_exact_name() {
        assert_eq!(
            inline_null("SET a = @P1, b = @P10 WHERE c = @P1;", 1),
            "SET a = NULL, b = @P10 WHERE c = NULL;"
        );
        assert_eq!(inline_null("VALUES (@P2)", 1), "VALUES (@P2)");
    }
}
