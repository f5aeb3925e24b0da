//! The datastore's rules between the HTTP layer and the store.
//!
//! [`Datastore`] checks names against the DSConfig (open or strict schema), converts values
//! by their configured types, states what a write must check (Lookup targets) and refresh
//! (display texts of Lookups pointing here), and renders records as the flat JSON objects
//! of API.md §4. It knows nothing of HTTP and nothing of SQL: it answers with its own
//! [`ServiceError`] (a contract code, a message, details), which the HTTP layer maps.
//!
//! - `schema`: one DSConfig version and the rules that depend on it; a request uses one.
//! - `active`: the DSConfig in force in this process, kept equal to the stored one.
//! - `displays`: the display-text refresh a new DSConfig needs.
//! - `table`, `render`: list requests; flat objects and CSV.
//! - `files`: Image/FileLink uploads (what they may go to, linking) and the pending-file sweep.
//! - `tenants`: the (app, system) databases, opened on first use into a bounded registry.

mod active;
pub mod displays;
mod error;
mod files;
mod render;
mod schema;
mod table;
pub mod tenants;

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::convert;
use crate::model::{is_valid_name, ObjectId};
use crate::store::{Direction, DropObject, RelatedQuery, SaveProperties, Store, StoreError};

pub use active::{ActiveConfig, POLL};
pub use error::{ErrorCode, ServiceError};
pub use files::{sweep_pending_files, Uploaded, PENDING_FILE_AGE};
pub use render::{render_object, CsvColumn, CsvTable};
pub use schema::Schema;
pub use table::{FilterRequest, TableRequest};
pub use tenants::{open_tenant_store, TenantError, TenantSettings, Tenants};

/// Attempts of a write whose object type or DSConfig changed under it.
const WRITE_ATTEMPTS: usize = 4;

pub use crate::model::ARCHIVE_PREFIX;

/// getChildren / getParents as the client asked for it.
#[derive(Debug)]
pub struct RelatedRequest {
    pub object_id: ObjectId,
    pub direction: Direction,
    pub object_type: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// The service: the store and the active DSConfig.
pub struct Datastore {
    pub store: Arc<dyn Store>,
    pub active: Arc<ActiveConfig>,
}

impl Datastore {
    /// The active DSConfig with its rules, for one request.
    pub fn schema(&self) -> Arc<Schema> {
        self.active.get()
    }

    /// After the store refused a write made with an older DSConfig: the stored one.
    async fn reload_config(&self) -> Result<(), ServiceError> {
        self.active.reload(self.store.as_ref()).await?;
        Ok(())
    }

    async fn type_of(&self, id: ObjectId) -> Result<String, ServiceError> {
        self.store
            .object_type(id)
            .await?
            .ok_or_else(|| ServiceError::object_not_found(id))
    }

    pub async fn new_object(
        &self,
        object_type: &str,
        properties: Option<Map<String, Value>>,
    ) -> Result<Value, ServiceError> {
        let properties = properties.unwrap_or_default();
        let mut attempts = 1;
        loop {
            let req = self.schema().prepare_new_object(object_type, &properties)?;
            match self.store.new_object(req).await {
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    self.reload_config().await?;
                }
                other => return Ok(render_object(&other?)),
            }
        }
    }

    pub async fn get_object(&self, id: ObjectId) -> Result<Value, ServiceError> {
        match self.store.get_object(id).await? {
            Some(record) => Ok(render_object(&record)),
            None => Err(ServiceError::object_not_found(id)),
        }
    }

