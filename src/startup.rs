//! Building the running service: open the store, install the DSConfig, bind, serve.
//!
//! [`Application::build`] does everything that can fail before the first request (so a bad
//! DSConfig or an unreachable database stops `serve` with a clear message), then
//! [`Application::run_until_stopped`] serves until SIGTERM/SIGINT, finishing in-flight
//! requests before it returns.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::api::{self, ApiState};
use crate::dsconfig::{self, Config, ConfigErrors};
use crate::ops::{self, Ops};
use crate::service::{ActiveConfig, Datastore, TenantSettings, Tenants};
use crate::settings::Settings;
use crate::store::{self, Store, StoreError, StoreOptions, StoredConfig};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the DSConfig in {dir} is invalid:\n{errors}")]
    InvalidDsconfig { dir: String, errors: ConfigErrors },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the metrics: {0}")]
    Metrics(prometheus::Error),
    #[error(transparent)]
    Auth(#[from] crate::auth::SetupError),
    /// The DSConfig would move a type with objects across the global boundary.
    #[error("{0}")]
    GlobalChange(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
}

/// Opens the store named by the settings.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    store::set_synchronous(settings.synchronous);
    let options = StoreOptions {
        pool_size: settings.pool_size(),
        migrate: true,
    };
    store::open(&settings.database, &options).await
}

/// The DSConfig start-up made active, and the display refresh it leaves to do.
pub struct Installed {
    pub config: Config,
    /// Its stored version (0 when none is stored: no directory and nothing stored).
    pub version: i64,
    /// True when start-up stored it as a new version.
    pub changed: bool,
    pub refresh: Option<PendingRefresh>,
}

/// Display texts to bring up to a DSConfig version ([`displays::refresh`]).
pub struct PendingRefresh {
    pub version: i64,
    /// The DSConfig replaced, if its own refresh had completed (else: refresh everything).
    pub previous: Option<StoredConfig>,
}

/// Stores `config` (a new version when it differs from the stored one) and says what
/// display refresh that needs.
pub async fn apply_config(store: &dyn Store, config: &Config) -> Result<Installed, StoreError> {
    let applied = store.apply_config(config).await?;
    let refresh = match &applied.previous {
        Some(previous) if applied.changed => Some(PendingRefresh {
            version: applied.version,
            previous: Some(previous.clone()),
        }),
        Some(previous) if previous.displays_version < previous.version => Some(PendingRefresh {
            version: applied.version,
            previous: None,
        }),
        _ => None,
    };
    Ok(Installed {
        config: config.clone(),
        version: applied.version,
        changed: applied.changed,
        refresh,
    })
}

