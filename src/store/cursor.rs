//! Cursor paging's backend-neutral part (API.md §12, docs/DECISIONS.md "Cursor paging").
//!
//! A walk goes on after the last row it returned: keyset on the order keys plus `objectId`
//! ([`Seek`]). Objects without a sort key come last in either direction, as the offset
//! order puts them, so the keyset condition is "after" in that order too ([`keyset`]).
//!
//! An order by something a write can change (a property, `updatedAt`) is taken as of the
//! walk's start: the token carries the change-log head of the first page, and every later
//! page reads, in the snapshot of its own query, the changes made since that head
//! ([`as_of`]). An object whose sort key changed since then is sorted by the value it had
//! then (the `from` of its first change after the head that touched the key); objects
//! created (or given this type) since then did not exist throughout the walk and are left
//! out. So every object keeps one position for the whole walk and is visited once.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Key, Order, SystemField};
use crate::model::ObjectId;

/// One sort key's value in a row (as the backend sorts it).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// The object does not have it: sorts last.
    Null,
    Int(i64),
    Double(f64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Where a walk goes on: after the row with these sort keys and this id.
#[derive(Debug, Clone, PartialEq)]
pub struct Seek {
    pub keys: Vec<KeyValue>,
    pub id: ObjectId,
}

/// How a list is paged besides offset and limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// Only rows after this one (cursor paging; the offset is 0 then).
    pub after: Option<Seek>,
    /// The change-log head the order is taken as of (from the token); `None` on a walk's
    /// first page: the store reads the head in the page's snapshot when the order needs it.
    pub head: Option<i64>,
    /// Counts the matches (false: the total is 0 and no count runs).
    pub count: bool,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            after: None,
            head: None,
            count: true,
        }
    }
}

/// An object whose sort keys changed since the walk's head.
#[derive(Debug, Clone, PartialEq)]
pub struct AsOf {
    pub id: ObjectId,
    /// `None`: the object did not exist (as this type) at the head; it is left out.
    /// Otherwise per order key: its value at the head, `None` when it has not changed.
    pub keys: Option<Vec<Option<KeyValue>>>,
}

/// Whether a key can change after an object is created.
pub fn is_mutable(key: &Key) -> bool {
    match key {
        Key::Double(_) | Key::Text(_) => true,
        Key::System(field) => *field == SystemField::UpdatedAt,
    }
}

/// Whether an order needs the change-log head to stay stable during a walk.
pub fn needs_head(order: &[Order]) -> bool {
    order.iter().any(|o| is_mutable(&o.key))
}

/// A key's name in the change log.
fn logged_name(key: &Key) -> Option<&str> {
    match key {
        Key::Double(n) | Key::Text(n) => Some(n),
        Key::System(SystemField::UpdatedAt) => Some("updatedAt"),
        Key::System(_) => None,
    }
}

/// The value a logged side (`null` or a property cell, or a system field's text) sorts by.
fn side_value(key: &Key, side: &Value) -> KeyValue {
    match key {
        Key::Double(_) => side
            .get("d")
            .and_then(Value::as_f64)
            .map_or(KeyValue::Null, KeyValue::Double),
        Key::Text(_) => side
            .get("v")
            .and_then(Value::as_str)
            .map_or(KeyValue::Null, |s| KeyValue::Text(s.to_owned())),
        Key::System(_) => side
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(KeyValue::Null, |t| KeyValue::Time(t.with_timezone(&Utc))),
    }
}

/// The objects of `object_type` whose sort keys changed in `changes` (the log after the
/// walk's head, oldest first: object, operation, `{"NAME": [from, to]}`), with their keys
/// as of the head. Changes of other types are skipped.
pub fn as_of<'a>(
    object_type: &str,
    order: &[Order],
    changes: impl IntoIterator<Item = (ObjectId, &'a str, &'a str, &'a Map<String, Value>)>,
) -> Vec<AsOf> {
    let mut out: Vec<AsOf> = Vec::new();
    let mut at: std::collections::HashMap<ObjectId, usize> = std::collections::HashMap::new();
    for (id, ty, operation, diff) in changes {
        if ty != object_type {
            continue;
        }
        let i = match at.get(&id) {
            Some(&i) => i,
            None => {
                let created =
                    operation == super::changes::op::NEW_OBJECT || diff.contains_key("objectType");
                let touched = order
                    .iter()
                    .any(|o| logged_name(&o.key).is_some_and(|n| diff.contains_key(n)));
                if !created && !touched {
                    continue;
                }
                at.insert(id, out.len());
                out.push(AsOf {
                    id,
                    keys: (!created).then(|| vec![None; order.len()]),
                });
                out.len() - 1
            }
        };
        let Some(keys) = out[i].keys.as_mut() else {
            continue;
        };
        for (k, o) in order.iter().enumerate() {
            if keys[k].is_some() {
                continue;
            }
            if let Some(pair) = logged_name(&o.key).and_then(|n| diff.get(n)) {
                let from = pair.get(0).unwrap_or(&Value::Null);
                keys[k] = Some(side_value(&o.key, from));
            }
        }
    }
    out
}

