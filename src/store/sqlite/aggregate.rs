//! Aggregates on the embedded store: an [`AggregatePlan`] as one grouped SQLite statement.
//!
//! Over EAV, the matching objects are the query language's own statement (`query.rs`: its
//! count, selecting ids instead), and each property read is one LEFT JOIN on the primary
//! key `(OwnerObjectId, PropertyName)`. Over a ready projection (`projected.rs`) that holds
//! every property read and tested, the same statement reads the projection's row instead,
//! one row per object and no join but for display texts, which projections do not hold.
//! Both give the same answer (tested against each other in `aggregate_tests.rs`).
//!
//! Values: a group is one `PropertyValue` (objects without the property: one group, NULL);
//! by-value measures read `PropertyAsDouble`, text ones `PropertyValue`. A sum of an Integer
//! property adds 64-bit integers (exact; beyond ±9.2e18 it fails), of a Currency property
//! whole ten-thousandths (exact), of a Number property doubles. Every name and value is a
//! bound `?`.

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;

use super::counts::Snapshot;
use super::projected;
use super::query::{render_walk, text, Fragment};
use super::walk::Stable;
use crate::query::plan::QueryPlan;
use crate::store::aggregate::{
    AggregatePlan, AggregateRow, Figure, Function, KeyValue, Reading, Sort,
};
use crate::store::StoreError;

/// The columns of one property in the statement.
struct Columns {
    /// `PropertyValue`.
    value: String,
    /// `PropertyAsDouble`.
    double: String,
    /// `PropertyAsString`, when a group key shows it.
    display: Option<String>,
}

/// The statement without the source: what to select, group and order by.
fn grouped(plan: &AggregatePlan, columns: &dyn Fn(&str) -> Columns) -> (String, String, String) {
    let mut select = Vec::new();
    for g in &plan.groups {
        let c = columns(&g.property);
        select.push(c.value.clone());
        if g.display {
            select.push(format!(
                "MAX({})",
                c.display.unwrap_or_else(|| "NULL".into())
            ));
        }
    }
    let measures: Vec<String> = plan
        .measures
        .iter()
        .map(|m| {
            let c = m.property.as_deref().map(columns);
            let (value, double) = match &c {
                Some(c) => (c.value.as_str(), c.double.as_str()),
                None => ("NULL", "NULL"),
            };
            match (m.function, m.reading) {
                (Function::Count, _) => "COUNT(*)".to_string(),
                (Function::CountDistinct, _) => format!("COUNT(DISTINCT {value})"),
                (Function::Sum, Reading::Integer) => format!("SUM(CAST({double} AS INTEGER))"),
                (Function::Sum, Reading::Currency) => {
                    format!("SUM(CAST(ROUND({double} * 10000) AS INTEGER))")
                }
                (Function::Sum, _) => format!("SUM({double})"),
                (Function::Avg, _) => format!("AVG({double})"),
                (Function::Min | Function::Max, reading) => {
                    let f = if m.function == Function::Min {
                        "MIN"
                    } else {
                        "MAX"
                    };
                    if reading == Reading::Text {
                        format!("{f}({value})")
                    } else {
                        format!("{f}({double})")
                    }
                }
            }
        })
        .collect();
    select.extend(measures.iter().cloned());
    let select: Vec<String> = select
        .into_iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS c{}", i + 1))
        .collect();
    let group_by: Vec<String> = plan
        .groups
        .iter()
        .map(|g| columns(&g.property).value)
        .collect();
    let mut order = Vec::new();
    for term in plan.sort_terms() {
        let dir = if term.descending { "DESC" } else { "ASC" };
        match term.sort {
            Sort::Group(i) => {
                let g = &plan.groups[i];
                let c = columns(&g.property);
                order.push(format!("({}) IS NULL", c.value));
                if g.by_value {
                    order.push(format!("MIN({}) {dir}", c.double));
                } else {
                    order.push(format!("{} COLLATE NOCASE {dir}", c.value));
                }
                order.push(format!("{} {dir}", c.value));
            }
            Sort::Measure(i) => {
                let e = &measures[i];
                order.push(format!("({e}) IS NULL"));
                order.push(format!("{e} {dir}"));
            }
        }
    }
    let group_by = if group_by.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", group_by.join(", "))
    };
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    (select.join(", "), group_by, order)
}

