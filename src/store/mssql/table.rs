//! Table views on SQL Server: one batch counts the matches and picks the page of objects
//! (filtered, sorted, `OFFSET ... FETCH`), a second reads the page's properties.
//!
//! The shape is the embedded store's: each equality filter is an inner join on
//! `Properties` that seeks the `(PropertyName, PropertyAsDouble)` or
//! `(PropertyName, PropertyValuePrefix)` index, each sort key a left join on the clustered
//! key `(OwnerObjectId, PropertyName)`. Conditional aggregation (`MAX(CASE WHEN ...)` over
//! every property of every candidate) would read all properties of the type before
//! filtering; the joins read only the rows that decide.

use std::collections::HashMap;
use std::sync::Arc;

use super::builders::{id_chunks, int_params, page_properties};
use super::exec::{self, Param};
use super::pool::{Client, Fail};
use super::walk::{self, Stable};
use crate::model::ObjectId;
use crate::query::plan::{Cmp, Cond, Test};
use crate::store::sqlite::projection::{CountShape, Layout};
use crate::store::{FilterValue, Key, ObjectRecord, Page, SystemField, TableQuery};

/// The case-insensitive text order: `LOWER` under this collation, then code-unit order
/// (SQLite's `NOCASE` folds ASCII only; SQL Server's `LOWER` also folds other letters,
/// Babelfish's under a binary collation does not). Both sides of a comparison are folded
/// under it (`walk::key_expr`), never one under the database's default collation.
pub(super) const TEXT_ORDER: &str = "COLLATE Latin1_General_100_BIN2";

/// More requested columns than this are filtered after reading, not in SQL.
const MAX_COLUMN_PARAMS: usize = 256;

/// Parameters as they are bound, named `@P1, @P2, ...` in order.
#[derive(Debug, Default)]
pub(super) struct Binder {
    pub(super) params: Vec<Param>,
}

impl Binder {
    pub(super) fn bind(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        format!("@P{}", self.params.len())
    }
}

/// The batch of a table view and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSql {
    pub sql: String,
    pub params: Vec<Param>,
    /// False when `limit` is 0: the batch only counts.
    pub paged: bool,
}

pub(super) fn system_column(field: SystemField) -> &'static str {
    match field {
        SystemField::ObjectId => "o.ObjectId",
        SystemField::ObjectType => "o.ObjectType",
        SystemField::ObjectNumber => "o.ObjectNumber",
        SystemField::CreatedAt => "o.CreatedAt",
        SystemField::UpdatedAt => "o.UpdatedAt",
    }
}

/// Text of a number as SQLite would compare it with a text column (`10.0`).
fn number_text(d: f64) -> String {
    format!("{d:?}")
}

/// `column = value` for exact text: `=` ignores trailing spaces, the lengths do not.
pub(super) fn text_equals(column: &str, value: &str) -> String {
    format!("{column} = {value} AND DATALENGTH({column}) = DATALENGTH({value})")
}

/// The condition of one filter on a system field.
fn system_filter(b: &mut Binder, field: SystemField, value: &FilterValue) -> String {
    let column = system_column(field);
    match (field, value) {
        (SystemField::ObjectId, FilterValue::Double(d)) => {
            if d.fract() == 0.0 && d.abs() < 9.0e15 {
                format!("{column} = {}", b.bind(*d as i64))
            } else {
                format!("{column} = {}", b.bind(*d))
            }
        }
        (SystemField::ObjectId, FilterValue::Text(t)) => match t.trim().parse::<i64>() {
            Ok(id) => format!("{column} = {}", b.bind(id)),
            Err(_) => "1 = 0".into(),
        },
        (SystemField::CreatedAt | SystemField::UpdatedAt, FilterValue::Double(ms)) => format!(
            "DATEDIFF_BIG(millisecond, CAST('1970-01-01' AS datetime2(3)), {column}) = {}",
            b.bind(*ms)
        ),
        (SystemField::CreatedAt | SystemField::UpdatedAt, FilterValue::Text(t)) => format!(
            "{column} = TRY_CONVERT(datetime2(3), {}, 127)",
            b.bind(t.as_str())
        ),
        (_, FilterValue::Text(t)) => text_equals(column, &b.bind(t.as_str())),
        (_, FilterValue::Double(d)) => text_equals(column, &b.bind(number_text(*d))),
    }
}