/// One sort key as a renderer writes it.
pub struct KeyExpr {
    /// The value (NULL when the object lacks it).
    pub expr: String,
    /// How it is compared, `{}` standing for a value (a collation, `LOWER`).
    pub compare: String,
    pub descending: bool,
}

impl KeyExpr {
    fn cmp(&self, value: &str) -> String {
        self.compare.replace("{}", value)
    }
}

/// The condition "after `seek`" in the order `keys` (objects lacking a key last, in either
/// direction), ties by `id_column` ascending. `bind` binds a value and returns its SQL.
pub fn keyset(
    keys: &[KeyExpr],
    id_column: &str,
    seek: &Seek,
    bind: &mut dyn FnMut(&KeyValue) -> String,
) -> String {
    let mut terms = Vec::new();
    for i in 0..=keys.len() {
        // Nothing sorts after a missing value but other missing values.
        if i < keys.len() && matches!(seek.keys.get(i), None | Some(KeyValue::Null)) {
            continue;
        }
        let mut parts = Vec::new();
        for (k, v) in keys.iter().zip(&seek.keys).take(i) {
            parts.push(match v {
                KeyValue::Null => format!("{} IS NULL", k.expr),
                v => format!("{} = {}", k.cmp(&k.expr), k.cmp(&bind(v))),
            });
        }
        if i == keys.len() {
            parts.push(format!("{id_column} > {}", bind(&KeyValue::Int(seek.id))));
        } else {
            let k = &keys[i];
            let v = seek.keys.get(i).unwrap_or(&KeyValue::Null);
            let op = if k.descending { "<" } else { ">" };
            parts.push(format!(
                "({} IS NULL OR {} {op} {})",
                k.expr,
                k.cmp(&k.expr),
                k.cmp(&bind(v))
            ));
        }
        terms.push(format!("({})", parts.join(" AND ")));
    }
    format!("({})", terms.join(" OR "))
}

/// The objects changed since a walk's head as JSON rows for a page's statement to join
/// (both backends read them with their JSON functions): `i` the id, `x` 1 when it did not
/// exist at the head, and per sort key `cN` (it had the key) and `kN` (its value then).
pub fn anchor_rows(changed: &[AsOf]) -> Vec<Value> {
    changed
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("i".into(), a.id.into());
            m.insert("x".into(), i64::from(a.keys.is_none()).into());
            for (k, v) in a.keys.iter().flatten().enumerate() {
                m.insert(format!("c{k}"), i64::from(v.is_some()).into());
                m.insert(format!("k{k}"), v.as_ref().map_or(Value::Null, key_json));
            }
            Value::Object(m)
        })
        .collect()
}

fn key_json(v: &KeyValue) -> Value {
    match v {
        KeyValue::Null => Value::Null,
        KeyValue::Int(n) => (*n).into(),
        KeyValue::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        KeyValue::Text(t) => t.clone().into(),
        KeyValue::Time(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(name: &str) -> Vec<Order> {
        vec![Order {
            key: Key::Double(name.into()),
            descending: false,
        }]
    }

    #[test]
    fn the_first_change_after_the_head_gives_the_value_then() {
        let a = json!({"age": [{"t": "Integer", "v": "3", "d": 3.0}, {"t": "Integer", "v": "4", "d": 4.0}]});
        let b = json!({"age": [{"t": "Integer", "v": "4", "d": 4.0}, null]});
        let c =
            json!({"age": [null, {"t": "Integer", "v": "1", "d": 1.0}], "objectType": [null, "P"]});
        let other = json!({"name": [null, {"t": "String", "v": "x"}]});
        let (a, b, c, other) = (
            a.as_object().unwrap().clone(),
            b.as_object().unwrap().clone(),
            c.as_object().unwrap().clone(),
            other.as_object().unwrap().clone(),
        );
        let got = as_of(
            "P",
            &order("age"),
            vec![
                (1, "P", "saveProperties", &a),
                (1, "P", "saveProperties", &b),
                (2, "P", "newObject", &c),
                (3, "P", "saveProperties", &other),
                (4, "Q", "saveProperties", &a),
            ],
        );
        assert_eq!(
            got,
            vec![
                AsOf {
                    id: 1,
                    keys: Some(vec![Some(KeyValue::Double(3.0))])
                },
                AsOf { id: 2, keys: None },
            ]
        );
    }

    #[test]
    fn keyset_puts_missing_values_last_and_ties_by_id() {
        let keys = [KeyExpr {
            expr: "s0.v".into(),
            compare: "{}".into(),
            descending: true,
        }];
        let mut n = 0;
        let mut bind = |_: &KeyValue| {
            n += 1;
            format!("@P{n}")
        };
        let seek = Seek {
            keys: vec![KeyValue::Double(2.0)],
            id: 9,
        };
        assert_eq!(
            keyset(&keys, "o.ObjectId", &seek, &mut bind),
            "(((s0.v IS NULL OR s0.v < @P1)) OR (s0.v = @P2 AND o.ObjectId > @P3))"
        );
        let seek = Seek {
            keys: vec![KeyValue::Null],
            id: 9,
        };
        assert_eq!(
            keyset(&keys, "o.ObjectId", &seek, &mut bind),
            "((s0.v IS NULL AND o.ObjectId > @P4))"
        );
    }
}
