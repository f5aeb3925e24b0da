//! Apps and systems (API.md §9): the registry of open (app, system) databases.
//!
//! Every (app, system) pair has a database of its own ([`crate::tenancy`]); a request's
//! pair is opened here on first use (created and migrated if new) and handed out as one
//! [`Datastore`], so handlers never know how many databases exist. The default app's LIVE
//! database is the *central* one: opened at start, never closed, the only one polled for
//! its DSConfig, and the keeper of what the deployment shares (API keys, the DSConfig, the
//! `Apps` table).
//!
//! - **One DSConfig.** The central DSConfig is applied to every other database when it is
//!   opened, and again when the central version changes ([`Tenants::propagate`]): the
//!   central [`ActiveConfig`] sees the change within one poll, and each open tenant gets
//!   the same DSConfig stored (idempotent: the same DSConfig adds no version), then reloads
//!   its own [`ActiveConfig`]. A tenant's writes are still checked against its own
//!   database's version in the write transaction, so another process's apply is never
//!   missed.
//! - **Bounded.** At most `max_open` tenants stay open; past that the least recently used
//!   are closed (idle ones first), and a sweep closes those idle for `idle`. Closing only
//!   removes a tenant from the map: requests under way keep their `Arc` until they end.
//!   Each tenant has a small pool (`app_pool_size`).
//! - **One open per pair.** Concurrent first requests share one [`OnceCell`]: the database
//!   is opened once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use serde_json::json;
use tokio::sync::OnceCell;

use super::{ActiveConfig, Datastore, ErrorCode, ServiceError};
use crate::dsconfig::Config;
use crate::model::ObjectId;
use crate::startup::{self, Installed};
use crate::store::{self, LookupSite, Store, StoreError, StoreOptions};
use crate::tenancy::{self, AppName, Owner, System};

/// How often open tenants are checked against the central DSConfig version (an in-memory
/// read; the central database itself is polled every [`super::POLL`]).
const PROPAGATE_TICK: Duration = Duration::from_millis(250);

/// What the registry needs to open tenants.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// The default app's LIVE `--database`: every other database's name derives from it.
    pub base_url: String,
    /// Connections of each tenant's store.
    pub app_pool_size: u32,
    /// Tenants kept open at most (the central one not counted).
    pub max_open: usize,
    /// A tenant without a request for this long is closed.
    pub idle: Duration,
    pub time_zone: Tz,
    pub max_limit: u64,
}

/// Why a request's tenant cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The app cannot exist here (its name is refused); `400 INVALID_PARAMETER`.
    #[error("{message}")]
    BadApp { app: String, message: String },
    /// Its database exists but is not ours to use; `409 CONFLICT`.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TenantError> for ServiceError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::BadApp { app, message } => {
                ServiceError::new(ErrorCode::InvalidParameter, message)
                    .with_details(json!({ "app": app }))
            }
            TenantError::Refused(message) => ServiceError::new(ErrorCode::Conflict, message),
            TenantError::Store(e) => e.into(),
        }
    }
}

/// One (app, system) pair: opened once, used until closed.
struct Slot {
    datastore: OnceCell<Arc<Datastore>>,
    /// Milliseconds since the registry started, at the last request.
    last_used: AtomicU64,
}

type Key = (AppName, System);

fn system_index(system: System) -> usize {
    match system {
        System::Live => 0,
        System::Staging => 1,
        System::Test => 2,
    }
}