/// The condition of one filter on projected property column `k` (its row is `pj`): what the
/// EAV filter's inner join tests, and false where it finds no row (a NULL column).
fn projected_filter(
    b: &mut Binder,
    key: &Key,
    k: usize,
    by_value: bool,
    value: &FilterValue,
) -> String {
    match (key, value) {
        (Key::Double(_), FilterValue::Double(d)) => format!("pj.d{k} = {}", b.bind(*d)),
        (Key::Double(_), FilterValue::Text(t)) => match t.trim().parse::<f64>() {
            Ok(d) => format!("pj.d{k} = {}", b.bind(d)),
            Err(_) => "1 = 0".into(),
        },
        (_, value) => {
            let text = match value {
                FilterValue::Text(t) => t.clone(),
                FilterValue::Double(d) => number_text(*d),
            };
            let v = b.bind(text);
            let exact = text_equals(&format!("pj.v{k}"), &v);
            if by_value {
                exact
            } else {
                // What the projection's text indexes seek.
                format!("pj.p{k} = {} AND {exact}", super::projection::prefix_of(&v))
            }
        }
    }
}

/// The number of matches of `cond` over projection `table` from `dbo.ValueCounts`
/// (migration 0071) or `dbo.PairCounts` (0072), when they answer it (`Layout::count_shape`:
/// no filter, equalities or a list, or a range, on one counted column; equalities of a
/// counted pair's first column with equalities, a list or a range of its second): the sum
/// of a few counts, each of up to `projection::STRIPES` rows. A text is counted by its
/// exact value (`Number` its `DATALENGTH`, as [`text_equals`] compares). `None`: the rows
/// are counted.
pub(super) fn value_count(
    b: &mut Binder,
    table: i64,
    layout: &Layout,
    cond: Option<&Cond>,
) -> Option<String> {
    let shape = layout.count_shape(cond)?;
    if let CountShape::Pair(first, second) = shape {
        let (ka, kb) = (first.column(), second.column());
        // A longer text than a pair's count keeps (`projection::PAIR_TEXT`) counts the rows.
        let longest = super::projection::PAIR_TEXT;
        if too_long(&first, longest) || too_long(&second, longest) {
            return None;
        }
        let a = counted_values(b, "pc.NumberA", "pc.TextA", *first);
        let then = counted_values(b, "pc.NumberB", "pc.TextB", *second);
        return Some(format!(
            "SELECT COALESCE(SUM(pc.Total), 0)\nFROM dbo.PairCounts AS pc\n\
             WHERE pc.TableNo = {table} AND pc.ColumnA = {ka} AND pc.ColumnB = {kb}{a}{then}"
        ));
    }
    let column = shape.column();
    // A text longer than the projection's prefix has no count row (`value_grouped` counts
    // a row only when its whole text is in `p<k>`): such an equality counts the rows.
    if too_long(&shape, super::projection::PREFIX) {
        return None;
    }
    let test = counted_values(b, "vc.Number", "vc.Text", shape);
    Some(format!(
        "SELECT COALESCE(SUM(vc.Total), 0)\nFROM dbo.ValueCounts AS vc\n\
         WHERE vc.TableNo = {table} AND vc.ColumnNo = {column}{test}"
    ))
}

/// `shape` names a text longer than `longest` UTF-16 units: no count row holds it.
fn too_long(shape: &CountShape, longest: usize) -> bool {
    matches!(shape, CountShape::Texts(_, values)
        if values.iter().any(|t| t.encode_utf16().count() > longest))
}

