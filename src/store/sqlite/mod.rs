//! The embedded store: SQLite through rusqlite, the default backend.
//!
//! SQLite allows one writer at a time, so every write goes to one dedicated writer thread
//! through a queue; the thread commits what waits there in groups (`writer.rs`): writes
//! never wait on `SQLITE_BUSY`, and one commit serves many writes. Reads run on a
//! small pool of read-only connections in WAL mode via `spawn_blocking`, so they neither
//! block the async workers nor wait for the writer.

mod aggregate;
#[cfg(test)]
mod aggregate_tests;
mod apps;
mod batch;
mod changes;
mod checkpoint;
mod columns;
mod config;
mod counts;
mod files;
mod keys;
mod literal;
mod merge;
mod migrate;
mod objects;
mod projected;
pub(crate) mod projection;
#[cfg(test)]
pub(crate) mod projection_tests;
mod properties_cache;
#[cfg(test)]
mod properties_cache_tests;
mod query;
#[cfg(test)]
mod query_tests;
mod references;
mod relations;
mod table;
mod transfer;
mod walk;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{oneshot, Semaphore};

use super::{
    ApiKeyRecord, AppliedConfig, ConfigVersions, DisplayRefresh, DropObject, FileId, FileInfo,
    LinkFile, NewFile, NewObject, ObjectRecord, Page, RelatedPage, RelatedQuery, SaveProperties,
    Store, StoreError, StoreOptions, StoredConfig, TableQuery,
};
use crate::dsconfig::Config;
use crate::model::{ObjectId, PropertyType};
use crate::query::plan::QueryPlan;

use writer::WriteJob;

/// Writes that may wait for the writer; beyond, a write is refused with 503.
const WRITE_QUEUE: usize = 4096;

/// How long a read waits for a reader connection before it is refused with 503.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Page cache of the writer connection, in KiB (SQLite's negative `cache_size`): index
/// pages that many writes touch stay in memory.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Page cache of each reader connection, in KiB. Pages beyond it are read from the OS's file
/// cache (one `pread` each), which every connection shares and which counts against no
/// process. No memory map: one maps the file per connection, so the same pages count once
/// per connection in the process's RSS (1.3 GB at 40,000 objects with 16 readers).
const READER_CACHE_KIB: i64 = 4 * 1024;

/// The SQLite backend. Cheap to share: clone the `Arc` it lives in.
pub struct SqliteStore {
    writer: mpsc::SyncSender<WriteJob>,
    /// Jobs sent to the writer and not yet taken (for metrics).
    queued: Arc<std::sync::atomic::AtomicUsize>,
    readers: Arc<ReaderPool>,
    /// Moves after each write (see [`Store::change_signal`]).
    signal: Arc<tokio::sync::watch::Sender<u64>>,
}

/// A reader connection with the counts it remembers.
type Reader = (Connection, counts::CountCache);

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    permits: Arc<Semaphore>,
    size: usize,
    /// The properties of recently read objects, shared by the readers.
    properties: Arc<properties_cache::PropertiesCache>,
}

impl ReaderPool {
    /// An idle reader, if one is left (the caller holds a permit).
    /// What a new reader connection starts with: no counts, the shared properties cache.
    fn new_state(&self) -> counts::CountCache {
        counts::CountCache::with_properties(self.properties.clone())
    }

    fn take_idle(&self) -> Option<Reader> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    /// A reader back into the pool after its job. A connection still inside a
    /// transaction would serve an old snapshot: it is dropped instead.
    fn put_back(&self, (conn, counts): Reader) {
        if conn.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push((conn, counts));
            }
        }
    }
}

