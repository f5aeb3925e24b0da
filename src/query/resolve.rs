//! Meaning: a parsed [`Query`] resolved against the schema into a [`QueryPlan`].
//!
//! Paths are walked segment by segment from the queried type: a Lookup leads to its target
//! type, a JsonArray to the objects whose ids it holds (their type unknown: the literal's
//! kind decides how to compare), `children.T.` / `parents.T.` follow relationships, a Map
//! takes one key, and the last segment is a property or a system field. Literals are
//! converted with the property's own conversion rules, so `birthDate > "01-03-2024"` and
//! `age == "24"` mean what they say. A literal that does not fit is `QUERY_SYNTAX` at the
//! literal; in strict schema mode an unknown property is `UNKNOWN_PROPERTY` at its segment.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ast::{Body, Comparison, Expr, Ident, Literal, LocationKind, Op, Query, Span};
use super::plan::{Cmp, Cond, Hop, LocationSearch, QueryPlan, Scalar, SystemValue, Test};
use crate::convert::{self, Context};
use crate::dsconfig::{ListItem, PropertyConfig};
use crate::model::{is_valid_name, PropertyType};
use crate::model::{Key, Order, SystemField};

/// Most results of a `near` query.
pub const MAX_NEAR: u64 = 100;

/// Most comparisons in one query: each becomes a join or a subquery, and databases limit
/// both (SQLite: 64 tables in a join; SQL Server: 2100 parameters).
pub const MAX_COMPARISONS: usize = 100;

/// Most hops (Lookups, arrays of ids, relationships) in one path.
pub const MAX_HOPS: usize = 8;

/// What resolution needs to know of the schema.
pub trait Schema {
    /// The configuration of a property, if any.
    fn property(&self, object_type: &str, name: &str) -> Option<&PropertyConfig>;
    /// The items of a list.
    fn list(&self, name: &str) -> Option<&[ListItem]>;
    /// Strict mode: unknown properties are errors.
    fn is_strict(&self) -> bool;
    /// The server time zone for date-times without an offset.
    fn time_zone(&self) -> chrono_tz::Tz;
}

/// Why a query does not resolve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error("{message}")]
    Syntax {
        position: usize,
        expected: String,
        message: String,
    },
    #[error("property `{property}` is not configured for `{object_type}` (position {position})")]
    UnknownProperty {
        position: usize,
        object_type: String,
        property: String,
    },
}

fn syntax(span: Span, expected: impl Into<String>, why: impl std::fmt::Display) -> ResolveError {
    let expected = expected.into();
    ResolveError::Syntax {
        position: span.start,
        message: format!("{why}: expected {expected} at position {}", span.start),
        expected,
    }
}

/// Paging asked for outside the query text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging {
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// Default and maximum limit.
    pub max_results: u64,
}

