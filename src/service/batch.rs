//! Running a batch (API.md §12) with the retry rules of the single writes: a batch
//! planned with a DSConfig that is no longer the stored one, or converted for an object
//! whose type changed meanwhile, is planned and run again (nothing of it was stored).

use std::sync::Arc;

use super::{Datastore, Schema, ServiceError, WRITE_ATTEMPTS};
use crate::store::{BatchError, BatchFailure, BatchPlan, StoreError, WriteOutcome};

/// A batch that failed: at operation `index` (from 0; `None`: as a whole), with this error.
pub struct Failed {
    pub index: Option<usize>,
    pub error: BatchError,
}

impl Datastore {
    /// True when this datastore reaches a global one (an app database of a system that
    /// has global types): a batch refuses global objects, which live in another database.
    pub fn has_global(&self) -> bool {
        self.global.get().is_some()
    }

    /// Runs the batch `plan` makes for a DSConfig, planning it again (up to the write
    /// attempts) when the store says the DSConfig or an object's type changed under it.
    pub async fn run_batch<F>(&self, plan: F) -> Result<Vec<WriteOutcome>, Failed>
    where
        F: Fn(Arc<Schema>) -> Result<Arc<dyn BatchPlan>, Failed>,
    {
        let mut attempts = 1;
        loop {
            let planned = plan(self.schema())?;
            match self.store.batch(planned).await {
                Ok(outcomes) => return Ok(outcomes),
                Err(BatchFailure {
                    error: BatchError::Store(StoreError::ConfigChanged | StoreError::TypeChanged(_)),
                    ..
                }) if attempts < WRITE_ATTEMPTS => {
                    attempts += 1;
                    if let Err(e) = self.reload_config().await {
                        return Err(Failed {
                            index: None,
                            error: BatchError::Plan(Box::new(e)),
                        });
                    }
                }
                Err(BatchFailure { index, error }) => return Err(Failed { index, error }),
            }
        }
    }
}

impl From<ServiceError> for Failed {
    /// A failure to plan the batch at all (no operation's).
    fn from(e: ServiceError) -> Self {
        Failed {
            index: None,
            error: BatchError::Plan(Box::new(e)),
        }
    }
}
