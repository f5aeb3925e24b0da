//! The query language on the embedded store: a [`QueryPlan`] rendered as SQLite SQL.
//!
//! Every property name, type name, JSON path and value is a bound `?` parameter; only
//! generated aliases and fixed keywords are spliced into the text. A positive test on the
//! object's own property at the top level becomes a JOIN (so the planner may start from the
//! most selective index); every other test is `o.ObjectId IN (subquery)`, nested once per
//! hop (Lookup, JsonArray of ids, children, parents).

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::counts::Snapshot;
use super::objects::object_from_row;
use super::table::{next_of, version_of, with_properties};
use super::walk::{self, Stable};
use crate::query::plan::{Cmp, Cond, Hop, QueryPlan, Scalar, SystemValue, Test};
use crate::store::{Key, Order, Page, StoreError, SystemField};

/// Most top-level tests rendered as joins.
pub(super) const MAX_JOINS: usize = 16;

/// Kilometres per degree of latitude (mean Earth radius 6371.0088 km).
const KM_PER_DEGREE: f64 = 111.195;

/// SQL text with its parameters, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Fragment {
    pub sql: String,
    pub params: Vec<Sql>,
}

impl Fragment {
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    pub(super) fn bind(&mut self, value: Sql) -> &mut Self {
        self.sql.push('?');
        self.params.push(value);
        self
    }

    pub(super) fn append(&mut self, other: Fragment) -> &mut Self {
        self.sql.push_str(&other.sql);
        self.params.extend(other.params);
        self
    }
}

/// The statements of one query: the page and the count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    pub page: Fragment,
    pub count: Fragment,
}

pub(super) fn text(s: &str) -> Sql {
    Sql::Text(s.to_owned())
}

pub(crate) fn system_column(field: SystemField, alias: &str) -> String {
    let column = match field {
        SystemField::ObjectId => "ObjectId",
        SystemField::ObjectType => "ObjectType",
        SystemField::ObjectNumber => "ObjectNumber",
        SystemField::CreatedAt => "CreatedAt",
        SystemField::UpdatedAt => "UpdatedAt",
    };
    format!("{alias}.{column}")
}

/// Generates unique aliases.
#[derive(Default)]
pub(super) struct Renderer {
    next: usize,
}

