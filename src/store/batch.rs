//! A batch of writes in one transaction (API.md §12): what a backend runs and what it
//! answers. The service plans each step ([`BatchPlan`]) from the outcomes of the steps
//! before it (`$ref` substitution needs the ids they created), so planning happens inside
//! the backend's transaction; it is pure and fast (parameters and conversion only), and may
//! run again when SQL Server retries the transaction.

use super::{DropObject, NewObject, ObjectRecord, SaveProperties, StoreError};
use crate::model::ObjectId;

/// One write of a batch, converted and checked as its single endpoint would.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    NewObject(NewObject),
    SaveProperties(SaveProperties),
    ChangeObjectType {
        object_id: ObjectId,
        object_type: String,
        config_version: i64,
    },
    DropObject(DropObject),
    SaveRelationship {
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    },
    DropRelationship {
        parent: ObjectId,
        child: ObjectId,
    },
}

/// What one write of a batch did.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// newObject, saveProperties, changeObjectType: the object afterwards.
    Object(ObjectRecord),
    /// dropObject: the ids deleted.
    Dropped(Vec<ObjectId>),
    /// saveRelationship: the relationship as saved.
    Related {
        parent: ObjectId,
        child: ObjectId,
        strict: bool,
    },
    /// dropRelationship: whether there was one.
    Unrelated(bool),
}

/// Why a step failed: the store said no, or the plan did (bad parameters, a `$ref` to
/// nothing, a value that does not convert), as the planner's own error.
#[derive(Debug)]
pub enum BatchError {
    Store(StoreError),
    Plan(Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for BatchError {
    fn from(e: StoreError) -> Self {
        BatchError::Store(e)
    }
}

/// A failed batch: the step that failed (from 0; `None` when the batch failed as a whole)
/// and why. Nothing of it is stored.
#[derive(Debug)]
pub struct BatchFailure {
    pub index: Option<usize>,
    pub error: BatchError,
}

impl BatchFailure {
    /// Step `index` failed, or, when the error is not of the step's making (the database
    /// failed or is busy, the request's `Idempotency-Key` claim was taken over), the batch
    /// as a whole.
    pub fn at(index: usize, error: BatchError) -> Self {
        let whole = matches!(
            error,
            BatchError::Store(
                StoreError::Database(_) | StoreError::Busy | StoreError::IdempotencyClaimLost
            )
        );
        BatchFailure {
            index: (!whole).then_some(index),
            error,
        }
    }

    /// A failure of the batch as a whole, no step to blame: its `Idempotency-Key` claim
    /// taken over, the transaction's begin or commit, the connection.
    pub fn whole(e: StoreError) -> Self {
        BatchFailure {
            index: None,
            error: BatchError::Store(e),
        }
    }
}

/// The steps of a batch, planned one at a time inside the transaction.
pub trait BatchPlan: Send + Sync + 'static {
    /// How many steps.
    fn len(&self) -> usize;

    /// True without steps.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object whose current type step `index` is converted for (saveProperty(ies)),
    /// given the outcomes of the steps before it; the backend reads that type in the
    /// transaction and gives it to [`BatchPlan::step`].
    fn target(
        &self,
        index: usize,
        earlier: &[WriteOutcome],
    ) -> Result<Option<ObjectId>, BatchError>;

    /// Step `index`'s write.
    fn step(
        &self,
        index: usize,
        earlier: &[WriteOutcome],
        target_type: Option<&str>,
    ) -> Result<WriteOp, BatchError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_named_only_for_what_it_caused() {
        let at = |e: StoreError| BatchFailure::at(3, e.into()).index;
        assert_eq!(at(StoreError::ObjectNotFound(7)), Some(3));
        assert_eq!(at(StoreError::ConfigChanged), Some(3));
        let plan = BatchFailure::at(3, BatchError::Plan("bad".into()));
        assert_eq!(plan.index, Some(3));
        // Not of the step's making: the batch failed as a whole.
        assert_eq!(at(StoreError::IdempotencyClaimLost), None);
        assert_eq!(at(StoreError::Busy), None);
        assert_eq!(at(StoreError::Database("gone".into())), None);
        assert_eq!(BatchFailure::whole(StoreError::Busy).index, None);
    }
}