/// Why `new` may not replace the stored DSConfig, if it may not: it changes `global` of a
/// type that has objects (API.md §9). Objects of a global type live in the global
/// databases, the others in the apps' databases; the objects would be left in the
/// database their type no longer reads from. A type declared newly, or dropped, counts
/// as not global where it is not declared. Only the databases that exist are read (none
/// is created), and only when some type changes. `base_url` is the default app's LIVE
/// `--database`, `central` its store. (A write between this check and the apply is not
/// seen: apply such a change while no one writes the type.)
pub async fn global_change_refused(
    base_url: &str,
    central: &dyn Store,
    new: &Config,
) -> Result<Option<String>, StoreError> {
    use crate::tenancy::{self, AppName, Owner, System};
    let Some(stored) = central.stored_config().await? else {
        return Ok(None);
    };
    let global = |c: &Config, t: &str| c.types.get(t).is_some_and(|t| t.global);
    let mut changed: Vec<(String, bool)> = stored
        .config
        .types
        .keys()
        .chain(new.types.keys())
        .filter(|t| global(&stored.config, t) != global(new, t))
        .map(|t| (t.clone(), global(new, t)))
        .collect();
    changed.sort();
    changed.dedup();
    if changed.is_empty() {
        return Ok(None);
    }
    // Where each changed type's objects are now: the global databases for a type that
    // was global, the apps' for one that was not.
    let mut apps = vec![AppName::default_app()];
    apps.extend(
        central
            .apps()
            .await?
            .iter()
            .filter_map(|a| AppName::parse(&a.name).ok())
            .filter(|a| !a.is_default()),
    );
    let mut owners: Vec<(Owner, System)> = Vec::new();
    for system in System::ALL {
        owners.push((Owner::Global, system));
        for app in &apps {
            owners.push((Owner::App(app.clone()), system));
        }
    }
    let options = StoreOptions {
        pool_size: 1,
        migrate: false,
    };
    for (owner, system) in owners {
        // A global database holds the types that stop being global; an app's those that
        // become global.
        let holds: Vec<&(String, bool)> = changed
            .iter()
            .filter(|(_, becomes_global)| (owner == Owner::Global) != *becomes_global)
            .collect();
        if holds.is_empty() {
            continue;
        }
        let url = tenancy::database_url(base_url, &owner, system)?;
        let is_central = url == base_url;
        if !is_central && !store::database_exists(&url).await? {
            continue;
        }
        let opened;
        let db: &dyn Store = if is_central {
            central
        } else {
            opened = store::open(&url, &options).await?;
            opened.as_ref()
        };
        for (object_type, becomes_global) in holds {
            let archived = crate::model::archived_type(object_type);
            for t in [object_type.as_str(), archived.as_str()] {
                if db.display_batch_end(t, 0, 1).await?.is_some() {
                    let place = match &owner {
                        Owner::Global => format!("the global database of {system}"),
                        Owner::App(app) => format!("the database of app {app} in {system}"),
                    };
                    let (from, to) = if *becomes_global {
                        ("false", "true")
                    } else {
                        ("true", "false")
                    };
                    return Ok(Some(format!(
                        "type `{object_type}`: `global` cannot change from {from} to {to} while                          objects of it exist ({place} holds `{t}` objects): they would be left                          in a database the type is no longer read from. Export and drop them                          first, or keep `global = {from}`"
                    )));
                }
            }
        }
    }
    Ok(None)
}

/// The DSConfig to serve with: the directory's when it exists (validated, then stored as a
/// new version if it differs from the stored one), else the one stored in the database,
/// else an empty open schema.
pub async fn install_config(
    settings: &Settings,
    store: &dyn Store,
) -> Result<Installed, StartupError> {
    let dir = &settings.dsconfig;
    if dir.is_dir() {
        let config = dsconfig::load_dir(dir).map_err(|errors| StartupError::InvalidDsconfig {
            dir: dir.display().to_string(),
            errors,
        })?;
        if let Some(refused) = global_change_refused(&settings.database, store, &config).await? {
            return Err(StartupError::GlobalChange(refused));
        }
        let installed = apply_config(store, &config).await?;
        if installed.changed {
            tracing::info!(dir = %dir.display(), version = installed.version, types = config.types.len(), lists = config.lists.len(), "the DSConfig directory differs from the stored DSConfig: applied it as a new version");
        } else {
            tracing::info!(dir = %dir.display(), version = installed.version, "the DSConfig directory matches the stored DSConfig");
        }
        return Ok(installed);
    }
    match store.stored_config().await? {
        Some(stored) => {
            tracing::info!(dir = %dir.display(), version = stored.version, "no DSConfig directory; using the DSConfig stored in the database");
            let refresh = (stored.displays_version < stored.version).then_some(PendingRefresh {
                version: stored.version,
                previous: None,
            });
            Ok(Installed {
                config: stored.config,
                version: stored.version,
                changed: false,
                refresh,
            })
        }
        None => {
            tracing::warn!(dir = %dir.display(), "no DSConfig directory and none stored: every type is open, every property a String");
            Ok(Installed {
                config: Config::default(),
                version: 0,
                changed: false,
                refresh: None,
            })
        }
    }
}

