//! An aggregate over a projection answers exactly what it answers over EAV: random data
//! (the projection tests' world, written through every write path), random groupings,
//! measures, conditions, orders and limits, both statements run in one snapshot.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::aggregate::{execute, render_eav, render_projected};
use super::counts::{CountCache, Snapshot};
use super::projection_tests::{change, condition, person, reader, world};
use crate::query::resolve::{self, Paging};
use crate::store::aggregate::{
    measure, same_within_rounding as same, AggregateOrder, AggregatePlan, Function, GroupKey,
    Measure, Reading, Sort,
};

/// The group keys a plan may take over `P`: (property, by value, display).
const GROUPS: [(&str, bool, bool); 6] = [
    ("status", false, true),
    ("company", true, true),
    ("active", true, false),
    ("age", true, false),
    ("last", false, false),
    ("born", true, false),
];

/// The measures, and whether sorting by them is exact (floating sums are not: their order
/// of addition may differ between the plans).
fn measures() -> Vec<(Measure, bool)> {
    let m = measure;
    vec![
        (m(Function::Count, None, Reading::Double), true),
        (m(Function::Sum, Some("age"), Reading::Integer), true),
        (m(Function::Sum, Some("score"), Reading::Double), false),
        (m(Function::Avg, Some("age"), Reading::Integer), false),
        (m(Function::Min, Some("born"), Reading::Double), true),
        (m(Function::Max, Some("last"), Reading::Text), true),
        (m(Function::Max, Some("score"), Reading::Double), true),
        (
            m(Function::CountDistinct, Some("first"), Reading::Text),
            true,
        ),
        (m(Function::Min, Some("company"), Reading::Double), true),
    ]
}

#[derive(Debug, Clone)]
struct Shape {
    groups: Vec<usize>,
    measures: Vec<usize>,
    /// (index into the chosen groups or measures, is a measure, descending)
    order: Vec<(usize, bool, bool)>,
    limit: u64,
    condition: Option<String>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::sample::subsequence((0..GROUPS.len()).collect::<Vec<_>>(), 0..=3),
        prop::sample::subsequence((0..measures().len()).collect::<Vec<_>>(), 1..=5),
        prop::collection::vec((0usize..8, any::<bool>(), any::<bool>()), 0..3),
        0u64..25,
        prop::option::of(condition()),
    )
        .prop_map(|(groups, measures, order, limit, condition)| Shape {
            groups,
            measures,
            order,
            limit,
            condition,
        })
}

fn plan(shape: &Shape, ds: &crate::service::Datastore) -> Result<AggregatePlan, TestCaseError> {
    let all = measures();
    let condition = match &shape.condition {
        None => None,
        Some(text) => {
            let parsed = crate::query::parse(text)
                .map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
            let paging = Paging {
                offset: None,
                limit: None,
                max_results: 1000,
            };
            resolve::resolve(&parsed, "P", ds.schema().as_ref(), paging)
                .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?
                .condition
        }
    };
    let mut order: Vec<AggregateOrder> = Vec::new();
    for &(i, measure, descending) in &shape.order {
        let sort = if measure {
            let Some(&m) = shape.measures.get(i % shape.measures.len()) else {
                continue;
            };
            if !all[m].1 {
                continue;
            }
            Sort::Measure(i % shape.measures.len())
        } else if shape.groups.is_empty() {
            continue;
        } else {
            Sort::Group(i % shape.groups.len())
        };
        if !order.iter().any(|o| o.sort == sort) {
            order.push(AggregateOrder { sort, descending });
        }
    }
    Ok(AggregatePlan {
        object_type: "P".into(),
        condition,
        groups: shape
            .groups
            .iter()
            .map(|&g| GroupKey {
                property: GROUPS[g].0.into(),
                by_value: GROUPS[g].1,
                display: GROUPS[g].2,
            })
            .collect(),
        measures: shape.measures.iter().map(|&m| all[m].0.clone()).collect(),
        order,
        limit: shape.limit,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn an_aggregate_over_the_projection_answers_what_it_answers_over_eav(
        people in prop::collection::vec(person(), 0..40),
        changes in prop::collection::vec(change(), 0..12),
        shapes in prop::collection::vec(shape(), 10),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let w = runtime.block_on(world(&people, &changes));
        let conn = reader(&w.path);
        for shape in &shapes {
            let plan = plan(shape, &w.ds)?;
            let mut cache = CountCache::default();
            let s = Snapshot::begin(&conn, &mut cache).unwrap();
            let eav = execute(&s, &plan, &render_eav(&plan)).unwrap();
            let projected = render_projected(&s, &plan).unwrap().expect("P's projection serves the plan");
            let fast = execute(&s, &plan, &projected).unwrap();
            s.end().unwrap();
            prop_assert!(same(&fast, &eav), "{:?}\nprojection: {:?}\neav: {:?}", plan, fast, eav);
            if plan.groups.is_empty() {
                prop_assert_eq!(eav.len(), usize::from(plan.limit > 0));
            }
        }
    }
}