impl Renderer {
    pub(super) fn alias(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// `expr <cmp> value` for a text expression (which may hold parameters of its own).
    pub(super) fn text_predicate(
        &mut self,
        f: &mut Fragment,
        expr: &Fragment,
        cmp: Cmp,
        value: &str,
    ) {
        match cmp {
            Cmp::StartsWith => {
                // A range the index can use: every text starting with the prefix sorts in it.
                f.append(expr.clone()).push(" >= ").bind(text(value));
                f.push(" AND ").append(expr.clone()).push(" < ");
                f.bind(Sql::Text(format!("{value}\u{10FFFF}")));
            }
            Cmp::Like => {
                f.push("ds_icontains(")
                    .append(expr.clone())
                    .push(", ")
                    .bind(text(value))
                    .push(")");
            }
            _ => {
                f.append(expr.clone())
                    .push(&format!(" {} ", cmp.sql()))
                    .bind(text(value));
            }
        }
    }

    pub(super) fn scalar_predicate(
        &mut self,
        f: &mut Fragment,
        expr: &Fragment,
        cmp: Cmp,
        value: &Scalar,
    ) {
        match value {
            Scalar::Text(s) => self.text_predicate(f, expr, cmp, s),
            Scalar::Double(d) => {
                f.append(expr.clone())
                    .push(&format!(" {} ", numeric_op(cmp)))
                    .bind(Sql::Real(*d));
            }
            Scalar::Bool(b) => {
                f.append(expr.clone())
                    .push(&format!(" {} ", numeric_op(cmp)))
                    .bind(Sql::Integer(i64::from(*b)));
            }
        }
    }

    /// `SELECT <owner> ...` of the objects passing `test`.
    fn owners(&mut self, test: &Test) -> Fragment {
        let mut f = Fragment::default();
        if let Test::System { field, cmp, value } = test {
            let x = self.alias("x");
            f.push(&format!("SELECT {x}.ObjectId FROM Objects {x} WHERE "));
            self.system_predicate(&mut f, &x, *field, *cmp, value);
            return f;
        }
        // Every other test names a property.
        let property = test.property().unwrap_or_default();
        let p = self.alias("p");
        f.push(&format!(
            "SELECT {p}.OwnerObjectId FROM Properties {p} WHERE "
        ));
        self.property_predicate(&mut f, &p, property, test, true);
        f
    }

    /// `p.PropertyName = ? AND <the test on p's columns>`. When `indexed` is false the
    /// value columns are written `+column`, which keeps the planner from starting there.
    fn property_predicate(
        &mut self,
        f: &mut Fragment,
        p: &str,
        property: &str,
        test: &Test,
        indexed: bool,
    ) {
        let plus = if indexed { "" } else { "+" };
        f.push(&format!("{p}.PropertyName = ")).bind(text(property));
        match test {
            Test::Has(_) | Test::System { .. } => {}
            Test::Double { cmp, value, .. } => {
                f.push(&format!(
                    " AND {plus}{p}.PropertyAsDouble {} ",
                    numeric_op(*cmp)
                ))
                .bind(Sql::Real(*value));
            }
            Test::OneOf { values, .. } => {
                f.push(&format!(
                    " AND {plus}{p}.PropertyAsDouble IN (SELECT value FROM json_each("
                ))
                .bind(Sql::Text(crate::query::plan::json_numbers(values)))
                .push("))");
            }
            Test::Text { cmp, value, .. } => {
                f.push(" AND ");
                let expr = column(&format!("{plus}{p}.PropertyValue"));
                self.text_predicate(f, &expr, *cmp, value);
            }
            Test::Element { cmp, value, .. } => {
                let e = self.alias("e");
                f.push(&format!(
                    " AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({p}.PropertyValue) THEN {p}.PropertyValue ELSE '[]' END) {e} WHERE {e}.type {} AND ",
                    match value {
                        Scalar::Text(_) => "= 'text'",
                        Scalar::Double(_) => "IN ('integer', 'real')",
                        Scalar::Bool(_) => "IN ('true', 'false')",
                    }
                ));
                self.scalar_predicate(f, &column(&format!("{e}.value")), *cmp, value);
                f.push(")");
            }
            Test::MapValue {
                key, cmp, value, ..
            } => {
                let path = format!("$.{}", serde_json::Value::String(key.clone()));
                let mut expr = Fragment::default();
                expr.push(&format!(
                    "json_extract(CASE WHEN json_valid({p}.PropertyValue) THEN {p}.PropertyValue END, "
                ))
                .bind(Sql::Text(path))
                .push(")");
                f.push(" AND ");
                self.scalar_predicate(f, &expr, *cmp, value);
            }
        }
    }

    pub(super) fn system_predicate(
        &mut self,
        f: &mut Fragment,
        alias: &str,
        field: SystemField,
        cmp: Cmp,
        value: &SystemValue,
    ) {
        let column = system_column(field, alias);
        match value {
            SystemValue::Integer(n) => {
                f.push(&format!("{column} {} ", numeric_op(cmp)))
                    .bind(Sql::Integer(*n));
            }
            SystemValue::Text(s) => self.text_predicate(f, &self::column(&column), cmp, s),
            SystemValue::Instant(t) => {
                let stored = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                f.push(&format!("{column} {} ", numeric_op(cmp)))
                    .bind(Sql::Text(stored));
            }
        }
    }

    /// Wraps the ids of objects passing the test in the hops, innermost last.
    pub(super) fn chain(&mut self, hops: &[Hop], test: &Test) -> Fragment {
        let mut inner = self.owners(test);
        for hop in hops.iter().rev() {
            let mut f = Fragment::default();
            match hop {
                Hop::Lookup(property) => {
                    let h = self.alias("h");
                    // `+PropertyName`: the rows come from the Lookups' partial index
                    // `(PropertyAsDouble) WHERE PropertyType = 'Lookup'`, which holds the
                    // name and the owner (the table's key) and so answers the hop alone, a
                    // few entries per target; `(PropertyName, PropertyAsDouble)` holds no
                    // type, so each of its matches read its row (the path's 94 companies:
                    // 88 pages after a write against 7, docs/BENCHMARKS.md).
                    f.push(&format!(
                        "SELECT {h}.OwnerObjectId FROM Properties {h} WHERE +{h}.PropertyName = "
                    ))
                    .bind(text(property))
                    .push(&format!(
                        " AND {h}.PropertyType = 'Lookup' AND {h}.PropertyAsDouble IN ("
                    ));
                }
                Hop::IdArray(property) => {
                    let (h, e) = (self.alias("h"), self.alias("e"));
                    f.push(&format!(
                        "SELECT {h}.OwnerObjectId FROM Properties {h}, json_each(CASE WHEN json_valid({h}.PropertyValue) THEN {h}.PropertyValue ELSE '[]' END) {e} WHERE {h}.PropertyName = "
                    ))
                    .bind(text(property))
                    .push(&format!(" AND CAST({e}.value AS INTEGER) IN ("));
                }
                Hop::Children(object_type) | Hop::Parents(object_type) => {
                    let (r, t) = (self.alias("r"), self.alias("t"));
                    let (me, other) = if matches!(hop, Hop::Children(_)) {
                        ("ParentObjectId", "ChildObjectId")
                    } else {
                        ("ChildObjectId", "ParentObjectId")
                    };
                    f.push(&format!(
                        "SELECT {r}.{me} FROM Relationships {r} JOIN Objects {t} ON {t}.ObjectId = {r}.{other} WHERE {t}.ObjectType = "
                    ))
                    .bind(text(object_type))
                    .push(&format!(" AND {r}.{other} IN ("));
                }
            }
            f.append(inner).push(")");
            inner = f;
        }
        inner
    }

    fn cond(&mut self, c: &Cond) -> Fragment {
        let mut f = Fragment::default();
        match c {
            Cond::And(items) | Cond::Or(items) => {
                let glue = if matches!(c, Cond::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                f.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.push(glue);
                    }
                    let part = self.cond(item);
                    f.append(part);
                }
                f.push(")");
            }
            Cond::Not(inner) => {
                f.push("NOT (");
                let part = self.cond(inner);
                f.append(part).push(")");
            }
            Cond::Test {
                hops,
                test: Test::System { field, cmp, value },
            } if hops.is_empty() => {
                self.system_predicate(&mut f, "o", *field, *cmp, value);
            }
            Cond::Test { hops, test } => {
                f.push("o.ObjectId IN (");
                let chain = self.chain(hops, test);
                f.append(chain).push(")");
            }
        }
        f
    }
}

