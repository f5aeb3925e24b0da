//! The head of each database's change log, watched by one task per database for every
//! event stream of this process (API.md §12, "Live changes").
//!
//! A stream sleeps until the head moves past what it has sent, then reads its own filtered
//! page. The watcher reads the head at once after a write of this process (the store's
//! change signal) and every [`POLL`] otherwise (writes of other instances): one small query
//! per database however many clients are connected, none while no one listens. The head
//! only ever grows (the largest id in the log, or where retention stopped), so a value
//! read late is never taken for a newer one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{ChangeFilter, Store};

/// How often the head is read when no local write woke the watcher.
pub const POLL: Duration = Duration::from_millis(400);

/// The watchers of this process, by the store they watch (its address, which stays its
/// own while the watcher holds the store).
type Watchers = HashMap<usize, Arc<watch::Sender<i64>>>;

fn watchers() -> &'static Mutex<Watchers> {
    static WATCHERS: OnceLock<Mutex<Watchers>> = OnceLock::new();
    WATCHERS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn address(store: &Arc<dyn Store>) -> usize {
    Arc::as_ptr(store) as *const () as usize
}

/// The head of `store`'s log as its watcher last read it (0 until the first read); a
/// watcher is started when none runs for this store.
pub fn watch(store: &Arc<dyn Store>) -> watch::Receiver<i64> {
    let key = address(store);
    let mut all = watchers().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = all.get(&key) {
        return tx.subscribe();
    }
    let (tx, rx) = watch::channel(0);
    let tx = Arc::new(tx);
    all.insert(key, tx.clone());
    let entry = Entry {
        key,
        tx: tx.clone(),
    };
    tokio::spawn(run(store.clone(), tx, entry));
    rx
}

/// A watcher's place in the registry, given up however the watcher ends: also when its
/// runtime drops it (a worker stopped), so that no stream subscribes to a dead watcher and
/// no later store at the same address inherits it. Its streams then see the channel close
/// and subscribe again.
struct Entry {
    key: usize,
    tx: Arc<watch::Sender<i64>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut all = watchers().lock().unwrap_or_else(|e| e.into_inner());
        if all
            .get(&self.key)
            .is_some_and(|tx| Arc::ptr_eq(tx, &self.tx))
        {
            all.remove(&self.key);
        }
    }
}

/// Reads the head until no stream listens any more.
async fn run(store: Arc<dyn Store>, tx: Arc<watch::Sender<i64>>, entry: Entry) {
    let mut signal = store.change_signal();
    let everything = ChangeFilter::default();
    loop {
        match store.changes_since(i64::MAX, &everything, 1).await {
            Ok(page) => {
                tx.send_if_modified(|head| {
                    let moved = page.head > *head;
                    *head = (*head).max(page.head);
                    moved
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the head of the change log"),
        }
        tokio::select! {
            _ = signal.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        // Leaves under the lock: a stream subscribing meanwhile finds this one or none.
        let mut all = watchers().lock().unwrap_or_else(|e| e.into_inner());
        if tx.receiver_count() == 0 {
            all.remove(&entry.key);
            return;
        }
    }
}

/// How many watchers run in this process.
#[cfg(test)]
fn running() -> usize {
    watchers().lock().unwrap_or_else(|e| e.into_inner()).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_of_one_database_share_one_watcher_that_stops_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::store::StoreOptions {
            pool_size: 2,
            migrate: true,
        };
        let url = format!("sqlite://{}", dir.path().join("h.db").display());
        let store = crate::store::open(&url, &options).await.unwrap();
        let before = running();
        let (mut a, b) = (watch(&store), watch(&store));
        assert_eq!(running(), before + 1, "one watcher for both");
        // A write of this process moves the head at once (well before a poll).
        let version = store.config_versions().await.unwrap().version;
        let written = store.new_object(crate::store::NewObject {
            object_type: "Person".into(),
            properties: Vec::new(),
            config_version: version,
        });
        written.await.unwrap();
        let moved = tokio::time::timeout(POLL * 3, async {
            while *a.borrow_and_update() < 1 {
                a.changed().await.unwrap();
            }
        });
        moved.await.expect("the head moved");
        drop((a, b));
        let stopped = tokio::time::timeout(POLL * 4, async {
            while running() > before {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        stopped.await.expect("the watcher stopped");
    }

    #[test]
    fn a_watcher_dropped_with_its_runtime_leaves_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let options = crate::store::StoreOptions {
            pool_size: 2,
            migrate: true,
        };
        let store = {
            let first = tokio::runtime::Runtime::new().unwrap();
            let store = first.block_on(crate::store::open(&url, &options)).unwrap();
            let rx = first.block_on(async { watch(&store) });
            assert!(watchers().lock().unwrap().contains_key(&address(&store)));
            drop(first); // its tasks go with it, the watcher among them
            let mut rx = rx;
            let second = tokio::runtime::Runtime::new().unwrap();
            second.block_on(async { assert!(rx.changed().await.is_err(), "closed") });
            store
        };
        assert!(!watchers().lock().unwrap().contains_key(&address(&store)));
    }
}