/// Opens `url` (created, migrated, given the central DSConfig, `app` recorded) as a
/// [`Datastore`] with its own [`ActiveConfig`], its display refresh started if it needs one.
async fn open_datastore(
    url: &str,
    pool_size: u32,
    app: Option<&AppName>,
    central: &dyn Store,
    time_zone: Tz,
    max_limit: u64,
    global: Option<Arc<GlobalLink>>,
) -> Result<Arc<Datastore>, TenantError> {
    let options = StoreOptions {
        pool_size,
        migrate: true,
    };
    let (store, installed) = open_and_prepare(url, &options, app, central)
        .await
        .map_err(|e| match e {
            StoreError::Config(m) => TenantError::Refused(m),
            other => TenantError::Store(other),
        })?;
    let (config, version) = match &installed {
        Some(i) => (i.config.clone(), i.version),
        None => match store.stored_config().await? {
            Some(stored) => (stored.config, stored.version),
            None => (Config::default(), 0),
        },
    };
    let active = Arc::new(ActiveConfig::new(
        config,
        version,
        time_zone,
        max_limit.max(1),
    ));
    if let Some(link) = &global {
        active.link_global(link.clone());
    }
    if let Some(refresh) = installed.and_then(|i| i.refresh) {
        active.start_refresh(store.clone(), refresh.version, refresh.previous);
    }
    active.start_projections(store.clone());
    let datastore = Datastore::new(store, active);
    if let Some(link) = global {
        datastore.link_global(link);
    }
    Ok(Arc::new(datastore))
}

/// The global database of one system (objects of `global = true` types, API.md §9):
/// opened on first use like a tenant, then kept open like the central database (it is
/// not counted in `max_open` and never swept: every app of the system may need it).
pub struct GlobalLink {
    system: System,
    base_url: String,
    pool_size: u32,
    time_zone: Tz,
    max_limit: u64,
    central: Arc<dyn Store>,
    datastore: OnceCell<Arc<Datastore>>,
    /// The registry, for the app databases of this system (display-text fan-out).
    tenants: Weak<Tenants>,
}

impl GlobalLink {
    /// The global datastore, opened (created, migrated, given the central DSConfig, its
    /// ids started at [`tenancy::GLOBAL_ID_BASE`]) on first use.
    pub async fn get(&self) -> Result<Arc<Datastore>, TenantError> {
        self.datastore
            .get_or_try_init(|| async {
                let url = tenancy::database_url(&self.base_url, &Owner::Global, self.system)
                    .map_err(|e| match e {
                        StoreError::Config(m) => TenantError::Refused(m),
                        other => TenantError::Store(other),
                    })?;
                let datastore = open_datastore(
                    &url,
                    self.pool_size,
                    None,
                    self.central.as_ref(),
                    self.time_zone,
                    self.max_limit,
                    None,
                )
                .await?;
                datastore
                    .store
                    .start_ids_at(tenancy::GLOBAL_ID_BASE)
                    .await?;
                tracing::info!(system = %self.system, "opened the global database");
                Ok(datastore)
            })
            .await
            .cloned()
    }

    /// The global datastore if the database exists (opened now if need be): `None` when
    /// it does not, and nothing is created. For reads: a system without a global database
    /// has no global objects.
    pub async fn existing(&self) -> Result<Option<Arc<Datastore>>, TenantError> {
        if let Some(datastore) = self.opened() {
            return Ok(Some(datastore));
        }
        let url = tenancy::database_url(&self.base_url, &Owner::Global, self.system)?;
        if !store::database_exists(&url).await? {
            return Ok(None);
        }
        self.get().await.map(Some)
    }

