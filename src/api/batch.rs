//! `batch` (API.md §12): mixed writes with `$ref` substitution in one transaction.
//!
//! Every operation's parameters are read as its single endpoint reads them and converted
//! by the same rules ([`crate::service::Schema`]). Operations without references are
//! checked before the transaction; the rest are planned inside it, step by step, once the
//! results they refer to exist. A string `"$REF"` anywhere in `params` is the `objectId`
//! of the result of the earlier operation whose `ref` is `REF`, `"$REF.FIELD"` that
//! result's `FIELD`; `"$$..."` is the literal text `"$..."`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::openapi::schemas;
use super::params::Params;
use super::{json, State};
use crate::error::{ApiError, ErrorCode};
use crate::model::{is_valid_name, ObjectId};
use crate::service::batch::Failed;
use crate::service::{render_object, Schema, ServiceError};
use crate::store::{BatchError, BatchPlan, DropObject, SaveProperties, WriteOp, WriteOutcome};
use crate::tenancy::is_global_id;

/// Most operations in one batch.
pub const MAX_OPERATIONS: usize = 1000;

/// The write endpoints a batch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NewObject,
    SaveProperty,
    SaveProperties,
    ChangeObjectType,
    DropObject,
    SaveRelationship,
    DropRelationship,
}

impl Kind {
    const ALL: [(&'static str, Kind); 7] = [
        ("newObject", Kind::NewObject),
        ("saveProperty", Kind::SaveProperty),
        ("saveProperties", Kind::SaveProperties),
        ("changeObjectType", Kind::ChangeObjectType),
        ("dropObject", Kind::DropObject),
        ("saveRelationship", Kind::SaveRelationship),
        ("dropRelationship", Kind::DropRelationship),
    ];

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// One operation as sent.
#[derive(Debug)]
struct Operation {
    kind: Kind,
    params: Map<String, Value>,
}

/// An operation's parameters, read.
enum Parsed {
    NewObject(String, Map<String, Value>),
    SaveProperty(ObjectId, String, Value),
    SaveProperties(ObjectId, Map<String, Value>),
    ChangeObjectType(ObjectId, String),
    DropObject(ObjectId, Vec<String>),
    SaveRelationship(ObjectId, ObjectId, bool),
    DropRelationship(ObjectId, ObjectId),
}

fn parse(kind: Kind, params: Map<String, Value>) -> Result<Parsed, ApiError> {
    let mut p = Params::from_map(params);
    let parsed = match kind {
        Kind::NewObject => {
            let t = p.required_string("objectType");
            let props = p.map("properties");
            p.finish()?;
            Parsed::NewObject(t?, props?.unwrap_or_default())
        }
        Kind::SaveProperty => {
            let id = p.required_integer("objectId");
            let name = p.required_string("propertyName");
            let value = p.required_value("propertyValue");
            p.finish()?;
            Parsed::SaveProperty(id?, name?, value?)
        }
        Kind::SaveProperties => {
            let id = p.required_integer("objectId");
            let props = p.map("properties").and_then(|m| {
                m.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::MissingParameter,
                        "parameter `properties` is required",
                    )
                    .with_details(json!({ "parameter": "properties" }))
                })
            });
            p.finish()?;
            Parsed::SaveProperties(id?, props?)
        }
        Kind::ChangeObjectType => {
            let id = p.required_integer("objectId");
            let t = p.required_string("objectType");
            p.finish()?;
            Parsed::ChangeObjectType(id?, t?)
        }
        Kind::DropObject => {
            let id = p.required_integer("objectId");
            let types = p.list("childObjectTypes");
            p.finish()?;
            Parsed::DropObject(id?, types?.unwrap_or_default())
        }
        Kind::SaveRelationship => {
            let parent = p.required_integer("parentObjectId");
            let child = p.required_integer("childObjectId");
            let strict = p.boolean("strict");
            p.finish()?;
            Parsed::SaveRelationship(parent?, child?, strict?.unwrap_or(false))
        }
        Kind::DropRelationship => {
            let parent = p.required_integer("parentObjectId");
            let child = p.required_integer("childObjectId");
            p.finish()?;
            Parsed::DropRelationship(parent?, child?)
        }
    };
    Ok(parsed)
}

/// A `$REF` or `$REF.FIELD` string: the reference and the field.
fn reference(text: &str) -> Option<(&str, Option<&str>)> {
    let rest = text.strip_prefix('$')?;
    if rest.starts_with('$') {
        return None;
    }
    let (name, field) = match rest.split_once('.') {
        Some((n, f)) => (n, Some(f)),
        None => (rest, None),
    };
    is_valid_name(name).then_some((name, field))
}

fn invalid_reference(message: String, text: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidReference, message).with_details(json!({ "reference": text }))
}

