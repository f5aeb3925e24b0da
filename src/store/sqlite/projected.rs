//! Queries and table views over a projection (see `projection.rs`): the same answers as
//! the EAV plan of `query.rs` / `table.rs`, from one row per object.
//!
//! Used when the type's projection is complete and every property of the root type the
//! query tests or sorts by is projected; anything else renders over EAV as before. Paths
//! start from the root row: a Lookup hop is `d<k> IN (the EAV chain of the rest)`, other hops
//! are EAV subqueries joined by id. What stays the same as the EAV plan, exactly:
//! - values: `v<k>` is `PropertyValue`, `d<k>` is `PropertyAsDouble`, compared as there;
//! - nulls: an EAV test is two-valued (the property row exists and matches, or not); a
//!   column test is NULL for a missing property, which is the same as false except under a
//!   NOT, so tests under a NOT are written `COALESCE(test, 0)`;
//! - order: `(key IS NULL), key` with objects lacking the key last, the same "plain" keys the
//!   EAV plan sorts without that term, ties by objectId; text by `COLLATE NOCASE`.
//!
//! A sort's first key is split in two statements (objects with the key, then those
//! without), so that an index on it serves the page and the statement stops at the limit.
//! An unordered page walks the table in id order when the filter keeps more than a few of
//! the rows (the index of the filter would make SQLite sort every match by id first).

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, OptionalExtension};

use super::counts::{Estimate, Snapshot};
use super::literal::with_statement;
use super::merge;
use super::objects::object_from_row;
use super::projection::{self, CountShape, Layout, Projection};
use super::query::{as_join, column, numeric_op, text, Fragment, Renderer, MAX_JOINS};
use super::table::{next_of, version_of, with_properties};
use super::walk;

use crate::query::plan::{Cmp, Cond, Hop, QueryPlan, Test};
use crate::store::{
    FilterValue, Key, KeyValue, ObjectRecord, Order, Page, Seek, StoreError, SystemField,
    TableQuery, Walk,
};

/// A query as the projection renders it.
struct Input<'a> {
    cond: Option<&'a Cond>,
    /// Predicates of their own (table views: the parent, system fields), ANDed.
    extra: Vec<Fragment>,
    /// `extra` reads the `Objects` row (`o`).
    extra_reads_objects: bool,
    /// (key, sorted without the IS NULL term, as the EAV plan does for a joined test)
    order: Vec<(&'a Order, bool)>,
    offset: u64,
    limit: u64,
    walk: &'a Walk,
    object_type: &'a str,
}

/// Whether a property of the root type is projected.
fn projected(layout: &Layout, name: &str) -> bool {
    layout.column(name).is_some()
}

/// Every root property `c` touches is projected.
fn cond_fits(c: &Cond, layout: &Layout) -> bool {
    match c {
        Cond::And(items) | Cond::Or(items) => items.iter().all(|i| cond_fits(i, layout)),
        Cond::Not(inner) => cond_fits(inner, layout),
        Cond::Test { hops, test } => match hops.first() {
            Some(Hop::Lookup(p) | Hop::IdArray(p)) => projected(layout, p),
            Some(Hop::Children(_) | Hop::Parents(_)) => true,
            None => test.property().is_none_or(|p| projected(layout, p)),
        },
    }
}

fn order_fits(order: &[Order], layout: &Layout) -> bool {
    order.iter().all(|o| match &o.key {
        Key::Double(name) | Key::Text(name) => projected(layout, name),
        Key::System(_) => true,
    })
}

/// The projection a query over `object_type` may use, if any.
fn usable(s: &Snapshot<'_>, object_type: &str) -> Result<Option<Projection>, StoreError> {
    Ok(projection::of_type(s.conn, object_type)?.filter(|p| p.ready))
}

/// For aggregates (`aggregate.rs`): the ready projection of `object_type` when it holds
/// every property of `properties` and of `cond`, with `cond` rendered over its row `p` as
/// the page queries render it (`1 AND ...`), and whether that reads the `Objects` row `o`.
pub(super) fn filter_over(
    s: &Snapshot<'_>,
    object_type: &str,
    cond: Option<&Cond>,
    properties: &[&str],
) -> Result<Option<(Projection, Fragment, bool)>, StoreError> {
    let Some(p) = usable(s, object_type)? else {
        return Ok(None);
    };
    if !properties.iter().all(|name| projected(&p.layout, name))
        || !cond.is_none_or(|c| cond_fits(c, &p.layout))
    {
        return Ok(None);
    }
    let mut w = Writer {
        layout: &p.layout,
        r: Renderer::default(),
        reads_objects: false,
        conn: s.conn,
        table: p.table,
    };
    let mut filter = Fragment::default();
    filter.push("1");
    if let Some(c) = cond {
        let part = w.cond(c, false);
        filter.push(" AND ").append(part);
    }
    let reads_objects = w.reads_objects;
    Ok(Some((p, filter, reads_objects)))
}

