//! A batch of writes (API.md §12) on SQL Server: one transaction with the retry rules of
//! every write ([`super::pool::Db::transaction`]), each step through the same function as
//! its single endpoint. The steps' changes are written once, at the end
//! ([`super::changes::deferred`]), so the change-id lock is held only for the commit.

use std::sync::{Arc, Mutex};

use super::pool::{Client, Db, Fail};
use super::{changes, objects, relations};
use crate::store::batch::{BatchError, BatchFailure, BatchPlan, WriteOp, WriteOutcome};
use crate::store::StoreError;

/// How one attempt of the steps ended.
enum Stop {
    /// The database failed (maybe a lost race): the attempt is run again.
    Sql(tiberius::error::Error),
    /// A step was refused: the batch fails at it.
    Refused(BatchFailure),
}

async fn steps(c: &mut Client, plan: &Arc<dyn BatchPlan>) -> Result<Vec<WriteOutcome>, Stop> {
    let mut outcomes = Vec::with_capacity(plan.len());
    for index in 0..plan.len() {
        let refused = |error| Stop::Refused(BatchFailure::at(index, error));
        let from_fail = |f: Fail| match f {
            Fail::Sql(e) => Stop::Sql(e),
            Fail::Store(e) => Stop::Refused(BatchFailure::at(index, BatchError::Store(e))),
        };
        let target = plan.target(index, &outcomes).map_err(refused)?;
        let target_type = match target {
            Some(id) => match objects::object_type(c, id).await.map_err(from_fail)? {
                Some(t) => Some(t),
                None => return Err(refused(StoreError::ObjectNotFound(id).into())),
            },
            None => None,
        };
        let op = plan
            .step(index, &outcomes, target_type.as_deref())
            .map_err(refused)?;
        let outcome = match op {
            WriteOp::NewObject(req) => objects::new_object(c, &req).await.map(WriteOutcome::Object),
            WriteOp::SaveProperties(req) => {
                objects::save_in(c, &req).await.map(WriteOutcome::Object)
            }
            WriteOp::ChangeObjectType {
                object_id,
                object_type,
                config_version,
            } => objects::change_object_type(c, object_id, &object_type, config_version)
                .await
                .map(WriteOutcome::Object),
            WriteOp::DropObject(req) => relations::drop_object(c, &req)
                .await
                .map(WriteOutcome::Dropped),
            WriteOp::SaveRelationship {
                parent,
                child,
                strict,
            } => relations::save_relationship(c, parent, child, strict)
                .await
                .map(|()| WriteOutcome::Related {
                    parent,
                    child,
                    strict,
                }),
            WriteOp::DropRelationship { parent, child } => {
                relations::drop_relationship(c, parent, child)
                    .await
                    .map(WriteOutcome::Unrelated)
            }
        };
        outcomes.push(outcome.map_err(from_fail)?);
    }
    Ok(outcomes)
}

pub async fn run(db: &Db, plan: Arc<dyn BatchPlan>) -> Result<Vec<WriteOutcome>, BatchFailure> {
    let refused: Arc<Mutex<Option<BatchFailure>>> = Arc::new(Mutex::new(None));
    let result = db
        .transaction(|c| {
            let (plan, refused) = (plan.clone(), refused.clone());
            Box::pin(async move {
                let (result, logged) = changes::deferred(steps(c, &plan)).await;
                match result {
                    Ok(outcomes) => {
                        changes::write(c, logged).await?;
                        Ok(outcomes)
                    }
                    Err(Stop::Sql(e)) => Err(Fail::Sql(e)),
                    Err(Stop::Refused(failure)) => {
                        if let Ok(mut slot) = refused.lock() {
                            *slot = Some(failure);
                        }
                        Err(Fail::Store(StoreError::Database(
                            "a batch step was refused".into(),
                        )))
                    }
                }
            })
        })
        .await;
    match result {
        Ok(outcomes) => Ok(outcomes),
        Err(e) => {
            let failure = refused.lock().ok().and_then(|mut slot| slot.take());
            // Else the batch failed as a whole: the database (after the retries), the
            // claim's mark, the commit.
            Err(failure.unwrap_or_else(|| BatchFailure::whole(e)))
        }
    }
}
