//! The global references lock of the embedded store ([`crate::store::Store::lock_references`]):
//! an advisory file lock on `<database>-refs.lock` beside the global database, shared or
//! exclusive (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::lock*`).
//! Every process on the machine sharing the database sees it; the operating system
//! releases it when the process ends. Each holder opens the file itself: locks of one
//! open file would be shared by every holder in the process.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{objects, read_on, ReaderPool};
use crate::model::ObjectId;
use crate::store::{ObjectRecord, ReferenceLock, StoreError, REFERENCE_LOCK_WAIT};

/// The lock file of the database at `path`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-refs.lock");
    PathBuf::from(name)
}

/// A held file lock; closing the file releases it.
pub(super) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the lock of the database at `path`, waiting up to [`REFERENCE_LOCK_WAIT`].
    pub(super) async fn take(path: &Path, exclusive: bool) -> Result<FileLock, StoreError> {
        let path = lock_path(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                StoreError::Database(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let tried = if exclusive {
                file.try_lock()
            } else {
                file.try_lock_shared()
            };
            match tried {
                Ok(()) => return Ok(FileLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::Database(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )))
                }
            }
            if started.elapsed() >= REFERENCE_LOCK_WAIT {
                return Err(StoreError::Busy);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// The lock held, and the store's readers to read under it.
pub(super) struct SqliteReferenceLock {
    pub(super) _lock: FileLock,
    pub(super) readers: Arc<ReaderPool>,
}

#[async_trait]
impl ReferenceLock for SqliteReferenceLock {
    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError> {
        read_on(&self.readers, move |c, _| objects::load(c, id, None)).await
    }
}
