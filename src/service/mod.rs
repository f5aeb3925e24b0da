//! The datastore's rules between the HTTP layer and the store.
//!
//! [`Datastore`] checks names against the DSConfig (open or strict schema), converts values
//! by their configured types, states what a write must check (Lookup targets) and refresh
//! (display texts of Lookups pointing here), and renders records as the flat JSON objects
//! of API.md §4. It knows nothing of HTTP and nothing of SQL.

mod render;
mod table;

use std::sync::Arc;

use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::convert::{self, Context};
use crate::dsconfig::{Config, PropertyConfig};
use crate::error::{ApiError, ErrorCode};
use crate::model::{is_valid_name, is_valid_property_name, ObjectId, PropertyType};
use crate::store::{
    Direction, DropObject, LookupSite, LookupTarget, NewObject, NewValue, PropertyWrite,
    RelatedQuery, SaveProperties, Store, StoreError,
};

pub use render::{render_object, CsvTable};
pub use table::{FilterRequest, TableRequest};

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

/// The service: the store, the active DSConfig and the conversion settings.
pub struct Datastore {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub time_zone: Tz,
    /// Default and maximum `limit` of list endpoints.
    pub max_limit: u64,
}

impl Datastore {
    /// Refuses a type name that is malformed or, in strict mode, not configured.
    pub fn check_object_type(&self, object_type: &str) -> Result<(), ApiError> {
        if !is_valid_name(object_type) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("`{object_type}` is not a valid object type name"),
            )
            .with_details(json!({ "objectType": object_type })));
        }
        let known = |t: &str| self.config.types.contains_key(t);
        let archived = object_type.strip_prefix(ARCHIVE_PREFIX).is_some_and(known);
        if self.config.is_strict() && !known(object_type) && !archived {
            return Err(ApiError::new(
                ErrorCode::UnknownObjectType,
                format!("object type `{object_type}` is not configured"),
            )
            .with_details(json!({ "objectType": object_type })));
        }
        Ok(())
    }

    /// The configuration of a property of a type (an archived type uses its original's).
    pub fn property_config(&self, object_type: &str, name: &str) -> Option<&PropertyConfig> {
        self.config.property(object_type, name).or_else(|| {
            let original = object_type.strip_prefix(ARCHIVE_PREFIX)?;
            self.config.property(original, name)
        })
    }

    /// What converting a value of a property with this configuration needs.
    pub(crate) fn conversion(&self, config: Option<&PropertyConfig>) -> Context<'_> {
        Context {
            time_zone: self.time_zone,
            list: config
                .and_then(|c| c.list.as_deref())
                .and_then(|l| self.config.list(l)),
        }
    }

    /// The type of a property, refusing malformed names and, in strict mode, unknown ones.
    pub fn property_type(&self, object_type: &str, name: &str) -> Result<PropertyType, ApiError> {
        if !is_valid_property_name(name) {
            let why = if crate::model::is_system_field(name) {
                "is a system field"
            } else {
                "is not a valid property name"
            };
            return Err(
                ApiError::new(ErrorCode::InvalidParameter, format!("`{name}` {why}"))
                    .with_details(json!({ "propertyName": name })),
            );
        }
        match self.property_config(object_type, name) {
            Some(p) => Ok(p.property_type),
            None if self.config.is_strict() => Err(ApiError::new(
                ErrorCode::UnknownProperty,
                format!("property `{name}` is not configured for `{object_type}`"),
            )
            .with_details(json!({ "objectType": object_type, "propertyName": name }))),
            None => Ok(PropertyType::String),
        }
    }

    /// Converts one client value into the write the store performs.
    fn prepare_write(
        &self,
        object_type: &str,
        name: &str,
        input: &Value,
    ) -> Result<PropertyWrite, ApiError> {
        let ty = self.property_type(object_type, name)?;
        let config = self.property_config(object_type, name);
        let stored = convert::convert(ty, input, &self.conversion(config)).map_err(|e| {
            ApiError::new(ErrorCode::InvalidValue, format!("`{name}` ({ty}): {e}"))
                .with_details(json!({ "propertyName": name, "propertyType": ty.as_str() }))
        })?;
        let value = stored.map(|s| NewValue {
            lookup: match (ty, config) {
                (PropertyType::Lookup, Some(c)) => Some(LookupTarget {
                    object_id: s.as_double.unwrap_or_default() as ObjectId,
                    object_type: c.object_type.clone().unwrap_or_default(),
                    display: c.display.clone().unwrap_or_else(|| "objectId".into()),
                }),
                _ => None,
            },
            property_type: ty,
            value: s.value,
            as_double: s.as_double,
            as_string: s.as_string,
        });
        // An archived target (`ARCH_Company`) is still displayed by its original's lookups,
        // and archived owners (`ARCH_Person`) keep showing the current text too.
        let target_type = object_type
            .strip_prefix(ARCHIVE_PREFIX)
            .unwrap_or(object_type);
        let dependents = self
            .config
            .lookups_displaying(target_type, name)
            .into_iter()
            .flat_map(|(owner_type, property_name)| {
                let archived = crate::model::archived_type(&owner_type);
                [
                    LookupSite {
                        owner_type,
                        property_name: property_name.clone(),
                    },
                    LookupSite {
                        owner_type: archived,
                        property_name,
                    },
                ]
            })
            .collect();
        Ok(PropertyWrite {
            name: name.to_owned(),
            value,
            dependents,
        })
    }

    fn prepare_writes(
        &self,
        object_type: &str,
        properties: &Map<String, Value>,
    ) -> Result<Vec<PropertyWrite>, ApiError> {
        properties
            .iter()
            .map(|(name, value)| self.prepare_write(object_type, name, value))
            .collect()
    }

    async fn type_of(&self, id: ObjectId) -> Result<String, ApiError> {
        self.store
            .object_type(id)
            .await?
            .ok_or_else(|| ApiError::object_not_found(id))
    }

    /// Checks and converts a new object for the store, without storing it.
    pub fn prepare_new_object(
        &self,
        object_type: &str,
        properties: Option<Map<String, Value>>,
    ) -> Result<NewObject, ApiError> {
        self.check_object_type(object_type)?;
        Ok(NewObject {
            object_type: object_type.to_owned(),
            properties: self.prepare_writes(object_type, &properties.unwrap_or_default())?,
        })
    }

    pub async fn new_object(
        &self,
        object_type: &str,
        properties: Option<Map<String, Value>>,
    ) -> Result<Value, ApiError> {
        let req = self.prepare_new_object(object_type, properties)?;
        let record = self.store.new_object(req).await?;
        Ok(render_object(&record))
    }

    pub async fn get_object(&self, id: ObjectId) -> Result<Value, ApiError> {
        match self.store.get_object(id).await? {
            Some(record) => Ok(render_object(&record)),
            None => Err(ApiError::object_not_found(id)),
        }
    }

    /// Saves properties of an object; converts for the object's type as it is now.
    async fn save(
        &self,
        id: ObjectId,
        properties: &Map<String, Value>,
    ) -> Result<crate::store::ObjectRecord, ApiError> {
        // The object's type decides the conversion; if it changes between the read and the
        // write, the store refuses and the conversion is done again for the new type.
        let mut attempts = 0;
        loop {
            let object_type = self.type_of(id).await?;
            let writes = self.prepare_writes(&object_type, properties)?;
            let req = SaveProperties {
                object_id: id,
                expected_type: object_type,
                writes,
            };
            match self.store.save_properties(req).await {
                Err(StoreError::TypeChanged(_)) if attempts < 3 => attempts += 1,
                other => return Ok(other?),
            }
        }
    }

    pub async fn save_property(
        &self,
        id: ObjectId,
        name: &str,
        value: Value,
    ) -> Result<Value, ApiError> {
        let mut properties = Map::new();
        properties.insert(name.to_owned(), value);
        let record = self.save(id, &properties).await?;
        let object_type = &record.object_type;
        Ok(match record.property(name) {
            Some(p) => json!({
                "objectId": id,
                "propertyName": name,
                "propertyType": p.property_type.as_str(),
                "propertyValue": convert::to_json(p.property_type, &p.value),
                "propertyAsDouble": p.as_double,
                "propertyAsString": p.as_string,
            }),
            None => json!({
                "objectId": id,
                "propertyName": name,
                "propertyType": self.property_type(object_type, name)?.as_str(),
                "propertyValue": null,
                "propertyAsDouble": null,
                "propertyAsString": null,
            }),
        })
    }

    pub async fn save_properties(
        &self,
        id: ObjectId,
        properties: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let record = self.save(id, &properties).await?;
        Ok(render_object(&record))
    }

    pub async fn change_object_type(
        &self,
        id: ObjectId,
        object_type: &str,
    ) -> Result<Value, ApiError> {
        self.check_object_type(object_type)?;
        let record = self.store.change_object_type(id, object_type).await?;
        Ok(render_object(&record))
    }

    pub async fn drop_object(
        &self,
        id: ObjectId,
        child_types: Vec<String>,
    ) -> Result<Value, ApiError> {
        for t in &child_types {
            if !is_valid_name(t) {
                return Err(ApiError::new(
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
    ) -> Result<Value, ApiError> {
        if parent == child {
            return Err(ApiError::new(
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
    ) -> Result<Value, ApiError> {
        let dropped = self.store.drop_relationship(parent, child).await?;
        Ok(json!({ "dropped": dropped }))
    }

    /// A page of the children or parents of an object, each rendered with `"strict"`, and
    /// the number of matches before paging. `limit` defaults to and is capped at
    /// `--max-results`, as in table views.
    pub async fn related(&self, req: RelatedRequest) -> Result<(Vec<Value>, u64), ApiError> {
        if let Some(t) = &req.object_type {
            self.check_object_type(t)?;
        }
        let query = RelatedQuery {
            object_id: req.object_id,
            direction: req.direction,
            object_type: req.object_type,
            offset: req.offset.unwrap_or(0),
            limit: req.limit.unwrap_or(self.max_limit).min(self.max_limit),
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

    /// The items of a configured list, in declared order.
    pub fn list(&self, name: &str) -> Result<Value, ApiError> {
        match self.config.list(name) {
            Some(items) => Ok(json!(items)),
            None => Err(ApiError::new(
                ErrorCode::UnknownList,
                format!("list `{name}` is not configured"),
            )
            .with_details(json!({ "listName": name }))),
        }
    }
}
