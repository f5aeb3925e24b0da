//! Files of Image and FileLink properties (API.md §9): what an upload may go to, linking an
//! uploaded file to its property, and finding the file of a property. The bytes themselves
//! flow between the HTTP layer and the store; the rules are here.

use serde_json::{json, Value};

use super::error::{ErrorCode, ServiceError};
use super::schema::check_file_content_type;
use super::{render_object, Datastore, WRITE_ATTEMPTS};
use crate::convert::FileRef;
use crate::model::{ObjectId, PropertyType};
use crate::store::{FileId, FileInfo, LinkFile, SaveProperties, StoreError};

/// An uploaded file, stored and pending, to link to a property.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub file_id: FileId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

impl Datastore {
    /// Refuses an upload before its bytes are stored, when the object and property are
    /// known first: the object must exist and the property be Image or FileLink (an Image
    /// takes `image/*` only, when `content_type` is known).
    pub async fn check_file_target(
        &self,
        id: ObjectId,
        property: &str,
        content_type: Option<&str>,
    ) -> Result<PropertyType, ServiceError> {
        let object_type = self.type_of(id).await?;
        let ty = self.schema().file_property_type(&object_type, property)?;
        if let Some(content_type) = content_type {
            check_file_content_type(ty, property, content_type)?;
        }
        Ok(ty)
    }

    /// Sets property `property` of object `id` to the uploaded file, deleting the file it
    /// held before, in one write; the object as it is then.
    pub async fn link_file(
        &self,
        id: ObjectId,
        property: &str,
        file: &Uploaded,
    ) -> Result<Value, ServiceError> {
        let file_ref = FileRef {
            file_id: file.file_id,
            name: file.name.clone(),
            size: file.size,
            content_type: file.content_type.clone(),
        };
        let mut attempts = 1;
        loop {
            let schema = self.schema();
            let object_type = self.type_of(id).await?;
            let write = schema.file_write(&object_type, property, &file_ref)?;
            let req = LinkFile {
                file_id: file.file_id,
                size: file.size,
                sha256: file.sha256.clone(),
                save: SaveProperties {
                    config_version: schema.version,
                    object_id: id,
                    expected_type: object_type,
                    writes: vec![write],
                },
            };
            match self.store.link_file(req).await {
                Err(StoreError::TypeChanged(_)) if attempts < WRITE_ATTEMPTS => attempts += 1,
                Err(StoreError::ConfigChanged) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    self.reload_config().await?;
                }
                other => return Ok(render_object(&other?)),
            }
        }
    }

    /// The file property `property` of object `id` holds.
    pub async fn file(&self, id: ObjectId, property: &str) -> Result<FileInfo, ServiceError> {
        let object_type = self.type_of(id).await?;
        // Refuses a malformed name (and, in strict mode, an unknown one).
        self.schema().property_type(&object_type, property)?;
        self.store.linked_file(id, property).await?.ok_or_else(|| {
            ServiceError::new(
                ErrorCode::FileNotFound,
                format!("property `{property}` of object {id} holds no file"),
            )
            .with_details(json!({ "objectId": id, "propertyName": property }))
        })
    }
}

/// A pending file older than this was left by an upload that failed or a process that
/// stopped: no upload takes that long to stream.
pub const PENDING_FILE_AGE: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// How often each process looks for such files (and once at start).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Removes pending files older than [`PENDING_FILE_AGE`], at start and then periodically.
/// Any process may do it (instances are stateless): deleting is idempotent.
/// Every open database is swept: the central one and each open app's (an app's database
/// is also swept when it is opened, [`super::Tenants`]).
pub fn sweep_pending_files(tenants: std::sync::Arc<super::Tenants>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for datastore in tenants.open_datastores() {
                sweep_once(datastore.store.as_ref()).await;
            }
        }
    })
}

/// Removes the pending files of one database older than [`PENDING_FILE_AGE`].
pub async fn sweep_once(store: &dyn crate::store::Store) {
    let age = chrono::Duration::from_std(PENDING_FILE_AGE).unwrap_or_default();
    match store.sweep_pending_files(chrono::Utc::now() - age).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "removed pending files of failed uploads"),
        Err(e) => tracing::warn!(error = %e, "cannot remove pending files"),
    }
}
