//! `getAggregate` (API.md §12): the request checked and turned into an [`AggregatePlan`],
//! and the store's rows rendered as JSON objects or CSV.
//!
//! Decisions (docs/API.md, "Aggregates"):
//! - `groupBy` and the measured properties are properties of the type; system fields are
//!   refused (objectType is fixed by the request, objectId and objectNumber are unique,
//!   createdAt/updatedAt are instants: each would make one group per object).
//! - A group is one stored value; objects without the property form one group, key `null`.
//!   Lookup and List keys carry `NAME@display` (the stored display text, as objects do).
//! - `sum`/`avg` take Integer, Number and Currency properties; `min`/`max` any property
//!   that compares as a whole (by value for numbers, dates, times, switches, Lookups; by
//!   text otherwise), rendered as the property's values are; `countDistinct` anything.
//! - Integer sums are exact 64-bit integers; Currency sums are exact decimals (added in
//!   ten-thousandths) rendered as Currency values (`"12.50"`); Number sums and every
//!   average are floating point.
//! - At most `limit` groups (default and maximum: `--max-results`), by default ordered by
//!   the group keys ascending, a `null` key last.

use chrono::{NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::error::{ErrorCode, ServiceError};
use super::render::{display_name, has_display, inert};
use super::{Datastore, Schema};
use crate::convert::{self, Context};
use crate::model::{is_system_field, PropertyType};
use crate::query::{self, resolve};
use crate::store::aggregate::{
    AggregateOrder, AggregatePlan, AggregateRow, Figure, Function, GroupKey, Measure, Reading, Sort,
};

/// Most group keys of one request.
pub const MAX_GROUPS: usize = 8;

/// Most measures of one request.
pub const MAX_MEASURES: usize = 32;

/// An aggregate request as the client sent it.
#[derive(Debug, Default)]
pub struct AggregateRequest {
    pub object_type: String,
    pub query: Option<String>,
    pub group_by: Option<Vec<String>>,
    /// Required (`None`: MISSING_PARAMETER).
    pub aggregates: Option<Vec<String>>,
    pub order_by: Option<Vec<String>>,
    pub limit: Option<u64>,
}

/// The answer: rows of named values, and the column names in order (for CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    pub columns: Vec<String>,
    pub rows: Vec<Map<String, Value>>,
}

impl Aggregates {
    pub fn json(&self) -> Value {
        Value::Array(self.rows.iter().cloned().map(Value::Object).collect())
    }

