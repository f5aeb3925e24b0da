//! Rebuilding the query projections (docs/QUERY.md, "Projections"): batch after batch, each
//! one transaction of the store, until every projection is complete. Any process may do it
//! (the one that applied the DSConfig, `datastore reindex`, or a `serve` that finds a rebuild
//! overdue): batches are serialised by the store and each continues where the last one,
//! whoever ran it, stopped.

use crate::store::{Store, StoreError};

/// How long, and how many times, a batch waits for an overloaded store before giving up.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
const BUSY_WAITS: u32 = 1200;

/// Runs batches until every projection is complete; returns how many batches ran.
pub async fn build_all(store: &dyn Store) -> Result<u64, StoreError> {
    let mut batches = 0;
    let mut waits = 0;
    loop {
        match store.build_projection_batch().await {
            Ok(Some(_)) => {
                batches += 1;
                waits = 0;
            }
            Ok(None) => return Ok(batches),
            Err(StoreError::Busy) if waits < BUSY_WAITS => {
                waits += 1;
                tokio::time::sleep(BUSY_WAIT).await;
            }
            Err(e) => return Err(e),
        }
    }
}
