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
use quick_cache::Weighter;

use crate::model::ObjectId;
use crate::store::PropertyRow;

/// What the process's cache may hold, in bytes as [`Weight`] estimates them: about 20,000
/// objects of 8 short properties.
const CAPACITY_BYTES: u64 = 24 * 1024 * 1024;

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
        let rows: usize = entry
            .properties
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
}

/// The process's entries.
fn entries() -> &'static Cache<Key, Entry, Weight> {
    static ENTRIES: OnceLock<Cache<Key, Entry, Weight>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        Cache::with_weighter((CAPACITY_BYTES / 1024) as usize, CAPACITY_BYTES, Weight)
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

    /// Keeps the rows of object `id`, read at `version` in a read-only snapshot.
    pub(crate) fn put(&self, id: ObjectId, version: i64, properties: Vec<PropertyRow>) {
        entries().insert(
            (self.store, id),
            Entry {
                version,
                properties: properties.into(),
            },
        );
    }

    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
