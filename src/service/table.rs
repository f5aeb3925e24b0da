//! `getObjectListTable`: its parameters checked and turned into a store [`TableQuery`].

use serde_json::{json, Map, Value};

use std::collections::{BTreeMap, BTreeSet};

use super::cursor;
use super::error::{ErrorCode, ServiceError};
use super::render::{has_display, CsvColumn};
use super::{Datastore, Schema, ARCHIVE_PREFIX};
use crate::convert::{self, Context};
use crate::model::{ObjectId, PropertyType};
use crate::query::plan::{Cond, Hop, QueryPlan, Test};
use crate::store::{Filter, FilterValue, Key, Order, Page, SystemField, TableQuery, Walk};
use std::future::Future;
use std::pin::Pin;

/// The table view as the client asked for it.
#[derive(Debug, Default)]
pub struct TableRequest {
    pub object_type: String,
    pub properties: Option<Vec<String>>,
    pub parent_object_id: Option<ObjectId>,
    pub filter: Option<Map<String, Value>>,
    pub order_by: Option<Vec<String>>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// A cursor token (API.md §12), instead of `offset`.
    pub after: Option<String>,
    /// `false`: no count (`X-Total-Count`).
    pub count: Option<bool>,
}

/// A page and the token of the next one, if there is one.
#[derive(Debug)]
pub struct Listed {
    pub page: Page,
    pub next: Option<String>,
}

impl Listed {
    fn of(page: Page, endpoint: &str, fingerprint: &str) -> Listed {
        let next = page
            .next
            .as_ref()
            .map(|seek| cursor::encode(endpoint, fingerprint, seek, page.head));
        Listed { page, next }
    }
}

/// Most equality filters of one table view (each is a join).
const MAX_FILTERS: usize = 32;

/// Most sort keys of one table view.
const MAX_ORDER: usize = 8;

fn bad(message: String, details: Value) -> ServiceError {
    ServiceError::new(ErrorCode::InvalidParameter, message).with_details(details)
}

impl Schema {
    /// The key a property or system field compares and sorts by.
    fn key_of(&self, object_type: &str, name: &str) -> Result<(Key, PropertyType), ServiceError> {
        if let Some(field) = SystemField::parse(name) {
            let ty = match field {
                SystemField::ObjectId => PropertyType::Integer,
                SystemField::CreatedAt | SystemField::UpdatedAt => PropertyType::Datetime,
                _ => PropertyType::String,
            };
            return Ok((Key::System(field), ty));
        }
        let ty = self.property_type(object_type, name)?;
        let key = if ty.compares_by_value() {
            Key::Double(name.to_owned())
        } else {
            Key::Text(name.to_owned())
        };
        Ok((key, ty))
    }

    fn filter_of(
        &self,
        object_type: &str,
        name: &str,
        input: &Value,
    ) -> Result<Filter, ServiceError> {
        let (key, ty) = self.key_of(object_type, name)?;
        let value = match &key {
            Key::System(SystemField::ObjectId) => {
                // Compared as the integer's text, never as a double: an id above 2^53 has
                // no double of its own.
                match convert::convert(ty, input, &Context::default()) {
                    Ok(Some(s)) => FilterValue::Text(s.value),
                    _ => {
                        return Err(bad(
                            format!("filter `{name}` must be an object id"),
                            json!({ "propertyName": name }),
                        ))
                    }
                }
            }
            Key::System(SystemField::ObjectNumber) => match input {
                Value::String(s) => FilterValue::Text(s.clone()),
                _ => {
                    return Err(bad(
                        format!("filter `{name}` must be text"),
                        json!({ "propertyName": name }),
                    ))
                }
            },
            Key::System(_) => {
                return Err(bad(
                    format!(
                        "the table view does not filter by `{name}`; use getObjectListByFilter"
                    ),
                    json!({ "propertyName": name }),
                ))
            }
            Key::Double(_) | Key::Text(_) => {
                let config = self.property_config(object_type, name);
                let stored = convert::convert(ty, input, &self.conversion(config))
                    .map_err(|e| {
                        ServiceError::new(
                            ErrorCode::InvalidValue,
                            format!("filter `{name}` ({ty}): {e}"),
                        )
                        .with_details(json!({ "propertyName": name, "propertyType": ty.as_str() }))
                    })?
                    .ok_or_else(|| {
                        bad(
                            format!("filter `{name}` needs a value"),
                            json!({ "propertyName": name }),
                        )
                    })?;
                match (&key, stored.as_double) {
                    (Key::Double(_), Some(d)) => FilterValue::Double(d),
                    _ => FilterValue::Text(stored.value),
                }
            }
        };
        Ok(Filter { key, value })
    }

