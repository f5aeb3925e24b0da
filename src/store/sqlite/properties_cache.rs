//! The properties of recently read objects, kept in memory and checked against the
//! database on every use (docs/DECISIONS.md, "The properties cache").
//!
//! SQLite discards a connection's whole page cache whenever another connection has
//! committed, so after every write a page of 50 objects read its ~400 property rows from
//! ~70 pages again, and decoding them was a third of a table view's CPU. Here a page of
//! objects reads only each object's `Version` (migration 0073: the triggers there move it
//! in the same transaction as any change to the object's property rows, whichever process
//! or path makes it) and takes the properties of every object whose version is the one they
//! were read at. Nothing is trusted without that check, so another process's writes, an
//! import or a display refresh are seen at once.
//!
//! Only read-only connections use it: a writer's transaction may still roll back, and the
//! version it has read would then be handed out again with other rows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::model::ObjectId;
use crate::store::PropertyRow;

/// What the cache may hold, in bytes as [`Weight`] estimates them: about 20,000 objects of
/// 8 short properties.
pub(crate) const CAPACITY_BYTES: u64 = 24 * 1024 * 1024;

/// One object's property rows, sorted by name, as read at `version`.
#[derive(Clone)]
pub(crate) struct Entry {
    pub version: i64,
    pub properties: Arc<[PropertyRow]>,
}

/// An entry's estimated size: the rows, their texts and the map's own share.
#[derive(Clone)]
struct Weight;

impl Weighter<ObjectId, Entry> for Weight {
    fn weight(&self, _: &ObjectId, entry: &Entry) -> u64 {
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

/// The properties of objects, by id, shared by a store's reader connections.
pub(crate) struct PropertiesCache {
    entries: Cache<ObjectId, Entry, Weight>,
    /// Objects whose properties came from memory (for tests and diagnostics).
    hits: AtomicU64,
}

impl PropertiesCache {
    pub(crate) fn new(capacity_bytes: u64) -> PropertiesCache {
        PropertiesCache {
            entries: Cache::with_weighter(
                (capacity_bytes / 1024).max(16) as usize,
                capacity_bytes,
                Weight,
            ),
            hits: AtomicU64::new(0),
        }
    }

    /// The rows of object `id` if they were read at `version`.
    pub(crate) fn get(&self, id: ObjectId, version: i64) -> Option<Arc<[PropertyRow]>> {
        let hit = self
            .entries
            .get(&id)
            .filter(|e| e.version == version)
            .map(|e| e.properties);
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Keeps the rows of object `id`, read at `version` in a read-only snapshot.
    pub(crate) fn put(&self, id: ObjectId, version: i64, properties: Vec<PropertyRow>) {
        self.entries.insert(
            id,
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