    /// After a global object's property that Lookups display changed: sets `text` as the
    /// display text of the Lookups of `sites` pointing at `target` in every app database
    /// of this system that exists, and along the chain: where a site is a global type's
    /// Lookup (a Country showing its Region's name), the global objects it holds that point
    /// at `target` are the next targets, and the app Lookups displaying that site follow
    /// them too (a Customer's `country` showing the Country's region). No database is
    /// created for it. Not atomic with the global write: a failure is logged and left (the
    /// next DSConfig display refresh, or saving the Lookup again, repairs it).
    pub(crate) async fn refresh_app_lookups(
        &self,
        global: &Datastore,
        target: ObjectId,
        sites: Vec<LookupSite>,
        text: Option<String>,
    ) {
        let apps = match self.app_datastores().await {
            Ok(apps) => apps,
            Err(e) => {
                tracing::warn!(system = %self.system, target, error = %e,
                    "cannot list the app databases to refresh display texts in");
                return;
            }
        };
        let mut links = vec![(vec![target], sites)];
        while let Some((targets, sites)) = links.pop() {
            for (app, tenant) in &apps {
                let done = tenant
                    .store
                    .refresh_lookups_to(targets.clone(), sites.clone(), text.clone())
                    .await;
                if let Err(e) = done {
                    tracing::warn!(app = %app, system = %self.system, target, error = %e,
                        "cannot refresh the display texts of Lookups to a global object");
                }
            }
            for site in sites.iter().filter(|s| !s.dependents.is_empty()) {
                match global
                    .store
                    .lookups_at(&site.owner_type, &site.property_name, &targets)
                    .await
                {
                    Ok(owners) if !owners.is_empty() => {
                        links.push((owners, site.dependents.clone()))
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(system = %self.system, target, error = %e,
                        "cannot follow a display chain through the global database"),
                }
            }
        }
    }

    /// The app databases of this system that exist: the default app's and those of every
    /// app of the central `Apps` (none is created for it).
    async fn app_datastores(&self) -> Result<Vec<(AppName, Arc<Datastore>)>, ServiceError> {
        let Some(tenants) = self.tenants.upgrade() else {
            return Ok(Vec::new());
        };
        let mut apps = vec![AppName::default_app()];
        let recorded = tenants.central.store.apps().await?;
        apps.extend(
            recorded
                .iter()
                .filter_map(|a| AppName::parse(&a.name).ok())
                .filter(|a| !a.is_default()),
        );
        let mut found = Vec::new();
        for app in apps {
            if let Some(tenant) = tenants.find(&app, self.system).await? {
                found.push((app, tenant));
            }
        }
        Ok(found)
    }

    /// Up to 100 objects of this system's app databases with a Lookup pointing at any of
    /// `targets` (global objects); an app database that cannot be asked fails the call.
    pub(crate) async fn app_lookups_to(
        &self,
        targets: &[ObjectId],
    ) -> Result<Vec<ObjectId>, ServiceError> {
        let mut owners = std::collections::BTreeSet::new();
        for (_, tenant) in self.app_datastores().await? {
            owners.extend(tenant.store.lookups_to(targets).await?);
        }
        Ok(owners.into_iter().take(100).collect())
    }

    /// The global datastore if it is open.
    fn opened(&self) -> Option<Arc<Datastore>> {
        self.datastore.get().cloned()
    }
}

/// The registry of open tenants.
pub struct Tenants {
    settings: TenantSettings,
    central: Arc<Datastore>,
    /// An empty database of this process's own (a temporary SQLite file, with the central
    /// DSConfig in force): what reads of a pair without a database answer from.
    empty: OnceCell<(Arc<dyn Store>, tempfile::TempDir)>,
    /// The global databases, by [`system_index`].
    globals: Vec<Arc<GlobalLink>>,
    open: Mutex<HashMap<Key, Arc<Slot>>>,
    epoch: Instant,
}

impl Tenants {
    pub fn new(settings: TenantSettings, central: Arc<Datastore>) -> Arc<Tenants> {
        Arc::new_cyclic(|tenants| Tenants::with_registry(settings, central, tenants.clone()))
    }

