//! Cursor paging on the embedded store (see `store/cursor.rs`): the change-log head and
//! the objects whose sort keys changed since it, read in the page's own snapshot, and the
//! SQL that sorts those by their value as of the head.

use rusqlite::types::{Value as Sql, ValueRef};
use serde_json::{Map, Value};

use super::counts::Snapshot;
use super::objects::time_text;
use super::query::Fragment;
use crate::model::ObjectId;
use crate::store::cursor::{self, AsOf, KeyExpr, KeyValue, Seek, Walk};
use crate::store::{Key, Order, StoreError, SystemField};

/// What a page needs to keep its order as of the walk's head.
#[derive(Debug, Default)]
pub(super) struct Stable {
    /// The head the order is taken as of (`None`: the order cannot change).
    pub head: Option<i64>,
    /// The objects changed since, as of the head.
    pub changed: Vec<AsOf>,
}

/// Reads the head (a first page) or the changes since the token's head, in `s`.
pub(super) fn stable(
    s: &Snapshot<'_>,
    object_type: &str,
    order: &[Order],
    walk: &Walk,
) -> Result<Stable, StoreError> {
    if !cursor::needs_head(order) {
        return Ok(Stable::default());
    }
    let conn = s.conn;
    let pruned_through: i64 = conn
        .prepare_cached("SELECT PrunedThrough FROM ChangeLogState WHERE Id = 1")?
        .query_row([], |r| r.get(0))?;
    let Some(head) = walk.head else {
        let head: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(ChangeId), 0) FROM Changes")?
            .query_row([], |r| r.get(0))?;
        return Ok(Stable {
            head: Some(head.max(pruned_through)),
            changed: Vec::new(),
        });
    };
    if pruned_through > head {
        return Err(StoreError::CursorExpired {
            head,
            pruned_through,
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT ObjectId, Operation, Changes FROM Changes \
         WHERE ChangeId > ?1 AND ObjectType = ?2 ORDER BY ChangeId",
    )?;
    let rows: Vec<(ObjectId, String, Map<String, Value>)> = stmt
        .query_map(rusqlite::params![head, object_type], |r| {
            let text: String = r.get(2)?;
            let map = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            Ok((r.get(0)?, r.get(1)?, map))
        })?
        .collect::<Result<_, _>>()?;
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

pub(super) fn sql_of(v: &KeyValue) -> Sql {
    match v {
        KeyValue::Null => Sql::Null,
        KeyValue::Int(n) => Sql::Integer(*n),
        KeyValue::Double(d) => Sql::Real(*d),
        KeyValue::Text(t) => Sql::Text(t.clone()),
        KeyValue::Time(t) => Sql::Text(time_text(t)),
    }
}

impl Stable {
    /// The join of the changed objects on `id_column` (`cw`), and the condition that
    /// leaves out those that did not exist at the head; empty when nothing changed.
    pub(super) fn join(&self, id_column: &str) -> (Fragment, Fragment) {
        let (mut join, mut cond) = (Fragment::default(), Fragment::default());
        if self.changed.is_empty() {
            return (join, cond);
        }
        let width = self
            .changed
            .iter()
            .find_map(|a| a.keys.as_ref().map(Vec::len))
            .unwrap_or(0);
        let rows = cursor::anchor_rows(&self.changed);
        let mut columns =
            String::from("json_extract(value, '$.i') AS i, json_extract(value, '$.x') AS x");
        for k in 0..width {
            columns.push_str(&format!(
                ", json_extract(value, '$.c{k}') AS c{k}, json_extract(value, '$.k{k}') AS k{k}"
            ));
        }
        join.push(&format!(" LEFT JOIN (SELECT {columns} FROM json_each("))
            .bind(Sql::Text(Value::Array(rows).to_string()))
            .push(&format!(")) cw ON cw.i = {id_column}"));
        cond.push(" AND cw.x IS NOT 1");
        (join, cond)
    }

    /// Sort key `i`'s value expression: as of the head for a changed object.
    pub(super) fn effective(&self, i: usize, key: &Key, current: &str) -> String {
        if self.changed.is_empty() || !cursor::is_mutable(key) {
            current.to_owned()
        } else {
            format!("(CASE WHEN cw.c{i} = 1 THEN cw.k{i} ELSE {current} END)")
        }
    }
}

/// How key `key` with value expression `expr` is written in a keyset condition.
pub(super) fn key_expr(key: &Key, expr: String, descending: bool) -> KeyExpr {
    KeyExpr {
        expr,
        compare: if matches!(key, Key::Text(_)) {
            "{} COLLATE NOCASE".into()
        } else {
            "{}".into()
        },
        descending,
    }
}

/// Appends " AND <after seek>" to `f`.
pub(super) fn push_keyset(f: &mut Fragment, keys: &[KeyExpr], id_column: &str, seek: &Seek) {
    let mut params = Vec::new();
    let sql = cursor::keyset(keys, id_column, seek, &mut |v| {
        params.push(sql_of(v));
        "?".into()
    });
    f.sql.push_str(" AND ");
    f.sql.push_str(&sql);
    f.params.extend(params);
}

/// The sort keys' values of a page row, read from columns `first..`.
pub(super) fn seek_of(
    r: &rusqlite::Row<'_>,
    first: usize,
    order: &[Order],
    id: ObjectId,
) -> rusqlite::Result<Seek> {
    let mut keys = Vec::with_capacity(order.len());
    for (i, o) in order.iter().enumerate() {
        let v = r.get_ref(first + i)?;
        keys.push(match (v, &o.key) {
            (ValueRef::Null, _) => KeyValue::Null,
            (ValueRef::Integer(n), Key::System(SystemField::ObjectId)) => KeyValue::Int(n),
            (ValueRef::Integer(n), Key::Double(_)) => KeyValue::Double(n as f64),
            (ValueRef::Integer(n), _) => KeyValue::Int(n),
            (ValueRef::Real(d), _) => KeyValue::Double(d),
            (ValueRef::Text(t), _) | (ValueRef::Blob(t), _) => {
                KeyValue::Text(String::from_utf8_lossy(t).into_owned())
            }
        });
    }
    Ok(Seek { keys, id })
}