/// The value column of sort key number `i` (without its collation), adding the LEFT JOIN
/// (`s{i}`) of its property to `joins`.
pub(crate) fn sort_column(i: usize, o: &Order, joins: &mut Fragment) -> String {
    match &o.key {
        Key::System(field) => system_column(*field, "o"),
        Key::Double(name) | Key::Text(name) => {
            joins
                .push(&format!(
                    " LEFT JOIN Properties s{i} ON s{i}.OwnerObjectId = o.ObjectId AND s{i}.PropertyName = "
                ))
                .bind(text(name));
            if matches!(o.key, Key::Double(_)) {
                format!("s{i}.PropertyAsDouble")
            } else {
                format!("s{i}.PropertyValue")
            }
        }
    }
}

/// A fragment of just a column or alias expression.
pub(super) fn column(expr: &str) -> Fragment {
    Fragment {
        sql: expr.to_owned(),
        params: Vec::new(),
    }
}

/// A positive test on the object's own property: rendered as a join.
pub(super) fn as_join(c: &Cond) -> Option<&Test> {
    match c {
        Cond::Test {
            hops,
            test: test @ (Test::Double { .. } | Test::Text { .. } | Test::Has(_)),
        } if hops.is_empty() => Some(test),
        _ => None,
    }
}

pub(super) fn numeric_op(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::StartsWith | Cmp::Like => "=",
        other => other.sql(),
    }
}

/// Renders the page and count statements of a plan.
#[cfg(test)]
pub(crate) fn render(plan: &QueryPlan) -> Rendered {
    render_walk(plan, &Stable::default())
}

