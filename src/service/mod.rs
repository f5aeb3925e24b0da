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
pub mod aggregate;
pub mod batch;
pub mod cursor;
pub mod displays;
mod error;
mod files;
pub mod heads;
pub mod history;
pub mod projections;
mod render;
mod schema;
mod table;
pub mod tenants;

use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};

use crate::convert;
use crate::model::PropertyType;
use crate::model::{is_valid_name, ObjectId};
use crate::store::{
    Direction, DropObject, LookupSite, ObjectRecord, PropertyWrite, ReferenceLock, RelatedQuery,
    SaveProperties, Store, StoreError,
};
use crate::tenancy::is_global_id;

pub use active::{ActiveConfig, POLL};
pub use error::{ErrorCode, ServiceError};
pub use files::{sweep_pending_files, Uploaded, PENDING_FILE_AGE};
pub use render::{render_object, CsvColumn, CsvTable, ObjectJson};
pub use schema::Schema;
pub use table::{FilterRequest, Listed, TableRequest};
pub use tenants::{open_tenant_store, GlobalLink, TenantError, TenantSettings, Tenants};

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
    /// A cursor token (API.md §12), instead of `offset`.
    pub after: Option<String>,
    /// `false`: no count (`X-Total-Count`).
    pub count: Option<bool>,
}

/// A page of related objects as rendered, their number (`None`: not counted) and the
/// token of the next page, if there is one.
#[derive(Debug)]
pub struct RelatedListed {
    pub objects: Vec<Value>,
    pub total: Option<u64>,
    pub next: Option<String>,
}

/// The service: the store and the active DSConfig.
pub struct Datastore {
    pub store: Arc<dyn Store>,
    pub active: Arc<ActiveConfig>,
    /// An app database's way to its system's global database (objects of `global = true`
    /// types, ids from [`crate::tenancy::GLOBAL_ID_BASE`]); unset on the global database itself.
    global: OnceLock<Arc<GlobalLink>>,
    /// False for a write by a key scoped to one app: global objects are every app's, so
    /// such a key may read them and point Lookups at them, never write them.
    global_writes: bool,
}

impl Datastore {
    pub fn new(store: Arc<dyn Store>, active: Arc<ActiveConfig>) -> Datastore {
        Datastore {
            store,
            active,
            global: OnceLock::new(),
            global_writes: true,
        }
    }

    /// The same datastore for one request by a caller who may not write global objects.
    pub fn without_global_writes(&self) -> Datastore {
        let datastore = Datastore {
            store: self.store.clone(),
            active: self.active.clone(),
            global: OnceLock::new(),
            global_writes: false,
        };
        if let Some(link) = self.global.get() {
            datastore.link_global(link.clone());
        }
        datastore
    }

    /// Refuses routing a write to the global database for a caller who may not.
    fn global_write(
        &self,
        global: Option<Arc<Datastore>>,
    ) -> Result<Option<Arc<Datastore>>, ServiceError> {
        if global.is_some() && !self.global_writes {
            return Err(ServiceError::new(
                ErrorCode::Forbidden,
                "objects of global types are shared by every app: writing them needs a key \
                 for every app, not one scoped to an app",
            ));
        }
        Ok(global)
    }

    /// Gives an app database its system's global database (once).
    pub(crate) fn link_global(&self, link: Arc<GlobalLink>) {
        let _ = self.global.set(link);
    }

    /// The active DSConfig with its rules, for one request.
    pub fn schema(&self) -> Arc<Schema> {
        self.active.get()
    }

    /// After the store refused a write made with an older DSConfig: the stored one.
    async fn reload_config(&self) -> Result<(), ServiceError> {
        self.active.reload(self.store.as_ref()).await?;
        Ok(())
    }

    /// The global datastore when `id` is a global object and this is an app database.
    /// (In a datastore made by [`Datastore::without_global_writes`], which only write
    /// requests get, a global object is refused here.) Never created for it: when the
    /// system has no global database, no global object exists, and the call goes to this
    /// database, which has no object of that id either.
    async fn global_for_id(&self, id: ObjectId) -> Result<Option<Arc<Datastore>>, ServiceError> {
        let global = match self.global.get() {
            Some(link) if is_global_id(id) => link.existing().await?,
            _ => None,
        };
        self.global_write(global)
    }

    /// The global datastore when `object_type` is global and this is an app database.
    /// Only `create` (a new object) creates the system's global database; reads of a
    /// system without one go to this database, which holds no object of a global type:
    /// they answer as the empty global database would.
    async fn global_for_type(
        &self,
        object_type: &str,
        create: bool,
    ) -> Result<Option<Arc<Datastore>>, ServiceError> {
        let global = match self.global.get() {
            Some(link) if self.schema().is_global(object_type) => match create {
                true => Some(link.get().await?),
                false => link.existing().await?,
            },
            _ => None,
        };
        self.global_write(global)
    }