/// Runs `plan` over its type's projection; `None` when the projection cannot answer it.
pub(super) fn query(
    s: &mut Snapshot<'_>,
    plan: &QueryPlan,
    columns: Option<&[String]>,
) -> Result<Option<Page>, StoreError> {
    if plan.location.is_some() {
        return Ok(None);
    }
    let Some(p) = usable(s, &plan.object_type)? else {
        return Ok(None);
    };
    if !plan
        .condition
        .as_ref()
        .is_none_or(|c| cond_fits(c, &p.layout))
        || !order_fits(&plan.order, &p.layout)
    {
        return Ok(None);
    }
    // The keys the EAV plan sorts on a joined test's row, without the IS NULL term.
    let top: Vec<&Cond> = match &plan.condition {
        Some(Cond::And(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let joined: Vec<(&str, Option<bool>)> = top
        .iter()
        .filter_map(|c| as_join(c))
        .take(MAX_JOINS)
        .map(|t| {
            let kind = match t {
                Test::Double { .. } => Some(true),
                Test::Text { .. } => Some(false),
                _ => None,
            };
            (t.property().unwrap_or_default(), kind)
        })
        .collect();
    let order = plan
        .order
        .iter()
        .map(|o| {
            let plain = match &o.key {
                Key::Double(name) | Key::Text(name) => {
                    let by_value = matches!(o.key, Key::Double(_));
                    joined
                        .iter()
                        .any(|(p, kind)| *p == name.as_str() && kind.is_none_or(|k| k == by_value))
                }
                Key::System(_) => false,
            };
            (o, plain)
        })
        .collect();
    let input = Input {
        cond: plan.condition.as_ref(),
        extra: Vec::new(),
        extra_reads_objects: false,
        order,
        offset: plan.offset,
        limit: plan.limit,
        walk: &plan.walk,
        object_type: &plan.object_type,
    };
    run(s, &p, &input, columns).map(Some)
}

/// Runs a table view over its type's projection; `None` when the projection cannot.
pub(super) fn table(s: &mut Snapshot<'_>, q: &TableQuery) -> Result<Option<Page>, StoreError> {
    let Some(p) = usable(s, &q.object_type)? else {
        return Ok(None);
    };
    let fits = q.filters.iter().all(|f| match &f.key {
        Key::Double(name) | Key::Text(name) => projected(&p.layout, name),
        Key::System(_) => true,
    });
    if !fits || !order_fits(&q.order, &p.layout) {
        return Ok(None);
    }
    let mut tests = Vec::new();
    let mut extra = Vec::new();
    let mut extra_reads_objects = false;
    if let Some(parent) = q.parent_id {
        let mut f = Fragment::default();
        f.push("p.ObjectId IN (SELECT rp.ChildObjectId FROM Relationships rp WHERE rp.ParentObjectId = ")
            .bind(Sql::Integer(parent))
            .push(")");
        extra.push(f);
    }
    for f in &q.filters {
        match (&f.key, &f.value) {
            (Key::Double(name), FilterValue::Double(d)) => tests.push(Cond::Test {
                hops: Vec::new(),
                test: Test::Double {
                    property: name.clone(),
                    cmp: Cmp::Eq,
                    value: *d,
                },
            }),
            (Key::Text(name), FilterValue::Text(t)) => tests.push(Cond::Test {
                hops: Vec::new(),
                test: Test::Text {
                    property: name.clone(),
                    cmp: Cmp::Eq,
                    value: t.clone(),
                },
            }),
            (key, value) => {
                // As `table.rs` binds it: the column compared with the literal as given.
                let value = match value {
                    FilterValue::Double(d) => Sql::Real(*d),
                    FilterValue::Text(t) => Sql::Text(t.clone()),
                };
                let expr = match key {
                    Key::System(field) => {
                        extra_reads_objects |= *field != SystemField::ObjectId;
                        system_expr(*field)
                    }
                    Key::Double(name) => match projected_column(&p.layout, name, 'd') {
                        Some(c) => c,
                        None => return Ok(None),
                    },
                    Key::Text(name) => match projected_column(&p.layout, name, 'v') {
                        Some(c) => c,
                        None => return Ok(None),
                    },
                };
                let mut f = Fragment::default();
                f.push(&format!("{expr} = ")).bind(value);
                extra.push(f);
            }
        }
    }
    let cond = Cond::And(tests);
    let input = Input {
        cond: Some(&cond),
        extra,
        extra_reads_objects,
        order: q.order.iter().map(|o| (o, false)).collect(),
        offset: q.offset,
        limit: q.limit,
        walk: &q.walk,
        object_type: &q.object_type,
    };
    run(s, &p, &input, q.columns.as_deref()).map(Some)
}

fn projected_column(layout: &Layout, name: &str, kind: char) -> Option<String> {
    layout.column(name).map(|c| format!("p.{kind}{}", c.no))
}

/// A system field's column: `p.ObjectId`, else on the joined `Objects o`.
fn system_expr(field: SystemField) -> String {
    match field {
        SystemField::ObjectId => "p.ObjectId".into(),
        other => super::query::system_column(other, "o"),
    }
}

/// Renders a condition over the projection row `p` (and `o`, its `Objects` row).
struct Writer<'l> {
    layout: &'l Layout,
    r: Renderer,
    /// Something written reads the `Objects` row (`o`).
    reads_objects: bool,
    /// The snapshot's connection: a prefix test reads the distinct values it covers.
    conn: &'l rusqlite::Connection,
    /// The projection's table number.
    table: i64,
}

/// At most this many distinct values (case-insensitively) under a prefix are tested as a
/// list of equalities (index seeks); more, and the prefix stays one range.
const PREFIX_VALUES: usize = 32;

impl Writer<'_> {
    /// The distinct values of text column `no` in `[from, to)` (binary), by one index
    /// seek each (a loose index scan), when there are at most [`PREFIX_VALUES`] and an
    /// index leads with the column and continues with more columns (only then do
    /// equalities seek where the range scans; such an index holds the exact text, see
    /// `Layout::exact`); else `None`.
    fn prefix_values(&self, no: usize, from: &str, to: &str) -> Option<Vec<String>> {
        if !self
            .layout
            .indexes
            .iter()
            .any(|ix| ix.len() > 1 && ix[0] == no)
        {
            return None;
        }
        let v = format!("v{no}");
        // The bounds as `(SELECT ?)`: a bound value the planner reads (STAT4 samples of the
        // index) makes SQLite prepare the statement again at every run that binds it.
        let sql = format!(
            "WITH RECURSIVE d(x) AS (\
             SELECT (SELECT MIN({v}) FROM Proj_{t} WHERE {v} >= (SELECT ?1) AND {v} < (SELECT ?2)) \
             UNION ALL SELECT (SELECT MIN({v}) FROM Proj_{t} WHERE {v} > d.x AND {v} < (SELECT ?2)) \
             FROM d WHERE d.x IS NOT NULL LIMIT {most}) \
             SELECT x FROM d WHERE x IS NOT NULL",
            t = self.table,
            most = PREFIX_VALUES + 2
        );
        let values: Vec<String> = self
            .conn
            .prepare_cached(&sql)
            .ok()?
            .query_map(rusqlite::params![from, to], |r| r.get(0))
            .ok()?
            .collect::<Result<_, _>>()
            .ok()?;
        (values.len() <= PREFIX_VALUES).then_some(values)
    }

    fn column(&self, name: &str, kind: char) -> String {
        projected_column(self.layout, name, kind).unwrap_or_else(|| "NULL".into())
    }

    fn cond(&mut self, c: &Cond, under_not: bool) -> Fragment {
        let mut f = Fragment::default();
        match c {
            Cond::And(items) | Cond::Or(items) => {
                if items.is_empty() {
                    // As the EAV plan's empty group: `()` never occurs; an empty AND is true.
                    f.push(if matches!(c, Cond::And(_)) { "1" } else { "0" });
                    return f;
                }
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
                    let part = self.cond(item, under_not);
                    f.append(part);
                }
                f.push(")");
            }
            Cond::Not(inner) => {
                f.push("NOT (");
                let part = self.cond(inner, true);
                f.append(part).push(")");
            }
            Cond::Test { hops, test } => {
                let part = self.test(hops, test);
                if under_not && part.1 {
                    // NULL (no such property) is false here, as the EAV test is.
                    f.push("COALESCE(").append(part.0).push(", 0)");
                } else {
                    f.append(part.0);
                }
            }
        }
        f
    }

    /// One test, and whether it may be NULL.
    fn test(&mut self, hops: &[Hop], test: &Test) -> (Fragment, bool) {
        let mut f = Fragment::default();
        if let Some(Hop::Lookup(property)) = hops.first() {
            if let Some(c) = self.layout.column(property).filter(|c| c.lookup) {
                let chain = self.r.chain(&hops[1..], test);
                f.push(&format!("(p.d{} IN (", c.no))
                    .append(chain)
                    .push(&format!(") AND p.n{} IS NULL)", c.no));
                return (f, true);
            }
        }
        if !hops.is_empty() {
            let chain = self.r.chain(hops, test);
            f.push("p.ObjectId IN (").append(chain).push(")");
            return (f, false);
        }
        match test {
            Test::System { field, cmp, value } => {
                let alias = if *field == SystemField::ObjectId {
                    "p"
                } else {
                    self.reads_objects = true;
                    "o"
                };
                // Exactly as the EAV plan writes it (three-valued there too).
                self.r.system_predicate(&mut f, alias, *field, *cmp, value);
                (f, false)
            }
            Test::Has(name) => {
                f.push(&format!("{} IS NOT NULL", self.column(name, 'v')));
                (f, false)
            }
            Test::Double {
                property,
                cmp,
                value,
            } => {
                f.push(&format!(
                    "{} {} ",
                    self.column(property, 'd'),
                    numeric_op(*cmp)
                ))
                .bind(Sql::Real(*value));
                (f, true)
            }
            Test::OneOf { property, values } => {
                // As the EAV plan tests it: the stored double, whatever the row's type.
                f.push(&format!(
                    "{} IN (SELECT value FROM json_each(",
                    self.column(property, 'd')
                ))
                .bind(Sql::Text(crate::query::plan::json_numbers(values)))
                .push("))");
                (f, true)
            }
            Test::Text {
                property,
                cmp,
                value,
            } => {
                let v = self.column(property, 'v');
                // An index holds the column's exact text: the binary test below is what
                // it seeks (a NOCASE term would be tested on every entry it reads).
                let exact = self
                    .layout
                    .column(property)
                    .is_some_and(|c| !c.by_value && self.layout.exact(c.no));
                f.push("(");
                match cmp {
                    Cmp::Eq | Cmp::StartsWith if exact => {
                        if let Some(values) = (*cmp == Cmp::StartsWith)
                            .then(|| self.layout.column(property))
                            .flatten()
                            .and_then(|c| {
                                self.prefix_values(c.no, value, &format!("{value}\u{10FFFF}"))
                            })
                        {
                            // Every value under the prefix, as equalities: with a
                            // composite index each one seeks its next column's range
                            // (`lastName startswith "M" and age < 20`), where the range
                            // would scan every entry under the prefix.
                            f.push(&format!("{v} IN (SELECT value FROM json_each("))
                                .bind(Sql::Text(serde_json::Value::from(values).to_string()))
                                .push(")) AND ");
                        }
                    }
                    // A NOCASE range first, which an index on the column serves (it holds
                    // every binary match), then the binary test itself.
                    Cmp::Eq => {
                        f.push(&format!("{v} COLLATE NOCASE = "))
                            .bind(text(value))
                            .push(" AND ");
                    }
                    Cmp::StartsWith => {
                        // (No index leads with the column and continues: no prefix values.)
                        let end = format!("{value}\u{10FFFF}");
                        f.push(&format!("{v} COLLATE NOCASE >= "))
                            .bind(text(value))
                            .push(&format!(" AND {v} COLLATE NOCASE < "))
                            .bind(Sql::Text(end))
                            .push(" AND ");
                    }
                    _ => {}
                }
                self.r.text_predicate(&mut f, &column(&v), *cmp, value);
                f.push(")");
                (f, true)
            }
            Test::Element {
                property,
                cmp,
                value,
            } => {
                let v = self.column(property, 'v');
                let e = self.r.alias("e");
                f.push(&format!(
                    "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({v}) THEN {v} ELSE '[]' END) {e} WHERE {e}.type {} AND ",
                    match value {
                        crate::query::plan::Scalar::Text(_) => "= 'text'",
                        crate::query::plan::Scalar::Double(_) => "IN ('integer', 'real')",
                        crate::query::plan::Scalar::Bool(_) => "IN ('true', 'false')",
                    }
                ));
                self.r
                    .scalar_predicate(&mut f, &column(&format!("{e}.value")), *cmp, value);
                f.push(")");
                (f, false)
            }
            Test::MapValue {
                property,
                key,
                cmp,
                value,
            } => {
                let v = self.column(property, 'v');
                let path = format!("$.{}", serde_json::Value::String(key.clone()));
                let mut expr = Fragment::default();
                expr.push(&format!(
                    "json_extract(CASE WHEN json_valid({v}) THEN {v} END, "
                ))
                .bind(Sql::Text(path))
                .push(")");
                f.push("(");
                self.r.scalar_predicate(&mut f, &expr, *cmp, value);
                f.push(")");
                (f, true)
            }
        }
    }

    /// The value column of a sort key (without its collation).
    fn key(&mut self, key: &Key) -> String {
        match key {
            Key::System(field) => {
                self.reads_objects |= *field != SystemField::ObjectId;
                system_expr(*field)
            }
            Key::Double(name) => self.column(name, 'd'),
            Key::Text(name) => self.column(name, 'v'),
        }
    }
}

