//! One DSConfig version with the rules that depend on it: schema checks, conversion, what a
//! write must check and refresh. A request takes one [`Schema`] and uses it throughout, so
//! everything it prepares agrees with the version it tells the store.

use std::collections::{BTreeSet, HashMap};

use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::error::{ErrorCode, ServiceError};
use super::ARCHIVE_PREFIX;
use crate::convert::{self, Context};
use crate::dsconfig::{Config, PropertyConfig};
use crate::model::{is_valid_name, is_valid_property_name, ObjectId, PropertyType};
use crate::store::{LookupSite, LookupTarget, NewObject, NewValue, PropertyWrite};

/// Longest chain of Lookups displaying Lookups that display texts follow.
const MAX_DISPLAY_CHAIN: usize = 16;

/// The object id a converted Lookup value names.
fn lookup_id(name: &str, canonical: &str) -> Result<ObjectId, ServiceError> {
    canonical.parse().map_err(|_| {
        ServiceError::new(
            ErrorCode::InvalidValue,
            format!("`{name}` (Lookup): `{canonical}` is not an object id"),
        )
        .with_details(json!({ "propertyName": name, "propertyType": "Lookup" }))
    })
}

/// A DSConfig as one request uses it.
pub struct Schema {
    pub config: Config,
    /// Its version in the database (0: none is stored).
    pub version: i64,
    /// The server time zone, for date-times given without an offset.
    pub time_zone: Tz,
    /// Default and maximum `limit` of list endpoints.
    pub max_limit: u64,
    /// For each (type, property) some Lookup displays: the Lookups to refresh when it
    /// changes. Worked out once per DSConfig, not on every write.
    displayed_by: HashMap<(String, String), Vec<LookupSite>>,
}

impl Schema {
    pub fn new(config: Config, version: i64, time_zone: Tz, max_limit: u64) -> Schema {
        let mut schema = Schema {
            config,
            version,
            time_zone,
            max_limit,
            displayed_by: HashMap::new(),
        };
        let displayed: BTreeSet<(String, String)> = schema
            .config
            .types
            .values()
            .flat_map(|t| t.properties.values())
            .filter(|p| p.property_type == PropertyType::Lookup)
            .filter_map(|p| Some((p.object_type.clone()?, p.display.clone()?)))
            .collect();
        schema.displayed_by = displayed
            .into_iter()
            .map(|(target, name)| {
                let sites = schema.lookup_sites_displaying(&target, &name, &mut Vec::new());
                ((target, name), sites)
            })
            .collect();
        schema
    }

    /// Refuses a type name that is malformed or, in strict mode, not configured.
    pub fn check_object_type(&self, object_type: &str) -> Result<(), ServiceError> {
        if !is_valid_name(object_type) {
            return Err(ServiceError::new(
                ErrorCode::InvalidParameter,
                format!("`{object_type}` is not a valid object type name"),
            )
            .with_details(json!({ "objectType": object_type })));
        }
        let known = |t: &str| self.config.types.contains_key(t);
        let archived = object_type.strip_prefix(ARCHIVE_PREFIX).is_some_and(known);
        if self.config.is_strict() && !known(object_type) && !archived {
            return Err(ServiceError::new(
                ErrorCode::UnknownObjectType,
                format!("object type `{object_type}` is not configured"),
            )
            .with_details(json!({ "objectType": object_type })));
        }
        Ok(())
    }