    fn order_of(&self, object_type: &str, spec: &str) -> Result<Order, ServiceError> {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let (name, descending) = match words.as_slice() {
            [name] => (*name, false),
            [name, dir] if dir.eq_ignore_ascii_case("desc") => (*name, true),
            [name, dir] if dir.eq_ignore_ascii_case("asc") => (*name, false),
            _ => {
                return Err(bad(
                    format!("orderBy `{spec}` must be `name`, `name ASC` or `name DESC`"),
                    json!({ "parameter": "orderBy" }),
                ))
            }
        };
        let (key, _) = self.key_of(object_type, name)?;
        Ok(Order { key, descending })
    }

    /// Checks the type and the requested columns of a list request.
    fn check_list(
        &self,
        object_type: &str,
        columns: Option<&[String]>,
    ) -> Result<(), ServiceError> {
        self.check_object_type(object_type)?;
        for c in columns.unwrap_or_default() {
            self.property_type(object_type, c)?;
        }
        Ok(())
    }

    /// Checks a table request and turns it into the store's query, with the fingerprint
    /// of its list (what its cursor tokens are bound to).
    fn table_query(&self, req: TableRequest) -> Result<(TableQuery, String), ServiceError> {
        self.check_list(&req.object_type, req.properties.as_deref())?;
        let object_type = &req.object_type;
        let too_many = |name: &str, most: usize| {
            bad(
                format!("`{name}` takes at most {most} entries"),
                json!({ "parameter": name }),
            )
        };
        if req.filter.as_ref().is_some_and(|f| f.len() > MAX_FILTERS) {
            return Err(too_many("filter", MAX_FILTERS));
        }
        if req.order_by.as_ref().is_some_and(|o| o.len() > MAX_ORDER) {
            return Err(too_many("orderBy", MAX_ORDER));
        }
        let filters = req
            .filter
            .iter()
            .flatten()
            .map(|(name, value)| self.filter_of(object_type, name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let order = req
            .order_by
            .iter()
            .flatten()
            .map(|spec| self.order_of(object_type, spec))
            .collect::<Result<Vec<_>, _>>()?;
        let mut filter_texts: Vec<String> = filters.iter().map(|f| format!("{f:?}")).collect();
        filter_texts.sort_unstable();
        let fingerprint = cursor::fingerprint(&format!(
            "{object_type:?}|{:?}|{filter_texts:?}|{order:?}",
            req.parent_object_id
        ));
        if req.after.is_some() && req.offset.is_some() {
            return Err(cursor::both_given());
        }
        let mut walk = Walk {
            count: req.count.unwrap_or(true),
            ..Walk::default()
        };
        if let Some(token) = &req.after {
            let token = cursor::decode(token, TABLE, &fingerprint, order.len())?;
            walk.after = Some(token.seek);
            walk.head = token.head;
        }
        let query = TableQuery {
            object_type: object_type.clone(),
            columns: req.properties,
            parent_id: req.parent_object_id,
            filters,
            order,
            offset: req.offset.unwrap_or(0),
            limit: req.limit.unwrap_or(self.max_limit).min(self.max_limit),
            walk,
        };
        Ok((query, fingerprint))
    }
}

impl Datastore {
    /// Checks a table request and reads its page.
    pub async fn list_table(&self, req: TableRequest) -> Result<Listed, ServiceError> {
        let global = self.global_for_type(&req.object_type, false).await?;
        let ds = global.as_deref().unwrap_or(self);
        let (query, fingerprint) = ds.schema().table_query(req)?;
        let page = ds.store.list_table(&query).await?;
        Ok(Listed::of(page, TABLE, &fingerprint))
    }
}

impl Datastore {
    /// The property columns of a CSV answer for `object_type`: `properties` when given;
    /// otherwise every property the type has in the DSConfig plus every one found on
    /// objects of the type in the store, by name. A Lookup or List column is followed by
    /// its display column, by the DSConfig type of the property or, for one the DSConfig
    /// does not declare, by the type it was stored as. Nothing here depends on a page.
    pub async fn csv_columns(
        &self,
        object_type: &str,
        properties: Option<&[String]>,
    ) -> Result<Vec<CsvColumn>, ServiceError> {
        let global = self.global_for_type(object_type, false).await?;
        let ds = global.as_deref().unwrap_or(self);
        let schema = ds.schema();
        let configured = |name: &str| {
            schema
                .property_config(object_type, name)
                .map(|c| c.property_type)
        };
        let (names, stored): (Vec<String>, BTreeMap<String, PropertyType>) = match properties {
            Some(given) => {
                let unconfigured: Vec<String> = given
                    .iter()
                    .filter(|n| configured(n).is_none())
                    .cloned()
                    .collect();
                let stored = if unconfigured.is_empty() {
                    BTreeMap::new()
                } else {
                    let found = ds.store.property_names(object_type, Some(&unconfigured));
                    found.await?.into_iter().collect()
                };
                (given.to_vec(), stored)
            }
            None => {
                let stored: BTreeMap<String, PropertyType> = ds
                    .store
                    .property_names(object_type, None)
                    .await?
                    .into_iter()
                    .collect();
                let mut names = schema.configured_names(object_type);
                names.extend(stored.keys().cloned());
                (names.into_iter().collect(), stored)
            }
        };
        Ok(names
            .into_iter()
            .map(|name| {
                let ty = configured(&name).or_else(|| stored.get(&name).copied());
                CsvColumn {
                    display: ty.is_some_and(has_display),
                    name,
                }
            })
            .collect())
    }
}

impl Schema {
    /// The properties the DSConfig declares for a type (an archived type: its original's too).
    fn configured_names(&self, object_type: &str) -> BTreeSet<String> {
        [Some(object_type), object_type.strip_prefix(ARCHIVE_PREFIX)]
            .into_iter()
            .flatten()
            .filter_map(|t| self.config.types.get(t))
            .flat_map(|t| t.properties.keys().cloned())
            .collect()
    }
}

impl crate::query::resolve::Schema for Schema {
    fn property(&self, object_type: &str, name: &str) -> Option<&crate::dsconfig::PropertyConfig> {
        self.property_config(object_type, name)
    }

    fn list(&self, name: &str) -> Option<&[crate::dsconfig::ListItem]> {
        self.config.list(name)
    }

    fn is_strict(&self) -> bool {
        self.config.is_strict()
    }

    fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }
}

/// A query-language list as the client asked for it.
#[derive(Debug, Default)]
pub struct FilterRequest {
    pub object_type: String,
    pub query: String,
    pub properties: Option<Vec<String>>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// A cursor token (API.md §12), instead of `offset`.
    pub after: Option<String>,
    /// `false`: no count (`X-Total-Count`).
    pub count: Option<bool>,
}

/// The endpoints whose tokens these are.
const TABLE: &str = "getObjectListTable";
const FILTER: &str = "getObjectListByFilter";

impl Datastore {
    /// Parses, resolves and runs a query of the query language.
    pub async fn list_by_filter(&self, req: FilterRequest) -> Result<Listed, ServiceError> {
        use crate::query::{self, resolve};
        let global = self.global_for_type(&req.object_type, false).await?;
        let ds = global.as_deref().unwrap_or(self);
        let schema = ds.schema();
        schema.check_list(&req.object_type, req.properties.as_deref())?;
        let parsed = query::parse(&req.query).map_err(|e| {
            ServiceError::new(ErrorCode::QuerySyntax, e.message.clone()).with_details(
                json!({ "position": e.position, "expected": e.expected, "found": e.found }),
            )
        })?;
        for (given, in_query, name) in [
            (req.offset, parsed.offset, "offset"),
            (req.limit, parsed.limit, "limit"),
        ] {
            if given.is_some() && in_query.is_some() {
                return Err(bad(
                    format!("`{name}` is given both as a parameter and in the query"),
                    json!({ "parameter": name }),
                ));
            }
        }
        if req.after.is_some() && (req.offset.is_some() || parsed.offset.is_some()) {
            return Err(cursor::both_given());
        }
        let paging = resolve::Paging {
            offset: req.offset,
            limit: req.limit,
            max_results: schema.max_limit,
        };
        let plan = resolve::resolve(&parsed, &req.object_type, schema.as_ref(), paging).map_err(|e| match e {
            resolve::ResolveError::Syntax { position, expected, message } => {
                ServiceError::new(ErrorCode::QuerySyntax, message)
                    .with_details(json!({ "position": position, "expected": expected }))
            }
            resolve::ResolveError::UnknownProperty { position, object_type, property } => ServiceError::new(
                ErrorCode::UnknownProperty,
                format!("property `{property}` is not configured for `{object_type}`"),
            )
            .with_details(json!({ "position": position, "objectType": object_type, "propertyName": property })),
        })?;
        let mut plan = plan;
        // Bound to the query as given: a path through a global type is resolved to ids
        // below, which may change during a walk.
        let fingerprint = cursor::fingerprint(&format!(
            "{:?}|{:?}|{:?}|{:?}",
            plan.object_type, plan.condition, plan.location, plan.order
        ));
        plan.walk.count = req.count.unwrap_or(true);
        if let Some(token) = &req.after {
            if plan
                .location
                .as_ref()
                .is_some_and(|l| l.radius_km.is_none())
            {
                return Err(bad(
                    "`near` sorts by distance and is not paged with `after`".into(),
                    json!({ "parameter": "after" }),
                ));
            }
            let token = cursor::decode(token, FILTER, &fingerprint, plan.order.len())?;
            plan.walk.after = Some(token.seek);
            plan.walk.head = token.head;
        }
        if global.is_none() {
            if let Some(cond) = plan.condition.take() {
                let cond = self
                    .through_globals(&schema, &plan.object_type, cond)
                    .await?;
                plan.condition = Some(cond);
            }
        }
        let page = ds.store.query(&plan, req.properties.as_deref()).await?;
        Ok(Listed::of(page, FILTER, &fingerprint))
    }