/// The test of a count row's `number` and `text` columns that `shape` (of one column)
/// makes.
fn counted_values(b: &mut Binder, number: &str, text: &str, shape: CountShape) -> String {
    match shape {
        CountShape::Total | CountShape::Pair(..) => String::new(),
        // A few numbers bound as they are (as the page binds them); more as one JSON list.
        CountShape::Numbers(_, values) if values.len() <= 16 => {
            let bound: Vec<String> = values.into_iter().map(|v| b.bind(v)).collect();
            format!(" AND {number} IN ({})", bound.join(", "))
        }
        CountShape::Numbers(_, values) => {
            let list = crate::query::plan::json_numbers(&values);
            format!(
                " AND {number} IN (SELECT CAST(j.[value] AS float) FROM OPENJSON({}) AS j)",
                b.bind(list)
            )
        }
        CountShape::Texts(_, values) => {
            let tests: Vec<String> = values
                .into_iter()
                .map(|t| {
                    let v = b.bind(t);
                    format!("({number} = DATALENGTH({v}) AND {text} = {v})")
                })
                .collect();
            format!(" AND ({})", tests.join(" OR "))
        }
        CountShape::Range(_, tests) => tests
            .into_iter()
            .map(|(cmp, value)| format!(" AND {number} {} {}", cmp.sql(), b.bind(value)))
            .collect(),
    }
}

/// The filters of a table view as a condition of the language, when each one is an
/// equality of a projected property as its test reads it; else `None`.
fn filters_cond(q: &TableQuery, layout: &Layout) -> Option<Cond> {
    let mut tests = Vec::new();
    for f in &q.filters {
        let test = match (&f.key, &f.value) {
            (Key::Double(name), FilterValue::Double(d)) => Test::Double {
                property: name.clone(),
                cmp: Cmp::Eq,
                value: *d,
            },
            (Key::Text(name), FilterValue::Text(t)) => Test::Text {
                property: name.clone(),
                cmp: Cmp::Eq,
                value: t.clone(),
            },
            _ => return None,
        };
        layout.column(test.property()?)?;
        tests.push(Cond::Test {
            hops: Vec::new(),
            test,
        });
    }
    Some(Cond::And(tests))
}

/// Builds the count (and, with a limit, the page) of a table view.
#[cfg(test)]
pub fn build(q: &TableQuery) -> TableSql {
    build_walk(q, &Stable::default(), None, false)
}

/// The projection column `k` of a property of the viewed type, when `proj` holds it.
fn projected(proj: Option<&(i64, Arc<Layout>)>, name: &str) -> Option<(usize, bool)> {
    proj.and_then(|(_, layout)| layout.column(name))
        .map(|c| (c.no, c.by_value))
}

