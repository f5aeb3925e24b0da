//! Cursor paging on SQL Server (see `store/cursor.rs`): the change-log head and the objects
//! whose sort keys changed since it, read in the page's snapshot transaction, and the T-SQL
//! that sorts those by their value as of the head.

use serde_json::{Map, Value};
use tiberius::Row;

use super::exec::{self, Param};
use super::pool::{Client, Fail};
use super::sql;
use super::table::{Binder, TEXT_ORDER};
use crate::model::ObjectId;
use crate::store::cursor::{self, AsOf, KeyExpr, KeyValue, Seek, Walk};
use crate::store::{Key, Order, StoreError, SystemField};

/// What a page needs to keep its order as of the walk's head.
#[derive(Debug, Default)]
pub struct Stable {
    /// The head the order is taken as of (`None`: the order cannot change).
    pub head: Option<i64>,
    /// The objects changed since, as of the head.
    pub changed: Vec<AsOf>,
}

/// Reads the head (a first page) or the changes since the token's head; run in the page's
/// snapshot transaction.
pub async fn stable(
    c: &mut Client,
    object_type: &str,
    order: &[Order],
    walk: &Walk,
) -> Result<Stable, Fail> {
    if !cursor::needs_head(order) {
        return Ok(Stable::default());
    }
    let Some(head) = walk.head else {
        let row = exec::row(c, sql::WALK_HEAD, Vec::new()).await?;
        let (pruned, head) = match row {
            Some(r) => (exec::req::<i64>(&r, 0)?, exec::req::<i64>(&r, 1)?),
            None => (0, 0),
        };
        return Ok(Stable {
            head: Some(head.max(pruned)),
            changed: Vec::new(),
        });
    };
    let mut sets = exec::sets(
        c,
        sql::WALK_CHANGES,
        vec![Param::Int(head), Param::Text(object_type.to_owned())],
    )
    .await?
    .into_iter();
    let pruned_through = match sets.next().and_then(|s| s.into_iter().next()) {
        Some(r) => exec::req::<i64>(&r, 0)?,
        None => 0,
    };
    if pruned_through > head {
        return Err(Fail::Store(StoreError::CursorExpired {
            head,
            pruned_through,
        }));
    }
    let mut rows: Vec<(ObjectId, String, Map<String, Value>)> = Vec::new();
    for r in sets.next().unwrap_or_default() {
        let text = exec::text(&r, 2)?.unwrap_or_default();
        let map = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        rows.push((
            exec::req(&r, 0)?,
            exec::text(&r, 1)?.unwrap_or_default(),
            map,
        ));
    }
    let changed = cursor::as_of(
        object_type,
        order,
        rows.iter()
            .map(|(id, op, m)| (*id, object_type, op.as_str(), m)),
    );
    Ok(Stable {
        head: Some(head),
        changed,
    })
}

/// A value bound for a keyset comparison.
pub fn bind(b: &mut Binder, v: &KeyValue) -> String {
    match v {
        KeyValue::Null => "NULL".into(),
        KeyValue::Int(n) => b.bind(*n),
        KeyValue::Double(d) => b.bind(*d),
        KeyValue::Text(t) => b.bind(t.as_str()),
        KeyValue::Time(t) => b.bind(t.naive_utc()),
    }
}

impl Stable {
    /// The join of the changed objects on `id_column` (`cw`), and the condition that
    /// leaves out those that did not exist at the head; empty when nothing changed.
    pub fn join(&self, b: &mut Binder, order: &[Order], id_column: &str) -> (String, String) {
        if self.changed.is_empty() {
            return (String::new(), String::new());
        }
        let rows = cursor::anchor_rows(&self.changed);
        let mut columns = String::from("i bigint '$.i', x int '$.x'");
        for (k, o) in order.iter().enumerate() {
            let ty = match o.key {
                Key::Double(_) => "float",
                Key::Text(_) => "nvarchar(max)",
                Key::System(_) => "nvarchar(40)",
            };
            columns.push_str(&format!(", c{k} int '$.c{k}', k{k} {ty} '$.k{k}'"));
        }
        let json = b.bind(Value::Array(rows).to_string());
        (
            format!("\nLEFT JOIN OPENJSON({json}) WITH ({columns}) AS cw ON cw.i = {id_column}"),
            " AND (cw.x IS NULL OR cw.x = 0)".into(),
        )
    }

    /// Sort key `i`'s value expression: as of the head for a changed object.
    pub fn effective(&self, i: usize, key: &Key, current: &str) -> String {
        if self.changed.is_empty() || !cursor::is_mutable(key) {
            return current.to_owned();
        }
        let then = match key {
            Key::Text(_) => format!("cw.k{i} {TEXT_ORDER}"),
            Key::System(_) => format!("TRY_CONVERT(datetime2(3), cw.k{i}, 127)"),
            Key::Double(_) => format!("cw.k{i}"),
        };
        let current = match key {
            Key::Text(_) => format!("{current} {TEXT_ORDER}"),
            _ => current.to_owned(),
        };
        format!("(CASE WHEN cw.c{i} = 1 THEN {then} ELSE {current} END)")
    }
}

/// How key `key` with value expression `expr` is sorted and compared.
///
/// Text is folded by `LOWER` under the binary collation on both sides, the column's and the
/// bound seek value's: `LOWER` folds by the collation of its argument, and a parameter has
/// the database's default collation. SQL Server folds `É` under either; Babelfish folds
/// only ASCII under a binary collation but every letter under its default one, so with
/// `LOWER(@P)` the seek value `Émile` became `émile` while its own row sorted as `Émile`:
/// a descending walk found that row after itself again and never ended, an ascending one
/// skipped the rows in between.
pub fn key_expr(key: &Key, expr: String, descending: bool) -> KeyExpr {
    KeyExpr {
        expr,
        compare: if matches!(key, Key::Text(_)) {
            format!("LOWER({{}} {TEXT_ORDER}) {TEXT_ORDER}")
        } else {
            "{}".into()
        },
        descending,
    }
}

/// " AND <after seek>".
pub fn keyset(b: &mut Binder, keys: &[KeyExpr], id_column: &str, seek: &Seek) -> String {
    let sql = cursor::keyset(keys, id_column, seek, &mut |v| bind(b, v));
    format!(" AND {sql}")
}

/// The sort keys' values of a page row, from column `first` on.
pub fn seek_of(row: &Row, first: usize, order: &[Order], id: ObjectId) -> Result<Seek, Fail> {
    let mut keys = Vec::with_capacity(order.len());
    for (i, o) in order.iter().enumerate() {
        let at = first + i;
        keys.push(match &o.key {
            Key::Double(_) => exec::get::<f64>(row, at)?.map_or(KeyValue::Null, KeyValue::Double),
            Key::Text(_) | Key::System(SystemField::ObjectNumber | SystemField::ObjectType) => {
                exec::text(row, at)?.map_or(KeyValue::Null, KeyValue::Text)
            }
            Key::System(SystemField::ObjectId) => {
                exec::get::<i64>(row, at)?.map_or(KeyValue::Null, KeyValue::Int)
            }
            Key::System(SystemField::CreatedAt | SystemField::UpdatedAt) => {
                exec::get::<chrono::NaiveDateTime>(row, at)?
                    .map_or(KeyValue::Null, |t| KeyValue::Time(exec::utc(t)))
            }
        });
    }
    Ok(Seek { keys, id })
}
