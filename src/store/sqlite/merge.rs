//! The first ids of an unordered page by a bounded merge of point ranges (issue 13).
//!
//! When every match of a filter lies in one of R point ranges of an index whose next key
//! is `ObjectId` (equalities on all of its columns: the path `d4 IN (100 companies) AND n4
//! IS NULL` over a Lookup's index `(d4, n4)`, a Lookup's equality or list of ids, a prefix's
//! values times the values of a range on the next column of `(lastName, age)`), each range
//! holds its matches in id order, and the first N matches (by id) are found without reading
//! every match or walking the table:
//! 1. each range's first k matching ids, k = ⌈N / R⌉ (one seek each; a range with fewer
//!    matches gives all it has): about N + R ids;
//! 2. B = the N-th smallest of those: at least N matches have an id ≤ B (fewer than N
//!    ids, as when a few ranges hold most matches: k = N once more; still fewer, there are
//!    fewer than N matches: the caller's plan);
//! 3. every match with an id ≤ B, from those ranges (each seeks `ObjectId <= B` in its
//!    range), sorted: the first N of them are the first N matches.
//!
//! The ranges hold exactly the filter's matches (read in the query's snapshot: the far
//! end's ids, the values under a prefix and the numbers in a range of the next column), so
//! the statements test the ranges and the page's keyset only: no value is bound where
//! SQLite's planner looks at it (with STAT4 samples a statement whose plan read a bound
//! value is prepared again at every run that binds it; the ranges come as JSON arrays, the
//! bound B and the values a seek starts from as `(SELECT ?)`).

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde_json::Value as Json;

use super::counts::Snapshot;
use super::literal::with_statement;
use super::projection::{Layout, Projection};
use super::query::{Fragment, Renderer};

use crate::query::plan::{Cmp, Cond, Hop, Test};
use crate::store::StoreError;

thread_local! {
    /// Tests: `Some(true)` makes every unordered page whose filter is a union of point
    /// ranges take the bounded merge whenever it finds a bound, `Some(false)` never; `None`
    /// chooses by the estimate.
    pub(super) static FORCE_MERGE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    /// Tests: how many pages the merge answered on this thread.
    pub(super) static MERGED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// At most this many ranges are merged (each costs a seek).
pub(super) const MAX_RANGES: usize = 256;

/// What one range's seek costs, in rows of the walk in id order (a leaf page of the index
/// after a write, about 30 rows of a projection's page, and the seek's CPU).
pub(super) const SEEK: u64 = 16;

/// The distinct values of a text column in `[from, to)` (the renderer's, see `projected.rs`).
pub(super) type PrefixValues<'a> = &'a dyn Fn(usize, &str, &str) -> Option<Vec<String>>;

/// Point ranges of an index: the rows with `first = a` (and `second IS b`) for every `a`
/// of `a` (and `b` of `b`), each held in id order by `index`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Points {
    index: String,
    first: String,
    second: Option<String>,
    a: Vec<Sql>,
    b: Vec<Sql>,
    /// Seeks spent finding the ranges (the values of `second`).
    pub found_by: u64,
}

impl Points {
    /// The number of ranges.
    pub(super) fn len(&self) -> usize {
        self.a.len() * self.b.len().max(1)
    }
}

/// The index of `p` that is exactly `columns` (so that after them comes `ObjectId`; a
/// Lookup column's `n<k>` follows its declared keys).
fn index_of(p: &Projection, columns: &[usize]) -> Option<String> {
    let i = p
        .layout
        .indexes
        .iter()
        .position(|ix| ix.as_slice() == columns)?;
    Some(format!("IX_Proj_{}_{i}", p.table))
}

