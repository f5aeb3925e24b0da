//! The storage boundary: one [`Store`] trait, one implementation per backend.
//!
//! The HTTP layer and the service above it talk only to `Arc<dyn Store>`; each backend owns
//! its SQL and its migrations (`sqlite/` is the embedded default, `mssql/` is SQL Server).
//! What crosses this boundary is already converted and validated: canonical values, the
//! lookups a write must check, the display texts a write must refresh. A backend's job is
//! to do each operation atomically and concurrently safely.

pub mod aggregate;
pub mod batch;
pub mod changes;
pub mod cursor;
pub mod mssql;
pub mod sqlite;
pub mod transfer;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::dsconfig::Config;
use crate::model::{ObjectId, PropertyType};
use crate::query::plan::QueryPlan;

pub use aggregate::{AggregatePlan, AggregateRow};
pub use batch::{BatchError, BatchFailure, BatchPlan, WriteOp, WriteOutcome};
pub use changes::{Change, ChangeFilter, ChangePage, Claim};
pub use transfer::{DataBatch, ExportSink, ImportItem, ImportSource, TransferCounts};
pub use types::*;
// The comparison vocabulary lives below both the query plan and the stores.
pub use crate::model::{Key, Order, SystemField};

/// Opens the backend named by a `--database` URL and applies pending migrations.
pub async fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let store = sqlite::SqliteStore::open(path, options).await?;
        Ok(Arc::new(store))
    } else if mssql::is_mssql_url(url) {
        let store = mssql::MssqlStore::open(url, options).await?;
        Ok(Arc::new(store))
    } else {
        Err(StoreError::Config(
            "the database must be sqlite://PATH, mssql://user:password@host:1433/Database \
             or an ADO.NET string (Server=tcp:host,1433;Database=...;User Id=...;Password=...)"
                .into(),
        ))
    }
}

/// Opens an app's database (API.md §9) as [`open`] does, except that on SQL Server a
/// database that exists and holds tables but not the datastore's is refused
/// ([`StoreError::Config`]) instead of migrated into.
pub async fn open_app(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if mssql::is_mssql_url(url) {
        let store = mssql::MssqlStore::open_app(url, options).await?;
        Ok(Arc::new(store))
    } else {
        if let Some(path) = url.strip_prefix("sqlite://") {
            sqlite::check_app_file(path)?;
        }
        open(url, options).await
    }
}

/// Whether the database a `--database` URL names exists already (nothing is created).
pub async fn database_exists(url: &str) -> Result<bool, StoreError> {
    match url.strip_prefix("sqlite://") {
        Some(path) => Ok(std::path::Path::new(path).exists()),
        None => mssql::database_exists(url).await,
    }
}

/// A held global references lock ([`Store::lock_references`]); dropping it releases it.
#[async_trait]
pub trait ReferenceLock: Send + Sync {
    /// One object of the locked database, read under the lock.
    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError>;
}

/// How long [`Store::lock_references`] waits.
pub const REFERENCE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How durable the embedded store makes a commit before a write is answered
/// (`--synchronous`; SQL Server decides this itself). One level for every database the
/// process opens: it is set once, at start, before any store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Synchronous {
    /// WAL with `synchronous = NORMAL`: a process crash loses nothing answered; a power
    /// loss or OS crash may lose the last commits (never corrupts the file).
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is on disk (fsync) before its writes are answered.
    Full,
}

static SYNCHRONOUS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets the durability of the embedded stores opened from now on.
pub fn set_synchronous(level: Synchronous) {
    SYNCHRONOUS.store(
        level == Synchronous::Full,
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The durability set by [`set_synchronous`] (default [`Synchronous::Normal`]).
pub fn synchronous() -> Synchronous {
    if SYNCHRONOUS.load(std::sync::atomic::Ordering::Relaxed) {
        Synchronous::Full
    } else {
        Synchronous::Normal
    }
}

/// Settings a backend takes besides its URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Reader connections (SQLite) or pooled connections (SQL Server).
    pub pool_size: u32,
    /// Apply pending migrations when opening.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            pool_size: 16,
            migrate: true,
        }
    }
}

/// How busy a backend's connections are, for metrics; cheap to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Writes waiting for the writer (SQLite; 0 elsewhere).
    pub writer_queue: usize,
    /// Reader connections (SQLite) or pooled connections (SQL Server) in use.
    pub connections_in_use: usize,
    /// Their maximum.
    pub connections_max: usize,
}

