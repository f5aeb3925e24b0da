//! The SQL Server store: tiberius connections in a bb8 pool, T-SQL in `sql.rs` and the
//! builders, migrations in `migrations/mssql/`.
//!
//! # Layout
//!
//! - `connect`: the `--database` string (URL or ADO.NET) to options and a tiberius config.
//! - `pool`: connections, the pool, and the transaction runner that rolls back and retries.
//! - `exec`: parameters, result sets, typed columns.
//! - `sql`, `builders`: every statement; `sql_snapshots.rs` snapshots them all.
//! - `objects`, `relations`, `table`, `config`, `migrate`: the operations, one family each,
//!   with the embedded store's rules.
//! - `admin`: creating and dropping databases (start-up, the test harness).
//!
//! The stores of a process share one small tokio runtime: every call runs there, under the
//! command timeout, so connections never depend on the runtime of whoever called (an HTTP
//! worker, a test), a call abandoned by its caller still ends cleanly, and many open apps
//! do not mean many threads.

macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::store::mssql::exec::Param::from($value)),*]
    };
}

mod admin;
mod aggregate;
mod apps;
mod batch;
mod builders;
mod changes;
mod columns;
mod config;
mod connect;
mod exec;
mod files;
mod keys;
mod migrate;
mod objects;
mod pool;
mod projection;
#[cfg(test)]
mod projection_tests;
mod query;
mod references;
mod relations;
mod sql;
mod table;
mod transfer;
mod walk;

#[cfg(test)]
mod query_snapshots;
#[cfg(test)]
mod sql_snapshots;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;

pub use admin::{database_exists, database_url_with, databases_with_prefix, drop_database};
pub use connect::{is_mssql_url, Auth, ConnectOptions};

use super::{
    ApiKeyRecord, AppliedConfig, ConfigVersions, DisplayRefresh, DropObject, FileId, FileInfo,
    LinkFile, NewFile, NewObject, ObjectRecord, Page, RelatedPage, RelatedQuery, SaveProperties,
    Store, StoreError, StoreOptions, StoredConfig, TableQuery,
};
use crate::dsconfig::Config;
use crate::model::{ObjectId, PropertyType};
use crate::query::plan::QueryPlan;
use pool::Db;

/// The SQL Server backend.
pub struct MssqlStore {
    db: Arc<Db>,
    command_timeout: Duration,
    runtime: Runtime,
}

/// The runtime every SQL Server store of this process runs on (one for the central store
/// and every open app's: many apps never mean many threads).
#[derive(Clone)]
struct Runtime(tokio::runtime::Handle);

/// Worker threads of the shared runtime.
const RUNTIME_THREADS: usize = 2;

impl Runtime {
    fn shared() -> Result<Runtime, StoreError> {
        static SHARED: std::sync::Mutex<Option<tokio::runtime::Handle>> =
            std::sync::Mutex::new(None);
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = shared.as_ref() {
            return Ok(Runtime(handle.clone()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("mssql")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start the store's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        // It lives as long as the process: stores come and go, their runtime stays.
        std::mem::forget(runtime);
        *shared = Some(handle.clone());
        Ok(Runtime(handle))
    }

    /// Runs `work` on the stores' runtime and waits for it from any other.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        // Who acts (a task-local of the caller's task) goes along to the change log.
        let acting = crate::store::changes::Acting::current();
        self.0
            .spawn(acting.scope(work).in_current_span())
            .await
            .map_err(|e| StoreError::Database(format!("a store task failed: {e}")))?
    }
}

impl MssqlStore {
    /// Connects (creating the database if it is missing), migrates, and opens the pool.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<MssqlStore, StoreError> {
        Self::open_checked(url, options, false).await
    }

    /// As [`MssqlStore::open`], for an app's database: one that exists and holds tables
    /// but not ours is refused, never migrated into.
    pub async fn open_app(url: &str, options: &StoreOptions) -> Result<MssqlStore, StoreError> {
        Self::open_checked(url, options, true).await
    }

    async fn open_checked(
        url: &str,
        options: &StoreOptions,
        refuse_foreign: bool,
    ) -> Result<MssqlStore, StoreError> {
        let connect = ConnectOptions::parse(url)?;
        connect.to_config()?;
        let runtime = Runtime::shared()?;
        let migrate = options.migrate;
        let size = options.pool_size.clamp(1, 256);
        let command_timeout = connect.command_timeout;
        let db = runtime
            .run(async move {
                let mut client = admin::connect_creating(&connect).await?;
                if refuse_foreign {
                    let name = connect.database.clone().unwrap_or_default();
                    apps::refuse_foreign(&mut client, &name).await?;
                }
                if migrate {
                    migrate::run(&mut client).await?;
                }
                drop(client.close().await);
                Db::new(&connect, size).await
            })
            .await?;
        Ok(MssqlStore {
            db: Arc::new(db),
            command_timeout,
            runtime,
        })
    }

    /// Runs a store call on the store's runtime without the command timeout: exports and
    /// imports last as long as their data (each statement still has the server's own).
    async fn call_long<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Db>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let work = work(self.db.clone());
        self.runtime.run(work).await
    }