/// Values deduplicated as SQL compares them (numbers by value, text by its bytes).
fn distinct(values: Vec<Sql>) -> Option<Vec<Sql>> {
    let mut out: Vec<Sql> = Vec::with_capacity(values.len());
    for v in values {
        let v = match v {
            Sql::Integer(n) => Sql::Real(n as f64),
            Sql::Real(d) if d.is_finite() => Sql::Real(d),
            Sql::Text(t) => Sql::Text(t),
            // NULL matches no equality; anything else: not a point range we write.
            Sql::Null => continue,
            _ => return None,
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Some(out)
}

fn json_of(values: &[Sql]) -> String {
    Json::Array(
        values
            .iter()
            .map(|v| match v {
                Sql::Real(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
                Sql::Integer(n) => Json::from(*n),
                Sql::Text(t) => Json::String(t.clone()),
                _ => Json::Null,
            })
            .collect(),
    )
    .to_string()
}

/// Whether `cond` has a shape [`points`] serves (read from the plan alone, before any
/// statement: the caller counts the matches only then).
pub(super) fn fits(p: &Projection, cond: Option<&Cond>) -> bool {
    let Some(mut cond) = cond else {
        return false;
    };
    while let Cond::And(items) | Cond::Or(items) = cond {
        match items.as_slice() {
            [only] => cond = only,
            _ => break,
        }
    }
    let layout = &p.layout;
    let own_index = |name: &str| {
        layout
            .column(name)
            .filter(|c| c.by_value)
            .is_some_and(|c| index_of(p, &[c.no]).is_some())
    };
    fn equality(c: &Cond) -> Option<&str> {
        match c {
            Cond::Test {
                hops,
                test:
                    Test::Double {
                        property,
                        cmp: Cmp::Eq,
                        ..
                    },
            } if hops.is_empty() => Some(property.as_str()),
            _ => None,
        }
    }
    match cond {
        Cond::Test { hops, test } => match (hops.first(), test) {
            (Some(Hop::Lookup(name)), _) => {
                layout.column(name).is_some_and(|c| c.lookup) && own_index(name)
            }
            (None, Test::OneOf { property, .. }) => own_index(property),
            (None, _) => equality(cond).is_some_and(own_index),
            _ => false,
        },
        Cond::Or(items) => {
            let names: Vec<Option<&str>> = items.iter().map(equality).collect();
            !names.is_empty()
                && names.iter().all(|n| n.is_some() && *n == names[0])
                && names[0].is_some_and(own_index)
        }
        Cond::And(items) => match items.as_slice() {
            [x, y] => [(x, y), (y, x)].iter().any(|(t, n)| match (t, n) {
                (
                    Cond::Test {
                        test:
                            Test::Text {
                                property: text,
                                cmp: Cmp::StartsWith,
                                ..
                            },
                        ..
                    },
                    Cond::Test {
                        test:
                            Test::Double {
                                property: number, ..
                            },
                        ..
                    },
                ) => match (layout.column(text), layout.column(number)) {
                    (Some(a), Some(b)) => index_of(p, &[a.no, b.no]).is_some(),
                    _ => false,
                },
                _ => false,
            }),
            _ => false,
        },
        Cond::Not(_) => false,
    }
}

/// The point ranges that cover every match of `cond` over `p`, when `cond` is one of the
/// shapes the merge serves and there are at most `most` of them; `None` otherwise.
/// `prefix_values` reads the distinct values of a text column under a prefix (the
/// renderer's, see `projected.rs`).
pub(super) fn points(
    s: &Snapshot<'_>,
    p: &Projection,
    cond: Option<&Cond>,
    most: usize,
    prefix_values: PrefixValues<'_>,
) -> Result<Option<Points>, StoreError> {
    let Some(mut cond) = cond else {
        return Ok(None);
    };
    while let Cond::And(items) | Cond::Or(items) = cond {
        match items.as_slice() {
            [only] => cond = only,
            _ => break,
        }
    }
    let layout = &p.layout;
    let most = most.min(MAX_RANGES);
    let equalities = |name: &str, values: Vec<Sql>| list(s, p, name, values, most);
    let found = match cond {
        Cond::Test { hops, test } => match (hops.split_first(), test) {
            // A path through a Lookup: the far end's ids, the rows that hold one as a Lookup.
            (Some((Hop::Lookup(name), rest)), _) => {
                let Some(c) = layout.column(name).filter(|c| c.lookup) else {
                    return Ok(None);
                };
                let Some(index) = index_of(p, &[c.no]) else {
                    return Ok(None);
                };
                let chain = Renderer::default().chain(rest, test);
                let mut f = Fragment::default();
                f.push("WITH q(x) AS (")
                    .append(chain)
                    .push(&format!(") SELECT DISTINCT x FROM q LIMIT {}", most + 1));
                let values: Vec<Sql> = with_statement(s.conn, &f.sql, &f.params, |st, p| {
                    Ok(st
                        .query_map(params_from_iter(p.iter()), |r| r.get(0))?
                        .collect::<Result<_, _>>()?)
                })?;
                distinct(values)
                    .filter(|a| a.len() <= most)
                    .map(|a| Points {
                        index,
                        first: format!("p.d{}", c.no),
                        second: Some(format!("p.n{}", c.no)),
                        a,
                        b: vec![Sql::Null],
                        found_by: 0,
                    })
            }
            (
                None,
                Test::Double {
                    property,
                    cmp: Cmp::Eq,
                    value,
                },
            ) => equalities(property, vec![Sql::Real(*value)])?,
            (None, Test::OneOf { property, values }) => {
                equalities(property, values.iter().map(|v| Sql::Real(*v)).collect())?
            }
            _ => None,
        },
        Cond::Or(items) => {
            // `company == id(1) or company == id(2)`: equalities on one column.
            match super::projected::or_equalities(items) {
                Some((name, values)) => {
                    equalities(name, values.into_iter().map(Sql::Real).collect())?
                }
                None => None,
            }
        }
        Cond::And(items) => match items.as_slice() {
            [x, y] => match prefix_and_range(s, layout, p, x, y, most, prefix_values)? {
                Some(found) => Some(found),
                None => prefix_and_range(s, layout, p, y, x, most, prefix_values)?,
            },
            _ => None,
        },
        Cond::Not(_) => None,
    };
    Ok(found)
}

/// An equality list on column `name` (compared by value) over its own index. A Lookup
/// column's rows hold `n<k>` NULL (a Lookup) or 1 (another value stored there): the ranges
/// with 1 only when a row holds one of the values so (one seek per value), else every
/// other range would be empty and the bound found from half of them.
fn list(
    s: &Snapshot<'_>,
    p: &Projection,
    name: &str,
    values: Vec<Sql>,
    most: usize,
) -> Result<Option<Points>, StoreError> {
    let Some(c) = p.layout.column(name).filter(|c| c.by_value) else {
        return Ok(None);
    };
    let Some(index) = index_of(p, &[c.no]) else {
        return Ok(None);
    };
    let Some(a) = distinct(values) else {
        return Ok(None);
    };
    let (second, b) = if c.lookup {
        let k = c.no;
        let others: bool = s
            .conn
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM json_each(?1) a CROSS JOIN Proj_{t} p \
                 INDEXED BY {index} WHERE p.d{k} = a.value AND p.n{k} = 1)",
                t = p.table
            ))?
            .query_row([json_of(&a)], |r| r.get(0))?;
        let b = if others {
            vec![Sql::Null, Sql::Integer(1)]
        } else {
            vec![Sql::Null]
        };
        (Some(format!("p.n{k}")), b)
    } else {
        (None, Vec::new())
    };
    let found = Points {
        index,
        first: format!("p.d{}", c.no),
        second,
        a,
        b,
        found_by: 0,
    };
    Ok((found.len() <= most).then_some(found))
}