/// Every operation the service needs from storage.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers once the database does.
    async fn health(&self) -> Result<(), StoreError>;

    /// Queue and pool use, for metrics (zeros when a backend cannot tell).
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }

    /// Versions of the applied migrations, oldest first.
    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError>;

    /// Stores a DSConfig: the document, PropertyConfig rows and ObjectNumbers, under the
    /// next version unless the same DSConfig is stored already. Numbering already under
    /// way keeps its next number (never goes back).
    async fn apply_config(&self, config: &Config) -> Result<AppliedConfig, StoreError>;

    /// The DSConfig last applied, if any, with its version.
    async fn stored_config(&self) -> Result<Option<StoredConfig>, StoreError>;

    /// The stored DSConfig's versions: cheap, for polling.
    async fn config_versions(&self) -> Result<ConfigVersions, StoreError>;

    /// The last id of the next `batch` objects of `owner_type` after id `after`, if any:
    /// the bounds of one display-refresh batch.
    async fn display_batch_end(
        &self,
        owner_type: &str,
        after: ObjectId,
        batch: u32,
    ) -> Result<Option<ObjectId>, StoreError>;

    /// Recomputes, in one transaction, the display texts of one Lookup or List property on
    /// the objects of `owner_type` with ids in `(ids.0, ids.1]`, after checking that
    /// DSConfig `version` is still the stored one ([`StoreError::ConfigChanged`]
    /// otherwise). Returns how many rows it rewrote.
    async fn refresh_display_batch(
        &self,
        refresh: &DisplayRefresh,
        owner_type: &str,
        ids: (ObjectId, ObjectId),
        version: i64,
    ) -> Result<u64, StoreError>;

    /// The distinct targets of Lookup `property` on the objects of `owner_type` with ids
    /// in `(ids.0, ids.1]`: one display-refresh batch of a Lookup to a global type.
    async fn lookup_targets(
        &self,
        owner_type: &str,
        property: &str,
        ids: (ObjectId, ObjectId),
    ) -> Result<Vec<ObjectId>, StoreError>;

    /// Records that the display refresh of DSConfig `version` has completed (nothing when
    /// another version is stored by now).
    async fn mark_displays_refreshed(&self, version: i64) -> Result<(), StoreError>;

    /// Creates an object (with its number, if its type is numbered) and its properties.
    async fn new_object(&self, req: NewObject) -> Result<ObjectRecord, StoreError>;

    /// Creates many objects in as few transactions as the backend allows (bulk loads,
    /// imports); all or nothing. Returns their ids in order.
    async fn new_objects(&self, reqs: Vec<NewObject>) -> Result<Vec<ObjectId>, StoreError>;

    /// The type of an object, without reading its properties.
    async fn object_type(&self, id: ObjectId) -> Result<Option<String>, StoreError>;

    /// The types that have at least one object, in order, at most `limit`: one seek of the
    /// `(ObjectType, ObjectId)` index per type (never a scan of the objects).
    async fn object_types(&self, limit: u32) -> Result<Vec<String>, StoreError>;

    /// One object with all its properties.
    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError>;

    /// Writes and removes properties of one object, all or nothing.
    async fn save_properties(&self, req: SaveProperties) -> Result<ObjectRecord, StoreError>;

    /// Gives an object another type; it keeps its number and properties. `config_version`
    /// is the DSConfig the new type was checked with (as [`NewObject::config_version`]).
    async fn change_object_type(
        &self,
        id: ObjectId,
        object_type: &str,
        config_version: i64,
    ) -> Result<ObjectRecord, StoreError>;

    /// Drops an object and the children the request names, all or nothing.
    async fn drop_object(&self, req: DropObject) -> Result<Vec<ObjectId>, StoreError>;

    /// Creates a relationship or updates its `strict` flag.
    async fn save_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    ) -> Result<(), StoreError>;

    /// Removes a relationship; `false` when there was none.
    async fn drop_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
    ) -> Result<bool, StoreError>;

    /// A page of the children or parents of an object, each with the relationship's
    /// `strict`, and their number before paging; the count and the page agree.
    async fn related(&self, query: &RelatedQuery) -> Result<RelatedPage, StoreError>;

    /// The properties objects of `object_type` have, by name, each with the type one of its
    /// rows was stored as (rows of one name share a type unless the DSConfig changed it).
    /// With `names`, only those are looked at; without, every property name in the store
    /// is: one index seek per distinct name plus a check that stops at the first object of
    /// the type having it, never a scan of the type's properties (docs/DECISIONS.md).
    async fn property_names(
        &self,
        object_type: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<(String, PropertyType)>, StoreError>;

    /// A page of a table view and the number of matches before paging.
    async fn list_table(&self, query: &TableQuery) -> Result<Page, StoreError>;

    /// A page of the objects a query-language plan selects (with `columns`, or all
    /// properties) and the number of matches before paging.
    async fn query(&self, plan: &QueryPlan, columns: Option<&[String]>)
        -> Result<Page, StoreError>;

    /// The groups and measures of an aggregate plan (`getAggregate`), in the plan's order,
    /// at most `limit` of them; read in one snapshot.
    async fn aggregate(&self, plan: &AggregatePlan) -> Result<Vec<AggregateRow>, StoreError>;

    /// Creates a pending file (no bytes yet, linked to nothing); see [`LinkFile`].
    async fn create_file(&self, file: &NewFile) -> Result<FileId, StoreError>;

    /// Stores chunk `seq` (from 0) of a pending file, in a write of its own: an upload
    /// never holds the writer or a connection between chunks.
    async fn write_file_chunk(
        &self,
        file_id: FileId,
        seq: u32,
        data: Vec<u8>,
    ) -> Result<(), StoreError>;

    /// Links a pending file to an Image/FileLink property (see [`LinkFile`]); the object as
    /// it is afterwards.
    async fn link_file(&self, req: LinkFile) -> Result<ObjectRecord, StoreError>;

    /// Deletes a file and its bytes, linked or not (a failed upload's pending file);
    /// `false` when there was none. A linked file's property is left to the caller.
    async fn delete_file(&self, file_id: FileId) -> Result<bool, StoreError>;

    /// Deletes pending files created before `before` (left by failed uploads or processes
    /// that stopped); how many.
    async fn sweep_pending_files(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The file linked to property `property` of object `object_id`, if any.
    async fn linked_file(
        &self,
        object_id: ObjectId,
        property: &str,
    ) -> Result<Option<FileInfo>, StoreError>;

    /// Chunk `seq` of a file; `None` when the file or the chunk is gone.
    async fn file_chunk(&self, file_id: FileId, seq: u32) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` files with ids above `after`, in id order, pending ones included
    /// (`owner` is `None`): for export and for checks.
    async fn files(&self, after: FileId, limit: u32) -> Result<Vec<FileInfo>, StoreError>;

    /// Stores an API key unless one with its id exists (then `false`): instances that
    /// install the same `DATASTORE_ADMIN_KEY` at once store it once.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError>;

    /// One API key by id.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Every API key, revoked and expired ones too, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Marks a key revoked at `at` (a revoked key stays revoked); `false` when there is none.
    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// True when any key was ever created, revoked and expired ones included.
    async fn any_api_key(&self) -> Result<bool, StoreError>;

    /// `sqlite` or `mssql`: the `source` of an export's header.
    fn backend(&self) -> &'static str;

    /// Sends every object with its properties (by id), relationship (by parent, child) and
    /// numbering row (by type) to `sink`, in batches, all read from one snapshot
    /// (docs/EXPORT.md says where a backend cannot). Fails once the receiver is gone.
    async fn export_data(&self, sink: ExportSink) -> Result<(), StoreError>;

    /// Writes what `source` sends, ids kept, in one transaction that commits at
    /// [`ImportItem::End`] and rolls back on any failure or when `source` closes before
    /// it. Without `replace` a target holding any object is refused before anything is
    /// written; with it, the target's objects, properties and relationships are deleted
    /// first, in the same transaction. Numbering rows are upserted as sent. New objects
    /// get ids above the imported ones afterwards.
    async fn import_data(
        &self,
        source: ImportSource,
        replace: bool,
    ) -> Result<TransferCounts, StoreError>;
    /// Records app `name` in the central database's `Apps` unless an app of that name, in
    /// any case, is there already (concurrent callers, in any process, record it once).
    async fn record_app(&self, name: &str) -> Result<(), StoreError>;

    /// The recorded apps, by key.
    async fn apps(&self) -> Result<Vec<AppRecord>, StoreError>;

    /// Makes every object id handed out from now on at least `first` (ids already handed
    /// out stay). Idempotent and safe with other processes doing the same: the global
    /// databases start at [`crate::tenancy::GLOBAL_ID_BASE`].
    async fn start_ids_at(&self, first: ObjectId) -> Result<(), StoreError>;

    /// Up to 100 objects (ascending) with a Lookup pointing at any of `targets`: a global
    /// object's drop asks every app database of its system.
    async fn lookups_to(&self, targets: &[ObjectId]) -> Result<Vec<ObjectId>, StoreError>;

    /// Takes the global references lock of this database (a global one), shared or
    /// exclusive, across processes: an app writes a Lookup to a global object only under
    /// it shared, after reading the target through it; a global object is dropped (or
    /// changes type) only under it exclusive, after asking every app database for Lookups
    /// to it. Held until the returned guard is dropped (and by nothing once its process or
    /// connection is gone). [`StoreError::Busy`] when it cannot be had within 30 s.
    async fn lock_references(&self, exclusive: bool) -> Result<Box<dyn ReferenceLock>, StoreError>;

    /// Runs the writes of a batch in one transaction, all or nothing (API.md §12): the
    /// outcomes in order, or the step that failed and why, with nothing stored.
    async fn batch(&self, plan: Arc<dyn BatchPlan>) -> Result<Vec<WriteOutcome>, BatchFailure>;

    /// Up to `limit` changes of object `object_id` after change `after`, oldest first (the
    /// object may be dropped by now).
    async fn history(
        &self,
        object_id: ObjectId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError>;

    /// Up to `limit` changes after change `after` that `filter` takes, oldest first, with
    /// the retention mark read in the same snapshot. Ids commit in order on every backend,
    /// so a reader that goes on after the last id it saw misses nothing.
    async fn changes_since(
        &self,
        after: i64,
        filter: &ChangeFilter,
        limit: u32,
    ) -> Result<ChangePage, StoreError>;

    /// Deletes up to `batch` of the oldest changes made before `before` (a prefix of the
    /// log); how many. Safe with other processes pruning at once.
    async fn prune_changes(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;

    /// A counter that moves after every write of this process: event streams wake on it
    /// at once (other processes' writes are found by reading the log).
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Claims an `Idempotency-Key` under `token` for a request whose body hashes to
    /// `body_hash`, or tells who has it. A claim made before `stale` whose write never
    /// committed is taken over (the write of the request that had it then rolls back:
    /// [`changes::Acting`]).
    async fn claim_idempotency(
        &self,
        key: &str,
        body_hash: &str,
        token: &str,
        stale: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;

    /// Stores the answer of the key claimed under `token`; `None` lets the key go (a retry
    /// runs again) unless its write committed. A claim taken over is not touched.
    async fn finish_idempotency(
        &self,
        key: &str,
        token: &str,
        response: Option<String>,
    ) -> Result<(), StoreError>;

    /// Deletes up to `batch` idempotency records made before `before`; how many.
    async fn prune_idempotency(&self, before: DateTime<Utc>, batch: u32)
        -> Result<u64, StoreError>;

    /// Sets `text` as the display text of the Lookups of `sites` pointing at any of
    /// `targets` (objects of another database: global ones), and of the Lookups displaying
    /// those, in one transaction. Nothing is checked: rows that point elsewhere are left
    /// alone.
    async fn refresh_lookups_to(
        &self,
        targets: Vec<ObjectId>,
        sites: Vec<LookupSite>,
        text: Option<String>,
    ) -> Result<(), StoreError>;

    /// One rebuild step of the first incomplete projection (docs/QUERY.md, "Projections"):
    /// the next batch of its objects from their EAV rows, in one transaction. `None` when
    /// every projection is complete (and always on a backend that keeps none).
    async fn build_projection_batch(&self) -> Result<Option<ProjectionStatus>, StoreError> {
        Ok(None)
    }

    /// Every projection's state, for status and for taking over an overdue rebuild.
    async fn projections(&self) -> Result<Vec<ProjectionStatus>, StoreError> {
        Ok(Vec::new())
    }

    /// `datastore reindex`: makes the projections follow the stored DSConfig, then empties
    /// those of `object_type` (all when `None`) and marks them to be rebuilt; queries use the
    /// EAV rows until [`Store::build_projection_batch`] has completed them. Returns the types
    /// marked; [`StoreError::Config`] for a type without a projection.
    async fn reset_projections(
        &self,
        object_type: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let _ = object_type;
        Ok(Vec::new())
    }

    /// The objects of `owner_type` whose Lookup `property` points at any of `targets`:
    /// the next link of a display chain (a global Country displaying its Region, whose
    /// app Lookups show the Region's name too).
    async fn lookups_at(
        &self,
        owner_type: &str,
        property: &str,
        targets: &[ObjectId],
    ) -> Result<Vec<ObjectId>, StoreError>;
}