    /// CSV with a header row: the columns; text as is, `null` empty, other values as JSON.
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(self.columns.iter().cloned().map(inert))?;
        for row in &self.rows {
            out.write_record(self.columns.iter().map(|c| {
                inert(match row.get(c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
            }))?;
        }
        let bytes = out.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn bad(parameter: &str, message: String, details: Value) -> ServiceError {
    let mut details = details;
    if let Value::Object(m) = &mut details {
        m.insert("parameter".into(), parameter.into());
    }
    ServiceError::new(ErrorCode::InvalidParameter, message).with_details(details)
}

/// A checked measure with its name and the type of its property.
struct Checked {
    name: String,
    measure: Measure,
    ty: Option<PropertyType>,
}

impl Datastore {
    /// Checks an aggregate request, runs it and renders its groups.
    pub async fn aggregate(&self, req: AggregateRequest) -> Result<Aggregates, ServiceError> {
        let global = self.global_for_type(&req.object_type, false).await?;
        let ds = global.as_deref().unwrap_or(self);
        let schema = ds.schema();
        schema.check_object_type(&req.object_type)?;
        let object_type = req.object_type.as_str();

        // The properties: their types from the DSConfig, else as stored (open schema).
        let group_names = req.group_by.clone().unwrap_or_default();
        if group_names.len() > MAX_GROUPS {
            return Err(bad(
                "groupBy",
                format!("`groupBy` takes at most {MAX_GROUPS} properties"),
                json!({}),
            ));
        }
        let Some(aggregates) = req.aggregates.as_ref() else {
            return Err(ServiceError::new(
                ErrorCode::MissingParameter,
                "parameter `aggregates` is required",
            )
            .with_details(json!({ "parameter": "aggregates" })));
        };
        if aggregates.is_empty() {
            return Err(bad(
                "aggregates",
                "`aggregates` needs at least one of count, sum:P, avg:P, min:P, max:P, countDistinct:P".into(),
                json!({}),
            ));
        }
        if aggregates.len() > MAX_MEASURES {
            return Err(bad(
                "aggregates",
                format!("`aggregates` takes at most {MAX_MEASURES} entries"),
                json!({}),
            ));
        }
        let mut specs = Vec::new();
        for spec in aggregates {
            let (function, property) = match spec.split_once(':') {
                Some((f, p)) => (Function::parse(f.trim()), Some(p.trim().to_owned())),
                None => (Function::parse(spec.trim()), None),
            };
            let function = match (function, &property) {
                (Some(Function::Count), None) => Function::Count,
                (Some(f), Some(_)) if f != Function::Count => f,
                _ => {
                    return Err(bad(
                        "aggregates",
                        format!(
                        "`{spec}` is not one of count, sum:P, avg:P, min:P, max:P, countDistinct:P"
                    ),
                        json!({ "aggregate": spec }),
                    ))
                }
            };
            specs.push((spec.trim().to_owned(), function, property));
        }
        let mut names: Vec<&str> = group_names.iter().map(String::as_str).collect();
        names.extend(specs.iter().filter_map(|(_, _, p)| p.as_deref()));
        for (name, parameter) in group_names.iter().map(|n| (n.as_str(), "groupBy")).chain(
            specs
                .iter()
                .filter_map(|(_, _, p)| Some((p.as_deref()?, "aggregates"))),
        ) {
            if is_system_field(name) {
                return Err(bad(
                    parameter,
                    format!("`{name}` is a system field; aggregates group and measure properties"),
                    json!({ "propertyName": name }),
                ));
            }
            schema.property_type(object_type, name)?;
        }
        let unconfigured: Vec<String> = names
            .iter()
            .filter(|n| schema.property_config(object_type, n).is_none())
            .map(|n| n.to_string())
            .collect();
        let stored = if unconfigured.is_empty() {
            Vec::new()
        } else {
            ds.store
                .property_names(object_type, Some(&unconfigured))
                .await?
        };
        let type_of = |name: &str| -> Option<PropertyType> {
            schema
                .property_config(object_type, name)
                .map(|c| c.property_type)
                .or_else(|| stored.iter().find(|(n, _)| n == name).map(|(_, t)| *t))
        };

        let mut groups = Vec::new();
        let mut columns = Vec::new();
        for name in &group_names {
            if groups.iter().any(|g: &GroupKey| &g.property == name) {
                return Err(bad(
                    "groupBy",
                    format!("`{name}` is in `groupBy` twice"),
                    json!({ "propertyName": name }),
                ));
            }
            let ty = type_of(name).unwrap_or(PropertyType::String);
            if !ty.is_indexable() {
                return Err(bad(
                    "groupBy",
                    format!("`{name}` is a {ty} property; groups are formed by values that compare as a whole"),
                    json!({ "propertyName": name, "propertyType": ty.as_str() }),
                ));
            }
            let display = has_display(ty);
            groups.push(GroupKey {
                property: name.clone(),
                by_value: ty.compares_by_value(),
                display,
            });
            columns.push(name.clone());
            if display {
                columns.push(display_name(name));
            }
        }
        let mut measures: Vec<Checked> = Vec::new();
        for (spec, function, property) in specs {
            if measures.iter().any(|m| m.name == spec) || columns.contains(&spec) {
                return Err(bad(
                    "aggregates",
                    format!("`{spec}` is asked for twice"),
                    json!({ "aggregate": spec }),
                ));
            }
            let ty = property
                .as_deref()
                .map(|p| type_of(p).unwrap_or(PropertyType::String));
            let reading = match (function, ty) {
                (Function::Count, _) | (_, None) => Reading::Double,
                (Function::CountDistinct, Some(_)) => Reading::Text,
                (Function::Sum | Function::Avg, Some(t)) => match t {
                    PropertyType::Integer => Reading::Integer,
                    PropertyType::Currency => Reading::Currency,
                    PropertyType::Number => Reading::Double,
                    other => {
                        return Err(bad(
                            "aggregates",
                            format!("`{spec}`: {} takes a number (Integer, Number or Currency), `{}` is a {other} property", function.name(), property.as_deref().unwrap_or_default()),
                            json!({ "aggregate": spec, "propertyName": property, "propertyType": other.as_str() }),
                        ))
                    }
                },
                (Function::Min | Function::Max, Some(t)) => {
                    if !t.is_indexable() {
                        return Err(bad(
                            "aggregates",
                            format!("`{spec}`: a {t} property has no order"),
                            json!({ "aggregate": spec, "propertyName": property, "propertyType": t.as_str() }),
                        ));
                    }
                    if t.compares_by_value() {
                        Reading::Double
                    } else {
                        Reading::Text
                    }
                }
            };
            columns.push(spec.clone());
            measures.push(Checked {
                name: spec,
                measure: Measure {
                    function,
                    property,
                    reading,
                },
                ty,
            });
        }

        let mut order = Vec::new();
        for term in req.order_by.iter().flatten() {
            let words: Vec<&str> = term.split_whitespace().collect();
            let (name, descending) = match words.as_slice() {
                [name] => (*name, false),
                [name, dir] if dir.eq_ignore_ascii_case("desc") => (*name, true),
                [name, dir] if dir.eq_ignore_ascii_case("asc") => (*name, false),
                _ => {
                    return Err(bad(
                        "orderBy",
                        format!("orderBy `{term}` must be `name`, `name ASC` or `name DESC`"),
                        json!({}),
                    ))
                }
            };
            let sort = if let Some(i) = groups.iter().position(|g| g.property == name) {
                Sort::Group(i)
            } else if let Some(i) = measures.iter().position(|m| m.name == name) {
                Sort::Measure(i)
            } else {
                return Err(bad(
                    "orderBy",
                    format!(
                        "orderBy `{name}` is neither a groupBy property nor one of the aggregates"
                    ),
                    json!({ "orderBy": name }),
                ));
            };
            if order.iter().any(|o: &AggregateOrder| o.sort == sort) {
                return Err(bad(
                    "orderBy",
                    format!("orderBy names `{name}` twice"),
                    json!({ "orderBy": name }),
                ));
            }
            order.push(AggregateOrder { sort, descending });
        }

        let condition = self
            .aggregate_condition(&schema, object_type, req.query.as_deref(), global.is_none())
            .await?;
        let plan = AggregatePlan {
            object_type: object_type.to_owned(),
            condition,
            groups,
            measures: measures.iter().map(|m| m.measure.clone()).collect(),
            order,
            limit: req.limit.unwrap_or(schema.max_limit).min(schema.max_limit),
        };
        let rows = ds.store.aggregate(&plan).await?;
        let types: Vec<PropertyType> = plan
            .groups
            .iter()
            .map(|g| type_of(&g.property).unwrap_or(PropertyType::String))
            .collect();
        let rows = rows
            .into_iter()
            .map(|row| render_row(&schema, &plan, &types, &measures, row))
            .collect();
        Ok(Aggregates { columns, rows })
    }

    /// The `query` parameter: a condition of the query language, no tail, no `near`.
    async fn aggregate_condition(
        &self,
        schema: &Schema,
        object_type: &str,
        text: Option<&str>,
        local: bool,
    ) -> Result<Option<crate::query::plan::Cond>, ServiceError> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let parsed = query::parse(text).map_err(|e| {
            ServiceError::new(ErrorCode::QuerySyntax, e.message.clone()).with_details(
                json!({ "position": e.position, "expected": e.expected, "found": e.found }),
            )
        })?;
        if !parsed.order_by.is_empty() || parsed.offset.is_some() || parsed.limit.is_some() {
            return Err(bad(
                "query",
                "the query of getAggregate is a condition without `order by`, `offset` or `limit`: use orderBy and limit".into(),
                json!({}),
            ));
        }
        let paging = resolve::Paging {
            offset: None,
            limit: None,
            max_results: schema.max_limit,
        };
        let plan = resolve::resolve(&parsed, object_type, schema, paging).map_err(|e| match e {
            resolve::ResolveError::Syntax {
                position,
                expected,
                message,
            } => ServiceError::new(ErrorCode::QuerySyntax, message)
                .with_details(json!({ "position": position, "expected": expected })),
            resolve::ResolveError::UnknownProperty {
                position,
                object_type,
                property,
            } => ServiceError::new(
                ErrorCode::UnknownProperty,
                format!("property `{property}` is not configured for `{object_type}`"),
            )
            .with_details(json!({ "position": position, "objectType": object_type, "propertyName": property })),
        })?;
        if plan.location.is_some() {
            return Err(bad(
                "query",
                "a location search (`within`, `near`) is not an aggregate condition".into(),
                json!({}),
            ));
        }
        match plan.condition {
            Some(cond) if local => Ok(Some(self.through_globals(schema, object_type, cond).await?)),
            other => Ok(other),
        }
    }
}

fn render_row(
    schema: &Schema,
    plan: &AggregatePlan,
    types: &[PropertyType],
    measures: &[Checked],
    row: AggregateRow,
) -> Map<String, Value> {
    let mut out = Map::new();
    for ((g, ty), key) in plan.groups.iter().zip(types).zip(row.keys) {
        let value = key
            .value
            .as_deref()
            .map_or(Value::Null, |v| convert::to_json(*ty, v));
        out.insert(g.property.clone(), value);
        if g.display {
            out.insert(
                display_name(&g.property),
                key.display.map_or(Value::Null, Value::String),
            );
        }
    }
    for (m, figure) in measures.iter().zip(row.figures) {
        out.insert(m.name.clone(), figure_json(schema, m, figure));
    }
    out
}

fn number(d: f64) -> Value {
    serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
}

fn integer(i: i128) -> Value {
    match i64::try_from(i) {
        Ok(i) => Value::from(i),
        Err(_) => number(i as f64),
    }
}

/// A Currency value of `amount`, as the property's values are rendered (2 places at least).
fn currency(mut amount: Decimal) -> Value {
    amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    Value::String(amount.to_string())
}

fn figure_json(schema: &Schema, m: &Checked, figure: Figure) -> Value {
    let f = m.measure.function;
    match figure {
        Figure::Null => Value::Null,
        Figure::Text(t) => match (f, m.measure.reading) {
            // An exact sum as text (SQL Server's decimals).
            (Function::Sum, Reading::Integer | Reading::Currency) => match t.trim().parse::<i128>()
            {
                Ok(i) => figure_json(schema, m, Figure::Integer(i)),
                Err(_) => Value::String(t),
            },
            _ => convert::to_json(m.ty.unwrap_or(PropertyType::String), &t),
        },
        Figure::Integer(i) => match (f, m.measure.reading) {
            (Function::Count | Function::CountDistinct, _) => integer(i),
            (Function::Sum, Reading::Currency) => match Decimal::try_from_i128_with_scale(i, 4) {
                Ok(d) => currency(d),
                Err(_) => number(i as f64 / 10_000.0),
            },
            (Function::Sum, Reading::Integer) => integer(i),
            _ => figure_json(schema, m, Figure::Double(i as f64)),
        },
        Figure::Double(d) => match (f, m.measure.reading) {
            (Function::Count | Function::CountDistinct, _) => number(d),
            (Function::Sum, Reading::Integer) => integer(d as i128),
            (Function::Sum, Reading::Currency) => currency(
                Decimal::from_f64_retain(d)
                    .map(|d| d.round_dp(4))
                    .unwrap_or_default(),
            ),
            (Function::Sum | Function::Avg, _) => number(d),
            (Function::Min | Function::Max, _) => {
                value_of_double(schema, m.ty.unwrap_or(PropertyType::Number), d)
            }
        },
    }
}

/// A `PropertyAsDouble` rendered as a value of a by-value type (a minimum or maximum).
fn value_of_double(schema: &Schema, ty: PropertyType, d: f64) -> Value {
    let via = |input: Value| {
        convert::convert(
            ty,
            &input,
            &Context {
                time_zone: schema.time_zone,
                list: None,
            },
        )
        .ok()
        .flatten()
        .map(|s| convert::to_json(ty, &s.value))
    };
    let rendered = match ty {
        PropertyType::Integer | PropertyType::Lookup => Some(integer(d as i128)),
        PropertyType::Switch => Some(Value::Bool(d != 0.0)),
        PropertyType::Date | PropertyType::Datetime => via(Value::from(d as i64)),
        PropertyType::Currency => Decimal::from_f64_retain(d).map(|d| currency(d.round_dp(4))),
        PropertyType::Time => {
            let ms = d.max(0.0) as u64;
            NaiveTime::from_num_seconds_from_midnight_opt((ms / 1000) as u32, 0).map(|t| {
                Value::String(format!(
                    "{:02}:{:02}:{:02}",
                    t.hour(),
                    t.minute(),
                    t.second()
                ))
            })
        }
        _ => None,
    };
    rendered.unwrap_or_else(|| number(d))
}
