//! The DSConfig in force in this process: the one stored in the database (API.md §10).
//!
//! Several processes may share one database, and any of them (or `datastore dsconfig
//! apply`) may store a new DSConfig. Each process polls the stored version (a one-row read)
//! and switches within [`POLL`]; in between, every write carries the version it was
//! converted with and the store refuses it when another is stored, so that the write is
//! converted again with the new one ([`crate::store::StoreError::ConfigChanged`]). Nothing
//! here can make an answer disagree with the database for longer than one poll, and no
//! write is ever made with a DSConfig that is no longer the stored one.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono_tz::Tz;

use super::schema::Schema;
use crate::dsconfig::Config;
use crate::store::{Store, StoreError};

/// How often a process looks for a newer stored DSConfig.
pub const POLL: Duration = Duration::from_secs(1);

/// The active DSConfig, swapped whole when a newer version is found.
pub struct ActiveConfig {
    current: RwLock<Arc<Schema>>,
}

impl ActiveConfig {
    pub fn new(config: Config, version: i64, time_zone: Tz, max_limit: u64) -> Self {
        ActiveConfig {
            current: RwLock::new(Arc::new(Schema {
                config,
                version,
                time_zone,
                max_limit,
            })),
        }
    }

    /// The DSConfig a request uses from start to end.
    pub fn get(&self) -> Arc<Schema> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Makes `config` (stored as `version`) the active one, unless a newer one already is.
    pub fn install(&self, config: Config, version: i64) -> bool {
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if version <= current.version && current.version != 0 {
            return false;
        }
        *current = Arc::new(Schema {
            config,
            version,
            time_zone: current.time_zone,
            max_limit: current.max_limit,
        });
        true
    }

    /// Reads the stored DSConfig and makes it the active one if it is newer.
    pub async fn reload(&self, store: &dyn Store) -> Result<Arc<Schema>, StoreError> {
        if let Some(stored) = store.stored_config().await? {
            let version = stored.version;
            if self.install(stored.config, version) {
                tracing::info!(version, "a newer DSConfig is stored; it is active now");
            }
        }
        Ok(self.get())
    }

    /// One poll: reloads when the stored version differs from the active one.
    pub async fn poll(&self, store: &dyn Store) -> Result<(), StoreError> {
        if store.config_version().await? != self.get().version {
            self.reload(store).await?;
        }
        Ok(())
    }

    /// Polls every [`POLL`] for as long as the returned task runs.
    pub fn watch(self: Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.poll(store.as_ref()).await {
                    tracing::warn!(error = %e, "cannot read the stored DSConfig version");
                }
            }
        })
    }
}