    fn with_registry(
        settings: TenantSettings,
        central: Arc<Datastore>,
        tenants: Weak<Tenants>,
    ) -> Tenants {
        let globals: Vec<Arc<GlobalLink>> = System::ALL
            .iter()
            .map(|&system| {
                Arc::new(GlobalLink {
                    system,
                    base_url: settings.base_url.clone(),
                    pool_size: settings.app_pool_size,
                    time_zone: settings.time_zone,
                    max_limit: settings.max_limit,
                    central: central.store.clone(),
                    datastore: OnceCell::new(),
                    tenants: tenants.clone(),
                })
            })
            .collect();
        central.link_global(globals[system_index(System::Live)].clone());
        central
            .active
            .link_global(globals[system_index(System::Live)].clone());
        Tenants {
            settings,
            central,
            empty: OnceCell::new(),
            globals,
            open: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    /// The default app's LIVE datastore.
    pub fn central(&self) -> &Arc<Datastore> {
        &self.central
    }

    /// How many tenants are open now (the central one not counted).
    pub fn open_count(&self) -> usize {
        self.slots()
            .iter()
            .filter(|(_, s)| s.datastore.initialized())
            .count()
    }

    /// The central datastore and every open tenant's.
    pub fn open_datastores(&self) -> Vec<Arc<Datastore>> {
        let mut all = vec![self.central.clone()];
        all.extend(
            self.slots()
                .into_iter()
                .filter_map(|(_, s)| s.datastore.get().cloned()),
        );
        all.extend(self.globals.iter().filter_map(|g| g.opened()));
        all
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn slots(&self) -> Vec<(Key, Arc<Slot>)> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.iter().map(|(k, s)| (k.clone(), s.clone())).collect()
    }

    /// The open datastore of a pair, marked as used now; `None` when it is not open.
    fn open_slot(&self, key: &Key) -> Option<Arc<Datastore>> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let slot = open.get(key)?;
        let datastore = slot.datastore.get()?.clone();
        slot.last_used.store(self.now(), Ordering::Relaxed);
        Some(datastore)
    }

    /// The URL of `app`'s database in `system`; a name whose database would be another's
    /// (or cannot be named) is [`TenantError::BadApp`].
    fn app_url(&self, app: &AppName, system: System) -> Result<String, TenantError> {
        tenancy::database_url(&self.settings.base_url, &Owner::App(app.clone()), system).map_err(
            |e| TenantError::BadApp {
                app: app.to_string(),
                message: match e {
                    StoreError::Config(m) => m,
                    other => other.to_string(),
                },
            },
        )
    }

    /// The datastore of `app` in `system`, opened (created, migrated, given the central
    /// DSConfig) on first use.
    pub async fn get(&self, app: &AppName, system: System) -> Result<Arc<Datastore>, TenantError> {
        if app.is_default() && system == System::Live {
            return Ok(self.central.clone());
        }
        let key = (app.clone(), system);
        // Only pairs whose name was accepted ever get a slot.
        if let Some(datastore) = self.open_slot(&key) {
            return Ok(datastore);
        }
        // A name whose database would be another's is refused before anything is opened.
        let url = self.app_url(app, system)?;
        let now = self.now();
        let slot = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            open.entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        datastore: OnceCell::new(),
                        last_used: AtomicU64::new(now),
                    })
                })
                .clone()
        };
        slot.last_used.store(now, Ordering::Relaxed);
        if let Some(datastore) = slot.datastore.get() {
            return Ok(datastore.clone());
        }
        let opened = slot
            .datastore
            .get_or_try_init(|| self.open_tenant(app, system, &url))
            .await
            .cloned();
        match opened {
            Ok(datastore) => {
                self.close_over_cap(&key);
                Ok(datastore)
            }
            Err(e) => {
                // Nothing to keep: the next request tries again.
                let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                if open
                    .get(&key)
                    .is_some_and(|s| Arc::ptr_eq(s, &slot) && !s.datastore.initialized())
                {
                    open.remove(&key);
                }
                Err(e)
            }
        }
    }

    /// A datastore that is empty and stays so, under the central DSConfig: reads of a pair
    /// that has no database yet answer from it exactly as from an empty database (empty
    /// lists, `OBJECT_NOT_FOUND`, the same validation), and nothing is created for them.
    pub async fn empty(&self, system: System) -> Result<Arc<Datastore>, TenantError> {
        let (store, _) = self
            .empty
            .get_or_try_init(|| async {
                let dir = tempfile::Builder::new()
                    .prefix("datastore-empty-")
                    .tempdir()
                    .map_err(|e| {
                        StoreError::Database(format!("cannot make a temporary directory: {e}"))
                    })?;
                let url = format!("sqlite://{}", dir.path().join("empty.db").display());
                let options = StoreOptions {
                    pool_size: 2,
                    migrate: true,
                };
                let store = store::open(&url, &options).await?;
                Ok::<_, TenantError>((store, dir))
            })
            .await?;
        // Global types are read from the system's global database, as from any app.
        let datastore = Datastore::new(store.clone(), self.central.active.clone());
        datastore.link_global(self.global(system).clone());
        Ok(Arc::new(datastore))
    }

    /// As [`Tenants::get`], but only when the pair's database exists already: `None`
    /// otherwise, and nothing is created (read requests never create databases).
    pub async fn find(
        &self,
        app: &AppName,
        system: System,
    ) -> Result<Option<Arc<Datastore>>, TenantError> {
        if app.is_default() && system == System::Live {
            return Ok(Some(self.central.clone()));
        }
        if let Some(datastore) = self.open_slot(&(app.clone(), system)) {
            return Ok(Some(datastore));
        }
        let url = self.app_url(app, system)?;
        if !store::database_exists(&url).await? {
            return Ok(None);
        }
        self.get(app, system).await.map(Some)
    }

    #[tracing::instrument(name = "tenants.open", skip_all, fields(app = %app, system = %system))]
    async fn open_tenant(
        &self,
        app: &AppName,
        system: System,
        url: &str,
    ) -> Result<Arc<Datastore>, TenantError> {
        let datastore = open_datastore(
            url,
            self.settings.app_pool_size,
            Some(app),
            self.central.store.as_ref(),
            self.settings.time_zone,
            self.settings.max_limit,
            Some(self.global(system).clone()),
        )
        .await?;
        // Pending files a crash left while it was closed.
        super::files::sweep_once(datastore.store.as_ref()).await;
        tracing::info!(app = %app, system = %system, "opened the app's database");
        Ok(datastore)
    }

    /// The global database of `system` (opened on first use through it).
    pub fn global(&self, system: System) -> &Arc<GlobalLink> {
        &self.globals[system_index(system)]
    }

    /// Closes the least recently used tenants (idle ones first) while more than
    /// `max_open` are open; `keep` (just opened) stays.
    fn close_over_cap(&self, keep: &Key) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let opened = open.values().filter(|s| s.datastore.initialized()).count();
        if opened <= self.settings.max_open {
            return;
        }
        let mut candidates: Vec<(bool, u64, Key)> = open
            .iter()
            .filter(|(k, s)| *k != keep && s.datastore.initialized())
            .map(|(k, s)| {
                let busy = s.datastore.get().is_some_and(|d| Arc::strong_count(d) > 1);
                (busy, s.last_used.load(Ordering::Relaxed), k.clone())
            })
            .collect();
        candidates.sort_by_key(|c| (c.0, c.1));
        for (_, _, key) in candidates.into_iter().take(opened - self.settings.max_open) {
            tracing::info!(app = %key.0, system = %key.1, "closing the app's database: too many open");
            open.remove(&key);
        }
    }

    /// Closes the tenants idle for longer than `idle`.
    pub fn sweep(&self) {
        let now = self.now();
        let idle = u64::try_from(self.settings.idle.as_millis()).unwrap_or(u64::MAX);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|key, slot| {
            // A store still in use (an upload, an export, a copy) is not closed under it:
            // the next request would open a second one beside it.
            let busy = slot
                .datastore
                .get()
                .is_some_and(|d| Arc::strong_count(d) > 1);
            let keep = busy || now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) < idle;
            if !keep && slot.datastore.initialized() {
                tracing::info!(app = %key.0, system = %key.1, "closing the app's database: idle");
            }
            keep
        });
    }

    /// Sweeps idle tenants and hands the central DSConfig on to open ones, for as long as
    /// the returned task runs.
    pub fn maintain(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let sweep_every =
                (self.settings.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
            let mut last_sweep = Instant::now();
            let mut seen = self.central.active.get().version;
            let mut tick = tokio::time::interval(PROPAGATE_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let version = self.central.active.get().version;
                if version != seen && self.propagate().await {
                    seen = version;
                }
                if last_sweep.elapsed() >= sweep_every {
                    self.sweep();
                    last_sweep = Instant::now();
                }
            }
        })
    }

    /// Stores the central DSConfig in every open tenant's database and makes it active
    /// there; false when some tenant failed (tried again on the next tick).
    pub async fn propagate(&self) -> bool {
        let schema = self.central.active.get();
        if schema.version == 0 {
            return true;
        }
        let mut all = true;
        let slots = self.slots();
        if slots.iter().any(|(_, s)| !s.datastore.initialized()) {
            // Being opened now, perhaps with the DSConfig before this one: look again on
            // the next tick (a slot whose open failed is removed, so this ends).
            all = false;
        }
        let tenants = slots.into_iter().filter_map(|(key, slot)| {
            Some((key.0.to_string(), key.1, slot.datastore.get()?.clone()))
        });
        let globals = self
            .globals
            .iter()
            .filter_map(|g| Some(("(global)".to_owned(), g.system, g.opened()?)));
        let all_open: Vec<(String, System, Arc<Datastore>)> = tenants.chain(globals).collect();
        for (app, system, tenant) in all_open {
            let key = (app, system);
            match startup::apply_config(tenant.store.as_ref(), &schema.config).await {
                Ok(installed) => {
                    if let Err(e) = tenant.active.reload(tenant.store.as_ref()).await {
                        tracing::warn!(app = %key.0, system = %key.1, error = %e, "cannot reload the app's DSConfig");
                        all = false;
                    }
                    if let Some(refresh) = installed.refresh {
                        tenant.active.start_refresh(
                            tenant.store.clone(),
                            refresh.version,
                            refresh.previous,
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(app = %key.0, system = %key.1, error = %e, "cannot apply the central DSConfig to the app's database");
                    all = false;
                }
            }
        }
        all
    }
}

/// Opens `url` as `app`'s database, migrates it, stores the central DSConfig in it (when
/// the central database has one) and records the app in the central `Apps`.
async fn open_and_prepare(
    url: &str,
    options: &StoreOptions,
    app: Option<&AppName>,
    central: &dyn Store,
) -> Result<(Arc<dyn Store>, Option<Installed>), StoreError> {
    let store = store::open_app(url, options).await?;
    let installed = match central.stored_config().await? {
        Some(stored) => Some(startup::apply_config(store.as_ref(), &stored.config).await?),
        None => None,
    };
    if let Some(app) = app {
        central.record_app(app.as_str()).await?;
    }
    Ok((store, installed))
}

/// Opens the database of `owner` in `system` for a command (export, import, copy): opened
/// or created, migrated, given the central DSConfig, the app (if any) recorded. `base_url` is the
/// default app's LIVE `--database`, `central` that database's store. Display texts the
/// DSConfig change leaves to rewrite are rewritten by the next `serve` opening it.
pub async fn open_tenant_store(
    base_url: &str,
    options: &StoreOptions,
    owner: &Owner,
    system: System,
    central: &dyn Store,
) -> Result<Arc<dyn Store>, StoreError> {
    let url = tenancy::database_url(base_url, owner, system)?;
    let app = match owner {
        Owner::App(app) => Some(app),
        Owner::Global => None,
    };
    let (store, _) = open_and_prepare(&url, options, app, central).await?;
    if *owner == Owner::Global {
        store.start_ids_at(tenancy::GLOBAL_ID_BASE).await?;
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry(dir: &std::path::Path, max_open: usize, idle: Duration) -> Arc<Tenants> {
        let base = format!("sqlite://{}", dir.join("d.db").display());
        let store = store::open(&base, &StoreOptions::default()).await.unwrap();
        let active = Arc::new(ActiveConfig::new(Config::default(), 0, chrono_tz::UTC, 100));
        let settings = TenantSettings {
            base_url: base,
            app_pool_size: 1,
            max_open,
            idle,
            time_zone: chrono_tz::UTC,
            max_limit: 100,
        };
        Tenants::new(settings, Arc::new(Datastore::new(store, active)))
    }

    fn app(name: &str) -> AppName {
        AppName::parse(name).unwrap()
    }

    #[tokio::test]
    async fn concurrent_first_uses_open_a_pair_once() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = registry(dir.path(), 4, Duration::from_secs(300)).await;
        let (upper, lower) = (app("Shop"), app("shop"));
        let (a, b) = tokio::join!(
            tenants.get(&upper, System::Test),
            tenants.get(&lower, System::Test)
        );
        assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));
        assert_eq!(tenants.open_count(), 1);
        let central = tenants.get(&app("DEFAULT"), System::Live).await.unwrap();
        assert!(Arc::ptr_eq(&central, tenants.central()));
        assert_eq!(tenants.open_count(), 1, "the central store is not counted");
        assert!(dir.path().join("d.shop-test.db").exists());
    }

    #[tokio::test]
    async fn at_most_max_open_stay_open_and_idle_ones_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = registry(dir.path(), 2, Duration::from_secs(300)).await;
        for name in ["a", "b", "c", "d"] {
            tenants.get(&app(name), System::Live).await.unwrap();
            assert!(tenants.open_count() <= 2);
        }
        assert_eq!(tenants.open_count(), 2);
        // A closed one opens again.
        tenants.get(&app("a"), System::Live).await.unwrap();
        assert_eq!(tenants.open_count(), 2);
        tenants.sweep();
        assert_eq!(tenants.open_count(), 2, "none is idle yet");

        let swept = registry(dir.path(), 8, Duration::ZERO).await;
        swept.get(&app("a"), System::Staging).await.unwrap();
        assert_eq!(swept.open_count(), 1);
        swept.sweep();
        assert_eq!(swept.open_count(), 0);
    }

    #[tokio::test]
    async fn a_command_opens_an_apps_database_with_the_central_dsconfig() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = registry(dir.path(), 8, Duration::from_secs(300)).await;
        let central = tenants.central().store.clone();
        let config = crate::dsconfig::load_dir(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dsconfig"
        )))
        .unwrap();
        central.apply_config(&config).await.unwrap();
        let base = format!("sqlite://{}", dir.path().join("d.db").display());
        let store = open_tenant_store(
            &base,
            &StoreOptions::default(),
            &Owner::App(app("Export")),
            System::Test,
            central.as_ref(),
        )
        .await
        .unwrap();
        let stored = store.stored_config().await.unwrap().unwrap();
        assert_eq!(stored.config, config);
        assert!(dir.path().join("d.export-test.db").exists());
        let apps = central.apps().await.unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].name, "Export");
    }

    #[tokio::test]
    async fn the_apps_opened_are_recorded_centrally_once() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = registry(dir.path(), 8, Duration::from_secs(300)).await;
        for (name, system) in [
            ("Shop", System::Live),
            ("shop", System::Staging),
            ("hr", System::Test),
        ] {
            tenants.get(&app(name), system).await.unwrap();
        }
        let apps = tenants.central().store.apps().await.unwrap();
        let names: Vec<(&str, &str)> = apps
            .iter()
            .map(|a| (a.name.as_str(), a.key.as_str()))
            .collect();
        assert_eq!(names, [("hr", "hr"), ("Shop", "shop")]);
    }
}