    /// The datastore that holds object `id`: this one or its system's global one. For the
    /// file endpoints, whose bytes go to the object's database.
    pub async fn holder_of(self: &Arc<Self>, id: ObjectId) -> Result<Arc<Datastore>, ServiceError> {
        Ok(self
            .global_for_id(id)
            .await?
            .unwrap_or_else(|| self.clone()))
    }

    /// Lookups of an app database to global types: their targets are checked in the global
    /// database and their display texts taken from there; the app store then stores the
    /// text as given (`lookup` cleared: it must not look for the target in its own
    /// database). `owner` is the object written, `None` for a new one.
    ///
    /// Returns the global references lock, held shared, when a Lookup to a global object
    /// is written: the caller keeps it until its write has committed, so that no global
    /// object is dropped between its check here and the write (see [`Datastore::drop_object`]).
    async fn resolve_global_lookups(
        &self,
        schema: &Schema,
        owner: Option<ObjectId>,
        writes: &mut [PropertyWrite],
    ) -> Result<Option<Box<dyn ReferenceLock>>, ServiceError> {
        let Some(link) = self.global.get() else {
            return Ok(None);
        };
        let mut lock: Option<Box<dyn ReferenceLock>> = None;
        for w in writes.iter_mut() {
            let Some(v) = w.value.as_mut() else {
                continue;
            };
            let Some(target) = v.lookup.as_ref() else {
                continue;
            };
            if !schema.is_global(&target.object_type) {
                continue;
            }
            let invalid = |reason: String| -> ServiceError {
                StoreError::InvalidLookup {
                    property: w.name.clone(),
                    target: target.object_id,
                    reason,
                }
                .into()
            };
            let global = match is_global_id(target.object_id) {
                true => link.existing().await?,
                false => None,
            };
            let record = if let Some(global) = global {
                if lock.is_none() {
                    lock = Some(global.store.lock_references(false).await?);
                }
                match &lock {
                    Some(lock) => lock.get_object(target.object_id).await?,
                    None => None,
                }
            } else {
                None
            };
            let Some(record) = record else {
                return Err(invalid("does not exist".into()));
            };
            if record.object_type != target.object_type {
                if record.object_type != crate::model::archived_type(&target.object_type) {
                    return Err(invalid(format!(
                        "is a {}, not a {}",
                        record.object_type, target.object_type
                    )));
                }
                // An archived target only where the Lookup already points at it.
                let held = match owner {
                    Some(id) => self.store.get_object(id).await?.is_some_and(|r| {
                        r.property(&w.name).is_some_and(|p| {
                            p.property_type == PropertyType::Lookup
                                && p.value == target.object_id.to_string()
                        })
                    }),
                    None => false,
                };
                if !held {
                    return Err(invalid(format!(
                        "is archived ({}); only a Lookup that already points at it may keep it",
                        record.object_type
                    )));
                }
            }
            v.as_string = display_text(&record, &target.display);
            v.lookup = None;
        }
        Ok(lock)
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
        let global = self.global_for_type(object_type, true).await?;
        let ds = global.as_deref().unwrap_or(self);
        let mut attempts = 1;
        loop {
            let schema = ds.schema();
            let mut req = schema.prepare_new_object(object_type, &properties)?;
            let lock = ds
                .resolve_global_lookups(&schema, None, &mut req.properties)
                .await?;
            let store = ds.store.clone();
            let created =
                hold_until_written(lock, async move { store.new_object(req).await }).await;
            match created {
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    ds.reload_config().await?;
                }
                other => return Ok(render_object(&other?)),
            }
        }
    }

    pub async fn get_object(&self, id: ObjectId) -> Result<Value, ServiceError> {
        Ok(render_object(&self.get_object_record(id).await?))
    }

    /// The object `get_object` renders, as stored (`getObject` serializes it with
    /// [`ObjectJson`], without the `Value` in between).
    pub async fn get_object_record(
        &self,
        id: ObjectId,
    ) -> Result<crate::store::ObjectRecord, ServiceError> {
        let global = self.global_for_id(id).await?;
        let ds = global.as_deref().unwrap_or(self);
        match ds.store.get_object(id).await? {
            Some(record) => Ok(record),
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
        let global = self.global_for_id(id).await?;
        let ds = global.as_deref().unwrap_or(self);
        let mut attempts = 1;
        loop {
            let schema = ds.schema();
            let object_type = ds.type_of(id).await?;
            let mut writes = schema.prepare_writes(&object_type, properties)?;
            let lock = ds
                .resolve_global_lookups(&schema, Some(id), &mut writes)
                .await?;
            // A global object's displayed property: app Lookups to it follow (below).
            let fan_out: Vec<(String, Vec<LookupSite>)> = match global {
                Some(_) => writes
                    .iter()
                    .filter(|w| !w.dependents.is_empty())
                    .map(|w| (w.name.clone(), w.dependents.clone()))
                    .collect(),
                None => Vec::new(),
            };
            let req = SaveProperties {
                config_version: schema.version,
                object_id: id,
                expected_type: object_type,
                writes,
            };
            let store = ds.store.clone();
            let saved =
                hold_until_written(lock, async move { store.save_properties(req).await }).await;
            match saved {
                Err(StoreError::TypeChanged(_)) if attempts < WRITE_ATTEMPTS => attempts += 1,
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    ds.reload_config().await?;
                }
                other => {
                    let record = other?;
                    if let (Some(link), Some(global)) = (self.global.get(), &global) {
                        for (name, sites) in fan_out {
                            let text = display_text(&record, &name);
                            link.refresh_app_lookups(global, id, sites, text).await;
                        }
                    }
                    return Ok(record);
                }
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
        property_answer(&self.schema(), &record, name)
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
        let global = self.global_for_id(id).await?;
        let ds = global.as_deref().unwrap_or(self);
        if self.global.get().is_some() {
            let schema = self.schema();
            schema.check_object_type(object_type)?;
            // Objects never move between databases: an app object cannot become global, a
            // global one cannot become an app's.
            let current = ds.type_of(id).await?;
            if global.is_some() != schema.is_global(object_type) {
                let (from, to) = if global.is_some() {
                    ("global", "not global")
                } else {
                    ("not global", "global")
                };
                return Err(ServiceError::new(
                    ErrorCode::InvalidParameter,
                    format!(
                        "object {id} ({current}) is {from} and `{object_type}` is {to}: an \
                         object cannot change between a global and a non-global type"
                    ),
                )
                .with_details(json!({ "objectId": id, "objectType": object_type })));
            }
        }
        // A global object that changes type (other than archived or restored) must not be
        // the target of any app's Lookup: asked under the exclusive references lock.
        let mut _lock = None;
        if let (Some(global), Some(link)) = (&global, self.global.get()) {
            let current = global.type_of(id).await?;
            if current != object_type && !crate::model::is_archive_change(&current, object_type) {
                _lock = Some(global.store.lock_references(true).await?);
                let owners = link.app_lookups_to(&[id]).await?;
                if !owners.is_empty() {
                    return Err(StoreError::ReferencedByLookup { object_ids: owners }.into());
                }
            }
        }
        let mut attempts = 1;
        loop {
            let schema = ds.schema();
            schema.check_object_type(object_type)?;
            let changed = ds
                .store
                .change_object_type(id, object_type, schema.version)
                .await;
            match changed {
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    ds.reload_config().await?;
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
        let global = self.global_for_id(id).await?;
        let deleted = match (&global, self.global.get()) {
            (Some(global), Some(link)) => drop_global(global, link, id, child_types).await?,
            _ => {
                self.store
                    .drop_object(DropObject::new(id, child_types))
                    .await?
            }
        };
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
        if self.global.get().is_some() && is_global_id(parent) != is_global_id(child) {
            return Err(ServiceError::new(
                ErrorCode::InvalidRelationship,
                "a relationship joins two objects of one database: an object of a global type \
                 cannot be the parent or child of an app's object",
            )
            .with_details(json!({ "parentObjectId": parent, "childObjectId": child })));
        }
        let global = self.global_for_id(parent).await?;
        let ds = global.as_deref().unwrap_or(self);
        ds.store.save_relationship(parent, child, strict).await?;
        Ok(json!({ "parentObjectId": parent, "childObjectId": child, "strict": strict }))
    }

    pub async fn drop_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
    ) -> Result<Value, ServiceError> {
        // Routed by the parent: a pair across databases cannot exist, and is not found.
        let global = self.global_for_id(parent).await?;
        let ds = global.as_deref().unwrap_or(self);
        let dropped = ds.store.drop_relationship(parent, child).await?;
        Ok(json!({ "dropped": dropped }))
    }

    /// A page of the children or parents of an object, each rendered with `"strict"`, and
    /// the number of matches before paging. `limit` defaults to and is capped at
    /// `--max-results`, as in table views.
    pub async fn related(&self, req: RelatedRequest) -> Result<RelatedListed, ServiceError> {
        let schema = self.schema();
        if let Some(t) = &req.object_type {
            schema.check_object_type(t)?;
        }
        let endpoint = match req.direction {
            Direction::Children => "getChildren",
            Direction::Parents => "getParents",
        };
        let fingerprint = cursor::fingerprint(&format!("{}|{:?}", req.object_id, req.object_type));
        if req.after.is_some() && req.offset.is_some() {
            return Err(cursor::both_given());
        }
        let after = match &req.after {
            Some(token) => Some(cursor::decode(token, endpoint, &fingerprint, 0)?.seek.id),
            None => None,
        };
        let limit = req.limit.unwrap_or(schema.max_limit).min(schema.max_limit);
        let counted = req.count.unwrap_or(true);
        let query = RelatedQuery {
            object_id: req.object_id,
            direction: req.direction,
            object_type: req.object_type,
            offset: req.offset.unwrap_or(0),
            // One more: whether there is a next page.
            limit: limit.saturating_add(1),
            after,
            count: counted,
        };
        let global = self.global_for_id(query.object_id).await?;
        let ds = global.as_deref().unwrap_or(self);
        let mut page = ds.store.related(&query).await?;
        let next = if page.objects.len() as u64 > limit && limit > 0 {
            page.objects.truncate(limit as usize);
            page.objects.last().map(|(o, _)| {
                let seek = crate::store::Seek {
                    keys: Vec::new(),
                    id: o.id,
                };
                cursor::encode(endpoint, &fingerprint, &seek, None)
            })
        } else {
            page.objects.truncate(limit as usize);
            None
        };
        let objects = page
            .objects
            .iter()
            .map(|(record, strict)| {
                let mut object = render_object(record);
                object["strict"] = Value::Bool(*strict);
                object
            })
            .collect();
        Ok(RelatedListed {
            objects,
            total: counted.then_some(page.total),
            next,
        })
    }
}

/// Drops a global object (and the children of `child_types`) unless a Lookup of the global
/// database or of any app database of its system points at one of them.
///
/// The two databases share no transaction; what makes it safe is the global references
/// lock ([`Store::lock_references`]). Apps write a Lookup to a global object only holding it
/// shared, from reading the target until their write has committed. Here, holding it
/// exclusive: (1) the global store walks the drop without deleting (the ids it would
/// delete, its own Lookups checked); (2) every app database of the system that exists is
/// asked for Lookups to those ids; (3) the global store drops, only if its walk finds the
/// same ids (a relationship saved meanwhile: start again). No app can add a Lookup
/// between (2) and (3), and one written before (2) has committed and is found.
async fn drop_global(
    global: &Datastore,
    link: &GlobalLink,
    id: ObjectId,
    child_types: Vec<String>,
) -> Result<Vec<ObjectId>, ServiceError> {
    let mut attempts = 1;
    loop {
        let _lock = global.store.lock_references(true).await?;
        let mut check = DropObject::new(id, child_types.clone());
        check.check_only = true;
        let doomed = global.store.drop_object(check).await?;
        let owners = link.app_lookups_to(&doomed).await?;
        if !owners.is_empty() {
            return Err(StoreError::ReferencedByLookup { object_ids: owners }.into());
        }
        let mut drop = DropObject::new(id, child_types.clone());
        drop.expect = Some(doomed);
        match global.store.drop_object(drop).await {
            Err(StoreError::TypeChanged(_)) if attempts < WRITE_ATTEMPTS => attempts += 1,
            other => return Ok(other?),
        }
    }
}

/// The display text a Lookup showing `display` of `target` keeps (as the stores'
/// `DISPLAY_OF_ROW`): a system field, a Lookup's or List's own display text, else the
/// decoded or plain value.
pub(crate) fn display_text(target: &ObjectRecord, display: &str) -> Option<String> {
    match display {
        "objectId" => Some(target.id.to_string()),
        "objectNumber" => target.object_number.clone(),
        name => target.property(name).and_then(|p| match p.property_type {
            PropertyType::Lookup | PropertyType::List => p.as_string.clone(),
            _ => p.as_string.clone().or_else(|| Some(p.value.clone())),
        }),
    }
}

/// saveProperty's answer: the columns of property `name` of `record` as stored.
pub(crate) fn property_answer(
    schema: &Schema,
    record: &ObjectRecord,
    name: &str,
) -> Result<Value, ServiceError> {
    let property_type = match record.property(name) {
        Some(p) => p.property_type,
        None => schema.property_type(&record.object_type, name)?,
    };
    let mut answer = Map::new();
    answer.insert("objectId".into(), record.id.into());
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

/// Runs a write to its end while holding the global references lock it was prepared under
/// (a Lookup to a global object): on a task of its own when there is a lock, so that a
/// dropped request (a client gone, a shutdown) cannot let go of the lock while its write is
/// still queued or in flight, which would let a drop of the target look before the Lookup
/// commits.
async fn hold_until_written<T, F>(
    lock: Option<Box<dyn ReferenceLock>>,
    write: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match lock {
        None => write.await,
        // The task carries who acts (the change log's key id, the idempotency claim).
        Some(lock) => tokio::spawn(crate::store::changes::Acting::current().scope(async move {
            let written = write.await;
            drop(lock);
            written
        }))
        .await
        .map_err(|e| StoreError::Database(format!("the write task failed: {e}")))?,
    }
}
