//! The DSConfig in force in this process: the one stored in the database (API.md §10).
//!
//! Several processes may share one database, and any of them (or `datastore dsconfig
//! apply`) may store a new DSConfig. Each process polls the stored version (a one-row read)
//! and switches within [`POLL`]; in between, every write carries the version it was
//! converted with and the store refuses it when another is stored, so that the write is
//! converted again with the new one ([`crate::store::StoreError::ConfigChanged`]). Nothing
//! here can make an answer disagree with the database for longer than one poll, and no
//! write is ever made with a DSConfig that is no longer the stored one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use chrono_tz::Tz;

use super::displays::{self, GlobalTargets};
use super::schema::Schema;
use super::GlobalLink;
use crate::dsconfig::Config;
use crate::store::{Store, StoreError, StoredConfig};

/// How often a process looks for a newer stored DSConfig.
pub const POLL: Duration = Duration::from_secs(1);

/// How long display texts may lag the stored DSConfig before a process that sees it does
/// the refresh itself (the one that stored it may have stopped, or failed).
const REFRESH_OVERDUE: Duration = Duration::from_secs(30);

/// The active DSConfig, swapped whole when another version is stored.
pub struct ActiveConfig {
    current: RwLock<Arc<Schema>>,
    /// A display refresh runs in this process.
    refreshing: Arc<AtomicBool>,
    /// A projection rebuild runs in this process.
    building: Arc<AtomicBool>,
    /// Since when this process has seen the display texts lag the stored version.
    lagging: Mutex<Option<(i64, Instant)>>,
    /// An app database's way to its system's global database: the display refresh of
    /// Lookups to global types reads their targets there. Unset on a global database.
    global: OnceLock<Arc<GlobalLink>>,
}

impl ActiveConfig {
    pub fn new(config: Config, version: i64, time_zone: Tz, max_limit: u64) -> Self {
        ActiveConfig {
            current: RwLock::new(Arc::new(Schema::new(config, version, time_zone, max_limit))),
            refreshing: Arc::new(AtomicBool::new(false)),
            building: Arc::new(AtomicBool::new(false)),
            lagging: Mutex::new(None),
            global: OnceLock::new(),
        }
    }

    /// Gives an app database's DSConfig its system's global database (once), before any
    /// display refresh starts.
    pub(crate) fn link_global(&self, link: Arc<GlobalLink>) {
        let _ = self.global.set(link);
    }

    /// The DSConfig a request uses from start to end.
    pub fn get(&self) -> Arc<Schema> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Makes `config` (stored as `version`) the active one, unless it already is.
    pub fn install(&self, config: Config, version: i64) -> bool {
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Any other version: a restored backup may carry a lower one, and it is the stored one.
        if version == current.version {
            return false;
        }
        *current = Arc::new(Schema::new(
            config,
            version,
            current.time_zone,
            current.max_limit,
        ));
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

    /// One poll: reloads when the stored version differs from the active one, and takes
    /// over a display refresh that is overdue.
    pub async fn poll(&self, store: &Arc<dyn Store>) -> Result<(), StoreError> {
        let stored = store.config_versions().await?;
        if stored.version != self.get().version {
            self.reload(store.as_ref()).await?;
        }
        let overdue = {
            let mut lagging = match self.lagging.lock() {
                Ok(l) => l,
                Err(poisoned) => poisoned.into_inner(),
            };
            if stored.displays_version >= stored.version {
                *lagging = None;
                false
            } else {
                match *lagging {
                    Some((v, since)) if v == stored.version => since.elapsed() >= REFRESH_OVERDUE,
                    _ => {
                        *lagging = Some((stored.version, Instant::now()));
                        false
                    }
                }
            }
        };
        // A projection left incomplete (laid out by a process that has not started its
        // rebuild, or one that stopped) is rebuilt here.
        let now = chrono::Utc::now();
        let overdue_since = chrono::Duration::from_std(REFRESH_OVERDUE).unwrap_or_default();
        let stalled = store.projections().await?.into_iter().any(|p| {
            p.built_up_to.is_some() && p.claimed_at.is_none_or(|at| now - at >= overdue_since)
        });
        if stalled {
            self.start_projections(store.clone());
        }
        if overdue {
            tracing::warn!(
                version = stored.version,
                "the display texts lag the stored DSConfig; refreshing them here"
            );
            self.start_refresh(store.clone(), stored.version, None);
        }
        Ok(())
    }

    /// Rewrites the display texts for DSConfig `version` (the active one) in the background,
    /// coming from `previous` (`None`: all of them); nothing if one already runs here.
    pub fn start_refresh(
        &self,
        store: Arc<dyn Store>,
        version: i64,
        previous: Option<StoredConfig>,
    ) {
        self.start_projections(store.clone());
        let schema = self.get();
        if schema.version != version || self.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let refreshing = self.refreshing.clone();
        let global = self.global.get().cloned();
        tokio::spawn(async move {
            let targets = match global {
                None => Ok(GlobalTargets::Here),
                Some(link) => link
                    .existing()
                    .await
                    .map(|g| GlobalTargets::Elsewhere(g.map(|g| g.store.clone())))
                    .map_err(|e| StoreError::Database(e.to_string())),
            };
            let done = match targets {
                Ok(targets) => {
                    displays::refresh(
                        store.as_ref(),
                        &schema.config,
                        version,
                        previous.as_ref(),
                        &targets,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                tracing::error!(error = %e, version, "the display-text refresh failed; it is tried again later");
            }
            refreshing.store(false, Ordering::SeqCst);
        });
    }

    /// Rebuilds incomplete projections in the background until all are complete; nothing if
    /// a rebuild already runs here.
    pub fn start_projections(&self, store: Arc<dyn Store>) {
        if self.building.swap(true, Ordering::SeqCst) {
            return;
        }
        let building = self.building.clone();
        tokio::spawn(async move {
            match super::projections::build_all(store.as_ref()).await {
                Ok(0) => {}
                Ok(batches) => tracing::info!(batches, "projections rebuilt"),
                Err(e) => {
                    tracing::error!(error = %e, "the projection rebuild failed; it is tried again later")
                }
            }
            building.store(false, Ordering::SeqCst);
        });
    }

    /// Polls every [`POLL`] for as long as the returned task runs.
    pub fn watch(self: Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.poll(&store).await {
                    tracing::warn!(error = %e, "cannot read the stored DSConfig version");
                }
            }
        })
    }
}