/// Calls `f` on every string of `value`, depth first.
fn strings(value: &Value, f: &mut dyn FnMut(&str) -> Result<(), ApiError>) -> Result<(), ApiError> {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().try_for_each(|v| strings(v, f)),
        Value::Object(m) => m.values().try_for_each(|v| strings(v, f)),
        _ => Ok(()),
    }
}

/// The operations of a batch with what their `ref`s name.
struct Plan {
    schema: Arc<Schema>,
    ops: Arc<Vec<Operation>>,
    /// `ref` name → the operation that defines it.
    refs: Arc<HashMap<String, usize>>,
    /// Global objects live in another database: refused in a batch.
    has_global: bool,
}

fn plan_error(e: ApiError) -> BatchError {
    BatchError::Plan(Box::new(e.0))
}

impl Plan {
    /// `value` with every reference replaced by what it names in `earlier`.
    fn substitute(&self, value: &Value, earlier: &[WriteOutcome]) -> Result<Value, ApiError> {
        Ok(match value {
            Value::String(s) => {
                if let Some(literal) = s.strip_prefix("$$") {
                    return Ok(Value::String(format!("${literal}")));
                }
                let Some((name, field)) = reference(s) else {
                    return Ok(value.clone());
                };
                let Some(&at) = self.refs.get(name).filter(|&&at| at < earlier.len()) else {
                    return Err(invalid_reference(
                        format!("`{s}` names no earlier operation's `ref`"),
                        s,
                    ));
                };
                let result = self.render(at, &earlier[at], &earlier[..at])?;
                let field = field.unwrap_or("objectId");
                match result.get(field) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(invalid_reference(
                            format!("the result of operation {at} (`{name}`) has no `{field}`"),
                            s,
                        ))
                    }
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.substitute(v, earlier))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), self.substitute(v, earlier)?)))
                    .collect::<Result<_, ApiError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn parsed(&self, index: usize, earlier: &[WriteOutcome]) -> Result<Parsed, ApiError> {
        let op = &self.ops[index];
        let params = match self.substitute(&Value::Object(op.params.clone()), earlier)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        parse(op.kind, params)
    }

    /// The answer of operation `index`, as its single endpoint answers.
    fn render(
        &self,
        index: usize,
        outcome: &WriteOutcome,
        earlier: &[WriteOutcome],
    ) -> Result<Value, ApiError> {
        Ok(match outcome {
            WriteOutcome::Object(record) => {
                if self.ops[index].kind == Kind::SaveProperty {
                    let name = match self.ops[index].params.get("propertyName") {
                        Some(Value::String(n)) if !n.starts_with('$') => n.clone(),
                        _ => match self.parsed(index, earlier)? {
                            Parsed::SaveProperty(_, n, _) => n,
                            _ => String::new(),
                        },
                    };
                    crate::service::property_answer(&self.schema, record, &name)?
                } else {
                    render_object(record)
                }
            }
            WriteOutcome::Dropped(ids) => json!({ "deletedObjectIds": ids }),
            WriteOutcome::Related {
                parent,
                child,
                strict,
            } => json!({ "parentObjectId": parent, "childObjectId": child, "strict": strict }),
            WriteOutcome::Unrelated(dropped) => json!({ "dropped": dropped }),
        })
    }

    fn refuse_global_id(&self, id: ObjectId) -> Result<(), ApiError> {
        if self.has_global && is_global_id(id) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!(
                    "object {id} is of a global type, stored in the system's global database: \
                     a batch runs in one database, write it on its own"
                ),
            )
            .with_details(json!({ "objectId": id })));
        }
        Ok(())
    }

    fn refuse_global_type(&self, object_type: &str) -> Result<(), ApiError> {
        if self.has_global && self.schema.is_global(object_type) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!(
                    "`{object_type}` is a global type, stored in the system's global \
                     database: a batch runs in one database, write it on its own"
                ),
            )
            .with_details(json!({ "objectType": object_type })));
        }
        Ok(())
    }

    fn refuse_global_lookups(
        &self,
        writes: &[crate::store::PropertyWrite],
    ) -> Result<(), ApiError> {
        for w in writes {
            if let Some(target) = w.value.as_ref().and_then(|v| v.lookup.as_ref()) {
                self.refuse_global_type(&target.object_type)?;
            }
        }
        Ok(())
    }

    fn write_op(&self, parsed: Parsed, target_type: Option<&str>) -> Result<WriteOp, ApiError> {
        let schema = &self.schema;
        Ok(match parsed {
            Parsed::NewObject(t, props) => {
                self.refuse_global_type(&t)?;
                let req = schema.prepare_new_object(&t, &props)?;
                self.refuse_global_lookups(&req.properties)?;
                WriteOp::NewObject(req)
            }
            Parsed::SaveProperty(id, name, value) => {
                let mut props = Map::new();
                props.insert(name, value);
                self.save(id, &props, target_type)?
            }
            Parsed::SaveProperties(id, props) => self.save(id, &props, target_type)?,
            Parsed::ChangeObjectType(id, t) => {
                self.refuse_global_id(id)?;
                self.refuse_global_type(&t)?;
                schema.check_object_type(&t)?;
                WriteOp::ChangeObjectType {
                    object_id: id,
                    object_type: t,
                    config_version: schema.version,
                }
            }
            Parsed::DropObject(id, child_types) => {
                self.refuse_global_id(id)?;
                if let Some(t) = child_types.iter().find(|t| !is_valid_name(t)) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidParameter,
                        format!("`{t}` in childObjectTypes is not a valid object type name"),
                    ));
                }
                WriteOp::DropObject(DropObject::new(id, child_types))
            }
            Parsed::SaveRelationship(parent, child, strict) => {
                self.relationship(parent, child)?;
                WriteOp::SaveRelationship {
                    parent,
                    child,
                    strict,
                }
            }
            Parsed::DropRelationship(parent, child) => {
                self.refuse_global_id(parent)?;
                self.refuse_global_id(child)?;
                WriteOp::DropRelationship { parent, child }
            }
        })
    }

    fn relationship(&self, parent: ObjectId, child: ObjectId) -> Result<(), ApiError> {
        if parent == child {
            return Err(ApiError::new(
                ErrorCode::InvalidRelationship,
                "an object cannot be its own parent or child",
            )
            .with_details(json!({ "parentObjectId": parent, "childObjectId": child })));
        }
        self.refuse_global_id(parent)?;
        self.refuse_global_id(child)
    }

    fn save(
        &self,
        id: ObjectId,
        props: &Map<String, Value>,
        target_type: Option<&str>,
    ) -> Result<WriteOp, ApiError> {
        self.refuse_global_id(id)?;
        let object_type = target_type.unwrap_or_default().to_owned();
        let writes = self.schema.prepare_writes(&object_type, props)?;
        self.refuse_global_lookups(&writes)?;
        Ok(WriteOp::SaveProperties(SaveProperties {
            config_version: self.schema.version,
            object_id: id,
            expected_type: object_type,
            writes,
        }))
    }

    /// Checks what can be checked before the transaction: the references of every
    /// operation name earlier `ref`s, and operations without references read and convert.
    fn precheck(&self) -> Result<(), (usize, ApiError)> {
        for (index, op) in self.ops.iter().enumerate() {
            let mut has_refs = false;
            let value = Value::Object(op.params.clone());
            strings(&value, &mut |s| {
                if s.starts_with("$$") {
                    return Ok(());
                }
                if let Some((name, _)) = reference(s) {
                    has_refs = true;
                    if self.refs.get(name).is_none_or(|&at| at >= index) {
                        return Err(invalid_reference(
                            format!("`{s}` names no earlier operation's `ref`"),
                            s,
                        ));
                    }
                }
                Ok(())
            })
            .map_err(|e| (index, e))?;
            if !has_refs {
                let parsed = parse(op.kind, op.params.clone()).map_err(|e| (index, e))?;
                // Saves need the object's type, read in the transaction.
                if !matches!(
                    parsed,
                    Parsed::SaveProperty(..) | Parsed::SaveProperties(..)
                ) {
                    self.write_op(parsed, None).map_err(|e| (index, e))?;
                }
            }
        }
        Ok(())
    }
}