/// Renders the page (one row more than the limit, with the sort keys' values after the
/// object's columns) and count statements of a plan, the order as of a walk's head.
pub(super) fn render_walk(plan: &QueryPlan, stable: &Stable) -> Rendered {
    let mut r = Renderer::default();
    let mut joins = Fragment::default();
    let mut conditions = Fragment::default();
    conditions
        .push(" WHERE o.ObjectType = ")
        .bind(text(&plan.object_type));

    // Top-level positive tests on the object's own properties become joins. Their rows
    // exist for every match, so an order by the same property can sort on them directly:
    // then the planner may walk that index in order and stop at the limit.
    let mut joined: Vec<(&str, Option<bool>, String)> = Vec::new();
    let top: Vec<&Cond> = match &plan.condition {
        Some(Cond::And(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let is_equality = |t: &Test| {
        matches!(
            t,
            Test::Double { cmp: Cmp::Eq, .. } | Test::Text { cmp: Cmp::Eq, .. }
        )
    };
    let has_equality = top.iter().filter_map(|c| as_join(c)).any(is_equality);
    // The first sort key, when it is also such a test.
    let sort_on: Option<&String> = plan.order.first().and_then(|o| match &o.key {
        Key::Double(name) | Key::Text(name) => top
            .iter()
            .filter_map(|c| as_join(c))
            .any(|t| t.property() == Some(name.as_str()))
            .then_some(name),
        Key::System(_) => None,
    });
    let mut count_joins = Fragment::default();
    for c in top {
        // SQLite joins at most 64 tables: past a few, tests stay subqueries.
        match as_join(c).filter(|_| joined.len() < MAX_JOINS) {
            Some(test) => {
                let property = test.property().unwrap_or_default();
                let alias = r.alias("p");
                let join =
                    format!(" JOIN Properties {alias} ON {alias}.OwnerObjectId = o.ObjectId AND ");
                // The page walks the sort property's index in order when it can (and stops
                // at the limit); the count visits every match and should start from an
                // equality when there is one.
                let page_indexed = sort_on.is_none_or(|name| name == property);
                joins.push(&join);
                r.property_predicate(&mut joins, &alias, property, test, page_indexed);
                let count_indexed = !has_equality || is_equality(test);
                count_joins.push(&join);
                r.property_predicate(&mut count_joins, &alias, property, test, count_indexed);
                let kind = match test {
                    Test::Double { .. } => Some(true),
                    Test::Text { .. } => Some(false),
                    _ => None,
                };
                joined.push((property, kind, alias));
            }
            None => {
                conditions.push(" AND ");
                let part = r.cond(c);
                conditions.append(part);
            }
        }
    }

    let mut near_join = Fragment::default();
    let mut distance = Fragment::default();
    if let Some(loc) = &plan.location {
        match loc.radius_km {
            Some(km) => {
                let l = r.alias("l");
                let band = km / KM_PER_DEGREE;
                conditions
                    .push(&format!(" AND o.ObjectId IN (SELECT {l}.OwnerObjectId FROM Properties {l} WHERE {l}.PropertyName = "))
                    .bind(text(&loc.property))
                    .push(&format!(" AND {l}.PropertyAsDouble BETWEEN "))
                    .bind(Sql::Real(loc.lat - band))
                    .push(" AND ")
                    .bind(Sql::Real(loc.lat + band))
                    .push(&format!(" AND ds_distance_km({l}.PropertyValue, "))
                    .bind(Sql::Real(loc.lat))
                    .push(", ")
                    .bind(Sql::Real(loc.lng))
                    .push(") <= ")
                    .bind(Sql::Real(km))
                    .push(")");
            }
            None => {
                near_join
                    .push(" JOIN Properties loc ON loc.OwnerObjectId = o.ObjectId AND loc.PropertyName = ")
                    .bind(text(&loc.property));
                distance
                    .push("ds_distance_km(loc.PropertyValue, ")
                    .bind(Sql::Real(loc.lat))
                    .push(", ")
                    .bind(Sql::Real(loc.lng))
                    .push(") ASC");
            }
        }
    }

    let mut sort_joins = Fragment::default();
    let (as_of_join, as_of_cond) = stable.join("o.ObjectId");
    sort_joins.append(as_of_join);
    let mut order = Vec::new();
    let mut keys = Vec::new();
    let mut key_columns = String::new();
    let mut tie = "o.ObjectId".to_string();
    for (i, o) in plan.order.iter().enumerate() {
        let dir = if o.descending { "DESC" } else { "ASC" };
        let on_join = match &o.key {
            Key::Double(name) | Key::Text(name) => {
                let by_value = matches!(o.key, Key::Double(_));
                joined
                    .iter()
                    .find(|(p, kind, _)| *p == name.as_str() && kind.is_none_or(|k| k == by_value))
                    .map(|(_, _, alias)| (alias.clone(), by_value))
            }
            Key::System(_) => None,
        };
        let (current, plain) = match on_join {
            Some((alias, by_value)) => {
                if i == 0 {
                    tie = format!("{alias}.OwnerObjectId");
                }
                let column = if by_value {
                    "PropertyAsDouble"
                } else {
                    "PropertyValue"
                };
                // Every match has the row: no IS NULL term (unless a value as of the head
                // may be missing).
                (format!("{alias}.{column}"), stable.changed.is_empty())
            }
            None => (sort_column(i, o, &mut sort_joins), false),
        };
        let key = walk::key_expr(&o.key, stable.effective(i, &o.key, &current), o.descending);
        let compared = key.compare.replace("{}", &key.expr);
        if plain {
            order.push(format!("{compared} {dir}"));
        } else {
            order.push(format!("({}) IS NULL, {compared} {dir}", key.expr));
        }
        key_columns.push_str(&format!(", {} AS k{i}", key.expr));
        keys.push(key);
    }
    let mut tail = as_of_cond;
    if let Some(seek) = &plan.walk.after {
        walk::push_keyset(&mut tail, &keys, "o.ObjectId", seek);
    }

    let mut count = Fragment::default();
    count.push("SELECT COUNT(*) FROM Objects o");
    count
        .append(count_joins)
        .append(near_join.clone())
        .append(conditions.clone());

    let mut page = Fragment::default();
    page.push(&format!(
        "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt{key_columns}, o.Version FROM Objects o",
    ));
    page.append(joins)
        .append(near_join)
        .append(sort_joins)
        .append(conditions)
        .append(tail);
    page.push(" ORDER BY ");
    if !order.is_empty() {
        page.push(&order.join(", ")).push(", ");
    } else if !distance.sql.is_empty() {
        page.append(distance).push(", ");
    }
    page.push(&format!("{tie} ASC LIMIT "))
        .bind(Sql::Integer(
            plan.limit.saturating_add(1).min(i64::MAX as u64) as i64,
        ))
        .push(" OFFSET ")
        .bind(Sql::Integer(plan.offset.min(i64::MAX as u64) as i64));
    Rendered { page, count }
}

/// Runs a query: a page of objects (with `columns`, or all properties) and the total.
pub(super) fn run(
    s: &mut Snapshot<'_>,
    plan: &QueryPlan,
    columns: Option<&[String]>,
) -> Result<Page, StoreError> {
    if let Some(page) = super::projected::query(s, plan, columns)? {
        return Ok(page);
    }
    run_eav(s, plan, columns)
}

/// Runs a query over the EAV rows (the plan every query has; see `projected.rs`).
pub(super) fn run_eav(
    s: &mut Snapshot<'_>,
    plan: &QueryPlan,
    columns: Option<&[String]>,
) -> Result<Page, StoreError> {
    let stable = walk::stable(s, &plan.object_type, &plan.order, &plan.walk)?;
    let rendered = render_walk(plan, &stable);
    let mut total = if plan.walk.count {
        s.count(&rendered.count.sql, &rendered.count.params)?
    } else {
        0
    };
    let conn = s.conn;
    let near = plan
        .location
        .as_ref()
        .is_some_and(|l| l.radius_km.is_none());
    if near {
        total = total.min(crate::query::resolve::MAX_NEAR);
    }
    let page = &rendered.page;
    let mut rows = super::literal::with_statement(conn, &page.sql, &page.params, |s, p| {
        Ok(s.query_map(params_from_iter(p.iter()), |r| {
            let object = object_from_row(r)?;
            let seek = walk::seek_of(r, 5, &plan.order, object.id)?;
            Ok(((object, version_of(r)?), seek))
        })?
        .collect::<Result<Vec<_>, _>>()?)
    })?;
    let mut next = next_of(&mut rows, plan.limit);
    if near {
        // Sorted by distance: no cursor (at most 100 anyway).
        next = None;
    }
    let (objects, versions) = rows.into_iter().map(|(o, _)| o).unzip();
    Ok(Page {
        objects: with_properties(conn, s.properties(), objects, versions, columns)?,
        total,
        next,
        head: stable.head,
    })
}

/// Registers the functions the rendered SQL calls.
pub(super) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("ds_icontains", 2, flags, |ctx| {
        let haystack: Option<String> = ctx.get(0)?;
        let needle: Option<String> = ctx.get(1)?;
        Ok(match (haystack, needle) {
            (Some(h), Some(n)) => h.to_lowercase().contains(&n.to_lowercase()),
            _ => false,
        })
    })?;
    conn.create_scalar_function("ds_distance_km", 3, flags, |ctx| {
        let value: Option<String> = ctx.get(0)?;
        let (lat, lng): (f64, f64) = (ctx.get(1)?, ctx.get(2)?);
        Ok(value
            .as_deref()
            .and_then(location_of)
            .map(|(a, b)| distance_km(a, b, lat, lng)))
    })?;
    Ok(())
}

/// The (lat, lng) of a stored Location value.
fn location_of(value: &str) -> Option<(f64, f64)> {
    let v: serde_json::Value = serde_json::from_str(value).ok()?;
    Some((v.get("lat")?.as_f64()?, v.get("lng")?.as_f64()?))
}

/// Great-circle distance (haversine), in km.
pub(crate) fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().asin()
}