/// The versions of the embedded store's migrations (the SQL Server store has the same).
#[cfg(test)]
pub(crate) fn migration_versions() -> Vec<i64> {
    migrate::MIGRATIONS.iter().map(|m| m.version).collect()
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Bytes SQLite holds in this process now, all its connections together (its page caches,
/// prepared statements and schemas; the bundled build keeps these statistics).
pub fn heap_bytes() -> i64 {
    // SAFETY: sqlite3_memory_used takes no arguments and only reads SQLite's counters.
    unsafe { rusqlite::ffi::sqlite3_memory_used() }
}

/// What the process's properties cache holds now, as its weigher estimates it.
pub fn properties_cache_bytes() -> u64 {
    properties_cache::PropertiesCache::kept_bytes()
}

/// Refuses (as [`StoreError::Config`]) an existing file that is not a datastore database:
/// not SQLite at all, or holding tables but no `SchemaVersions`. An app's file is only
/// ever created by the datastore; one found with other tables is someone else's.
pub fn check_app_file(path: &str) -> Result<(), StoreError> {
    let path = Path::new(path);
    if !path.exists() {
        return Ok(());
    }
    let refused = |why: &str| {
        StoreError::Config(format!(
            "{} exists and is not a datastore database ({why}): it is not used for an app",
            path.display()
        ))
    };
    if !path.is_file() {
        return Err(refused("not a file"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|_| refused("not SQLite"))?;
    let counted: Result<(i64, i64), rusqlite::Error> = conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE name = 'SchemaVersions') FROM sqlite_schema \
         WHERE type = 'table'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    match counted {
        Ok((tables, ours)) if tables == 0 || ours == 1 => Ok(()),
        Ok(_) => Err(refused("it holds other tables")),
        Err(_) => Err(refused("not SQLite")),
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    if !read_only {
        // The writer's plans never depend on a bound value (SQLite's "query planner
        // stability guarantee"). Without it, a statement whose plan looked at a value
        // (STAT4 samples of an index, a LIMIT) is prepared again each time a new value is
        // bound: loading the saved object's properties was parsed and planned anew on every
        // write, 14 % of the writer's time. Readers keep value-aware plans for queries.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA mmap_size = 0;")?;
    let cache = if read_only {
        READER_CACHE_KIB
    } else {
        WRITER_CACHE_KIB
    };
    conn.pragma_update(None, "cache_size", -cache)?;
    // Only the writer commits: its level is what `--synchronous` promises.
    let synchronous = match super::synchronous() {
        super::Synchronous::Normal => "NORMAL",
        super::Synchronous::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Planner statistics, at open and then periodically (see OPTIMIZE_EVERY). Only a
        // table whose size changed tenfold since its last analysis is analysed again, and
        // fully: sampled statistics mislead the planner on EAV rows (about 7 s at a million
        // objects, once).
        conn.execute_batch("PRAGMA optimize = 0x10002;")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    query::register_functions(&conn)?;
    Ok(conn)
}

/// How long a start-up keeps trying to open a database that other processes are opening.
const OPEN_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The writer's connection (migrated when `migrate`) and the checkpointer's.
///
/// Several processes started at once on a new file race for its switch to WAL and its first
/// migrations. There SQLite may answer SQLITE_BUSY without calling the busy handler: a
/// connection holding a read lock that asks for the write lock while another holds it and
/// waits for the readers would deadlock, so SQLite refuses at once (in the rollback-journal
/// mode a new file starts in). The whole open is tried again, after a short pause that grows,
/// for up to [`OPEN_BUSY_WAIT`]; every step of it is safe to repeat (each migration checks
/// under the write lock whether another process applied it).
fn open_writer(path: &Path, migrate: bool) -> Result<(Connection, Connection), StoreError> {
    let started = std::time::Instant::now();
    let mut pause_ms = 2 + u64::from(std::process::id() % 7);
    loop {
        let attempt = (|| {
            let mut conn = open_connection(path, false)?;
            if migrate {
                migrate::run(&mut conn)?;
            }
            Ok((conn, checkpoint::open(path)?))
        })();
        match attempt {
            Err(StoreError::Busy) if started.elapsed() < OPEN_BUSY_WAIT => {
                tracing::debug!(pause_ms, "the database is being opened by another process");
                std::thread::sleep(std::time::Duration::from_millis(pause_ms));
                pause_ms = (pause_ms * 2).min(250);
            }
            other => return other,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, with its directory.
    pub async fn open(path: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = PathBuf::from(path);
        if path.as_os_str().is_empty() {
            return Err(StoreError::Config("sqlite:// needs a file path".into()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let migrate = options.migrate;
        let writer_path = path.clone();
        let (conn, checkpointer) =
            tokio::task::spawn_blocking(move || open_writer(&writer_path, migrate))
                .await
                .map_err(|e| StoreError::Database(e.to_string()))??;

        let (tx, rx) = mpsc::sync_channel::<WriteJob>(WRITE_QUEUE);
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let taken = queued.clone();
        // The writer leaves checkpoints to a thread of their own (see `checkpoint`): it
        // stops when the writer does, which drops `running`. Its own auto-checkpoint stays
        // as a backstop at 10,000 pages: a PASSIVE checkpoint beside a steady writer may
        // never catch up with the WAL's end, and only a checkpoint that does lets the next
        // write start the WAL over; the writer's finds most frames copied already.
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_BACKSTOP_PAGES,
        )?;
        let (running, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint::run(checkpointer, &stopped))
            .map_err(|e| StoreError::Database(format!("cannot start the checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _running = running;
                writer::run(conn, rx, taken)
            })
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;

        let readers = options.pool_size.clamp(1, 64) as usize;
        Ok(SqliteStore {
            writer: tx,
            queued,
            readers: Arc::new(ReaderPool {
                path,
                idle: Mutex::new(Vec::with_capacity(readers)),
                permits: Arc::new(Semaphore::new(readers)),
                size: readers,
                properties: Arc::new(properties_cache::PropertiesCache::new()),
            }),
            signal: Arc::new(tokio::sync::watch::channel(0).0),
        })
    }

    /// Runs `job` on the writer thread (in a group) and waits for its answer, which comes
    /// once the commit holding it succeeded.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(job, false).await
    }

    /// As [`Self::write`], in a group of its own (see [`writer::WriteJob`]).
    async fn write_solo<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(job, true).await
    }

    async fn send_write<T, F>(&self, job: F, solo: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // Who acts in the request, for the change log and its idempotency claim (the writer
        // thread runs jobs of many requests).
        let acting = crate::store::changes::Acting::current();
        let job = WriteJob::new(
            move |conn: &mut Connection| acting.on_thread(|| job(conn)),
            move |result| {
                let _ = tx.send(result);
            },
            solo,
        );
        // Counted before it is sent: the writer may take it (and count down) at once.
        self.queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.writer.try_send(job).map_err(|e| {
            self.queued
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            match e {
                // Overload: answer 503 rather than queue without bound.
                mpsc::TrySendError::Full(_) => StoreError::Busy,
                mpsc::TrySendError::Disconnected(_) => {
                    StoreError::Database("the writer has stopped".into())
                }
            }
        })?;
        let done = rx
            .await
            .map_err(|_| StoreError::Database("the write was abandoned".into()))?;
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
        done
    }

    /// Runs `job` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.read_with_counts(move |conn, _| job(conn)).await
    }

    /// Runs `job` in one read transaction (one snapshot), with the connection's counts.
    async fn read_snapshot<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut counts::Snapshot<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.read_with_counts(move |conn, counts| {
            let mut snapshot = counts::Snapshot::begin(conn, counts)?;
            let result = job(&mut snapshot)?;
            snapshot.end()?;
            Ok(result)
        })
        .await
    }

    /// Runs a short, bounded `job` (a primary-key seek, one object's rows by its key) on the
    /// calling thread when a reader is idle, else as [`Self::read`] does. The hop to the
    /// blocking pool and back (two thread wake-ups) costs more than such a read of cached
    /// pages; a worker thread waits on the disk only
    /// when the pages are not in the OS's cache. The permit keeps the pool at its size, as
    /// for any read.
    async fn read_short<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if let Ok(permit) = self.readers.permits.try_acquire() {
            if let Some(reader) = self.readers.take_idle() {
                // A panic becomes an error, as on the blocking pool, instead of unwinding
                // through the request's middlewares; the connection goes with it.
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&reader.0)))
                        .map_err(|_| StoreError::Database("a read failed: it panicked".into()))?;
                self.readers.put_back(reader);
                drop(permit);
                return result;
            }
        }
        self.read(job).await
    }

    async fn read_with_counts<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut counts::CountCache) -> Result<T, StoreError> + Send + 'static,
    {
        read_on(&self.readers, job).await
    }
}

/// Runs `job` on a reader connection of `readers` on the blocking pool.
async fn read_on<T, F>(readers: &Arc<ReaderPool>, job: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut counts::CountCache) -> Result<T, StoreError> + Send + 'static,
{
    {
        let permit = tokio::time::timeout(READ_WAIT, readers.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Busy)?
            .map_err(|_| StoreError::Database("the reader pool is closed".into()))?;
        let pool = readers.clone();
        tokio::task::spawn_blocking(move || {
            let (conn, mut counts) = match pool.take_idle() {
                Some(reader) => reader,
                None => (open_connection(&pool.path, true)?, pool.new_state()),
            };
            let result = job(&conn, &mut counts);
            pool.put_back((conn, counts));
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("a read failed: {e}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn pool_stats(&self) -> crate::store::PoolStats {
        let size = self.readers.size;
        crate::store::PoolStats {
            writer_queue: self.queued.load(std::sync::atomic::Ordering::Relaxed),
            connections_in_use: size.saturating_sub(self.readers.permits.available_permits()),
            connections_max: size,
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        // An idle reader answers `SELECT 1` in microseconds, on the calling thread (load
        // balancers ask often).
        self.read_short(|c: &Connection| -> Result<(), StoreError> {
            c.prepare_cached("SELECT 1")?
                .query_row([], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        self.read(migrate::applied).await
    }

    async fn apply_config(&self, config: &Config) -> Result<AppliedConfig, StoreError> {
        let config = config.clone();
        self.write(move |c| config::apply_config(c, &config)).await
    }

    async fn stored_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        self.read(config::stored_config).await
    }

    async fn config_versions(&self) -> Result<ConfigVersions, StoreError> {
        self.read(config::versions).await
    }

    async fn display_batch_end(
        &self,
        owner_type: &str,
        after: ObjectId,
        batch: u32,
    ) -> Result<Option<ObjectId>, StoreError> {
        let ty = owner_type.to_owned();
        self.read(move |c| config::batch_end(c, &ty, after, batch.max(1)))
            .await
    }

    async fn lookup_targets(
        &self,
        owner_type: &str,
        property: &str,
        ids: (ObjectId, ObjectId),
    ) -> Result<Vec<ObjectId>, StoreError> {
        let (ty, name) = (owner_type.to_owned(), property.to_owned());
        self.read(move |c| config::lookup_targets(c, &ty, &name, ids.0, ids.1))
            .await
    }

    async fn refresh_display_batch(
        &self,
        refresh: &DisplayRefresh,
        owner_type: &str,
        ids: (ObjectId, ObjectId),
        version: i64,
    ) -> Result<u64, StoreError> {
        let (r, ty) = (refresh.clone(), owner_type.to_owned());
        self.write(move |c| config::refresh_batch(c, &r, &ty, ids.0, ids.1, version))
            .await
    }

    async fn mark_displays_refreshed(&self, version: i64) -> Result<(), StoreError> {
        self.write(move |c| config::mark_displays_refreshed(c, version))
            .await
    }

    async fn new_object(&self, req: NewObject) -> Result<ObjectRecord, StoreError> {
        self.write(move |c| objects::new_object(c, &req)).await
    }

    async fn new_objects(&self, reqs: Vec<NewObject>) -> Result<Vec<ObjectId>, StoreError> {
        self.write(move |c| objects::new_objects(c, &reqs)).await
    }

    async fn object_type(&self, id: ObjectId) -> Result<Option<String>, StoreError> {
        // Every save asks first (its conversion follows the type): a primary-key seek.
        self.read_short(move |c| objects::object_type_of(c, id))
            .await
    }

    async fn object_types(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.read(move |c| objects::object_types(c, limit)).await
    }

    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError> {
        let cache = self.readers.properties.clone();
        self.read_short(move |c| objects::load_kept(c, &cache, id))
            .await
    }

    async fn save_properties(&self, req: SaveProperties) -> Result<ObjectRecord, StoreError> {
        self.write(move |c| objects::save_properties(c, &req)).await
    }

    async fn change_object_type(
        &self,
        id: ObjectId,
        object_type: &str,
        config_version: i64,
    ) -> Result<ObjectRecord, StoreError> {
        let object_type = object_type.to_owned();
        self.write(move |c| objects::change_object_type(c, id, &object_type, config_version))
            .await
    }

    async fn drop_object(&self, req: DropObject) -> Result<Vec<ObjectId>, StoreError> {
        self.write(move |c| relations::drop_object(c, &req)).await
    }

    async fn save_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    ) -> Result<(), StoreError> {
        self.write(move |c| relations::save_relationship(c, parent, child, strict))
            .await
    }

    async fn drop_relationship(
        &self,
        parent: ObjectId,
        child: ObjectId,
    ) -> Result<bool, StoreError> {
        self.write(move |c| relations::drop_relationship(c, parent, child))
            .await
    }

    async fn related(&self, query: &RelatedQuery) -> Result<RelatedPage, StoreError> {
        let query = query.clone();
        self.read_snapshot(move |s| relations::related(s, &query))
            .await
    }

    async fn property_names(
        &self,
        object_type: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<(String, PropertyType)>, StoreError> {
        let object_type = object_type.to_owned();
        let names = names.map(<[String]>::to_vec);
        self.read(move |c| columns::property_names(c, &object_type, names.as_deref()))
            .await
    }

    async fn list_table(&self, query: &TableQuery) -> Result<Page, StoreError> {
        let query = query.clone();
        self.read_snapshot(move |s| table::list_table(s, &query))
            .await
    }

    async fn query(
        &self,
        plan: &QueryPlan,
        columns: Option<&[String]>,
    ) -> Result<Page, StoreError> {
        let plan = plan.clone();
        let columns = columns.map(<[String]>::to_vec);
        self.read_snapshot(move |s| query::run(s, &plan, columns.as_deref()))
            .await
    }

    async fn aggregate(
        &self,
        plan: &crate::store::AggregatePlan,
    ) -> Result<Vec<crate::store::AggregateRow>, StoreError> {
        let plan = plan.clone();
        self.read_snapshot(move |s| aggregate::run(s, &plan)).await
    }

    async fn create_file(&self, file: &NewFile) -> Result<FileId, StoreError> {
        let file = file.clone();
        self.write(move |c| files::create(c, &file)).await
    }

    async fn write_file_chunk(
        &self,
        file_id: FileId,
        seq: u32,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.write(move |c| files::write_chunk(c, file_id, seq, &data))
            .await
    }

    async fn link_file(&self, req: LinkFile) -> Result<ObjectRecord, StoreError> {
        self.write(move |c| files::link(c, &req)).await
    }

    async fn delete_file(&self, file_id: FileId) -> Result<bool, StoreError> {
        self.write(move |c| files::delete(c, file_id)).await
    }

    async fn sweep_pending_files(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        self.write(move |c| files::sweep(c, before)).await
    }

    async fn linked_file(
        &self,
        object_id: ObjectId,
        property: &str,
    ) -> Result<Option<FileInfo>, StoreError> {
        let property = property.to_owned();
        self.read(move |c| files::linked(c, object_id, &property))
            .await
    }

    async fn file_chunk(&self, file_id: FileId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| files::chunk(c, file_id, seq)).await
    }

    async fn files(&self, after: FileId, limit: u32) -> Result<Vec<FileInfo>, StoreError> {
        self.read(move |c| files::list(c, after, limit)).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let key = key.clone();
        self.write(move |c| keys::insert(c, &key)).await
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| keys::get(c, &id)).await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.read(keys::list).await
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |c| keys::revoke(c, &id, at)).await
    }

    async fn any_api_key(&self) -> Result<bool, StoreError> {
        self.read(keys::any).await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn export_data(&self, sink: crate::store::ExportSink) -> Result<(), StoreError> {
        self.read(move |c| transfer::export(c, &sink)).await
    }

    async fn import_data(
        &self,
        source: crate::store::ImportSource,
        replace: bool,
    ) -> Result<crate::store::TransferCounts, StoreError> {
        self.write_solo(move |c| transfer::import(c, source, replace))
            .await
    }

    async fn record_app(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |c| apps::record(c, &name)).await
    }

    async fn apps(&self) -> Result<Vec<super::AppRecord>, StoreError> {
        self.read(apps::list).await
    }

    async fn refresh_lookups_to(
        &self,
        targets: Vec<ObjectId>,
        sites: Vec<super::LookupSite>,
        text: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = objects::begin(c)?;
            objects::refresh_dependents(&tx, &targets, &sites, text.as_deref())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn lookups_at(
        &self,
        owner_type: &str,
        property: &str,
        targets: &[ObjectId],
    ) -> Result<Vec<ObjectId>, StoreError> {
        let (owner_type, property, targets) =
            (owner_type.to_owned(), property.to_owned(), targets.to_vec());
        self.read(move |c| objects::lookups_at(c, &owner_type, &property, &targets))
            .await
    }

    async fn start_ids_at(&self, first: ObjectId) -> Result<(), StoreError> {
        self.write(move |c| apps::start_ids_at(c, first)).await
    }

    async fn build_projection_batch(&self) -> Result<Option<super::ProjectionStatus>, StoreError> {
        self.write(projection::build_batch).await
    }

    async fn projections(&self) -> Result<Vec<super::ProjectionStatus>, StoreError> {
        self.read(projection::status).await
    }

    async fn reset_projections(
        &self,
        object_type: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let object_type = object_type.map(str::to_owned);
        self.write(move |c| projection::reset(c, object_type.as_deref()))
            .await
    }

    async fn lookups_to(&self, targets: &[ObjectId]) -> Result<Vec<ObjectId>, StoreError> {
        let targets = targets.to_vec();
        self.read(move |c| objects::lookups_to(c, &targets)).await
    }

    async fn lock_references(
        &self,
        exclusive: bool,
    ) -> Result<Box<dyn super::ReferenceLock>, StoreError> {
        let lock = references::FileLock::take(&self.readers.path, exclusive).await?;
        Ok(Box::new(references::SqliteReferenceLock {
            _lock: lock,
            readers: self.readers.clone(),
        }))
    }

    async fn batch(
        &self,
        plan: Arc<dyn super::BatchPlan>,
    ) -> Result<Vec<super::WriteOutcome>, super::BatchFailure> {
        self.write(move |c| Ok(batch::run(c, &plan)))
            .await
            .map_err(super::BatchFailure::whole)?
    }

    async fn history(
        &self,
        object_id: ObjectId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<super::Change>, StoreError> {
        self.read_snapshot(move |s| changes::history(s.conn, object_id, after, limit))
            .await
    }

    async fn changes_since(
        &self,
        after: i64,
        filter: &super::ChangeFilter,
        limit: u32,
    ) -> Result<super::ChangePage, StoreError> {
        let filter = filter.clone();
        self.read_snapshot(move |s| changes::since(s.conn, after, &filter, limit))
            .await
    }

    async fn prune_changes(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.write(move |c| changes::prune(c, before, batch)).await
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.subscribe()
    }

    async fn claim_idempotency(
        &self,
        key: &str,
        body_hash: &str,
        token: &str,
        stale: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Claim, StoreError> {
        let (key, hash, token) = (key.to_owned(), body_hash.to_owned(), token.to_owned());
        self.write(move |c| changes::claim(c, &key, &hash, &token, stale))
            .await
    }

    async fn finish_idempotency(
        &self,
        key: &str,
        token: &str,
        response: Option<String>,
    ) -> Result<(), StoreError> {
        let (key, token) = (key.to_owned(), token.to_owned());
        self.write(move |c| changes::finish(c, &key, &token, response.as_deref()))
            .await
    }

    async fn prune_idempotency(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.write(move |c| changes::prune_idempotency(c, before, batch))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_of_one_objects_changes_goes_on_from_the_head_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        let new = || super::super::NewObject {
            object_type: "Thing".into(),
            properties: Vec::new(),
            config_version: 0,
        };
        let first = store.new_object(new()).await.unwrap();
        for _ in 0..3 {
            store.new_object(new()).await.unwrap();
        }
        let filter = super::super::ChangeFilter {
            object_types: Vec::new(),
            object_id: Some(first.id),
        };
        let page = store.changes_since(0, &filter, 100).await.unwrap();
        assert_eq!(page.changes.len(), 1);
        // Nothing of that object lies between its change and the head: a stream filtered
        // by it goes on from the head, not from its own last change (it would read the same
        // range again at once, forever).
        assert_eq!(page.through, page.head);
        assert!(page.head > page.changes[0].change_id);
        let again = store
            .changes_since(page.through, &filter, 100)
            .await
            .unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.through, again.head);
    }

    #[tokio::test]
    async fn the_checkpointer_moves_committed_writes_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        let mut ids = Vec::new();
        for _ in 0..50 {
            let new = super::super::NewObject {
                object_type: "Thing".into(),
                properties: Vec::new(),
                config_version: 0,
            };
            ids.push(store.new_object(new).await.unwrap().id);
        }
        // The writer checkpoints only past 10,000 WAL pages: only the checkpointer
        // thread can have copied the objects into the file itself. A copy of the file
        // without its WAL shows what is there.
        let copy = dir.path().join("copy.db");
        let found = async {
            loop {
                std::fs::copy(&path, &copy).unwrap();
                let conn = Connection::open(&copy).unwrap();
                let n: i64 = conn
                    .query_row("SELECT COUNT(*) FROM Objects", [], |r| r.get(0))
                    .unwrap_or(0);
                if n == ids.len() as i64 {
                    return n;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), found)
            .await
            .expect("the objects reach the database file");
        assert_eq!(n, 50);
    }

    #[tokio::test]
    async fn a_full_write_queue_answers_busy_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        // Hold the writer, then fill its queue.
        let (release, held) = mpsc::channel::<()>();
        let hold = WriteJob::new(
            move |_| Ok(held.recv().is_ok()),
            |_: Result<bool, StoreError>| {},
            false,
        );
        store.writer.try_send(hold).unwrap();
        let mut queued = 0;
        let nothing = || WriteJob::new(|_| Ok(()), |_: Result<(), StoreError>| {}, false);
        while store.writer.try_send(nothing()).is_ok() {
            queued += 1;
            assert!(queued <= WRITE_QUEUE + 1, "the queue must be bounded");
        }
        assert!(matches!(
            store.write(|_| Ok(())).await,
            Err(StoreError::Busy)
        ));
        // Once the writer is free again, writes go through.
        release.send(()).unwrap();
        let drained = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while store.write(|_| Ok(())).await.is_err() {
                tokio::task::yield_now().await;
            }
        });
        assert!(
            drained.await.is_ok(),
            "writes go through once the queue drains"
        );
    }

    #[test]
    fn a_cached_statement_is_not_prepared_again_for_each_new_value() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join("d.db"), false).unwrap();
        conn.execute_batch(
            "CREATE TABLE p (owner INTEGER NOT NULL, name TEXT NOT NULL, value TEXT, \
                 PRIMARY KEY (owner, name)) WITHOUT ROWID;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO p SELECT i / 8, 'p' || (i % 8), 'v' FROM n;
             ANALYZE;",
        )
        .unwrap();
        // The samples that tempt the planner to look at bound values are there.
        let samples: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_stat4", [], |r| r.get(0))
            .unwrap();
        assert!(samples > 0);
        let sql = "SELECT name, value FROM p WHERE owner = ?1 ORDER BY name";
        for owner in 1..=20 {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let rows = stmt
                .query_map([owner], |r| r.get::<_, String>(0))
                .unwrap()
                .count();
            assert_eq!(rows, 8);
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "prepared again when a new value was bound"
        );
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 20);
    }

    #[tokio::test]
    async fn a_reader_loads_objects_without_preparing_the_statement_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        store
            .write(|c| {
                c.execute_batch(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
                     INSERT INTO Objects (ObjectId, ObjectType, CreatedAt, UpdatedAt)
                     SELECT i, 'Thing', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                     FROM n;
                     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2399)
                     INSERT INTO Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue)
                     SELECT 1 + i / 8, 'p' || (i % 8), 'String', 'v' FROM n;
                     ANALYZE;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        drop(store);
        // A reader: no planner stability guarantee, and STAT4 samples of the primary key.
        let conn = open_connection(&path, true).unwrap();
        let samples: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_stat4 WHERE tbl = 'Properties'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(samples > 0);
        for id in 1..=20 {
            let object = objects::load(&conn, id, None).unwrap().unwrap();
            assert_eq!(object.properties.len(), 8);
        }
        let stmt = conn
            .prepare_cached(objects::SELECT_OBJECT_AND_PROPERTIES)
            .unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_writers_are_all_committed_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = Arc::new(
            SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
                .await
                .unwrap(),
        );
        store
            .write(|c| Ok(c.execute_batch("CREATE TABLE w (task INTEGER, n INTEGER)")?))
            .await
            .unwrap();
        let (tasks, each) = (64, 40);
        let writers: Vec<_> = (0..tasks)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..each {
                        // Every third write of task 0 fails: only its own savepoint goes.
                        let fail = task == 0 && n % 3 == 0;
                        let answer = store
                            .write(move |c| {
                                let tx = objects::begin(c)?;
                                tx.execute("INSERT INTO w VALUES (?1, ?2)", [task, n])?;
                                if fail {
                                    return Err(StoreError::Database("refused".into()));
                                }
                                tx.commit()?;
                                Ok(())
                            })
                            .await;
                        assert_eq!(answer.is_ok(), !fail, "task {task} write {n}: {answer:?}");
                        // Answered means committed: a fresh reader sees it.
                        if !fail {
                            let seen = store
                                .read(move |c| {
                                    Ok(c.query_row(
                                        "SELECT count(*) FROM w WHERE task = ?1 AND n = ?2",
                                        [task, n],
                                        |r| r.get::<_, i64>(0),
                                    )?)
                                })
                                .await
                                .unwrap();
                            assert_eq!(seen, 1);
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let (rows, distinct) = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*), count(DISTINCT task * 1000 + n) FROM w",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?)
            })
            .await
            .unwrap();
        let failed = (0..each).filter(|n| n % 3 == 0).count() as i64;
        assert_eq!(rows, tasks * each - failed);
        assert_eq!(distinct, rows);
    }
}

#[cfg(test)]
mod read_short_tests {
    use super::*;
    use crate::store::StoreOptions;

    /// A read on the request's thread that panics answers an error, as on the blocking
    /// pool, and the pool keeps its size: the next reads are served.
    #[tokio::test]
    async fn a_panicking_short_read_is_an_error_and_the_pool_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        store.health().await.unwrap();
        let size = store.readers.size;
        let failed = store
            .read_short(|_: &Connection| -> Result<(), StoreError> { panic!("a bug in a read") })
            .await;
        assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
        assert_eq!(store.readers.permits.available_permits(), size);
        for _ in 0..size + 1 {
            store.health().await.unwrap();
        }
        assert_eq!(store.get_object(1).await.unwrap(), None);
    }
}
