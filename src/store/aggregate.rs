//! Aggregates (`getAggregate`, API.md §12) as the stores compute them: groups of the
//! objects of one type that pass a condition, and per group the measures asked for.
//!
//! The service has settled everything here: which column each property is read from (by
//! value or by text), how a sum is kept exact, the order of the groups and how many. A
//! backend renders the plan into one grouped statement over its EAV rows (or, on SQLite, a
//! ready projection), with every name and value bound as a parameter.

use crate::query::plan::Cond;

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// The objects in the group.
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// The distinct values (`PropertyValue`) the group's objects have.
    CountDistinct,
}

impl Function {
    /// The name in an aggregate spec (`sum` of `sum:amount`).
    pub fn name(self) -> &'static str {
        match self {
            Function::Count => "count",
            Function::Sum => "sum",
            Function::Avg => "avg",
            Function::Min => "min",
            Function::Max => "max",
            Function::CountDistinct => "countDistinct",
        }
    }

    pub fn parse(name: &str) -> Option<Function> {
        [
            Function::Count,
            Function::Sum,
            Function::Avg,
            Function::Min,
            Function::Max,
            Function::CountDistinct,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

/// How a measured property's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// `PropertyAsDouble`; a sum adds whole numbers exactly (Integer properties).
    Integer,
    /// `PropertyAsDouble`; a sum adds exact ten-thousandths (Currency: 4 places at most).
    Currency,
    /// `PropertyAsDouble`, in floating point.
    Double,
    /// `PropertyValue`, in binary (code point) order.
    Text,
}

/// A property the groups are formed by: one group per `PropertyValue` (objects without
/// the property form one group, its key NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKey {
    pub property: String,
    /// Sorted by `PropertyAsDouble` (else by text, case-insensitively as lists sort).
    pub by_value: bool,
    /// Read the display text (`PropertyAsString`) too: Lookups and Lists.
    pub display: bool,
}

/// One measure per group.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub function: Function,
    /// `None` for `count`.
    pub property: Option<String>,
    pub reading: Reading,
}

/// A sort term of the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// The group key at this index of [`AggregatePlan::groups`].
    Group(usize),
    /// The measure at this index of [`AggregatePlan::measures`].
    Measure(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateOrder {
    pub sort: Sort,
    pub descending: bool,
}

/// A whole aggregate request as a store runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatePlan {
    pub object_type: String,
    /// `None` aggregates every object of the type.
    pub condition: Option<Cond>,
    /// Empty: one group of all matches.
    pub groups: Vec<GroupKey>,
    pub measures: Vec<Measure>,
    /// Then the group keys ascending, in order; a NULL sorts last in either direction.
    pub order: Vec<AggregateOrder>,
    pub limit: u64,
}

impl AggregatePlan {
    /// Every property the plan reads, each once, in order of first use.
    pub fn properties(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let all = self
            .groups
            .iter()
            .map(|g| g.property.as_str())
            .chain(self.measures.iter().filter_map(|m| m.property.as_deref()));
        for name in all {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The sort terms: those asked for, then every group key ascending (a total order of
    /// the groups, since their keys differ).
    pub fn sort_terms(&self) -> Vec<AggregateOrder> {
        let mut terms = self.order.clone();
        for i in 0..self.groups.len() {
            if !terms.iter().any(|t| t.sort == Sort::Group(i)) {
                terms.push(AggregateOrder {
                    sort: Sort::Group(i),
                    descending: false,
                });
            }
        }
        terms
    }
}

/// A measure's value as the database gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// No value (a sum, average, minimum or maximum over no values).
    Null,
    /// A count; an exact sum (whole numbers, or ten-thousandths for [`Reading::Currency`]).
    Integer(i128),
    Double(f64),
    Text(String),
}

/// One group key of a row: `PropertyValue` (`None` for the objects without the property)
/// and, when asked for, the display text.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    pub value: Option<String>,
    pub display: Option<String>,
}

/// One group: its keys in the order of [`AggregatePlan::groups`] and its figures in the
/// order of [`AggregatePlan::measures`].
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub keys: Vec<KeyValue>,
    pub figures: Vec<Figure>,
}

/// Tests: a measure of `function` over `property` read as `reading`.
#[cfg(test)]
pub(crate) fn measure(function: Function, property: Option<&str>, reading: Reading) -> Measure {
    Measure {
        function,
        property: property.map(str::to_owned),
        reading,
    }
}

/// Tests: equal rows, floating figures within rounding (two plans may add in another order).
#[cfg(test)]
pub(crate) fn same_within_rounding(a: &[AggregateRow], b: &[AggregateRow]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.keys == y.keys
                && x.figures.len() == y.figures.len()
                && x.figures.iter().zip(&y.figures).all(|(f, g)| match (f, g) {
                    (Figure::Double(f), Figure::Double(g)) => {
                        (f - g).abs() <= 1e-9 * f.abs().max(1.0)
                    }
                    (f, g) => f == g,
                })
        })
}
