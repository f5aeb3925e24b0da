//! A query resolved against the schema: what each backend renders into SQL.
//!
//! Every path is settled here: which hops lead from the object to the one tested (Lookups,
//! JsonArrays of ids, children, parents), which column is compared (by value or by text),
//! and each literal converted to what that column holds. A backend's renderer only decides
//! how to say it in its dialect, and binds every name and value as a parameter.

use chrono::{DateTime, Utc};

use crate::model::{Order, SystemField};

/// A whole query over objects of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub object_type: String,
    /// `None` matches every object of the type.
    pub condition: Option<Cond>,
    pub location: Option<LocationSearch>,
    /// Empty: by objectId, or by distance for `near`.
    pub order: Vec<Order>,
    pub offset: u64,
    pub limit: u64,
    /// Cursor paging (API.md §12).
    pub walk: crate::store::Walk,
}

/// `within` or `near` on a Location property.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationSearch {
    pub property: String,
    pub lat: f64,
    pub lng: f64,
    /// `Some` for `within`; `None` for `near` (sorted by distance).
    pub radius_km: Option<f64>,
}

/// A condition on an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// The complement: `!=` and `== null` are the objects the positive test does not match.
    Not(Box<Cond>),
    /// The object, or an object reached from it through `hops`, passes `test`.
    Test {
        hops: Vec<Hop>,
        test: Test,
    },
}

/// One step from an object to related objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Hop {
    /// The object a Lookup property points at.
    Lookup(String),
    /// The objects whose ids a JsonArray property holds (any element).
    IdArray(String),
    /// Children of this type.
    Children(String),
    /// Parents of this type.
    Parents(String),
}

/// A comparison operator as the column sees it (`!=` became a [`Cond::Not`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
    /// Prefix, case-sensitive (text only).
    StartsWith,
    /// Contains, case-insensitive (text only).
    Like,
}

impl Cmp {
    /// The SQL operator of the relational ones.
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Gt => ">",
            Cmp::Lt => "<",
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::StartsWith | Cmp::Like => "",
        }
    }
}

/// A scalar to compare a JSON element or map value with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Double(f64),
    Text(String),
    Bool(bool),
}

/// What is tested on one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The object has the property.
    Has(String),
    /// `PropertyAsDouble` of the property (numbers, dates, switches, lookups, array sizes).
    Double {
        property: String,
        cmp: Cmp,
        value: f64,
    },
    /// `PropertyValue` of the property.
    Text {
        property: String,
        cmp: Cmp,
        value: String,
    },
    /// Some element of a JsonArray property.
    Element {
        property: String,
        cmp: Cmp,
        value: Scalar,
    },
    /// The value under `key` of a Map property.
    MapValue {
        property: String,
        key: String,
        cmp: Cmp,
        value: Scalar,
    },
    /// `PropertyAsDouble` of the property is one of `values` (bound as one JSON array, so
    /// any number of them): the ids a path through a Lookup to a global type matched in
    /// the global database.
    OneOf { property: String, values: Vec<f64> },
    /// A system field of the object.
    System {
        field: SystemField,
        cmp: Cmp,
        value: SystemValue,
    },
}

impl Test {
    /// The property tested, or `None` for a system field.
    pub fn property(&self) -> Option<&str> {
        match self {
            Test::Has(property)
            | Test::Double { property, .. }
            | Test::Text { property, .. }
            | Test::Element { property, .. }
            | Test::MapValue { property, .. }
            | Test::OneOf { property, .. } => Some(property),
            Test::System { .. } => None,
        }
    }
}

/// `values` as a JSON array, whole numbers (ids) without a fraction: one parameter for
/// [`Test::OneOf`], however many there are.
pub fn json_numbers(values: &[f64]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                format!("{}", *v as i64)
            } else {
                format!("{v:e}")
            }
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A system field's literal.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemValue {
    Integer(i64),
    Text(String),
    Instant(DateTime<Utc>),
}