thread_local! {
    /// Tests: `Some(true)` makes every page walk an order (ids, or the first key's index
    /// when there is one), `Some(false)` never; `None` chooses by the estimate.
    pub(super) static FORCE_WALK: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// The single-column index of the projection on `key`'s column: it holds the rows in the
/// key's order, ties by ObjectId (the rowid), which is the page's order.
fn order_index(p: &Projection, key: &Key) -> Option<String> {
    let (name, by_value) = match key {
        Key::Double(name) => (name, true),
        Key::Text(name) => (name, false),
        Key::System(_) => return None,
    };
    let c = p.layout.column(name).filter(|c| c.by_value == by_value)?;
    let i = p
        .layout
        .indexes
        .iter()
        .position(|ix| ix.as_slice() == [c.no])?;
    Some(format!("IX_Proj_{}_{i}", p.table))
}

thread_local! {
    /// Tests: `Some(true)` makes every unordered page read its ids alone (see
    /// [`page_by_ids`]) whenever it can, `Some(false)` never; `None` chooses by the estimate.
    pub(super) static FORCE_IDS: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// How many ids read from a covering index cost about what one row read by walking the
/// table in id order does. Measured at 1M (docs/BENCHMARKS.md, "Where `count=false` and the
/// path spend their time"): an id read costs fewer pages than a walked row (the entries are
/// narrow) but as much CPU (each one a row returned to the caller); 1 keeps the walk where
/// the matches lie in many short ranges of the index and the walk is short.
const ENTRY: u64 = 1;

/// The ids of every match of an unordered page (`ids`: `SELECT p.ObjectId ... WHERE
/// <filter>`), in id order, when reading them from the filter's covering index is cheaper
/// than walking the table in id order; `None` otherwise (the caller walks or sorts).
///
/// A page of an unordered query is its matches with the smallest ids. When an index
/// answers the whole filter (the projection's row is never read, `EXPLAIN QUERY PLAN` says
/// `SEARCH p USING COVERING INDEX`), its entries hold the ids: reading every match's id and
/// keeping the smallest costs `matched` entries and no row, where walking the table costs
/// `wanted * rows / matched` rows and sorting the matches' rows reads each one at random.
/// `known` is the number of matches (the count, or a capped count below its cap) that
/// chooses the plan.
fn page_by_ids(
    s: &mut Snapshot<'_>,
    ids: &Fragment,
    known: Option<u64>,
    wanted: u64,
    rows: u64,
) -> Result<Option<Vec<i64>>, StoreError> {
    match (FORCE_IDS.with(|f| f.get()), known) {
        (Some(false), _) | (None, None) => return Ok(None),
        (Some(true), _) => {}
        (None, Some(n)) => {
            // Past this many matches the walk is cheaper.
            let most = ((ENTRY as f64) * (wanted as f64) * (rows as f64)).sqrt();
            if (n as f64) > most || !covering(s.conn, ids)? {
                return Ok(None);
            }
        }
    }
    // Every id the statement gives (`known` chose the plan; it never bounds the answer).
    let mut found: Vec<i64> = with_statement(s.conn, &ids.sql, &ids.params, |s, p| {
        Ok(s.query_map(params_from_iter(p.iter()), |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    })?;
    found.sort_unstable();
    Ok(Some(found))
}

thread_local! {
    /// Tests: `Some(true)` makes every unordered page whose filter the Lookups' index in id
    /// order answers walk that index (see [`page_by_narrow`]), `Some(false)` never; `None`
    /// chooses by the estimate.
    pub(super) static FORCE_NARROW: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    /// Tests: how many pages the Lookups' index in id order answered on this thread.
    pub(super) static NARROWED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many entries of the Lookups' index in id order cost what one row of the table's
/// walk does. Measured at 1M (docs/BENCHMARKS.md): the path's page walks 5,560 entries on
/// 29 pages where the table's walk reads 162; an entry is tested as a row is.
const NARROW: u64 = 4;

/// Whether `c` reads, of the row `p`, only its id and its Lookup columns (`d<k>`, `n<k>`:
/// what the Lookups' index in id order holds); `Some(true)` when it reads a Lookup column
/// (a filter on the id alone has plans of its own), `None` when it reads anything else.
fn lookups_only(layout: &Layout, c: &Cond) -> Option<bool> {
    match c {
        Cond::And(items) | Cond::Or(items) => {
            let mut any = false;
            for item in items {
                any |= lookups_only(layout, item)?;
            }
            Some(any)
        }
        Cond::Not(inner) => lookups_only(layout, inner),
        Cond::Test { hops, test } => match (hops.first(), test) {
            // `d<k> IN (...) AND n<k> IS NULL`; another hop first is `p.ObjectId IN (...)`.
            (Some(Hop::Lookup(name)), _) => Some(layout.column(name).is_some_and(|c| c.lookup)),
            (Some(_), _) => Some(false),
            (None, Test::Double { property, .. } | Test::OneOf { property, .. }) => {
                layout.column(property).filter(|c| c.lookup).map(|_| true)
            }
            (
                None,
                Test::System {
                    field: SystemField::ObjectId,
                    ..
                },
            ) => Some(false),
            (None, _) => None,
        },
    }
}

/// The ids of the first `wanted` matches of an unordered page (in id order) by walking
/// the Lookups' index in id order (see `Layout::ids_index`), whose entries hold everything
/// `filter` reads (see [`lookups_only`]); `tail` is the cursor's keyset. `None` when the
/// index is missing (an earlier build on the same file dropped it): the other plans.
fn page_by_narrow(
    s: &Snapshot<'_>,
    p: &Projection,
    filter: &Fragment,
    tail: &Fragment,
    wanted: u64,
) -> Result<Option<Vec<i64>>, StoreError> {
    let mut f = Fragment::default();
    // The limit in the text (a bound LIMIT prepares the statement again at each bind).
    f.push(&format!(
        "SELECT p.ObjectId FROM Proj_{} p INDEXED BY {} WHERE ",
        p.table,
        projection::ids_index_name(p.table)
    ))
    .append(filter.clone())
    .append(tail.clone())
    .push(&format!(
        " ORDER BY p.ObjectId LIMIT {}",
        wanted.min(i64::MAX as u64)
    ));
    let found = with_statement(s.conn, &f.sql, &f.params, |st, params| {
        Ok(st
            .query_map(params_from_iter(params.iter()), |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?)
    });
    match found {
        Ok(ids) => {
            NARROWED.with(|n| n.set(n.get() + 1));
            Ok(Some(ids))
        }
        Err(StoreError::Database(e)) if e.contains("no such index") => Ok(None),
        Err(e) => Err(e),
    }
}

/// SQLite reads `ids` (a statement over the projection `p`) from an index alone, by seeks.
pub(super) fn covering(conn: &rusqlite::Connection, ids: &Fragment) -> Result<bool, StoreError> {
    let details = plan_details(conn, &ids.sql, &ids.params)?;
    let mut covered = false;
    for detail in details {
        // A scan (of the table or of a whole index) tests entries that do not match: its
        // cost is not bounded by the matches.
        if detail.starts_with("SCAN p") {
            return Ok(false);
        }
        if detail.starts_with("SEARCH p ") {
            if !detail.contains(" USING COVERING INDEX ") {
                return Ok(false);
            }
            covered = true;
        }
    }
    Ok(covered)
}

/// The lines of SQLite's plan for `sql` with `params` (`EXPLAIN QUERY PLAN`'s details).
fn plan_details(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Sql],
) -> Result<Vec<String>, StoreError> {
    with_statement(
        conn,
        &format!("EXPLAIN QUERY PLAN {sql}"),
        params,
        |s, p| {
            Ok(s.query_map(params_from_iter(p.iter()), |r| r.get(3))?
                .collect::<Result<_, _>>()?)
        },
    )
}

/// How SQLite's plan for a page sorts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sorting {
    /// It reads the rows in the page's order.
    None,
    /// It sorts every row it finds.
    Every,
    /// It reads them in the first key's order and sorts each run of equal keys (by id):
    /// a descending key over an ascending index, whose ties come in reverse id order.
    Ties,
}

/// How SQLite's plan for `page` sorts.
fn sorting(conn: &rusqlite::Connection, page: &Fragment) -> Result<Sorting, StoreError> {
    let mut found = Sorting::None;
    for detail in plan_details(conn, &page.sql, &page.params)? {
        if detail == "USE TEMP B-TREE FOR ORDER BY" {
            return Ok(Sorting::Every);
        }
        // "RIGHT PART OF ORDER BY" (SQLite 3.40), "LAST TERM OF ORDER BY" (3.54).
        if detail.starts_with("USE TEMP B-TREE FOR ") {
            found = Sorting::Ties;
        }
    }
    Ok(found)
}

thread_local! {
    /// Tests: `false` makes every count read the projection, never `LookupCounts`.
    pub(super) static USE_LOOKUP_COUNTS: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// The number of matches of `cond` from `LookupCounts` (migration 0070), when `cond` is one
/// test of a Lookup column of the root type that the counts answer: a path through it
/// (`company.city.name == "Berlin"`: the rows with `d<k> IN (far end) AND n<k> IS NULL`),
/// an equality on it (`company == id(5)`: `d<k> = 5`), or several equalities on it joined
/// by `or`, or a list of ids ([`Test::OneOf`]). The sum over the targets' counts is the
/// number of projection rows the test matches: the counts change with those rows, in the
/// statement that writes them (see `Layout::count_triggers`). `None`: count the rows.
fn lookup_count(p: &Projection, cond: Option<&Cond>) -> Option<Fragment> {
    if !p.counted || !USE_LOOKUP_COUNTS.with(|u| u.get()) {
        return None;
    }
    let mut cond = cond?;
    while let Cond::And(items) | Cond::Or(items) = cond {
        match items.as_slice() {
            [only] => cond = only,
            _ => break,
        }
    }
    let lookup = |name: &str| p.layout.column(name).filter(|c| c.lookup);
    // (column, the targets' test: `TargetId ...`, the kind of row: `NotLookup = 0` for a path)
    let mut targets = Fragment::default();
    let (column, only_lookups) = match cond {
        Cond::Test { hops, test } => match (hops.split_first(), test) {
            (Some((Hop::Lookup(name), rest)), _) => {
                let c = lookup(name)?;
                let chain = Renderer::default().chain(rest, test);
                targets.push("TargetId IN (").append(chain).push(")");
                (c, true)
            }
            (
                None,
                Test::Double {
                    property,
                    cmp: Cmp::Eq,
                    value,
                },
            ) => {
                let c = lookup(property)?;
                targets.push("TargetId = ").bind(Sql::Real(*value));
                (c, false)
            }
            (None, Test::OneOf { property, values }) => {
                let c = lookup(property)?;
                targets
                    .push("TargetId IN (SELECT value FROM json_each(")
                    .bind(Sql::Text(crate::query::plan::json_numbers(values)))
                    .push("))");
                (c, false)
            }
            _ => return None,
        },
        Cond::Or(items) => {
            // `company == id(1) or company == id(2)`: one column, equalities only.
            let (property, values) = or_equalities(items)?;
            targets
                .push("TargetId IN (SELECT value FROM json_each(")
                .bind(Sql::Text(crate::query::plan::json_numbers(&values)))
                .push("))");
            (lookup(property)?, false)
        }
        _ => return None,
    };
    let mut f = Fragment::default();
    f.push(&format!(
        "SELECT COALESCE(SUM(Total), 0) FROM LookupCounts WHERE TableNo = {} AND ColumnNo = {}{} AND ",
        p.table,
        column.no,
        if only_lookups { " AND NotLookup = 0" } else { "" }
    ))
    .append(targets);
    Some(f)
}

/// The number of matches of `cond` from `ValueCounts` (migration 0071) or `PairCounts`
/// (0072), when they answer it (see `Layout::count_shape`: no filter, equalities or a list,
/// or a range, on one counted column; equalities of a counted pair's first column with
/// equalities, a list or a range of its second): the sum of a few counts. `None`: count
/// the rows.
fn value_count(p: &Projection, cond: Option<&Cond>) -> Option<Fragment> {
    if !p.value_counted || !USE_LOOKUP_COUNTS.with(|u| u.get()) {
        return None;
    }
    let shape = p.layout.count_shape(cond)?;
    let mut f = Fragment::default();
    if let CountShape::Pair(first, second) = shape {
        f.push(&format!(
            "SELECT COALESCE(SUM(Total), 0) FROM PairCounts WHERE TableNo = {} \
             AND ColumnA = {} AND ColumnB = {}",
            p.table,
            first.column(),
            second.column()
        ));
        counted_values(&mut f, "ValueA", *first);
        counted_values(&mut f, "ValueB", *second);
        return Some(f);
    }
    f.push(&format!(
        "SELECT COALESCE(SUM(Total), 0) FROM ValueCounts WHERE TableNo = {} AND ColumnNo = {}",
        p.table,
        shape.column()
    ));
    counted_values(&mut f, "Value", shape);
    Some(f)
}

/// The test of a count row's `value` column that `shape` (of one column) makes.
fn counted_values(f: &mut Fragment, value: &str, shape: CountShape) {
    // A list as one JSON array: one parameter, however many values.
    let mut list = |items: serde_json::Value| {
        f.push(&format!(" AND {value} IN (SELECT value FROM json_each("))
            .bind(Sql::Text(items.to_string()))
            .push("))");
    };
    match shape {
        CountShape::Total | CountShape::Pair(..) => {}
        CountShape::Numbers(_, v) => list(serde_json::json!(v)),
        CountShape::Texts(_, v) => list(serde_json::json!(v)),
        CountShape::Range(_, tests) => {
            for (cmp, v) in tests {
                f.push(&format!(" AND {value} {} ", numeric_op(cmp)))
                    .bind(Sql::Real(v));
            }
        }
    }
}

/// `items` (joined by `or`) as equalities of one property of the root object by value
/// (`company == id(1) or company == id(2)`): the property and the values, else `None`.
pub(super) fn or_equalities(items: &[Cond]) -> Option<(&str, Vec<f64>)> {
    let mut name: Option<&str> = None;
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let Cond::Test {
            hops,
            test:
                Test::Double {
                    property,
                    cmp: Cmp::Eq,
                    value,
                },
        } = item
        else {
            return None;
        };
        if !hops.is_empty() || name.is_some_and(|n| n != property) {
            return None;
        }
        name = Some(property);
        values.push(*value);
    }
    Some((name?, values))
}

/// SQLite's plan for `page` sorts every row it finds (rather than reading them in order).
fn sorts_every_match(conn: &rusqlite::Connection, page: &Fragment) -> Result<bool, StoreError> {
    Ok(sorting(conn, page)? == Sorting::Every)
}

fn run(
    s: &mut Snapshot<'_>,
    p: &Projection,
    input: &Input<'_>,
    columns: Option<&[String]>,
) -> Result<Page, StoreError> {
    let orders: Vec<Order> = input.order.iter().map(|(o, _)| (*o).clone()).collect();
    let mut w = Writer {
        layout: &p.layout,
        r: Renderer::default(),
        reads_objects: input.extra_reads_objects,
        conn: s.conn,
        table: p.table,
    };
    let mut filter = Fragment::default();
    filter.push("1");
    if let Some(c) = input.cond {
        let part = w.cond(c, false);
        filter.push(" AND ").append(part);
    }
    for e in &input.extra {
        filter.push(" AND ").append(e.clone());
    }
    let stable = walk::stable(s, input.object_type, &orders, input.walk)?;
    let mut key_exprs = Vec::new();
    let mut key_columns = String::new();
    let mut first_column = String::new();
    let keys: Vec<(String, &'static str, bool)> = input
        .order
        .iter()
        .enumerate()
        .map(|(i, (o, plain))| {
            let current = w.key(&o.key);
            if i == 0 {
                first_column.clone_from(&current);
            }
            let key = walk::key_expr(&o.key, stable.effective(i, &o.key, &current), o.descending);
            key_columns.push_str(&format!(", {} AS k{i}", key.expr));
            let compared = key.compare.replace("{}", &key.expr);
            key_exprs.push(key);
            (
                compared,
                if o.descending { "DESC" } else { "ASC" },
                // A value as of the head may be missing: the IS NULL term is needed then.
                *plain && stable.changed.is_empty(),
            )
        })
        .collect();
    let (as_of_join, mut tail) = stable.join("p.ObjectId");
    if let Some(seek) = &input.walk.after {
        walk::push_keyset(&mut tail, &key_exprs, "p.ObjectId", seek);
    }
    let joins_objects = w.reads_objects;
    let table = p.table;
    let from = |not_indexed: bool| {
        let hint = if not_indexed { " NOT INDEXED" } else { "" };
        if joins_objects {
            format!(" FROM Proj_{table} p{hint} CROSS JOIN Objects o WHERE o.ObjectId = p.ObjectId AND ")
        } else {
            format!(" FROM Proj_{table} p{hint} WHERE ")
        }
    };

    // The count from `LookupCounts` when the filter is one test they answer (a few pages),
    // else of the rows.
    let counted = if input.extra.is_empty() {
        lookup_count(p, input.cond).or_else(|| value_count(p, input.cond))
    } else {
        None
    };
    let count = match &counted {
        Some(c) => c.clone(),
        None => {
            let mut count = Fragment::default();
            count.push(&format!("SELECT COUNT(*){}", from(false)));
            count.append(filter.clone());
            count
        }
    };
    // An unordered page may read the ids of every match from the filter's covering index
    // (see `page_by_ids`).
    let ids = (keys.is_empty() && !joins_objects && stable.changed.is_empty()).then(|| {
        let mut f = Fragment::default();
        f.push(&format!("SELECT p.ObjectId FROM Proj_{table} p WHERE "))
            .append(filter.clone())
            .append(tail.clone());
        f
    });
    let rows = projection::estimated_rows(s.conn, table);
    // One row more than asked: whether there is a next page.
    let limit = input.limit.saturating_add(1);
    let wanted = input.offset.saturating_add(limit);
    let total = if input.walk.count {
        let n = s.count(&count.sql, &count.params)?;
        s.remember(&count.sql, &count.params, Estimate { n, exact: true });
        n
    } else {
        0
    };

    let select = format!(
        "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt{key_columns}, \
         o.Version"
    );
    let page_from = |hint: &str| {
        let mut f = Fragment::default();
        f.push(&format!(" FROM Proj_{table} p{hint} CROSS JOIN Objects o"))
            .append(as_of_join.clone())
            .push(" WHERE o.ObjectId = p.ObjectId AND ");
        f
    };
    let terms = |keys: &[(String, &'static str, bool)]| -> Vec<String> {
        keys.iter()
            .map(|(e, dir, plain)| {
                if *plain {
                    format!("{e} {dir}")
                } else {
                    format!("({e}) IS NULL, {e} {dir}")
                }
            })
            .collect()
    };
    let page_of = |hint: &str, extra: &Fragment, order: Vec<String>, limit: u64, offset: u64| {
        let mut f = Fragment::default();
        f.push(&select)
            .append(page_from(hint))
            .append(filter.clone())
            .append(tail.clone())
            .append(extra.clone());
        f.push(" ORDER BY ");
        for term in order {
            f.push(&term).push(", ");
        }
        f.push("p.ObjectId ASC LIMIT ")
            .bind(Sql::Integer(limit.min(i64::MAX as u64) as i64))
            .push(" OFFSET ")
            .bind(Sql::Integer(offset.min(i64::MAX as u64) as i64));
        f
    };
    let conn = s.conn;
    // Each object with its `Version` (see `table::with_properties`).
    type Fetched = Vec<((ObjectRecord, i64), Seek)>;
    let fetch = |f: &Fragment| -> Result<Fetched, StoreError> {
        with_statement(conn, &f.sql, &f.params, |s, p| {
            Ok(s.query_map(params_from_iter(p.iter()), |r| {
                let object = object_from_row(r)?;
                let seek = walk::seek_of(r, 5, &orders, object.id)?;
                Ok(((object, version_of(r)?), seek))
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
    };
    let rows = rows.unwrap_or(total.max(1));
    // A capped count of `wanted`'s plan choice stops here: past it the walk wins.
    let cap_for = |wanted: u64| ((wanted as f64) * (rows as f64)).sqrt().ceil() as u64 + 1;
    // How many rows match, for choosing a plan: the count when there is one, else a count
    // capped where the choice flips (so that it costs at most that many index entries).
    let matched = |s: &mut Snapshot<'_>, wanted: u64| -> Result<u64, StoreError> {
        if input.walk.count {
            return Ok(total);
        }
        if let Some(c) = &counted {
            // Exact, and cheaper than a capped count of the rows.
            return s.count(&c.sql, &c.params);
        }
        let unfiltered = input.extra.is_empty()
            && input
                .cond
                .is_none_or(|c| matches!(c, Cond::And(items) if items.is_empty()));
        if unfiltered {
            return Ok(rows);
        }
        let cap = cap_for(wanted);
        // The number this connection counted for the same filter before, at any data
        // version (a list reloaded after each write): it only chooses the plan.
        if let Some(e) = s.estimate(&count.sql, &count.params) {
            if e.exact || e.n >= cap {
                return Ok(e.n.min(cap));
            }
        }
        let mut c = Fragment::default();
        c.push(&format!("SELECT COUNT(*) FROM (SELECT 1{}", from(false)))
            .append(filter.clone())
            .push(" LIMIT ")
            .bind(Sql::Integer(cap.min(i64::MAX as u64) as i64))
            .push(")");
        let n = s.count(&c.sql, &c.params)?;
        s.remember(&count.sql, &count.params, Estimate { n, exact: n < cap });
        Ok(n)
    };
    // Walking an order (the ids, or an index on the first key) and testing each row costs
    // about `wanted * rows / matched` rows; the filter's index costs every match, sorted.
    let walk_wins = |wanted: u64, matched: u64| {
        matched > 0 && (wanted as f64) * (rows as f64) < (matched as f64) * (matched as f64)
    };
    // The hint that makes the page walk the first key's index, when SQLite's own plan
    // would sort every match (it has no statistics on how many the filter keeps) and the
    // estimate says the walk is cheaper.
    let first_index = input.order.first().and_then(|(o, _)| {
        // Only on the column itself (a walk "as of" sorts by an expression over it).
        (key_exprs[0].expr == first_column)
            .then(|| order_index(p, &o.key))
            .flatten()
    });
    let choose = |s: &mut Snapshot<'_>, page: &Fragment| -> Result<String, StoreError> {
        let Some(index) = &first_index else {
            return Ok(String::new());
        };
        let forced = FORCE_WALK.with(|f| f.get());
        let walk = match forced {
            Some(walk) => walk,
            None => sorts_every_match(s.conn, page)? && walk_wins(wanted, matched(s, wanted)?),
        };
        Ok(if walk {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        })
    };

    let objects = match keys.split_first() {
        None => {
            // The walk reads the table in id order (sequential pages); the filter's index
            // reads every match's rows at random and sorts them: a match costs about as
            // much as `SEQUENTIAL` rows of the walk.
            const SEQUENTIAL: u64 = 8;
            // First, the ids alone from the filter's covering index (see `page_by_ids`).
            let rows_worth = wanted.div_ceil(SEQUENTIAL);
            // Tests that force a plan test that plan.
            let forced = FORCE_WALK.with(|f| f.get()).is_some()
                || FORCE_IDS.with(|f| f.get()).is_some()
                || merge::FORCE_MERGE.with(|f| f.get()).is_some();
            // The number of matches and whether it is exact (a count, the Lookup's counts,
            // a remembered or capped count below its cap). A number remembered from the
            // Lookup's counts first: they are about 50 pages after a write (the path's 100
            // targets).
            let known_matches = |s: &mut Snapshot<'_>| -> Result<(u64, bool), StoreError> {
                let remembered = s
                    .estimate(&count.sql, &count.params)
                    .filter(|e| e.exact && counted.is_some() && !input.walk.count);
                let m = match remembered {
                    Some(e) => e.n,
                    None => {
                        let m = matched(s, wanted)?;
                        if counted.is_some() {
                            s.remember(&count.sql, &count.params, Estimate { n: m, exact: true });
                        }
                        m
                    }
                };
                Ok((
                    m,
                    input.walk.count || counted.is_some() || m < cap_for(wanted),
                ))
            };
            // The filter reads only what the index of the Lookup columns in id order holds
            // (see `Layout::ids_index`): walking it costs `wanted * rows / matched` entries,
            // `NARROW` of them the price of a row of the table's walk.
            let narrow = ids.is_some()
                && input.extra.is_empty()
                && p.layout.ids_index(p.table).is_some()
                && input
                    .cond
                    .is_some_and(|c| lookups_only(&p.layout, c) == Some(true));
            // First, the first ids by a bounded merge of the filter's point ranges (see
            // `merge.rs`), when the filter is a few of them and the plans below cost more.
            let merged = match &ids {
                Some(_) if input.extra.is_empty() && merge::fits(p, input.cond) => {
                    let most = match merge::FORCE_MERGE.with(|f| f.get()) {
                        Some(true) => merge::MAX_RANGES,
                        Some(false) => 0,
                        None if forced || FORCE_NARROW.with(|f| f.get()).is_some() => 0,
                        None => {
                            let (m, exact) = known_matches(s)?;
                            // The cheapest of walking the ids (the table's rows, or the
                            // Lookups' index) and reading every match's id.
                            let walk = (wanted as f64) * (rows as f64) / (m.max(1) as f64);
                            let walk = if narrow { walk / NARROW as f64 } else { walk };
                            let other = walk.min(m.saturating_mul(ENTRY) as f64);
                            // The merge reads about `wanted` entries twice, and seeks once
                            // per range (and for a range's values, about as often).
                            let spare = other - 2.0 * wanted as f64;
                            if exact && m >= wanted && spare > 0.0 {
                                (spare / (2 * merge::SEEK) as f64) as usize
                            } else {
                                0
                            }
                        }
                    };
                    let found = if most == 0 {
                        None
                    } else {
                        let values =
                            |no: usize, from: &str, to: &str| w.prefix_values(no, from, to);
                        merge::points(s, p, input.cond, most, &values)?
                    };
                    match found {
                        Some(points) => merge::page_by_merge(s, p, &points, &tail, wanted)?,
                        None => None,
                    }
                }
                _ => None,
            };
            // Then the Lookups' index in id order, when it is cheaper than reading every
            // match's id (it always is cheaper than the table's walk).
            let merged = match merged {
                Some(ids) => Some(ids),
                None if narrow => {
                    let take = match FORCE_NARROW.with(|f| f.get()) {
                        Some(take) => take,
                        None if forced => false,
                        None => {
                            let (m, _) = known_matches(s)?;
                            (m as f64) * (m as f64) * (NARROW as f64)
                                > (wanted as f64) * (rows as f64)
                        }
                    };
                    if take {
                        page_by_narrow(s, p, &filter, &tail, wanted)?
                    } else {
                        None
                    }
                }
                None => None,
            };
            let by_ids = match merged {
                Some(ids) => Some((ids, false)),
                None => match &ids {
                    Some(ids) => {
                        // The exact number of matches: the count, else a capped count that
                        // says the filter's index wins over the walk (then it is exact).
                        let known = match (FORCE_IDS.with(|f| f.get()), input.walk.count) {
                            (Some(_), _) => None,
                            // Tests that force the walk, or never walking, test those plans.
                            (None, _) if FORCE_WALK.with(|f| f.get()).is_some() => None,
                            (None, true) => Some(total),
                            // Counted up to where the ids stop paying (`page_by_ids`), so that
                            // below it the number is exact; only when an index covers the
                            // filter (else the ids are never read).
                            (None, false) if covering(s.conn, ids)? => {
                                let m = matched(s, ENTRY.saturating_mul(wanted))?;
                                (m < cap_for(ENTRY.saturating_mul(wanted))).then_some(m)
                            }
                            (None, false) => None,
                        };
                        match known {
                            None if FORCE_IDS.with(|f| f.get()).is_none() => None,
                            known => {
                                page_by_ids(s, ids, known, wanted, rows)?.map(|ids| (ids, true))
                            }
                        }
                    }
                    None => None,
                },
            };
            match by_ids {
                Some((mut ids, every)) => {
                    if every && tail.sql.is_empty() {
                        // Every match's id: the exact number, for the next plan choice.
                        let n = ids.len() as u64;
                        s.remember(&count.sql, &count.params, Estimate { n, exact: true });
                    }
                    let skip = (input.offset.min(ids.len() as u64)) as usize;
                    ids.drain(..skip);
                    ids.truncate(limit.min(usize::MAX as u64) as usize);
                    let mut f = Fragment::default();
                    f.push(
                        "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt, \
                         o.Version \
                         FROM Objects o WHERE o.ObjectId IN (SELECT value FROM json_each(",
                    )
                    .bind(Sql::Text(serde_json::Value::from(ids).to_string()))
                    .push(")) ORDER BY o.ObjectId");
                    fetch(&f)?
                }
                None => {
                    let in_id_order = match FORCE_WALK.with(|f| f.get()) {
                        Some(walk) => walk,
                        None => walk_wins(rows_worth, matched(s, rows_worth)?),
                    };
                    let hint = if in_id_order { " NOT INDEXED" } else { "" };
                    fetch(&page_of(
                        hint,
                        &Fragment::default(),
                        Vec::new(),
                        limit,
                        input.offset,
                    ))?
                }
            }
        }
        Some(((first, dir, false), rest)) => {
            // Objects with the first key, in its order; then those without it.
            let rest = terms(rest);
            let mut order = vec![format!("{first} {dir}")];
            order.extend(rest.iter().cloned());
            let mut with = column(&format!(" AND {first} IS NOT NULL"));
            let seek_first = input.walk.after.as_ref().and_then(|a| a.keys.first());
            let mut objects = match seek_first {
                // After an object without the key: only such objects follow.
                Some(KeyValue::Null) => Vec::new(),
                seek => {
                    if let Some(v) = seek {
                        // A plain range on the key (the keyset's OR is no range an index
                        // serves): the walk seeks where the page before ended.
                        let op = if *dir == "DESC" { "<=" } else { ">=" };
                        with.push(&format!(" AND {first} {op} "))
                            .bind(walk::sql_of(v));
                    }
                    let plain = page_of("", &with, order.clone(), limit, input.offset);
                    // A descending key alone, with an index on it: the boundary plan
                    // (below) when SQLite would sort the ties or every match.
                    let descending = *dir == "DESC"
                        && rest.is_empty()
                        && first_index.is_some()
                        && stable.changed.is_empty();
                    let boundary = if !descending {
                        None
                    } else {
                        match FORCE_WALK.with(|f| f.get()) {
                            Some(true) => Some(choose(s, &plain)?),
                            Some(false) => None,
                            None => match sorting(s.conn, &plain)? {
                                Sorting::None => None,
                                Sorting::Ties => Some(String::new()),
                                Sorting::Every => {
                                    let hint = choose(s, &plain)?;
                                    (!hint.is_empty()).then_some(hint)
                                }
                            },
                        }
                    };
                    if let Some(hint) = boundary {
                        // The key of the last row the page needs (walking the key's order
                        // without caring for the order of ties), then the rows before that
                        // key (fewer than the page needs, sorted) and the rows with that
                        // key in id order (an equality on the index: no sort at all).
                        let wanted = input.offset.saturating_add(limit);
                        let mut last = Fragment::default();
                        last.push(&format!("SELECT {first}"))
                            .append(page_from(&hint))
                            .append(filter.clone())
                            .append(tail.clone())
                            .append(with.clone())
                            .push(&format!(" ORDER BY {first} DESC LIMIT 1 OFFSET "))
                            .bind(Sql::Integer(
                                wanted.saturating_sub(1).min(i64::MAX as u64) as i64
                            ));
                        let boundary_key: Option<Sql> =
                            with_statement(conn, &last.sql, &last.params, |s, p| {
                                Ok(s.query_row(params_from_iter(p.iter()), |r| r.get(0))
                                    .optional()?)
                            })?;
                        let mut found = match boundary_key {
                            None => fetch(&page_of(&hint, &with, order.clone(), wanted, 0))?,
                            Some(key) => {
                                let mut before = with.clone();
                                before.push(&format!(" AND {first} > ")).bind(key.clone());
                                let mut found =
                                    fetch(&page_of(&hint, &before, order.clone(), wanted, 0))?;
                                let mut at = with.clone();
                                at.push(&format!(" AND {first} = ")).bind(key);
                                let more = wanted.saturating_sub(found.len() as u64);
                                let mut ties = page_of(&hint, &at, order.clone(), more, 0);
                                if hint.is_empty() && sorting(s.conn, &ties)? != Sorting::None {
                                    // SQLite's index for the filter would sort the ties:
                                    // the key's own index holds them in id order.
                                    let index = first_index.as_deref().unwrap_or_default();
                                    ties = page_of(
                                        &format!(" INDEXED BY {index}"),
                                        &at,
                                        order.clone(),
                                        more,
                                        0,
                                    );
                                }
                                found.extend(fetch(&ties)?);
                                found
                            }
                        };
                        let skip = (input.offset.min(found.len() as u64)) as usize;
                        found.drain(..skip);
                        found.truncate(limit.min(usize::MAX as u64) as usize);
                        found
                    } else {
                        let hint = choose(s, &plain)?;
                        if hint.is_empty() {
                            fetch(&plain)?
                        } else {
                            fetch(&page_of(&hint, &with, order, limit, input.offset))?
                        }
                    }
                }
            };
            let missing = limit - objects.len() as u64;
            if missing > 0 {
                let offset = if objects.is_empty() && input.offset > 0 {
                    let mut c = Fragment::default();
                    c.push(&format!("SELECT COUNT(*){}", from(false)))
                        .append(filter.clone())
                        .append(with.clone());
                    input.offset.saturating_sub(s.count(&c.sql, &c.params)?)
                } else {
                    0
                };
                let without = column(&format!(" AND {first} IS NULL"));
                objects.extend(fetch(&page_of("", &without, rest, missing, offset))?);
            }
            objects
        }
        Some(_) => {
            let plain = page_of("", &Fragment::default(), terms(&keys), limit, input.offset);
            let hint = choose(s, &plain)?;
            if hint.is_empty() {
                fetch(&plain)?
            } else {
                fetch(&page_of(
                    &hint,
                    &Fragment::default(),
                    terms(&keys),
                    limit,
                    input.offset,
                ))?
            }
        }
    };
    let mut rows = objects;
    let next = next_of(&mut rows, input.limit);
    let (objects, versions) = rows.into_iter().map(|(o, _)| o).unzip();
    Ok(Page {
        objects: with_properties(s.conn, s.properties(), objects, versions, columns)?,
        total,
        next,
        head: stable.head,
    })
}
