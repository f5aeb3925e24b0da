//! The properties of recently read objects, kept in memory and checked against the
//! database on every use (docs/DECISIONS.md, "The properties cache").
//!
//! SQLite discards a connection's whole page cache whenever another connection has
//! committed, so after every write a page of 50 objects read its ~400 property rows from
//! ~70 pages again, and decoding them was a third of a table view's CPU. Here a page of
//! objects reads only each object's `Version` (migration 0073: the triggers there set it
//! in the same transaction as any change to the object's property rows, whichever process
//! or path makes it) and takes the properties of every object whose version is the one they
//! were read at. Nothing is trusted without that check, so another process's writes, an
//! import or a display refresh are seen at once.
//!
//! Only read-only connections use it: a writer's transaction may still roll back, and the
//! version it has read would then be handed out again with other rows.
//!
//! One cache serves the whole process, its memory bounded once however many databases
//! (apps, globals) are open: each store's entries are keyed by a number of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};

use crate::model::ObjectId;
use crate::store::PropertyRow;

/// What the process's cache may hold, in bytes as [`Weight`] estimates them: about 13,000
/// objects of 8 short properties. The estimate leaves out the allocator's share: full, 24
/// MiB of it cost 32 MB of RSS (docs/BENCHMARKS.md, "`getObject` from the properties
/// cache"), and 16 keeps the process's anonymous memory under 100 MB.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// An object whose rows weigh more is not kept: read each time, it cannot push the many
/// small objects out (an entry a tenth of its shard's size would evict a tenth of it).
const MAX_ENTRY_BYTES: u64 = 32 * 1024;

/// Shards of the cache, fixed: quick_cache's default (4 per core) would give a 16-core
/// machine 64 shards of 256 KiB each, and then an entry near [`MAX_ENTRY_BYTES`] an eighth
/// of one. With 8, each holds 2 MiB however many cores there are.
const SHARDS: usize = 8;

/// A store's number and an object's id.
type Key = (u64, ObjectId);

/// One object's property rows, sorted by name, as read at `version`.
#[derive(Clone)]
pub(crate) struct Entry {
    pub version: i64,
    pub properties: Arc<[PropertyRow]>,
}

/// An entry's estimated size: the rows, their texts and the map's own share.
#[derive(Clone)]
struct Weight;

impl Weighter<Key, Entry> for Weight {
    fn weight(&self, _: &Key, entry: &Entry) -> u64 {
        weight_of(&entry.properties)
    }
}

fn weight_of(properties: &[PropertyRow]) -> u64 {
    let rows: usize = properties
        .iter()
        .map(|p| {
            std::mem::size_of::<PropertyRow>()
                + p.name.len()
                + p.value.len()
                + p.as_string.as_ref().map_or(0, String::len)
        })
        .sum();
    (64 + rows) as u64
}

/// The process's entries.
fn entries() -> &'static Cache<Key, Entry, Weight> {
    static ENTRIES: OnceLock<Cache<Key, Entry, Weight>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let options = OptionsBuilder::new()
            .estimated_items_capacity((CAPACITY_BYTES / 1024) as usize)
            .weight_capacity(CAPACITY_BYTES)
            .shards(SHARDS)
            .build()
            .expect("the cache's options are valid");
        Cache::with_options(options, Weight, Default::default(), Default::default())
    })
}

/// One store's part of the process's cache, shared by its reader connections.
pub(crate) struct PropertiesCache {
    /// This store's number in the keys: a store opened again (an app's database reopened,
    /// a test's second store on one file) starts with nothing kept.
    store: u64,
    /// Objects whose properties came from memory (what the tests check).
    #[cfg(test)]
    hits: AtomicU64,
}

impl PropertiesCache {
    pub(crate) fn new() -> PropertiesCache {
        static STORES: AtomicU64 = AtomicU64::new(0);
        PropertiesCache {
            store: STORES.fetch_add(1, Ordering::Relaxed),
            #[cfg(test)]
            hits: AtomicU64::new(0),
        }
    }

    /// The rows of object `id` if they were read at `version`.
    pub(crate) fn get(&self, id: ObjectId, version: i64) -> Option<Arc<[PropertyRow]>> {
        let hit = entries()
            .get(&(self.store, id))
            .filter(|e| e.version == version)
            .map(|e| e.properties);
        #[cfg(test)]
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Whether `conn` may use the cache: only a read-only connection, whose rows are
    /// committed (a writer's transaction may roll back, and the version it read would then
    /// come again with other rows).
    pub(crate) fn serves(conn: &rusqlite::Connection) -> bool {
        conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
    }

    /// Whether rows like `properties` are kept (see [`MAX_ENTRY_BYTES`]).
    pub(crate) fn keeps(properties: &[PropertyRow]) -> bool {
        weight_of(properties) <= MAX_ENTRY_BYTES
    }

    /// Keeps the rows of object `id`, read at `version` in a read-only snapshot (unless
    /// they are too heavy: [`Self::keeps`]).
    pub(crate) fn put(&self, id: ObjectId, version: i64, properties: Vec<PropertyRow>) {
        if !Self::keeps(&properties) {
            return;
        }
        entries().insert(
            (self.store, id),
            Entry {
                version,
                properties: properties.into(),
            },
        );
    }

    /// What the process's entries weigh now, as [`Weight`] estimates it (at most
    /// [`CAPACITY_BYTES`]): the `datastore_properties_cache_bytes` gauge.
    pub(crate) fn kept_bytes() -> u64 {
        entries().weight()
    }

    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