    /// An app database's query whose path starts with a Lookup to a global type
    /// (`country.name == "NL"`): the rest of the path is run on the global database first,
    /// and the test becomes "the Lookup points at one of the ids it matched" (any number:
    /// one JSON parameter). Other tests are left as they are.
    pub(super) fn through_globals<'a>(
        &'a self,
        schema: &'a Schema,
        owner_type: &'a str,
        cond: Cond,
    ) -> Pin<Box<dyn Future<Output = Result<Cond, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(link) = self.global.get() else {
                return Ok(cond);
            };
            match cond {
                Cond::And(parts) => {
                    let mut out = Vec::with_capacity(parts.len());
                    for part in parts {
                        out.push(self.through_globals(schema, owner_type, part).await?);
                    }
                    Ok(Cond::And(out))
                }
                Cond::Or(parts) => {
                    let mut out = Vec::with_capacity(parts.len());
                    for part in parts {
                        out.push(self.through_globals(schema, owner_type, part).await?);
                    }
                    Ok(Cond::Or(out))
                }
                Cond::Not(inner) => Ok(Cond::Not(Box::new(
                    self.through_globals(schema, owner_type, *inner).await?,
                ))),
                Cond::Test { hops, test } => {
                    // Only the first step may cross into the global database: a later one
                    // would be looked for in the app's database and find nothing (and its
                    // negation everything), so it is refused.
                    let mut at = Some(owner_type.to_owned());
                    for (i, hop) in hops.iter().enumerate() {
                        let next = match hop {
                            Hop::Lookup(name) => at
                                .as_deref()
                                .and_then(|t| schema.property_config(t, name))
                                .and_then(|c| c.object_type.clone()),
                            Hop::Children(t) | Hop::Parents(t) => Some(t.clone()),
                            Hop::IdArray(_) => None,
                        };
                        if i > 0 {
                            if let (Hop::Lookup(name), Some(t)) = (hop, next.as_deref()) {
                                if schema.is_global(t)
                                    && !at.as_deref().is_some_and(|a| schema.is_global(a))
                                {
                                    return Err(bad(
                                        format!(
                                            "`{name}` leads into the global type {t} after the path's \
                                             first step; only a path's first step may cross into a \
                                             global type"
                                        ),
                                        json!({ "propertyName": name }),
                                    ));
                                }
                            }
                        }
                        at = next;
                    }
                    let target = match hops.first() {
                        Some(Hop::Lookup(name)) => schema
                            .property_config(owner_type, name)
                            .and_then(|c| c.object_type.clone())
                            .filter(|t| schema.is_global(t))
                            .map(|t| (name.clone(), t)),
                        _ => None,
                    };
                    let Some((property, target_type)) = target else {
                        return Ok(Cond::Test { hops, test });
                    };
                    // No global database: no global object, so the path matches nothing.
                    let Some(global) = link.existing().await? else {
                        return Ok(points_at(&property, Vec::new()));
                    };
                    // Every match, page by page: the test becomes "the Lookup is one of
                    // them", bound as one parameter whatever their number. `!=` and
                    // `== null` are the complement of such a test (`Cond::Not` above it),
                    // taken in the app's database: objects without the Lookup included.
                    let mut ids = Vec::new();
                    loop {
                        let sub = QueryPlan {
                            object_type: target_type.clone(),
                            condition: Some(Cond::Test {
                                hops: hops[1..].to_vec(),
                                test: test.clone(),
                            }),
                            location: None,
                            order: Vec::new(),
                            offset: ids.len() as u64,
                            limit: GLOBAL_PAGE,
                            walk: Walk {
                                count: false,
                                ..Walk::default()
                            },
                        };
                        let page = global.store.query(&sub, Some(&[])).await?;
                        let got = page.objects.len() as u64;
                        ids.extend(page.objects.iter().map(|o| o.id as f64));
                        if got < GLOBAL_PAGE {
                            break;
                        }
                    }
                    Ok(points_at(&property, ids))
                }
            }
        })
    }
}

/// The test "Lookup `property` points at one of `ids`" (none: matches nothing).
fn points_at(property: &str, ids: Vec<f64>) -> Cond {
    Cond::Test {
        hops: Vec::new(),
        test: Test::OneOf {
            property: property.to_owned(),
            values: ids,
        },
    }
}

/// Ids read from the global database per query of a path through a global type.
const GLOBAL_PAGE: u64 = 10_000;