    /// True when objects of `object_type` (or of the type it archives) live in the global
    /// database (`global = true`).
    pub fn is_global(&self, object_type: &str) -> bool {
        let original = object_type
            .strip_prefix(ARCHIVE_PREFIX)
            .unwrap_or(object_type);
        self.config.types.get(original).is_some_and(|t| t.global)
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
    pub fn property_type(
        &self,
        object_type: &str,
        name: &str,
    ) -> Result<PropertyType, ServiceError> {
        if !is_valid_property_name(name) {
            let why = if crate::model::is_system_field(name) {
                "is a system field"
            } else {
                "is not a valid property name"
            };
            return Err(
                ServiceError::new(ErrorCode::InvalidParameter, format!("`{name}` {why}"))
                    .with_details(json!({ "propertyName": name })),
            );
        }
        match self.property_config(object_type, name) {
            Some(p) => Ok(p.property_type),
            None if self.config.is_strict() => Err(ServiceError::new(
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
    ) -> Result<PropertyWrite, ServiceError> {
        let ty = self.property_type(object_type, name)?;
        let config = self.property_config(object_type, name);
        let stored = convert::convert(ty, input, &self.conversion(config)).map_err(|e| {
            ServiceError::new(ErrorCode::InvalidValue, format!("`{name}` ({ty}): {e}"))
                .with_details(json!({ "propertyName": name, "propertyType": ty.as_str() }))
        })?;
        let value = stored
            .map(|s| -> Result<NewValue, ServiceError> {
                Ok(NewValue {
                    lookup: match (ty, config) {
                        (PropertyType::Lookup, Some(c)) => Some(LookupTarget {
                            // From the canonical text: an id above 2^53 has no double of its own.
                            object_id: lookup_id(name, &s.value)?,
                            object_type: c.object_type.clone().unwrap_or_default(),
                            display: c.display.clone().unwrap_or_else(|| "objectId".into()),
                        }),
                        _ => None,
                    },
                    property_type: ty,
                    value: s.value,
                    as_double: s.as_double,
                    as_string: s.as_string,
                })
            })
            .transpose()?;
        Ok(PropertyWrite {
            name: name.to_owned(),
            value,
            dependents: self.dependents(object_type, name),
        })
    }

    /// The Lookups displaying property `name` of objects of `object_type`.
    fn dependents(&self, object_type: &str, name: &str) -> Vec<LookupSite> {
        // An archived target (`ARCH_Company`) is still displayed by its original's lookups.
        let target_type = object_type
            .strip_prefix(ARCHIVE_PREFIX)
            .unwrap_or(object_type);
        self.displayed_by
            .get(&(target_type.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The type of a property a file is uploaded to: Image or FileLink, else refused.
    pub fn file_property_type(
        &self,
        object_type: &str,
        name: &str,
    ) -> Result<PropertyType, ServiceError> {
        let ty = self.property_type(object_type, name)?;
        match ty {
            PropertyType::Image | PropertyType::FileLink => Ok(ty),
            _ => Err(ServiceError::new(
                ErrorCode::InvalidValue,
                format!("`{name}` ({ty}): only an Image or FileLink property takes a file"),
            )
            .with_details(json!({ "propertyName": name, "propertyType": ty.as_str() }))),
        }
    }

    /// The write that sets an Image/FileLink property to an uploaded file.
    pub(crate) fn file_write(
        &self,
        object_type: &str,
        name: &str,
        file: &convert::FileRef,
    ) -> Result<PropertyWrite, ServiceError> {
        let ty = self.file_property_type(object_type, name)?;
        check_file_content_type(ty, name, &file.content_type)?;
        let stored = convert::file_link(file);
        Ok(PropertyWrite {
            name: name.to_owned(),
            value: Some(NewValue {
                property_type: ty,
                value: stored.value,
                as_double: stored.as_double,
                as_string: stored.as_string,
                lookup: None,
            }),
            dependents: self.dependents(object_type, name),
        })
    }

    pub(crate) fn prepare_writes(
        &self,
        object_type: &str,
        properties: &Map<String, Value>,
    ) -> Result<Vec<PropertyWrite>, ServiceError> {
        properties
            .iter()
            .map(|(name, value)| self.prepare_write(object_type, name, value))
            .collect()
    }

    /// Checks and converts a new object for the store, without storing it.
    pub fn prepare_new_object(
        &self,
        object_type: &str,
        properties: &Map<String, Value>,
    ) -> Result<NewObject, ServiceError> {
        self.check_object_type(object_type)?;
        Ok(NewObject {
            object_type: object_type.to_owned(),
            properties: self.prepare_writes(object_type, properties)?,
            config_version: self.version,
        })
    }

    /// The Lookups displaying property `name` of `target_type`, each with the Lookups that
    /// display it in turn (a chain), archived owners (`ARCH_Person`) included: they keep
    /// showing the current text too. `path` cuts display cycles a DSConfig may contain.
    fn lookup_sites_displaying(
        &self,
        target_type: &str,
        name: &str,
        path: &mut Vec<(String, String)>,
    ) -> Vec<LookupSite> {
        let key = (target_type.to_owned(), name.to_owned());
        if path.contains(&key) || path.len() >= MAX_DISPLAY_CHAIN {
            return Vec::new();
        }
        path.push(key);
        let mut sites = Vec::new();
        for (owner_type, property_name) in self.config.lookups_displaying(target_type, name) {
            let dependents = self.lookup_sites_displaying(&owner_type, &property_name, path);
            let archived = crate::model::archived_type(&owner_type);
            sites.push(LookupSite {
                owner_type,
                property_name: property_name.clone(),
                dependents: dependents.clone(),
            });
            sites.push(LookupSite {
                owner_type: archived,
                property_name,
                dependents,
            });
        }
        path.pop();
        sites
    }

    /// The items of a configured list, in declared order.
    pub fn list_items(&self, name: &str) -> Result<Value, ServiceError> {
        match self.config.list(name) {
            Some(items) => Ok(json!(items)),
            None => Err(ServiceError::new(
                ErrorCode::UnknownList,
                format!("list `{name}` is not configured"),
            )
            .with_details(json!({ "listName": name }))),
        }
    }
}

/// An Image property takes only `image/*` files.
pub fn check_file_content_type(
    ty: PropertyType,
    name: &str,
    content_type: &str,
) -> Result<(), ServiceError> {
    if ty == PropertyType::Image && !content_type.to_ascii_lowercase().starts_with("image/") {
        return Err(ServiceError::new(
            ErrorCode::InvalidValue,
            format!("`{name}` (Image) takes only image/* files, not `{content_type}`"),
        )
        .with_details(json!({ "propertyName": name, "propertyType": "Image" })));
    }
    Ok(())
}