impl BatchPlan for Plan {
    fn len(&self) -> usize {
        self.ops.len()
    }

    fn target(
        &self,
        index: usize,
        earlier: &[WriteOutcome],
    ) -> Result<Option<ObjectId>, BatchError> {
        if !matches!(
            self.ops[index].kind,
            Kind::SaveProperty | Kind::SaveProperties
        ) {
            return Ok(None);
        }
        match self.parsed(index, earlier).map_err(plan_error)? {
            Parsed::SaveProperty(id, ..) | Parsed::SaveProperties(id, _) => Ok(Some(id)),
            _ => Ok(None),
        }
    }

    fn step(
        &self,
        index: usize,
        earlier: &[WriteOutcome],
        target_type: Option<&str>,
    ) -> Result<WriteOp, BatchError> {
        let parsed = self.parsed(index, earlier).map_err(plan_error)?;
        self.write_op(parsed, target_type).map_err(plan_error)
    }
}

/// The error of operation `index`, with `details.index`.
fn at_index(index: usize, e: ServiceError) -> ApiError {
    let mut details = match e.details.clone() {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    details.insert("index".into(), index.into());
    let message = format!("operation {index}: {}", e.message);
    ApiError(ServiceError { message, ..e }).with_details(Value::Object(details))
}

/// Reads the `operations` of a batch body.
fn operations(value: Value) -> Result<(Vec<Operation>, HashMap<String, usize>), ApiError> {
    let invalid = |index: Option<usize>, message: String| {
        let details = match index {
            Some(i) => json!({ "parameter": "operations", "index": i }),
            None => json!({ "parameter": "operations" }),
        };
        ApiError::new(ErrorCode::InvalidParameter, message).with_details(details)
    };
    let Value::Array(items) = value else {
        return Err(invalid(
            None,
            "parameter `operations` must be a JSON array".into(),
        ));
    };
    if items.is_empty() {
        return Err(invalid(
            None,
            "parameter `operations` holds no operation".into(),
        ));
    }
    if items.len() > MAX_OPERATIONS {
        return Err(invalid(
            None,
            format!(
                "a batch holds at most {MAX_OPERATIONS} operations, not {}",
                items.len()
            ),
        ));
    }
    let mut ops = Vec::with_capacity(items.len());
    let mut refs = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut m) = item else {
            return Err(invalid(
                Some(index),
                format!("operation {index} is not a JSON object"),
            ));
        };
        let name = match m.remove("op") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(invalid(
                    Some(index),
                    format!("operation {index} has no `op`"),
                ))
            }
        };
        let Some(kind) = Kind::parse(&name) else {
            let names: Vec<&str> = Kind::ALL.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                Some(index),
                format!(
                    "operation {index}: `{name}` is not a write a batch runs ({})",
                    names.join(", ")
                ),
            ));
        };
        let params = match m.remove("params") {
            None => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(invalid(
                    Some(index),
                    format!("operation {index}: `params` must be a JSON object"),
                ))
            }
        };
        match m.remove("ref") {
            None => {}
            Some(Value::String(r)) if is_valid_name(&r) && refs.contains_key(&r) => {
                return Err(invalid(
                    Some(index),
                    format!("operation {index}: `ref` `{r}` is used twice"),
                ));
            }
            Some(Value::String(r)) if is_valid_name(&r) => {
                refs.insert(r, index);
            }
            Some(_) => {
                return Err(invalid(
                    Some(index),
                    format!("operation {index}: `ref` must be a name (letters, digits, _)"),
                ))
            }
        }
        if let Some(other) = m.keys().next() {
            return Err(ApiError::new(
                ErrorCode::UnknownParameter,
                format!("operation {index}: `{other}` is not `op`, `params` or `ref`"),
            )
            .with_details(json!({ "parameters": [other], "accepted": ["op", "params", "ref"], "index": index })));
        }
        ops.push(Operation { kind, params });
    }
    Ok((ops, refs))
}

