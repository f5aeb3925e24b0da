//! Aggregates on SQL Server: an [`AggregatePlan`] as one grouped T-SQL statement.
//!
//! The matching objects are the query language's own condition (`query.rs`, the WHERE of
//! its count statement, on `dbo.Objects AS o`), and each property read is one LEFT JOIN on
//! the clustered key `(OwnerObjectId, PropertyName)`. A group is one `PropertyValue`
//! (binary collation, as everywhere); by-value measures read `PropertyAsDouble`. Exact
//! sums are `decimal(38,0)` (whole numbers, or ten-thousandths for Currency) returned as
//! text, so no integer overflows and nothing is rounded; counts are `COUNT_BIG`. The groups
//! are paged with `OFFSET 0 ROWS FETCH NEXT @Pn ROWS ONLY`. Every name and value is a bound
//! `@Pn` parameter.

use super::exec::{self, Param};
use super::pool::{Client, Fail};
use std::sync::Arc;

use super::query::build_projected as build_projected_query;
use super::table::{Binder, TEXT_ORDER};
use super::walk::Stable;
use crate::query::plan::QueryPlan;
use crate::store::aggregate::{
    AggregatePlan, AggregateRow, Figure, Function, KeyValue, Reading, Sort,
};
use crate::store::sqlite::projection::Layout;

/// A rendered statement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSql {
    pub sql: String,
    pub params: Vec<Param>,
}

/// What a measure's column holds, for reading it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Count,
    Double,
    Text,
}

fn column_of(function: Function, reading: Reading) -> Column {
    match (function, reading) {
        (Function::Count | Function::CountDistinct, _) => Column::Count,
        (Function::Sum, Reading::Integer | Reading::Currency) => Column::Text,
        (Function::Min | Function::Max, Reading::Text) => Column::Text,
        _ => Column::Double,
    }
}

/// The statement of a plan over the EAV rows.
#[cfg(test)]
pub fn build_aggregate(plan: &AggregatePlan) -> AggregateSql {
    build_projected(plan, None)
}

/// The statement of a plan; with the complete projection `proj` (table number, layout) of
/// the type, each projected property is read from the projection's row (`pj`): its value
/// `v<k>` and double `d<k>`, NULL without the property as the EAV LEFT JOIN gives. A display
/// text (`PropertyAsString`) is not projected: a group key that shows one still joins its
/// EAV row for it. The condition reads the projection as the query's count does.
pub fn build_projected(plan: &AggregatePlan, proj: Option<(i64, Arc<Layout>)>) -> AggregateSql {
    let layout = proj.as_ref().map(|(_, l)| l.clone());
    let matching = build_projected_query(
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
        proj,
        // The condition is what is taken from it, never a count from `dbo.LookupCounts`.
        false,
    );
    let condition = matching
        .sql
        .strip_prefix("SELECT COUNT_BIG(*)\nFROM dbo.Objects AS o")
        .expect("the query's count statement reads dbo.Objects AS o")
        .to_owned();
    let mut b = Binder {
        params: matching.params,
    };
    let names = plan.properties();
    let alias = |name: &str| {
        let i = names.iter().position(|n| *n == name).unwrap_or(0);
        format!("j{}", i + 1)
    };
    let column = |name: &str| layout.as_ref().and_then(|l| l.column(name)).map(|c| c.no);
    // (PropertyValue, PropertyAsDouble) of a property.
    let columns = |name: &str| match column(name) {
        Some(k) => (format!("pj.v{k}"), format!("pj.d{k}")),
        None => {
            let a = alias(name);
            (
                format!("{a}.PropertyValue"),
                format!("{a}.PropertyAsDouble"),
            )
        }
    };
    let displayed = |name: &str| plan.groups.iter().any(|g| g.display && g.property == name);
    let mut joins = String::new();
    for name in &names {
        if column(name).is_some() && !displayed(name) {
            continue;
        }
        let a = alias(name);
        joins.push_str(&format!(
            "\nLEFT JOIN dbo.Properties AS {a} ON {a}.OwnerObjectId = o.ObjectId AND {a}.PropertyName = {}",
            b.bind(*name)
        ));
    }
    let mut select = Vec::new();
    for g in &plan.groups {
        select.push(columns(&g.property).0);
        if g.display {
            select.push(format!("MAX({}.PropertyAsString)", alias(&g.property)));
        }
    }
    // (selected, sorted by): an exact sum is read as text but sorts as a number.
    let measures: Vec<(String, String)> = plan
        .measures
        .iter()
        .map(|m| {
            let (value, double) = m
                .property
                .as_deref()
                .map(columns)
                .unwrap_or_else(|| ("NULL".into(), "NULL".into()));
            let exact = |sum: String| (format!("CAST({sum} AS nvarchar(50))"), sum);
            let e = match (m.function, m.reading) {
                (Function::Count, _) => "COUNT_BIG(*)".to_string(),
                (Function::CountDistinct, _) => format!("COUNT_BIG(DISTINCT {value})"),
                (Function::Sum, Reading::Integer) => {
                    return exact(format!("SUM(CAST({double} AS decimal(38,0)))"))
                }
                (Function::Sum, Reading::Currency) => {
                    return exact(format!(
                        "SUM(CAST(ROUND({double} * 10000, 0) AS decimal(38,0)))"
                    ))
                }
                (Function::Sum, _) => format!("CAST(SUM({double}) AS float)"),
                (Function::Avg, _) => format!("CAST(AVG({double}) AS float)"),
                (Function::Min | Function::Max, reading) => {
                    let f = if m.function == Function::Min {
                        "MIN"
                    } else {
                        "MAX"
                    };
                    if reading == Reading::Text {
                        format!("{f}({value})")
                    } else {
                        format!("CAST({f}({double}) AS float)")
                    }
                }
            };
            (e.clone(), e)
        })
        .collect();
    select.extend(measures.iter().map(|(selected, _)| selected.clone()));
    let group_by: Vec<String> = plan.groups.iter().map(|g| columns(&g.property).0).collect();
    let mut sql = format!(
        "SELECT {}\nFROM dbo.Objects AS o{joins}{condition}",
        select.join(", ")
    );
    if !group_by.is_empty() {
        sql.push_str(&format!("\nGROUP BY {}", group_by.join(", ")));
        let mut order = Vec::new();
        for term in plan.sort_terms() {
            let dir = if term.descending { "DESC" } else { "ASC" };
            match term.sort {
                Sort::Group(i) => {
                    let g = &plan.groups[i];
                    let (value, double) = columns(&g.property);
                    order.push(format!("CASE WHEN {value} IS NULL THEN 1 ELSE 0 END"));
                    if g.by_value {
                        order.push(format!("MIN({double}) {dir}"));
                    } else {
                        order.push(format!("LOWER({value}) {TEXT_ORDER} {dir}"));
                    }
                    order.push(format!("{value} {dir}"));
                }
                Sort::Measure(i) => {
                    let e = &measures[i].1;
                    order.push(format!("CASE WHEN {e} IS NULL THEN 1 ELSE 0 END"));
                    order.push(format!("{e} {dir}"));
                }
            }
        }
        let limit = b.bind(plan.limit.min(i64::MAX as u64) as i64);
        sql.push_str(&format!(
            "\nORDER BY {}\nOFFSET 0 ROWS FETCH NEXT {limit} ROWS ONLY",
            order.join(", ")
        ));
    }
    AggregateSql {
        sql,
        params: b.params,
    }
}