/// As [`build`], the order as of a walk's head; the page has one row more than the limit
/// and the sort keys' values after the object's columns. Without `walk.count`, no count.
///
/// With the complete projection `proj` (table number, layout) of the viewed type, a filter
/// or sort key on a projected property reads its columns on the projection's row (`pj`)
/// instead of joining its EAV row: the same values (`v<k>` is `PropertyValue`, `d<k>`
/// `PropertyAsDouble`), NULL where the EAV join finds no row, so the same rows in the same
/// order; the others join their EAV rows as before.
///
/// With `counts` (the projection's value counts are kept, migration 0071), a view without
/// a parent whose filters are none, or equalities on one counted column, is counted from
/// `dbo.ValueCounts` ([`value_count`]).
pub fn build_walk(
    q: &TableQuery,
    stable: &Stable,
    proj: Option<(i64, Arc<Layout>)>,
    counts: bool,
) -> TableSql {
    let proj = proj.as_ref();
    let mut b = Binder::default();
    let counted = match proj {
        Some((table, layout)) if counts && q.walk.count && q.parent_id.is_none() => {
            filters_cond(q, layout)
                .and_then(|cond| value_count(&mut b, *table, layout, Some(&cond)))
        }
        _ => None,
    };
    let mut joins = String::new();
    let uses_proj = q
        .filters
        .iter()
        .map(|f| &f.key)
        .chain(q.order.iter().map(|o| &o.key))
        .any(|k| match k {
            Key::Double(name) | Key::Text(name) => projected(proj, name).is_some(),
            Key::System(_) => false,
        });
    if let (Some((table, _)), true) = (proj, uses_proj) {
        joins.push_str(&format!(
            "\nJOIN dbo.Proj_{table} AS pj ON pj.ObjectId = o.ObjectId"
        ));
    }
    if let Some(parent) = q.parent_id {
        joins.push_str(&format!(
            "\nJOIN dbo.Relationships AS rp ON rp.ChildObjectId = o.ObjectId AND rp.ParentObjectId = {}",
            b.bind(parent)
        ));
    }
    let mut conditions = vec![format!("o.ObjectType = {}", b.bind(q.object_type.as_str()))];
    for (i, f) in q.filters.iter().enumerate() {
        let (name, test) = match (&f.key, &f.value) {
            (Key::System(field), value) => {
                conditions.push(system_filter(&mut b, *field, value));
                continue;
            }
            (Key::Double(name) | Key::Text(name), value) if projected(proj, name).is_some() => {
                let (k, by_value) = projected(proj, name).unwrap_or_default();
                conditions.push(projected_filter(&mut b, &f.key, k, by_value, value));
                continue;
            }
            (Key::Double(name), FilterValue::Double(d)) => {
                let name = b.bind(name.as_str());
                (name, format!("f{i}.PropertyAsDouble = {}", b.bind(*d)))
            }
            (Key::Double(name), FilterValue::Text(t)) => {
                let name = b.bind(name.as_str());
                match t.trim().parse::<f64>() {
                    Ok(d) => (name, format!("f{i}.PropertyAsDouble = {}", b.bind(d))),
                    Err(_) => (name, "1 = 0".into()),
                }
            }
            (Key::Text(name), value) => {
                let name = b.bind(name.as_str());
                let text = match value {
                    FilterValue::Text(t) => t.clone(),
                    FilterValue::Double(d) => number_text(*d),
                };
                let v = b.bind(text);
                let column = format!("f{i}.PropertyValue");
                (
                    name,
                    format!(
                        "f{i}.PropertyValuePrefix = {} AND {}",
                        super::projection::prefix_of(&v),
                        text_equals(&column, &v)
                    ),
                )
            }
        };
        joins.push_str(&format!(
            "\nJOIN dbo.Properties AS f{i} ON f{i}.OwnerObjectId = o.ObjectId AND f{i}.PropertyName = {name} AND {test}"
        ));
    }
    let where_clause = format!("\nWHERE {}", conditions.join(" AND "));
    let mut sql = if let Some(count) = counted {
        count
    } else if q.walk.count {
        format!("SELECT COUNT_BIG(*)\nFROM dbo.Objects AS o{joins}{where_clause}")
    } else {
        "SELECT CAST(0 AS bigint)".to_string()
    };
    let paged = q.limit > 0;
    if paged {
        let (mut sort_joins, as_of_cond) = stable.join(&mut b, &q.order, "o.ObjectId");
        let mut order = Vec::new();
        let mut keys = Vec::new();
        let mut key_columns = String::new();
        for (i, o) in q.order.iter().enumerate() {
            let dir = if o.descending { "DESC" } else { "ASC" };
            let current = match &o.key {
                Key::System(field) => system_column(*field).to_string(),
                Key::Double(name) | Key::Text(name) if projected(proj, name).is_some() => {
                    let (k, _) = projected(proj, name).unwrap_or_default();
                    let kind = if matches!(o.key, Key::Double(_)) {
                        'd'
                    } else {
                        'v'
                    };
                    format!("pj.{kind}{k}")
                }
                Key::Double(name) | Key::Text(name) => {
                    sort_joins.push_str(&format!(
                        "\nLEFT JOIN dbo.Properties AS s{i} ON s{i}.OwnerObjectId = o.ObjectId AND s{i}.PropertyName = {}",
                        b.bind(name.as_str())
                    ));
                    if matches!(o.key, Key::Double(_)) {
                        format!("s{i}.PropertyAsDouble")
                    } else {
                        format!("s{i}.PropertyValue")
                    }
                }
            };
            let nullable = match &o.key {
                Key::System(field) => {
                    *field == SystemField::ObjectNumber || !stable.changed.is_empty()
                }
                _ => true,
            };
            let key = walk::key_expr(&o.key, stable.effective(i, &o.key, &current), o.descending);
            // Objects without the value come last in either direction.
            if nullable {
                order.push(format!("CASE WHEN {} IS NULL THEN 1 ELSE 0 END", key.expr));
            }
            order.push(format!("{} {dir}", key.compare.replace("{}", &key.expr)));
            key_columns.push_str(&format!(", {} AS k{i}", key.expr));
            keys.push(key);
        }
        order.push("o.ObjectId ASC".into());
        let mut tail = as_of_cond;
        if let Some(seek) = &q.walk.after {
            tail.push_str(&walk::keyset(&mut b, &keys, "o.ObjectId", seek));
        }
        let offset = b.bind(q.offset.min(i64::MAX as u64) as i64);
        let limit = b.bind(q.limit.saturating_add(1).min(i64::MAX as u64) as i64);
        sql.push_str(&format!(
            ";\nSELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt{key_columns}\n\
             FROM dbo.Objects AS o{joins}{sort_joins}{where_clause}{tail}\nORDER BY {}\n\
             OFFSET {offset} ROWS FETCH NEXT {limit} ROWS ONLY",
            order.join(", ")
        ));
    }
    TableSql {
        sql,
        params: b.params,
        paged,
    }
}