/// The statement over EAV rows.
pub(super) fn render_eav(plan: &AggregatePlan) -> Fragment {
    let matching = render_walk(
        &QueryPlan {
            object_type: plan.object_type.clone(),
            condition: plan.condition.clone(),
            location: None,
            order: Vec::new(),
            offset: 0,
            limit: 0,
            walk: crate::store::Walk::default(),
        },
        &Stable::default(),
    )
    .count;
    let ids = matching
        .sql
        .strip_prefix("SELECT COUNT(*) FROM Objects o")
        .map(|rest| format!("SELECT o.ObjectId FROM Objects o{rest}"))
        .expect("the query's count statement reads Objects o");
    let names = plan.properties();
    let alias = |name: &str| {
        let i = names.iter().position(|n| *n == name).unwrap_or(0);
        format!("j{}", i + 1)
    };
    let columns = |name: &str| {
        let a = alias(name);
        Columns {
            value: format!("{a}.PropertyValue"),
            double: format!("{a}.PropertyAsDouble"),
            display: Some(format!("{a}.PropertyAsString")),
        }
    };
    let (select, group_by, order) = grouped(plan, &columns);
    let mut f = Fragment::default();
    f.push("WITH m(id) AS (").push(&ids);
    f.params.extend(matching.params);
    f.push(&format!(") SELECT {select} FROM m"));
    for name in &names {
        let a = alias(name);
        f.push(&format!(
            " LEFT JOIN Properties {a} ON {a}.OwnerObjectId = m.id AND {a}.PropertyName = "
        ))
        .bind(text(name));
    }
    f.push(&group_by).push(&order);
    limit(&mut f, plan);
    f
}

fn limit(f: &mut Fragment, plan: &AggregatePlan) {
    f.push(" LIMIT ")
        .bind(Sql::Integer(plan.limit.min(i64::MAX as u64) as i64));
}

/// The statement over the type's projection, when it holds every property the plan reads
/// and tests and is complete.
pub(super) fn render_projected(
    s: &Snapshot<'_>,
    plan: &AggregatePlan,
) -> Result<Option<Fragment>, StoreError> {
    let names = plan.properties();
    let Some((p, filter, reads_objects)) =
        projected::filter_over(s, &plan.object_type, plan.condition.as_ref(), &names)?
    else {
        return Ok(None);
    };
    // A display text is read once per group, from one of its objects (every object of a
    // group has the same one), not joined to every row.
    let columns = |name: &str| {
        let no = p.layout.column(name).map_or(0, |c| c.no);
        Columns {
            value: format!("p.v{no}"),
            double: format!("p.d{no}"),
            display: Some("p.ObjectId".into()),
        }
    };
    let (select, group_by, order) = grouped(plan, &columns);
    let mut f = Fragment::default();
    let mut outer = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("g.c{n}")
    };
    f.push("SELECT ");
    for g in &plan.groups {
        outer.push(next());
        if g.display {
            let rep = next();
            f.push(&format!("{}, ", outer.join(", ")));
            outer.clear();
            f.push(&format!(
                "(SELECT x.PropertyAsString FROM Properties x WHERE x.OwnerObjectId = {rep} AND x.PropertyName = "
            ))
            .bind(text(&g.property))
            .push("), ");
        }
    }
    for _ in &plan.measures {
        outer.push(next());
    }
    if outer.is_empty() {
        // Only keys with displays: drop the trailing comma.
        f.sql.truncate(f.sql.len() - 2);
    } else {
        f.push(&outer.join(", "));
    }
    f.push(&format!(" FROM (SELECT {select} FROM Proj_{} p", p.table));
    if reads_objects {
        f.push(" CROSS JOIN Objects o");
    }
    f.push(" WHERE ");
    if reads_objects {
        f.push("o.ObjectId = p.ObjectId AND ");
    }
    f.append(filter);
    f.push(&group_by).push(&order);
    limit(&mut f, plan);
    f.push(") g");
    Ok(Some(f))
}

/// Runs an aggregate plan: over the projection when it can answer, else over EAV.
pub(super) fn run(
    s: &mut Snapshot<'_>,
    plan: &AggregatePlan,
) -> Result<Vec<AggregateRow>, StoreError> {
    let statement = match render_projected(s, plan)? {
        Some(f) => f,
        None => render_eav(plan),
    };
    execute(s, plan, &statement)
}

/// Runs a rendered statement and reads its rows.
pub(super) fn execute(
    s: &Snapshot<'_>,
    plan: &AggregatePlan,
    f: &Fragment,
) -> Result<Vec<AggregateRow>, StoreError> {
    let mut statement = s.conn.prepare_cached(&f.sql)?;
    let rows = statement.query_map(params_from_iter(f.params.iter()), |row| {
        let mut at = 0;
        let mut keys = Vec::with_capacity(plan.groups.len());
        for g in &plan.groups {
            let value: Option<String> = row.get(at)?;
            at += 1;
            let display = if g.display {
                at += 1;
                row.get(at - 1)?
            } else {
                None
            };
            keys.push(KeyValue { value, display });
        }
        let mut figures = Vec::with_capacity(plan.measures.len());
        for _ in &plan.measures {
            figures.push(match row.get::<_, Sql>(at)? {
                Sql::Null => Figure::Null,
                Sql::Integer(i) => Figure::Integer(i128::from(i)),
                Sql::Real(d) => Figure::Double(d),
                Sql::Text(t) => Figure::Text(t),
                Sql::Blob(b) => Figure::Text(String::from_utf8_lossy(&b).into_owned()),
            });
            at += 1;
        }
        Ok(AggregateRow { keys, figures })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