    /// Saves properties of an object; converts for the object's type as it is now.
    async fn save(
        &self,
        id: ObjectId,
        properties: &Map<String, Value>,
    ) -> Result<crate::store::ObjectRecord, ServiceError> {
        // The object's type and the DSConfig decide the conversion; if either changes
        // between the read and the write, the store refuses and the conversion is done
        // again.
        let mut attempts = 1;
        loop {
            let schema = self.schema();
            let object_type = self.type_of(id).await?;
            let writes = schema.prepare_writes(&object_type, properties)?;
            let req = SaveProperties {
                config_version: schema.version,
                object_id: id,
                expected_type: object_type,
                writes,
            };
            match self.store.save_properties(req).await {
                Err(StoreError::TypeChanged(_)) if attempts < WRITE_ATTEMPTS => attempts += 1,
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    self.reload_config().await?;
                }
                other => return Ok(other?),
            }
        }
    }

    pub async fn save_property(
        &self,
        id: ObjectId,
        name: &str,
        value: Value,
    ) -> Result<Value, ServiceError> {
        let mut properties = Map::new();
        properties.insert(name.to_owned(), value);
        let record = self.save(id, &properties).await?;
        let property_type = match record.property(name) {
            Some(p) => p.property_type,
            None => self.schema().property_type(&record.object_type, name)?,
        };
        let mut answer = Map::new();
        answer.insert("objectId".into(), id.into());
        answer.insert("propertyName".into(), name.into());
        answer.insert("propertyType".into(), property_type.as_str().into());
        // A removed property, or a column without a value, is left out, never `null`.
        if let Some(p) = record.property(name) {
            answer.insert(
                "propertyValue".into(),
                convert::to_json(p.property_type, &p.value),
            );
            if let Some(d) = p.as_double.and_then(serde_json::Number::from_f64) {
                answer.insert("propertyAsDouble".into(), Value::Number(d));
            }
            if let Some(text) = &p.as_string {
                answer.insert("propertyAsString".into(), text.clone().into());
            }
        }
        Ok(Value::Object(answer))
    }

    pub async fn save_properties(
        &self,
        id: ObjectId,
        properties: Map<String, Value>,
    ) -> Result<Value, ServiceError> {
        let record = self.save(id, &properties).await?;
        Ok(render_object(&record))
    }

    pub async fn change_object_type(
        &self,
        id: ObjectId,
        object_type: &str,
    ) -> Result<Value, ServiceError> {
        let mut attempts = 1;
        loop {
            let schema = self.schema();
            schema.check_object_type(object_type)?;
            let changed = self
                .store
                .change_object_type(id, object_type, schema.version)
                .await;
            match changed {
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    self.reload_config().await?;
                }
                other => return Ok(render_object(&other?)),
            }
        }
    }

    pub async fn drop_object(
        &self,
        id: ObjectId,
        child_types: Vec<String>,
    ) -> Result<Value, ServiceError> {
        for t in &child_types {
            if !is_valid_name(t) {
                return Err(ServiceError::new(
                    ErrorCode::InvalidParameter,
                    format!("`{t}` in childObjectTypes is not a valid object type name"),
                ));
            }
        }
        let deleted = self
            .store
            .drop_object(DropObject {
                object_id: id,
                child_types,
            })
            .await?;
        Ok(json!({ "deletedObjectIds": deleted }))
    }

    pub async fn save_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    ) -> Result<Value, ServiceError> {
        if parent == child {
            return Err(ServiceError::new(
                ErrorCode::InvalidRelationship,
                "an object cannot be its own parent or child",
            )
            .with_details(json!({ "parentObjectId": parent, "childObjectId": child })));
        }
        self.store.save_relationship(parent, child, strict).await?;
        Ok(json!({ "parentObjectId": parent, "childObjectId": child, "strict": strict }))
    }

    pub async fn drop_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
    ) -> Result<Value, ServiceError> {
        let dropped = self.store.drop_relationship(parent, child).await?;
        Ok(json!({ "dropped": dropped }))
    }

    /// A page of the children or parents of an object, each rendered with `"strict"`, and
    /// the number of matches before paging. `limit` defaults to and is capped at
    /// `--max-results`, as in table views.
    pub async fn related(&self, req: RelatedRequest) -> Result<(Vec<Value>, u64), ServiceError> {
        let schema = self.schema();
        if let Some(t) = &req.object_type {
            schema.check_object_type(t)?;
        }
        let query = RelatedQuery {
            object_id: req.object_id,
            direction: req.direction,
            object_type: req.object_type,
            offset: req.offset.unwrap_or(0),
            limit: req.limit.unwrap_or(schema.max_limit).min(schema.max_limit),
        };
        let page = self.store.related(&query).await?;
        let objects = page
            .objects
            .iter()
            .map(|(record, strict)| {
                let mut object = render_object(record);
                object["strict"] = Value::Bool(*strict);
                object
            })
            .collect();
        Ok((objects, page.total))
    }
}