/// `text startswith "M" and number < 20` with an index `(text, number)` (the text exact):
/// the values under the prefix (one seek each), times the distinct numbers in the range
/// for any of them (one seek each, per value).
fn prefix_and_range(
    s: &Snapshot<'_>,
    layout: &Layout,
    p: &Projection,
    prefix: &Cond,
    range: &Cond,
    most: usize,
    prefix_values: PrefixValues<'_>,
) -> Result<Option<Points>, StoreError> {
    let (
        Cond::Test {
            hops: h1,
            test:
                Test::Text {
                    property: text,
                    cmp: Cmp::StartsWith,
                    value: start,
                },
        },
        Cond::Test {
            hops: h2,
            test:
                Test::Double {
                    property: number,
                    cmp,
                    value: bound,
                },
        },
    ) = (prefix, range)
    else {
        return Ok(None);
    };
    if !h1.is_empty() || !h2.is_empty() || *cmp == Cmp::StartsWith || *cmp == Cmp::Like {
        return Ok(None);
    }
    let (Some(x), Some(y)) = (
        layout.column(text).filter(|c| !c.by_value && !c.lookup),
        layout.column(number).filter(|c| c.by_value && !c.lookup),
    ) else {
        return Ok(None);
    };
    let Some(index) = index_of(p, &[x.no, y.no]) else {
        return Ok(None);
    };
    // The index holds the text exactly (a column before the last one): see `Layout::exact`.
    let Some(a) = prefix_values(x.no, start, &format!("{start}\u{10FFFF}")) else {
        return Ok(None);
    };
    if a.is_empty() {
        return Ok(None);
    }
    let per_value = most / a.len();
    let (vx, dy, t) = (format!("v{}", x.no), format!("d{}", y.no), p.table);
    let op = cmp.sql();
    let sql = format!(
        "WITH RECURSIVE d(y) AS (\
         SELECT (SELECT MIN({dy}) FROM Proj_{t} WHERE {vx} = (SELECT ?1) AND {dy} {op} (SELECT ?2)) \
         UNION ALL SELECT (SELECT MIN({dy}) FROM Proj_{t} WHERE {vx} = (SELECT ?1) \
         AND {dy} {op} (SELECT ?2) AND {dy} > d.y) \
         FROM d WHERE d.y IS NOT NULL LIMIT {}) \
         SELECT y FROM d WHERE y IS NOT NULL",
        per_value + 2
    );
    let mut b: Vec<Sql> = Vec::new();
    let mut seeks = 0;
    let mut stmt = s.conn.prepare_cached(&sql)?;
    for v in &a {
        let ys: Vec<Sql> = stmt
            .query_map(rusqlite::params![v, bound], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        seeks += ys.len() as u64 + 1;
        if ys.len() > per_value {
            return Ok(None);
        }
        b.extend(ys);
    }
    let Some(b) = distinct(b) else {
        return Ok(None);
    };
    let found = Points {
        index,
        first: format!("p.{vx}"),
        second: Some(format!("p.{dy}")),
        a: a.into_iter().map(Sql::Text).collect(),
        b,
        found_by: seeks,
    };
    // No number in the range: no match, and nothing to merge (the caller's plan is cheap).
    Ok((!found.b.is_empty() && found.len() <= most).then_some(found))
}

/// The ids of the first `wanted` matches of an unordered page (the rows of `p` in
/// `points`' ranges, exactly the filter's matches, with `tail`: the cursor's keyset), in id
/// order, and maybe more; `None` when there is no bound (fewer than `wanted` matches, or too few in
/// the fullest ranges): then the caller's plan.
pub(super) fn page_by_merge(
    s: &Snapshot<'_>,
    p: &Projection,
    points: &Points,
    tail: &Fragment,
    wanted: u64,
) -> Result<Option<Vec<i64>>, StoreError> {
    let ranges = points.len() as u64;
    if ranges == 0 || wanted == 0 {
        return Ok(None);
    }
    let table = p.table;
    let index = &points.index;
    // `a` (and `b`) and the row of one range, over `Proj_<t> p`.
    let (ranges_from, in_range) = match &points.second {
        Some(second) => (
            "json_each(?) a CROSS JOIN json_each(?) b",
            format!("{} = a.value AND {second} IS b.value", points.first),
        ),
        None => ("json_each(?) a", format!("{} = a.value", points.first)),
    };
    let values = |f: &mut Fragment| {
        f.params.push(Sql::Text(json_of(&points.a)));
        if points.second.is_some() {
            f.params.push(Sql::Text(json_of(&points.b)));
        }
    };
    // 1: the first k ids of each range, one seek each (a range with fewer gives all it has).
    // Integer literals, not bound: SQLite prepares a statement with a bound LIMIT again
    // whenever it is bound.
    let first_ids = |k: u64| -> Result<Vec<i64>, StoreError> {
        let mut f = Fragment::default();
        f.push(&format!(
            "SELECT (SELECT json_group_array(x) FROM (SELECT p.ObjectId AS x \
             FROM Proj_{table} p INDEXED BY {index} WHERE {in_range}"
        ))
        .append(tail.clone())
        .push(&format!(
            " ORDER BY p.ObjectId LIMIT {k})) FROM {ranges_from}"
        ));
        values(&mut f);
        let lists: Vec<String> = with_statement(s.conn, &f.sql, &f.params, |st, p| {
            Ok(st
                .query_map(params_from_iter(p.iter()), |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })?;
        let mut ids = Vec::new();
        for list in lists {
            let some: Vec<i64> = serde_json::from_str(&list)
                .map_err(|e| StoreError::Database(format!("merge: {e}")))?;
            ids.extend(some);
        }
        Ok(ids)
    };
    // 2: B, the `wanted`-th smallest of those: at least `wanted` matches lie at or below
    // it. With k = ⌈wanted / R⌉ there are about `wanted + R` of them; ranges of uneven
    // sizes (a few hold most matches) may give fewer: then k = `wanted`, which gives
    // `wanted` unless there are fewer matches.
    let k = wanted.div_ceil(ranges);
    let mut firsts = first_ids(k)?;
    if (firsts.len() as u64) < wanted && k < wanted {
        firsts = first_ids(wanted)?;
    }
    if (firsts.len() as u64) < wanted {
        return Ok(None);
    }
    let nth = (wanted - 1) as usize;
    let (_, b, _) = firsts.select_nth_unstable(nth);
    let b = *b;
    // 3: every match at or below B, range by range.
    let mut ids = Fragment::default();
    ids.push(&format!("SELECT p.ObjectId FROM {ranges_from}"));
    values(&mut ids);
    ids.push(&format!(
        " CROSS JOIN Proj_{table} p INDEXED BY {index} WHERE {in_range} AND p.ObjectId <= (SELECT "
    ))
    .bind(Sql::Integer(b))
    .push(")")
    .append(tail.clone());
    let mut found: Vec<i64> = with_statement(s.conn, &ids.sql, &ids.params, |st, p| {
        Ok(st
            .query_map(params_from_iter(p.iter()), |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    })?;
    found.sort_unstable();
    found.dedup();
    if (found.len() as u64) < wanted {
        // Ranges that share rows (none of the shapes above do): no bound after all.
        return Ok(None);
    }
    MERGED.with(|c| c.set(c.get() + 1));
    Ok(Some(found))
}