/// Resolves `query` over objects of `object_type`.
pub fn resolve(
    query: &Query,
    object_type: &str,
    schema: &dyn Schema,
    paging: Paging,
) -> Result<QueryPlan, ResolveError> {
    let comparisons = match &query.body {
        Some(Body::Condition(e)) => count_comparisons(e),
        Some(Body::Location(l)) => l.filter.as_ref().map_or(0, count_comparisons),
        None => 0,
    };
    if comparisons > MAX_COMPARISONS {
        return Err(syntax(
            Span::default(),
            format!("at most {MAX_COMPARISONS} comparisons"),
            format!("the query has {comparisons} comparisons"),
        ));
    }
    let r = Resolver {
        schema,
        root: object_type,
    };
    let (condition, location) = match &query.body {
        None => (None, None),
        Some(Body::Condition(e)) => (Some(r.expr(e)?), None),
        Some(Body::Location(l)) => {
            let [segment] = l.path.segments.as_slice() else {
                return Err(syntax(
                    l.path.span(),
                    "a Location property of the type",
                    "a location search takes one property",
                ));
            };
            match r.property(Some(object_type), segment)? {
                (PropertyType::Location, _) => {}
                (other, _) => {
                    return Err(syntax(
                        segment.span,
                        "a Location property",
                        format!("`{}` is a {other} property", segment.name),
                    ))
                }
            }
            let (lat, lng, radius) = match &l.kind {
                LocationKind::Within {
                    lat,
                    lng,
                    radius_km,
                } => (lat, lng, Some(radius_km.value())),
                LocationKind::Near { lat, lng } => (lat, lng, None),
            };
            let (lat, lng) = (lat.value(), lng.value());
            if !(-90.0..=90.0).contains(&lat)
                || !(-180.0..=180.0).contains(&lng)
                || radius.is_some_and(|r| r < 0.0)
            {
                return Err(syntax(l.span, "a latitude in [-90, 90], a longitude in [-180, 180] and a radius of 0 km or more", "the location is out of range"));
            }
            let filter = l.filter.as_ref().map(|e| r.expr(e)).transpose()?;
            (
                filter,
                Some(LocationSearch {
                    property: segment.name.clone(),
                    lat,
                    lng,
                    radius_km: radius,
                }),
            )
        }
    };
    let order = query
        .order_by
        .iter()
        .map(|item| {
            let [segment] = item.path.segments.as_slice() else {
                return Err(syntax(
                    item.path.span(),
                    "a property of the type or a system field",
                    "order by takes one name",
                ));
            };
            let key = match SystemField::parse(&segment.name) {
                Some(field) => Key::System(field),
                None => match r.property(Some(object_type), segment)?.0 {
                    t if t.compares_by_value() => Key::Double(segment.name.clone()),
                    _ => Key::Text(segment.name.clone()),
                },
            };
            Ok(Order {
                key,
                descending: item.descending,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let max = paging.max_results.max(1);
    let mut limit = query.limit.or(paging.limit).unwrap_or(max).min(max);
    if location.as_ref().is_some_and(|l| l.radius_km.is_none()) {
        limit = limit.min(MAX_NEAR);
    }
    Ok(QueryPlan {
        object_type: object_type.to_owned(),
        condition,
        location,
        order,
        offset: query.offset.or(paging.offset).unwrap_or(0),
        limit,
        walk: crate::store::Walk::default(),
    })
}

struct Resolver<'a> {
    schema: &'a dyn Schema,
    root: &'a str,
}

/// Where a path ends.
enum Leaf<'q> {
    /// A property of a known type (`None`: reached through a JsonArray, type unknown).
    Property {
        name: &'q Ident,
        ty: Option<PropertyType>,
        config: Option<PropertyConfig>,
    },
    MapKey {
        map: &'q Ident,
        key: &'q Ident,
    },
    System(SystemField),
}

impl Resolver<'_> {
    fn expr(&self, e: &Expr) -> Result<Cond, ResolveError> {
        Ok(match e {
            Expr::Or(items) => Cond::Or(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::And(items) => Cond::And(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Compare(c) => self.compare(c)?,
        })
    }

    /// The type of a property of `object_type` (`None` when the type is unknown).
    fn property(
        &self,
        object_type: Option<&str>,
        name: &Ident,
    ) -> Result<(PropertyType, Option<PropertyConfig>), ResolveError> {
        let Some(object_type) = object_type else {
            return Ok((PropertyType::String, None));
        };
        match self.schema.property(object_type, &name.name) {
            Some(c) => Ok((c.property_type, Some(c.clone()))),
            None if self.schema.is_strict() => Err(ResolveError::UnknownProperty {
                position: name.span.start,
                object_type: object_type.to_owned(),
                property: name.name.clone(),
            }),
            None => Ok((PropertyType::String, None)),
        }
    }

    /// Walks a path to its leaf, collecting hops.
    fn walk<'q>(&self, segments: &'q [Ident]) -> Result<(Vec<Hop>, Leaf<'q>), ResolveError> {
        let mut hops = Vec::new();
        let mut current: Option<String> = Some(self.root.to_owned());
        let mut i = 0;
        loop {
            let seg = &segments[i];
            if hops.len() > MAX_HOPS {
                return Err(syntax(
                    seg.span,
                    format!("a path of at most {MAX_HOPS} hops"),
                    "the path is too long",
                ));
            }
            let last = i + 1 == segments.len();
            let is_relationship = matches!(seg.name.as_str(), "children" | "parents")
                && i + 2 < segments.len()
                && current
                    .as_deref()
                    .is_none_or(|t| self.schema.property(t, &seg.name).is_none());
            if is_relationship {
                let ty = &segments[i + 1];
                if !is_valid_name(&ty.name) {
                    return Err(syntax(ty.span, "an object type", "not a type name"));
                }
                hops.push(if seg.name == "children" {
                    Hop::Children(ty.name.clone())
                } else {
                    Hop::Parents(ty.name.clone())
                });
                current = Some(ty.name.clone());
                i += 2;
                continue;
            }
            if last {
                if let Some(field) = SystemField::parse(&seg.name) {
                    return Ok((hops, Leaf::System(field)));
                }
            }
            let (ty, config) = self.property(current.as_deref(), seg)?;
            // A property reached through a JsonArray of ids has no known type.
            let known = current.is_some().then_some(ty);
            if last {
                return Ok((
                    hops,
                    Leaf::Property {
                        name: seg,
                        ty: known,
                        config,
                    },
                ));
            }
            match known {
                Some(PropertyType::Lookup) => {
                    hops.push(Hop::Lookup(seg.name.clone()));
                    current = config.and_then(|c| c.object_type);
                }
                // An unconfigured property (open schema) may hold ids too: as one id or an array.
                Some(PropertyType::JsonArray) | None => {
                    hops.push(Hop::IdArray(seg.name.clone()));
                    current = None;
                }
                Some(PropertyType::String) if config.is_none() => {
                    hops.push(Hop::IdArray(seg.name.clone()));
                    current = None;
                }
                Some(PropertyType::Map) if i + 2 == segments.len() => {
                    return Ok((hops, Leaf::MapKey { map: seg, key: &segments[i + 1] }));
                }
                Some(other) => {
                    return Err(syntax(
                        segments[i + 1].span,
                        "the end of the path",
                        format!("`{}` is a {other} property; only Lookup, JsonArray and Map properties have parts", seg.name),
                    ))
                }
            }
            i += 1;
        }
    }

    fn compare(&self, c: &Comparison) -> Result<Cond, ResolveError> {
        let (hops, leaf) = self.walk(&c.path.segments)?;
        let negate = c.op == Op::Ne;
        let cmp = match c.op {
            Op::Eq | Op::Ne | Op::Size => Cmp::Eq,
            Op::Gt => Cmp::Gt,
            Op::Lt => Cmp::Lt,
            Op::Ge => Cmp::Ge,
            Op::Le => Cmp::Le,
            Op::StartsWith => Cmp::StartsWith,
            Op::Like => Cmp::Like,
        };
        let test = |test: Test| Cond::Test {
            hops: hops.clone(),
            test,
        };
        if c.value == Literal::Null {
            let Leaf::Property { name, .. } = &leaf else {
                return Err(syntax(
                    c.value_span,
                    "a value (only properties can be null)",
                    "null",
                ));
            };
            if !matches!(c.op, Op::Eq | Op::Ne) {
                return Err(syntax(
                    c.op_span,
                    "`==` or `!=` with null",
                    "null has no order",
                ));
            }
            let has = test(Test::Has(name.name.clone()));
            return Ok(if negate {
                has
            } else {
                Cond::Not(Box::new(has))
            });
        }
        let positive = match leaf {
            Leaf::System(field) => test(Test::System {
                field,
                cmp,
                value: self.system_value(field, cmp, &c.value, c.value_span)?,
            }),
            Leaf::MapKey { map, key } => test(Test::MapValue {
                property: map.name.clone(),
                key: key.name.clone(),
                cmp,
                value: scalar(&c.value, c.value_span)?,
            }),
            Leaf::Property { name, ty, config } => {
                test(self.property_test(&name.name, ty, config.as_ref(), c, cmp)?)
            }
        };
        Ok(if negate {
            Cond::Not(Box::new(positive))
        } else {
            positive
        })
    }

    fn property_test(
        &self,
        name: &str,
        ty: Option<PropertyType>,
        config: Option<&PropertyConfig>,
        c: &Comparison,
        cmp: Cmp,
    ) -> Result<Test, ResolveError> {
        let property = name.to_owned();
        let text_op = matches!(cmp, Cmp::StartsWith | Cmp::Like);
        if c.op == Op::Size {
            return match ty {
                Some(PropertyType::JsonArray) | None => Ok(Test::Double {
                    property,
                    cmp: Cmp::Eq,
                    value: number_of(&c.value, c.value_span)?,
                }),
                Some(other) => Err(syntax(
                    c.op_span,
                    "a comparison operator",
                    format!("`size` needs a JsonArray, `{name}` is a {other}"),
                )),
            };
        }
        let ty = match ty {
            Some(t) => t,
            // Reached through a JsonArray: the literal says how to compare.
            None => {
                return Ok(match &c.value {
                    Literal::String(s) => Test::Text {
                        property,
                        cmp,
                        value: s.clone(),
                    },
                    other => Test::Double {
                        property,
                        cmp,
                        value: number_of(other, c.value_span)?,
                    },
                })
            }
        };
        if ty == PropertyType::JsonArray {
            return Ok(Test::Element {
                property,
                cmp,
                value: scalar(&c.value, c.value_span)?,
            });
        }
        if matches!(
            ty,
            PropertyType::Map
                | PropertyType::Location
                | PropertyType::Image
                | PropertyType::FileLink
        ) {
            return Err(syntax(
                c.op_span,
                "`== null` or `!= null` (or a key, for a Map)",
                format!("a {ty} property cannot be compared as a whole"),
            ));
        }
        if text_op {
            let Literal::String(s) = &c.value else {
                return Err(syntax(
                    c.value_span,
                    "a string",
                    "startswith and like take text",
                ));
            };
            return Ok(Test::Text {
                property,
                cmp,
                value: s.clone(),
            });
        }
        if ty.compares_by_value() {
            return Ok(Test::Double {
                property,
                cmp,
                value: self.value_of(ty, config, &c.value, c.value_span)?,
            });
        }
        // Text types: a number or a date compares by value (text that is a number carries it).
        Ok(match (&c.value, ty) {
            (Literal::Number(n), PropertyType::String) => Test::Double {
                property,
                cmp,
                value: n.value(),
            },
            (Literal::Date(ms), _) => Test::Double {
                property,
                cmp,
                value: *ms as f64,
            },
            (Literal::String(s), _) => Test::Text {
                property,
                cmp,
                value: s.clone(),
            },
            (Literal::Number(n), _) => Test::Text {
                property,
                cmp,
                value: n.text().to_owned(),
            },
            (Literal::Bool(b), _) => Test::Text {
                property,
                cmp,
                value: b.to_string(),
            },
            (Literal::Id(t), _) => Test::Text {
                property,
                cmp,
                value: t.clone(),
            },
            (Literal::Null, _) => return Err(syntax(c.value_span, "a value", "null")),
        })
    }

    /// The `PropertyAsDouble` a literal means for a by-value type.
    fn value_of(
        &self,
        ty: PropertyType,
        config: Option<&PropertyConfig>,
        literal: &Literal,
        span: Span,
    ) -> Result<f64, ResolveError> {
        let expected = format!("a {ty} value");
        let input = match literal {
            Literal::Number(n) => return Ok(n.value()),
            Literal::Date(ms) => return Ok(*ms as f64),
            Literal::Bool(b) => return Ok(if *b { 1.0 } else { 0.0 }),
            Literal::Id(t) => {
                return t
                    .parse::<i64>()
                    .map(|v| v as f64)
                    .map_err(|_| syntax(span, expected, "ids are whole numbers"))
            }
            Literal::String(s) => Value::String(s.clone()),
            Literal::Null => return Err(syntax(span, expected, "null")),
        };
        let ctx = Context {
            time_zone: self.schema.time_zone(),
            list: config
                .and_then(|c| c.list.as_deref())
                .and_then(|l| self.schema.list(l)),
        };
        match convert::convert(ty, &input, &ctx) {
            Ok(Some(stored)) => stored
                .as_double
                .ok_or_else(|| syntax(span, expected.clone(), "the value has no numeric form")),
            Ok(None) => Err(syntax(span, expected, "an empty value")),
            Err(e) => Err(syntax(span, expected, e)),
        }
    }

    fn system_value(
        &self,
        field: SystemField,
        cmp: Cmp,
        literal: &Literal,
        span: Span,
    ) -> Result<SystemValue, ResolveError> {
        let text_op = matches!(cmp, Cmp::StartsWith | Cmp::Like);
        match field {
            SystemField::ObjectId => {
                let id = match literal {
                    Literal::Number(n) => n.as_i64(),
                    Literal::Id(t) => t.parse().ok(),
                    Literal::String(s) => s.parse().ok(),
                    _ => None,
                };
                match id {
                    Some(id) if !text_op => Ok(SystemValue::Integer(id)),
                    _ => Err(syntax(
                        span,
                        "an object id such as `id(42)`",
                        "objectId compares with whole numbers",
                    )),
                }
            }
            SystemField::ObjectType | SystemField::ObjectNumber => match literal {
                Literal::String(s) => Ok(SystemValue::Text(s.clone())),
                _ => Err(syntax(span, "a string", "this system field is text")),
            },
            SystemField::CreatedAt | SystemField::UpdatedAt => {
                let ms = match literal {
                    Literal::Date(ms) => Some(*ms),
                    Literal::Number(n) => n.as_i64(),
                    Literal::String(s) => convert::convert(
                        PropertyType::Datetime,
                        &Value::String(s.clone()),
                        &Context {
                            time_zone: self.schema.time_zone(),
                            list: None,
                        },
                    )
                    .ok()
                    .flatten()
                    .and_then(|v| v.as_double)
                    .map(|d| d as i64),
                    _ => None,
                };
                let in_range = |t: &DateTime<Utc>| (1..=9999).contains(&chrono::Datelike::year(t));
                match ms
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .filter(in_range)
                {
                    Some(t) if !text_op => Ok(SystemValue::Instant(t)),
                    _ => Err(syntax(
                        span,
                        "`date(epoch ms)` or an RFC 3339 date-time",
                        "this system field is a date-time",
                    )),
                }
            }
        }
    }
}

fn count_comparisons(e: &Expr) -> usize {
    match e {
        Expr::Or(items) | Expr::And(items) => items.iter().map(count_comparisons).sum(),
        Expr::Compare(_) => 1,
    }
}

/// The number a literal stands for, when it is one.
fn number_of(literal: &Literal, span: Span) -> Result<f64, ResolveError> {
    match literal {
        Literal::Number(n) => Ok(n.value()),
        Literal::Date(ms) => Ok(*ms as f64),
        Literal::Bool(b) => Ok(f64::from(u8::from(*b))),
        Literal::Id(t) => t
            .parse()
            .map_err(|_| syntax(span, "a whole number", "ids are whole numbers")),
        Literal::String(_) | Literal::Null => Err(syntax(span, "a number", "not a number")),
    }
}

fn scalar(literal: &Literal, span: Span) -> Result<Scalar, ResolveError> {
    Ok(match literal {
        Literal::String(s) => Scalar::Text(s.clone()),
        Literal::Bool(b) => Scalar::Bool(*b),
        other => Scalar::Double(number_of(other, span)?),
    })
}