/// Runs an aggregate plan, reading the type's complete projection where it holds a
/// property.
pub async fn run(c: &mut Client, plan: &AggregatePlan) -> Result<Vec<AggregateRow>, Fail> {
    let proj = super::projection::complete(c, &plan.object_type).await?;
    run_with(c, plan, proj).await
}

/// [`run`] with the projection given (or none: the EAV plan).
pub async fn run_with(
    c: &mut Client,
    plan: &AggregatePlan,
    proj: Option<(i64, Arc<Layout>)>,
) -> Result<Vec<AggregateRow>, Fail> {
    if plan.limit == 0 {
        // `FETCH NEXT 0 ROWS` is an error on SQL Server; no group is asked for.
        return Ok(Vec::new());
    }
    let built = build_projected(plan, proj);
    let rows = exec::rows(c, &built.sql, built.params).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut at = 0;
        let mut keys = Vec::with_capacity(plan.groups.len());
        for g in &plan.groups {
            let value = exec::text(row, at)?;
            at += 1;
            let display = if g.display {
                at += 1;
                exec::text(row, at - 1)?
            } else {
                None
            };
            keys.push(KeyValue { value, display });
        }
        let mut figures = Vec::with_capacity(plan.measures.len());
        for m in &plan.measures {
            let figure = match column_of(m.function, m.reading) {
                Column::Count => exec::get::<i64>(row, at)?
                    .map_or(Figure::Null, |n| Figure::Integer(i128::from(n))),
                Column::Double => exec::get::<f64>(row, at)?.map_or(Figure::Null, Figure::Double),
                Column::Text => exec::text(row, at)?.map_or(Figure::Null, Figure::Text),
            };
            figures.push(figure);
            at += 1;
        }
        out.push(AggregateRow { keys, figures });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::build_aggregate;
    use crate::query::plan::{Cmp, Cond, Test};
    use crate::store::aggregate::{
        measure, AggregateOrder, AggregatePlan, Function, GroupKey, Reading, Sort,
    };

    fn listing(plan: &AggregatePlan) -> String {
        let built = build_aggregate(plan);
        format!("{}\n-- {} parameters", built.sql, built.params.len())
    }

    #[test]
    fn aggregate_statements() {
        let everything = AggregatePlan {
            object_type: "Order".into(),
            condition: Some(Cond::Test {
                hops: Vec::new(),
                test: Test::Double {
                    property: "amount".into(),
                    cmp: Cmp::Gt,
                    value: 10.0,
                },
            }),
            groups: vec![
                GroupKey {
                    property: "status".into(),
                    by_value: false,
                    display: true,
                },
                GroupKey {
                    property: "placed".into(),
                    by_value: true,
                    display: false,
                },
            ],
            measures: vec![
                measure(Function::Count, None, Reading::Double),
                measure(Function::Sum, Some("quantity"), Reading::Integer),
                measure(Function::Sum, Some("amount"), Reading::Currency),
                measure(Function::Sum, Some("weight"), Reading::Double),
                measure(Function::Avg, Some("quantity"), Reading::Integer),
                measure(Function::Min, Some("placed"), Reading::Double),
                measure(Function::Max, Some("note"), Reading::Text),
                measure(Function::CountDistinct, Some("status"), Reading::Text),
            ],
            order: vec![AggregateOrder {
                sort: Sort::Measure(2),
                descending: true,
            }],
            limit: 10,
        };
        let totals = AggregatePlan {
            object_type: "Order".into(),
            condition: None,
            groups: Vec::new(),
            measures: vec![measure(Function::Count, None, Reading::Double)],
            order: Vec::new(),
            limit: 1000,
        };
        assert_snapshot!(format!(
            "-- grouped, filtered, ordered by a measure\n{}\n\n-- totals\n{}\n",
            listing(&everything),
            listing(&totals)
        ));
    }
}
