//! Counts of matches (`X-Total-Count`), remembered until the next write.
//!
//! Counting every match of a broad filter is the expensive half of a list request on EAV
//! rows (the page itself can stop at its limit). Clients page through the same query, so
//! the store remembers each count together with the write generation it was taken at: any
//! write bumps the generation (on the writer thread, before the writer answers), and a
//! count taken at an older generation is never used. So a cached count is exactly what a
//! fresh count would say.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use crate::store::StoreError;

/// Counts remembered at most; the whole memory is dropped when it is full.
const CAPACITY: usize = 512;

#[derive(Default)]
pub(crate) struct CountCache {
    generation: AtomicU64,
    counts: Mutex<HashMap<String, (u64, u64)>>,
}

impl CountCache {
    /// Called by the writer after every write job.
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// `SELECT COUNT(*) ...` with `params`, from memory when nothing was written since.
    pub(crate) fn count(
        &self,
        conn: &Connection,
        sql: &str,
        params: &[Sql],
    ) -> Result<u64, StoreError> {
        let key = format!("{sql}\u{0}{params:?}");
        // Read the generation before counting: a write during the count makes it stale.
        let generation = self.generation.load(Ordering::SeqCst);
        if let Ok(counts) = self.counts.lock() {
            if let Some(&(at, n)) = counts.get(&key) {
                if at == generation {
                    return Ok(n);
                }
            }
        }
        let n: i64 = conn
            .prepare_cached(sql)?
            .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
        let n = n.max(0) as u64;
        if let Ok(mut counts) = self.counts.lock() {
            if counts.len() >= CAPACITY {
                counts.clear();
            }
            counts.insert(key, (generation, n));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_makes_remembered_counts_stale() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        let cache = CountCache::default();
        let sql = "SELECT COUNT(*) FROM t WHERE x > ?";
        assert_eq!(cache.count(&conn, sql, &[Sql::Integer(0)]).unwrap(), 2);
        conn.execute("INSERT INTO t VALUES (3)", []).unwrap();
        // Without a bump the remembered count is served (the store always bumps).
        assert_eq!(cache.count(&conn, sql, &[Sql::Integer(0)]).unwrap(), 2);
        cache.bump();
        assert_eq!(cache.count(&conn, sql, &[Sql::Integer(0)]).unwrap(), 3);
        assert_eq!(cache.count(&conn, sql, &[Sql::Integer(2)]).unwrap(), 1);
    }
}