/// Runs mixed writes in one transaction, all or nothing (`POST` only).
#[utoipa::path(
    post,
    path = "/batch",
    tag = "objects",
    request_body(content((schemas::BatchRequest = "application/json"), (schemas::BatchRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The result of every operation, in order.", body = schemas::BatchResults))
)]
pub async fn batch(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let operations_value = p.required_value("operations");
    p.finish()?;
    let value = operations_value?;
    // Form input carries the list as JSON text.
    let value = match value {
        Value::String(text) => crate::json::from_str(&text).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("parameter `operations` is not JSON: {e}"),
            )
            .with_details(json!({ "parameter": "operations" }))
        })?,
        v => v,
    };
    let (ops, refs) = operations(value)?;
    let (ops, refs) = (Arc::new(ops), Arc::new(refs));
    let has_global = datastore.has_global();
    let make = |schema: Arc<Schema>| -> Plan {
        Plan {
            schema,
            ops: ops.clone(),
            refs: refs.clone(),
            has_global,
        }
    };
    make(datastore.schema())
        .precheck()
        .map_err(|(index, e)| at_index(index, e.0))?;
    let outcomes = datastore
        .run_batch(|schema| Ok(Arc::new(make(schema)) as Arc<dyn BatchPlan>))
        .await
        .map_err(|Failed { index, error }| {
            let e = match error {
                BatchError::Store(e) => ServiceError::from(e),
                BatchError::Plan(e) => match e.downcast::<ServiceError>() {
                    Ok(e) => *e,
                    Err(e) => ServiceError::internal(e),
                },
            };
            match index {
                Some(index) => at_index(index, e),
                // The batch failed as a whole (its Idempotency-Key claim was taken over, the
                // database failed): no operation to name.
                None => ApiError(e),
            }
        })?;
    let plan = make(datastore.schema());
    let mut results = Vec::with_capacity(outcomes.len());
    for (index, outcome) in outcomes.iter().enumerate() {
        results.push(
            plan.render(index, outcome, &outcomes[..index])
                .map_err(|e| at_index(index, e.0))?,
        );
    }
    Ok(json(json!({ "results": results })))
}