/// A bound, ready service.
pub struct Application {
    port: u16,
    server: Server,
    address: String,
    /// Polls the stored DSConfig version; ends with the service.
    watcher: tokio::task::JoinHandle<()>,
    /// Removes pending files that failed uploads left; ends with the service.
    sweeper: tokio::task::JoinHandle<()>,
    /// Prunes the change log past `--history-days` and old idempotency records.
    pruner: tokio::task::JoinHandle<()>,
    /// Closes idle apps' databases and hands them the central DSConfig; ends with the
    /// service.
    maintainer: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let store = open_store(&settings).await?;
        let installed = install_config(&settings, store.as_ref()).await?;
        let listener =
            TcpListener::bind(&settings.listen).map_err(|source| StartupError::Listen {
                address: settings.listen.clone(),
                source,
            })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let local = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: settings.listen.clone(),
                source,
            })?;
        let auth = web::Data::new(
            crate::auth::Auth::start(
                store.clone(),
                settings.admin_key.as_deref(),
                local,
                &settings.normalized_base_path(),
                !settings.ops.trusted_proxies.is_empty(),
            )
            .await?,
        );
        let active = Arc::new(ActiveConfig::new(
            installed.config.clone(),
            installed.version,
            settings.time_zone,
            settings.max_results.max(1),
        ));
        let watcher = active.clone().watch(store.clone());
        active.start_projections(store.clone());
        let tenants = Tenants::new(
            TenantSettings {
                base_url: settings.database.clone(),
                app_pool_size: settings.app_pool_size.max(1),
                max_open: settings.max_open_apps.max(1),
                idle: std::time::Duration::from_secs(settings.app_idle_seconds.max(1)),
                time_zone: settings.time_zone,
                max_limit: settings.max_results.max(1),
            },
            Arc::new(Datastore::new(store.clone(), active.clone())),
        );
        // After the registry gave the central DSConfig its global database: Lookups to
        // global types are refreshed from there.
        if let Some(refresh) = installed.refresh {
            active.start_refresh(store.clone(), refresh.version, refresh.previous);
        }
        let maintainer = tenants.clone().maintain();
        let sweeper = crate::service::sweep_pending_files(tenants.clone());
        let pruner = crate::service::history::prune(tenants.clone(), settings.history_days);
        let state = web::Data::new(ApiState {
            tenants,
            body_limit: settings.body_limit,
            max_upload: settings.max_upload,
        });
        let base_path = settings.normalized_base_path();
        let ops =
            web::Data::new(Ops::new(&settings.ops, &base_path).map_err(StartupError::Metrics)?);
        let cors_origins: Vec<String> = (settings.ops.cors_origins.iter())
            .filter(|o| !o.is_empty())
            .cloned()
            .collect();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(ops.clone())
                .app_data(auth.clone())
                // The last wrapped runs first: observe, then CORS, then the limits, then who
                // is calling (keys), then the handler.
                .wrap(middleware::from_fn(crate::auth::authenticate))
                .wrap(middleware::from_fn(ops::limit))
                .wrap(middleware::Condition::new(
                    !cors_origins.is_empty(),
                    ops::cors(&cors_origins),
                ))
                .wrap(middleware::from_fn(ops::observe))
                .configure(api::configure(&base_path))
        })
        .shutdown_timeout(30)
        // Signals are ours (see `run_until_stopped`): registered before we say we listen.
        .disable_signals();
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Listen {
                address: settings.listen.clone(),
                source,
            })?
            .run();
        Ok(Application {
            port,
            server,
            address: settings.listen,
            watcher,
            sweeper,
            pruner,
            maintainer,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, embedding programs).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or the handle stops it), letting in-flight requests end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = shutdown_signal()?;
        let handle = self.server.handle();
        tokio::spawn(async move {
            stop.await;
            tracing::info!("stop signal received; finishing in-flight requests");
            handle.stop(true).await;
        });
        tracing::info!(address = %self.address, port = self.port, "listening");
        let result = self.server.await;
        self.watcher.abort();
        self.sweeper.abort();
        self.pruner.abort();
        self.maintainer.abort();
        result
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C elsewhere). The handlers are registered when this
/// is called, not when it is first awaited.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
