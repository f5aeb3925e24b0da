//! Counts of matches (`X-Total-Count`), remembered per reader connection until the database
//! changes, whoever changed it.
//!
//! Counting every match of a broad filter is the expensive half of a list request on EAV
//! rows (the page itself can stop at its limit). Clients page through the same query, so
//! each reader connection remembers its counts together with the `PRAGMA data_version` it
//! took them at. SQLite changes that number for a connection whenever any other connection
//! commits, in this process or in another one (a second `serve`, the CLI), so a count taken
//! at another version is never used. The version is read inside the read transaction that
//! also counts and reads the page (see [`Snapshot`]), so count and page come from one
//! snapshot and a remembered count is exactly what a fresh count would say.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::properties_cache::PropertiesCache;

use crate::store::StoreError;

/// Counts remembered at most per connection; the whole memory is dropped when it is full.
const CAPACITY: usize = 128;

/// Longest statement-and-parameters key remembered: a count with a longer one (a filter
/// with a huge literal) is taken every time rather than kept in memory.
const MAX_KEY_BYTES: usize = 4096;

/// The counts one reader connection remembers.
#[derive(Default)]
pub(crate) struct CountCache {
    /// The data version the counts below were taken at.
    version: i64,
    counts: HashMap<String, u64>,
    /// Numbers of matches kept across data versions, only for choosing a plan (never for
    /// an answer): a list reloaded after each write has about as many matches as before.
    estimates: HashMap<String, Estimate>,
    /// The store's properties cache, shared by its readers (none in tests that make a
    /// connection of their own).
    pub(crate) properties: Option<Arc<PropertiesCache>>,
}

impl CountCache {
    /// A new reader's: nothing remembered, the store's properties cache.
    pub(crate) fn with_properties(properties: Arc<PropertiesCache>) -> CountCache {
        CountCache {
            properties: Some(properties),
            ..Default::default()
        }
    }
}

/// How many rows a filter matched when last counted on this connection (at any data
/// version): exactly `n`, or at least `n` (a count capped at `n`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub n: u64,
    pub exact: bool,
}

/// A read transaction on one connection: every statement in it sees the same snapshot.
pub(crate) struct Snapshot<'c> {
    pub conn: &'c Connection,
    counts: &'c mut CountCache,
}

impl<'c> Snapshot<'c> {
    /// Starts a read transaction and fixes its snapshot (the `PRAGMA data_version` read is
    /// its first read); forgets counts taken at another version.
    pub(crate) fn begin(
        conn: &'c Connection,
        counts: &'c mut CountCache,
    ) -> Result<Snapshot<'c>, StoreError> {
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        let version = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        };
        if counts.version != version {
            counts.version = version;
            counts.counts.clear();
        }
        Ok(Snapshot { conn, counts })
    }

    /// Ends the read transaction.
    /// The store's properties cache, when this snapshot may use it.
    pub(crate) fn properties(&self) -> Option<&PropertiesCache> {
        self.counts.properties.as_deref()
    }

    pub(crate) fn end(self) -> Result<(), StoreError> {
        if !self.conn.is_autocommit() {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(())
    }

    /// `SELECT COUNT(*) ...` with `params`, from memory when the database has not changed
    /// since the same count was taken on this connection.
    pub(crate) fn count(&mut self, sql: &str, params: &[Sql]) -> Result<u64, StoreError> {
        let key = format!("{sql}\u{0}{params:?}");
        if let Some(&n) = self.counts.counts.get(&key) {
            return Ok(n);
        }
        let n: i64 = super::literal::with_statement(self.conn, sql, params, |s, p| {
            Ok(s.query_row(params_from_iter(p.iter()), |r| r.get(0))?)
        })?;
        let n = n.max(0) as u64;
        if key.len() > MAX_KEY_BYTES {
            return Ok(n);
        }
        if self.counts.counts.len() >= CAPACITY {
            self.counts.counts.clear();
        }
        self.counts.counts.insert(key, n);
        Ok(n)
    }

    /// What [`Snapshot::remember`] last kept for the count `sql` with `params`, at any
    /// data version: for choosing a plan only.
    pub(crate) fn estimate(&self, sql: &str, params: &[Sql]) -> Option<Estimate> {
        #[cfg(test)]
        if let Some(fake) = FAKE_ESTIMATE.with(|f| f.get()) {
            return Some(fake);
        }
        self.counts
            .estimates
            .get(&format!("{sql}\u{0}{params:?}"))
            .copied()
    }

    /// Keeps `estimate` as the number of matches of the count `sql` with `params`.
    pub(crate) fn remember(&mut self, sql: &str, params: &[Sql], estimate: Estimate) {
        let key = format!("{sql}\u{0}{params:?}");
        if key.len() > MAX_KEY_BYTES {
            return;
        }
        let estimates = &mut self.counts.estimates;
        if estimates.len() >= CAPACITY && !estimates.contains_key(&key) {
            estimates.clear();
        }
        estimates.insert(key, estimate);
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: every estimate is this one (a stale or wrong one chooses another plan, never
    /// another answer).
    pub(crate) static FAKE_ESTIMATE: std::cell::Cell<Option<Estimate>> = const { std::cell::Cell::new(None) };
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // An error between begin and end leaves the transaction open: close it.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection, cache: &mut CountCache, min: i64) -> u64 {
        let mut s = Snapshot::begin(conn, cache).unwrap();
        let n = s
            .count("SELECT COUNT(*) FROM t WHERE x > ?", &[Sql::Integer(min)])
            .unwrap();
        s.end().unwrap();
        n
    }

    #[test]
    fn a_commit_by_another_connection_makes_remembered_counts_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);",
            )
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        let mut cache = CountCache::default();
        assert_eq!(count(&reader, &mut cache, 0), 2);
        assert_eq!(count(&reader, &mut cache, 0), 2);
        writer.execute("INSERT INTO t VALUES (3)", []).unwrap();
        assert_eq!(count(&reader, &mut cache, 0), 3);
        assert_eq!(count(&reader, &mut cache, 2), 1);
    }

    #[test]
    fn count_and_later_reads_share_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        let mut cache = CountCache::default();
        let mut s = Snapshot::begin(&reader, &mut cache).unwrap();
        assert_eq!(
            s.count("SELECT COUNT(*) FROM t WHERE x > ?", &[Sql::Integer(0)])
                .unwrap(),
            1
        );
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let rows: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "a commit after the snapshot is not seen by it");
        s.end().unwrap();
    }

    #[test]
    fn a_count_with_a_huge_key_is_taken_but_not_kept() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES ('a');")
            .unwrap();
        let mut cache = CountCache::default();
        let huge = Sql::Text("a".repeat(MAX_KEY_BYTES));
        let mut s = Snapshot::begin(&conn, &mut cache).unwrap();
        assert_eq!(
            s.count("SELECT COUNT(*) FROM t WHERE x <> ?", &[huge])
                .unwrap(),
            1
        );
        assert_eq!(
            s.count("SELECT COUNT(*) FROM t WHERE x <> ?", &[Sql::Integer(1)])
                .unwrap(),
            1
        );
        s.end().unwrap();
        assert_eq!(cache.counts.len(), 1, "only the small key is remembered");
    }
}
