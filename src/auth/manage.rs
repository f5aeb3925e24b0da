//! Creating keys (`datastore keys create`) and installing `DATASTORE_ADMIN_KEY`.

use chrono::{Duration, Utc};

use super::keys::{self, Role};
use super::SetupError;
use crate::store::{ApiKeyRecord, Store};

/// What `keys create` asks for.
#[derive(Debug, Clone)]
pub struct KeyRequest {
    pub role: Role,
    pub app: Option<String>,
    pub name: String,
    /// Days until it expires; `None` for never.
    pub expires_days: Option<u32>,
}

/// Stores a new key and returns its text, the only time it is seen, with its row.
pub async fn create_key(
    store: &dyn Store,
    request: &KeyRequest,
) -> Result<(String, ApiKeyRecord), SetupError> {
    let generated = keys::generate().map_err(|e| SetupError::Random(e.to_string()))?;
    let created = Utc::now();
    let record = ApiKeyRecord {
        id: generated.stored.id,
        name: request.name.clone(),
        role: request.role.as_str().to_owned(),
        app: request.app.clone(),
        salt: generated.stored.salt,
        hash: generated.stored.hash,
        last4: generated.stored.last4,
        created,
        expires: request
            .expires_days
            .map(|d| created + Duration::days(i64::from(d))),
        revoked: None,
    };
    store.insert_api_key(&record).await?;
    Ok((generated.text, record))
}

/// Stores `DATASTORE_ADMIN_KEY` as an admin key unless it is stored already. Its id
/// depends only on the key, so every instance given it agrees, and a restart changes
/// nothing (a revoked one stays revoked: rotate by setting another key).
pub async fn install_admin_key(store: &dyn Store, text: &str) -> Result<(), SetupError> {
    let key = keys::parse(text.trim()).ok_or(SetupError::WeakAdminKey)?;
    let stored = keys::protect(&key).map_err(|e| SetupError::Random(e.to_string()))?;
    let record = ApiKeyRecord {
        id: stored.id,
        name: "DATASTORE_ADMIN_KEY".to_owned(),
        role: Role::Admin.as_str().to_owned(),
        app: None,
        salt: stored.salt,
        hash: stored.hash,
        last4: stored.last4,
        created: Utc::now(),
        expires: None,
        revoked: None,
    };
    let id = record.id.clone();
    if store.insert_api_key(&record).await? {
        tracing::info!(key_id = %id, "installed DATASTORE_ADMIN_KEY");
    } else {
        tracing::info!(key_id = %id, "DATASTORE_ADMIN_KEY is installed already");
    }
    Ok(())
}