    /// Runs one store call on the store's runtime, within the command timeout.
    async fn call<T, F, Fut>(&self, op: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Db>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let timeout = self.command_timeout;
        let work = work(self.db.clone());
        self.runtime
            .run(async move {
                match tokio::time::timeout(timeout, work).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(op, timeout_s = timeout.as_secs(), "command timeout");
                        Err(StoreError::Busy)
                    }
                }
            })
            .await
    }
}

#[async_trait]
impl Store for MssqlStore {
    fn pool_stats(&self) -> crate::store::PoolStats {
        self.db.stats()
    }

    #[tracing::instrument(name = "store.health", skip_all)]
    async fn health(&self) -> Result<(), StoreError> {
        self.call("health", |db| async move {
            db.read(|c| Box::pin(async move { Ok(exec::batch(c, sql::HEALTH).await?) }))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.applied_migrations", skip_all)]
    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        self.call("applied_migrations", |db| async move {
            db.read(|c| Box::pin(migrate::applied(c))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.build_projection_batch", skip_all)]
    async fn build_projection_batch(&self) -> Result<Option<super::ProjectionStatus>, StoreError> {
        self.call("build_projection_batch", |db| async move {
            db.transaction(|c| Box::pin(projection::build_batch(c)))
                .await
        })
        .await
    }

    async fn projections(&self) -> Result<Vec<super::ProjectionStatus>, StoreError> {
        self.call("projections", |db| async move {
            db.read(|c| Box::pin(projection::status(c))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.reset_projections", skip_all)]
    async fn reset_projections(
        &self,
        object_type: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let object_type: Option<Arc<str>> = object_type.map(Into::into);
        self.call("reset_projections", |db| async move {
            db.transaction(|c| {
                let object_type = object_type.clone();
                Box::pin(async move { projection::reset(c, object_type.as_deref()).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.apply_config", skip_all)]
    async fn apply_config(&self, config: &Config) -> Result<AppliedConfig, StoreError> {
        let config = Arc::new(config.clone());
        self.call("apply_config", |db| async move {
            db.transaction(|c| {
                let config = config.clone();
                Box::pin(async move { config::apply_config(c, &config).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.stored_config", skip_all)]
    async fn stored_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        self.call("stored_config", |db| async move {
            db.read(|c| Box::pin(config::stored_config(c))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.config_versions", skip_all)]
    async fn config_versions(&self) -> Result<ConfigVersions, StoreError> {
        self.call("config_versions", |db| async move {
            db.read(|c| Box::pin(config::versions(c))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.display_batch_end", skip_all)]
    async fn display_batch_end(
        &self,
        owner_type: &str,
        after: ObjectId,
        batch: u32,
    ) -> Result<Option<ObjectId>, StoreError> {
        let ty: Arc<str> = owner_type.into();
        self.call("display_batch_end", move |db| async move {
            db.read(move |c| {
                let ty = ty.clone();
                Box::pin(async move { config::batch_end(c, &ty, after, batch.max(1)).await })
            })
            .await
        })
        .await
    }

    async fn lookup_targets(
        &self,
        owner_type: &str,
        property: &str,
        ids: (ObjectId, ObjectId),
    ) -> Result<Vec<ObjectId>, StoreError> {
        let site: Arc<(String, String)> = Arc::new((owner_type.to_owned(), property.to_owned()));
        self.call("lookup_targets", move |db| async move {
            db.read(move |c| {
                let site = site.clone();
                Box::pin(
                    async move { config::lookup_targets(c, &site.0, &site.1, ids.0, ids.1).await },
                )
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.refresh_display_batch", skip_all, fields(property = %refresh.property_name))]
    async fn refresh_display_batch(
        &self,
        refresh: &DisplayRefresh,
        owner_type: &str,
        ids: (ObjectId, ObjectId),
        version: i64,
    ) -> Result<u64, StoreError> {
        let refresh = Arc::new(refresh.clone());
        let ty: Arc<str> = owner_type.into();
        self.call("refresh_display_batch", move |db| async move {
            db.transaction(move |c| {
                let (r, ty) = (refresh.clone(), ty.clone());
                Box::pin(
                    async move { config::refresh_batch(c, &r, &ty, ids.0, ids.1, version).await },
                )
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.mark_displays_refreshed", skip_all)]
    async fn mark_displays_refreshed(&self, version: i64) -> Result<(), StoreError> {
        self.call("mark_displays_refreshed", move |db| async move {
            db.transaction(move |c| Box::pin(config::mark_displays_refreshed(c, version)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.new_object", skip_all, fields(object_type = %req.object_type))]
    async fn new_object(&self, req: NewObject) -> Result<ObjectRecord, StoreError> {
        let req = Arc::new(req);
        self.call("new_object", |db| async move {
            db.transaction(|c| {
                let req = req.clone();
                Box::pin(async move { objects::new_object(c, &req).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.new_objects", skip_all, fields(count = reqs.len()))]
    async fn new_objects(&self, reqs: Vec<NewObject>) -> Result<Vec<ObjectId>, StoreError> {
        let reqs = Arc::new(reqs);
        self.call("new_objects", |db| async move {
            db.transaction(|c| {
                let reqs = reqs.clone();
                Box::pin(async move { objects::new_objects(c, &reqs).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.object_type", skip_all, fields(object_id = id))]
    async fn object_type(&self, id: ObjectId) -> Result<Option<String>, StoreError> {
        self.call("object_type", move |db| async move {
            db.read(move |c| Box::pin(objects::object_type(c, id)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.object_types", skip_all)]
    async fn object_types(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.call("object_types", move |db| async move {
            db.read(move |c| Box::pin(objects::object_types(c, limit)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.get_object", skip_all, fields(object_id = id))]
    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError> {
        self.call("get_object", move |db| async move {
            // One snapshot for the object's row and its properties: in READ COMMITTED a
            // save committed between the two statements would pair one version's
            // `updatedAt` with another's properties.
            db.snapshot(move |c| Box::pin(objects::load(c, id))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.save_properties", skip_all, fields(object_id = req.object_id))]
    async fn save_properties(&self, req: SaveProperties) -> Result<ObjectRecord, StoreError> {
        let req = Arc::new(req);
        self.call("save_properties", |db| async move {
            db.transaction(|c| {
                let req = req.clone();
                Box::pin(async move { objects::save_properties(c, &req).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.change_object_type", skip_all, fields(object_id = id))]
    async fn change_object_type(
        &self,
        id: ObjectId,
        object_type: &str,
        config_version: i64,
    ) -> Result<ObjectRecord, StoreError> {
        let object_type: Arc<str> = object_type.into();
        self.call("change_object_type", move |db| async move {
            db.transaction(|c| {
                let object_type = object_type.clone();
                Box::pin(async move {
                    objects::change_object_type(c, id, &object_type, config_version).await
                })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.drop_object", skip_all, fields(object_id = req.object_id))]
    async fn drop_object(&self, req: DropObject) -> Result<Vec<ObjectId>, StoreError> {
        let req = Arc::new(req);
        let dropped = self
            .call("drop_object", |db| async move {
                db.transaction(|c| {
                    let req = req.clone();
                    Box::pin(async move { relations::drop_object(c, &req).await })
                })
                .await
            })
            .await;
        match dropped {
            // A checked drop rolled back: the ids it would delete.
            Err(StoreError::DropChecked(doomed)) => Ok(doomed),
            other => other,
        }
    }

    async fn lookups_to(&self, targets: &[ObjectId]) -> Result<Vec<ObjectId>, StoreError> {
        let targets: Arc<[ObjectId]> = targets.into();
        self.call("lookups_to", move |db| async move {
            db.read(move |c| {
                let targets = targets.clone();
                Box::pin(async move { relations::lookups_to(c, &targets).await })
            })
            .await
        })
        .await
    }

    async fn lock_references(
        &self,
        exclusive: bool,
    ) -> Result<Box<dyn super::ReferenceLock>, StoreError> {
        references::take(self.db.clone(), &self.runtime.0, exclusive).await
    }

    #[tracing::instrument(name = "store.save_relationship", skip_all, fields(parent = parent, child = child))]
    async fn save_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    ) -> Result<(), StoreError> {
        self.call("save_relationship", move |db| async move {
            db.transaction(move |c| {
                Box::pin(relations::save_relationship(c, parent, child, strict))
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.drop_relationship", skip_all, fields(parent = parent, child = child))]
    async fn drop_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
    ) -> Result<bool, StoreError> {
        self.call("drop_relationship", move |db| async move {
            db.transaction(move |c| Box::pin(relations::drop_relationship(c, parent, child)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.related", skip_all, fields(object_id = query.object_id))]
    async fn related(&self, query: &RelatedQuery) -> Result<RelatedPage, StoreError> {
        let query = Arc::new(query.clone());
        self.call("related", |db| async move {
            db.snapshot(|c| {
                let query = query.clone();
                Box::pin(async move { relations::related(c, &query).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.property_names", skip_all, fields(object_type = %object_type))]
    async fn property_names(
        &self,
        object_type: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<(String, PropertyType)>, StoreError> {
        let object_type: Arc<str> = object_type.into();
        let names: Arc<Option<Vec<String>>> = Arc::new(names.map(<[String]>::to_vec));
        self.call("property_names", |db| async move {
            db.read(|c| {
                let (object_type, names) = (object_type.clone(), names.clone());
                Box::pin(
                    async move { columns::property_names(c, &object_type, names.as_deref()).await },
                )
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.list_table", skip_all, fields(object_type = %query.object_type))]
    async fn list_table(&self, query: &TableQuery) -> Result<Page, StoreError> {
        let query = Arc::new(query.clone());
        self.call("list_table", |db| async move {
            db.snapshot(|c| {
                let query = query.clone();
                Box::pin(async move { table::list_table(c, &query).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.query", skip_all, fields(object_type = %plan.object_type))]
    async fn query(
        &self,
        plan: &QueryPlan,
        columns: Option<&[String]>,
    ) -> Result<Page, StoreError> {
        let plan = Arc::new(plan.clone());
        let columns: Arc<Option<Vec<String>>> = Arc::new(columns.map(<[String]>::to_vec));
        self.call("query", |db| async move {
            db.snapshot(|c| {
                let (plan, columns) = (plan.clone(), columns.clone());
                Box::pin(async move { query::run(c, &plan, columns.as_deref()).await })
            })
            .await
        })
        .await
    }
    #[tracing::instrument(name = "store.aggregate", skip_all, fields(object_type = %plan.object_type))]
    async fn aggregate(
        &self,
        plan: &crate::store::AggregatePlan,
    ) -> Result<Vec<crate::store::AggregateRow>, StoreError> {
        let plan = Arc::new(plan.clone());
        self.call("aggregate", |db| async move {
            db.snapshot(|c| {
                let plan = plan.clone();
                Box::pin(async move { aggregate::run(c, &plan).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.create_file", skip_all)]
    async fn create_file(&self, file: &NewFile) -> Result<FileId, StoreError> {
        let file = Arc::new(file.clone());
        self.call("create_file", |db| async move {
            db.transaction(|c| {
                let file = file.clone();
                Box::pin(async move { files::create(c, &file).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.write_file_chunk", skip_all, fields(file_id = file_id, seq = seq))]
    async fn write_file_chunk(
        &self,
        file_id: FileId,
        seq: u32,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let data = Arc::new(data);
        self.call("write_file_chunk", |db| async move {
            // One statement: autocommit, no transaction round trips around it.
            db.read(|c| {
                let data = data.clone();
                Box::pin(async move { files::write_chunk(c, file_id, seq, &data).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.link_file", skip_all, fields(file_id = req.file_id, object_id = req.save.object_id))]
    async fn link_file(&self, req: LinkFile) -> Result<ObjectRecord, StoreError> {
        let req = Arc::new(req);
        self.call("link_file", |db| async move {
            db.transaction(|c| {
                let req = req.clone();
                Box::pin(async move { files::link(c, &req).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.delete_file", skip_all, fields(file_id = file_id))]
    async fn delete_file(&self, file_id: FileId) -> Result<bool, StoreError> {
        self.call("delete_file", move |db| async move {
            db.transaction(move |c| Box::pin(files::delete(c, file_id)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.sweep_pending_files", skip_all)]
    async fn sweep_pending_files(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let before = before.naive_utc();
        self.call("sweep_pending_files", move |db| async move {
            db.transaction(move |c| Box::pin(files::sweep(c, before)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.linked_file", skip_all, fields(object_id = object_id))]
    async fn linked_file(
        &self,
        object_id: ObjectId,
        property: &str,
    ) -> Result<Option<FileInfo>, StoreError> {
        let property: Arc<str> = property.into();
        self.call("linked_file", move |db| async move {
            db.read(move |c| {
                let property = property.clone();
                Box::pin(async move { files::linked(c, object_id, &property).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.file_chunk", skip_all, fields(file_id = file_id, seq = seq))]
    async fn file_chunk(&self, file_id: FileId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.call("file_chunk", move |db| async move {
            db.read(move |c| Box::pin(files::chunk(c, file_id, seq)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.files", skip_all)]
    async fn files(&self, after: FileId, limit: u32) -> Result<Vec<FileInfo>, StoreError> {
        self.call("files", move |db| async move {
            db.read(move |c| Box::pin(files::list(c, after, limit)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.insert_api_key", skip_all, fields(key_id = %key.id))]
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let key = Arc::new(key.clone());
        self.call("insert_api_key", |db| async move {
            db.transaction(|c| {
                let key = key.clone();
                Box::pin(async move { keys::insert(c, &key).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.api_key", skip_all, fields(key_id = %id))]
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let id: Arc<str> = id.into();
        self.call("api_key", |db| async move {
            db.read(|c| {
                let id = id.clone();
                Box::pin(async move { keys::get(c, &id).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.api_keys", skip_all)]
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.call("api_keys", |db| async move {
            db.read(|c| Box::pin(keys::list(c))).await
        })
        .await
    }

    #[tracing::instrument(name = "store.revoke_api_key", skip_all, fields(key_id = %id))]
    async fn revoke_api_key(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let id: Arc<str> = id.into();
        self.call("revoke_api_key", |db| async move {
            db.transaction(|c| {
                let id = id.clone();
                Box::pin(async move { keys::revoke(c, &id, at).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.any_api_key", skip_all)]
    async fn any_api_key(&self) -> Result<bool, StoreError> {
        self.call("any_api_key", |db| async move {
            db.read(|c| Box::pin(keys::any(c))).await
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "mssql"
    }

    #[tracing::instrument(name = "store.export_data", skip_all)]
    async fn export_data(&self, sink: crate::store::ExportSink) -> Result<(), StoreError> {
        self.call_long(|db| async move {
            db.snapshot_once(|c| {
                let sink = sink.clone();
                Box::pin(async move { transfer::export(c, &sink).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.record_app", skip_all, fields(app = %name))]
    async fn record_app(&self, name: &str) -> Result<(), StoreError> {
        let name: Arc<str> = name.into();
        self.call("record_app", |db| async move {
            db.transaction(|c| {
                let name = name.clone();
                Box::pin(async move { apps::record(c, &name).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.refresh_lookups_to", skip_all, fields(targets = targets.len()))]
    async fn refresh_lookups_to(
        &self,
        targets: Vec<ObjectId>,
        sites: Vec<crate::store::LookupSite>,
        text: Option<String>,
    ) -> Result<(), StoreError> {
        let sites = Arc::new(sites);
        let targets = Arc::new(targets);
        self.call("refresh_lookups_to", |db| async move {
            db.transaction(|c| {
                let (sites, text, targets) = (sites.clone(), text.clone(), targets.clone());
                Box::pin(async move {
                    objects::refresh_dependents(c, targets.to_vec(), &sites, text).await
                })
            })
            .await
        })
        .await
    }

    async fn lookups_at(
        &self,
        owner_type: &str,
        property: &str,
        targets: &[ObjectId],
    ) -> Result<Vec<ObjectId>, StoreError> {
        let site = Arc::new((owner_type.to_owned(), property.to_owned(), targets.to_vec()));
        self.call("lookups_at", move |db| async move {
            db.read(move |c| {
                let site = site.clone();
                Box::pin(async move { objects::lookups_at(c, &site.0, &site.1, &site.2).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.batch", skip_all, fields(steps = plan.len()))]
    async fn batch(
        &self,
        plan: Arc<dyn super::BatchPlan>,
    ) -> Result<Vec<super::WriteOutcome>, super::BatchFailure> {
        self.call("batch", |db| async move { Ok(batch::run(&db, plan).await) })
            .await
            .map_err(super::BatchFailure::whole)?
    }

    #[tracing::instrument(name = "store.history", skip_all, fields(object_id))]
    async fn history(
        &self,
        object_id: ObjectId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<super::Change>, StoreError> {
        self.call("history", move |db| async move {
            db.read(move |c| Box::pin(changes::history(c, object_id, after, limit)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.changes_since", skip_all, fields(after))]
    async fn changes_since(
        &self,
        after: i64,
        filter: &super::ChangeFilter,
        limit: u32,
    ) -> Result<super::ChangePage, StoreError> {
        let filter = Arc::new(filter.clone());
        self.call("changes_since", move |db| async move {
            db.snapshot(move |c| {
                let filter = filter.clone();
                Box::pin(async move { changes::since(c, after, &filter, limit).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.prune_changes", skip_all)]
    async fn prune_changes(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let before = before.naive_utc();
        self.call("prune_changes", move |db| async move {
            db.transaction(move |c| Box::pin(changes::prune(c, before, batch)))
                .await
        })
        .await
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.db.signal.subscribe()
    }

    #[tracing::instrument(name = "store.claim_idempotency", skip_all)]
    async fn claim_idempotency(
        &self,
        key: &str,
        body_hash: &str,
        token: &str,
        stale: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Claim, StoreError> {
        let (key, hash, token): (Arc<str>, Arc<str>, Arc<str>) =
            (key.into(), body_hash.into(), token.into());
        let stale = stale.naive_utc();
        self.call("claim_idempotency", move |db| async move {
            db.transaction(move |c| {
                let (key, hash, token) = (key.clone(), hash.clone(), token.clone());
                Box::pin(async move { changes::claim(c, &key, &hash, &token, stale).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.finish_idempotency", skip_all)]
    async fn finish_idempotency(
        &self,
        key: &str,
        token: &str,
        response: Option<String>,
    ) -> Result<(), StoreError> {
        let (key, token): (Arc<str>, Arc<str>) = (key.into(), token.into());
        let response: Arc<Option<String>> = Arc::new(response);
        self.call("finish_idempotency", move |db| async move {
            db.read(move |c| {
                let (key, token, response) = (key.clone(), token.clone(), response.clone());
                Box::pin(async move { changes::finish(c, &key, &token, response.as_deref()).await })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.prune_idempotency", skip_all)]
    async fn prune_idempotency(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let before = before.naive_utc();
        self.call("prune_idempotency", move |db| async move {
            db.read(move |c| Box::pin(changes::prune_idempotency(c, before, batch)))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.start_ids_at", skip_all, fields(first))]
    async fn start_ids_at(&self, first: ObjectId) -> Result<(), StoreError> {
        self.call("start_ids_at", |db| async move {
            db.transaction(|c| Box::pin(async move { apps::start_ids_at(c, first).await }))
                .await
        })
        .await
    }

    #[tracing::instrument(name = "store.import_data", skip_all, fields(replace))]
    async fn import_data(
        &self,
        source: crate::store::ImportSource,
        replace: bool,
    ) -> Result<crate::store::TransferCounts, StoreError> {
        let source = Arc::new(std::sync::Mutex::new(Some(source)));
        self.call_long(|db| async move {
            db.transaction_once(|c| {
                let taken = source.lock().ok().and_then(|mut s| s.take());
                Box::pin(async move {
                    let Some(mut source) = taken else {
                        return Err(pool::Fail::Store(crate::store::transfer::abandoned()));
                    };
                    transfer::import(c, &mut source, replace).await
                })
            })
            .await
        })
        .await
    }

    #[tracing::instrument(name = "store.apps", skip_all)]
    async fn apps(&self) -> Result<Vec<super::AppRecord>, StoreError> {
        self.call("apps", |db| async move {
            db.read(|c| Box::pin(apps::list(c))).await
        })
        .await
    }
}