/// A table view: over the type's complete projection where it holds the filtered and
/// sorted properties, else over the EAV rows.
pub async fn list_table(c: &mut Client, q: &TableQuery) -> Result<Page, Fail> {
    let (proj, counts) = match super::projection::complete_counted(c, &q.object_type).await? {
        Some((p, counted)) => (Some(p), counted),
        None => (None, false),
    };
    list_table_with(c, q, proj, counts).await
}

/// [`list_table`] with the projection given (or none: the EAV plan), and whether its
/// counts are kept.
pub async fn list_table_with(
    c: &mut Client,
    q: &TableQuery,
    proj: Option<(i64, Arc<Layout>)>,
    counts: bool,
) -> Result<Page, Fail> {
    let stable = walk::stable(c, &q.object_type, &q.order, &q.walk).await?;
    let built = build_walk(q, &stable, proj, counts);
    let mut sets = exec::sets(c, &built.sql, built.params).await?.into_iter();
    let total = match sets.next().and_then(|s| s.into_iter().next()) {
        Some(row) => exec::req::<i64>(&row, 0)?,
        None => 0,
    };
    let (objects, next) = page_rows(sets.next().unwrap_or_default(), &q.order, q.limit)?;
    let objects = with_properties(c, objects, q.columns.as_deref()).await?;
    Ok(Page {
        objects,
        total: total.max(0) as u64,
        next,
        head: stable.head,
    })
}

/// The objects of a page read with one row more than `limit`, and where the next page
/// starts when there is one.
pub(super) fn page_rows(
    rows: Vec<tiberius::Row>,
    order: &[crate::store::Order],
    limit: u64,
) -> Result<(Vec<ObjectRecord>, Option<crate::store::Seek>), Fail> {
    let mut objects = Vec::new();
    let mut next = None;
    for (n, row) in rows.iter().enumerate() {
        if n as u64 == limit {
            break;
        }
        let object = exec::object_from_row(row, 0)?;
        if n as u64 + 1 == limit && rows.len() as u64 > limit {
            next = Some(walk::seek_of(row, 5, order, object.id)?);
        }
        objects.push(object);
    }
    Ok((objects, next))
}

/// Reads the properties of a page of objects (only `columns` when given) and attaches them.
pub async fn with_properties(
    c: &mut Client,
    mut objects: Vec<ObjectRecord>,
    columns: Option<&[String]>,
) -> Result<Vec<ObjectRecord>, Fail> {
    if objects.is_empty() || columns.is_some_and(|c| c.is_empty()) {
        return Ok(objects);
    }
    let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
    let position: HashMap<ObjectId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let in_sql = columns.filter(|c| c.len() <= MAX_COLUMN_PARAMS);
    for chunk in id_chunks(&ids) {
        let mut params = int_params(&chunk);
        let mut names = in_sql.map(<[String]>::to_vec).unwrap_or_default();
        if let Some(last) = names.last().cloned() {
            names.resize(names.len().next_power_of_two(), last);
        }
        let sql = page_properties(chunk.len(), in_sql.map(|_| names.len()));
        params.extend(names.into_iter().map(Param::Text));
        for row in exec::rows(c, &sql, params).await? {
            let owner: ObjectId = exec::req(&row, 0)?;
            let property = exec::property_from_row(&row, 1)?;
            if columns.is_some_and(|c| !c.contains(&property.name)) {
                continue;
            }
            if let Some(&i) = position.get(&owner) {
                objects[i].properties.push(property);
            }
        }
    }
    Ok(objects)
}
