//! A batch of writes (API.md §12) in the embedded store: one writer job, one transaction,
//! each step through the same inner write function as its single endpoint.

use std::sync::Arc;

use rusqlite::Connection;

use super::{changes, objects, relations};
use crate::store::batch::{BatchFailure, BatchPlan, WriteOp, WriteOutcome};
use crate::store::StoreError;

pub(super) fn run(
    conn: &mut Connection,
    plan: &Arc<dyn BatchPlan>,
) -> Result<Vec<WriteOutcome>, BatchFailure> {
    let tx = objects::begin(conn).map_err(BatchFailure::whole)?;
    let mark = changes::MarkOnce::start();
    let mut outcomes = Vec::with_capacity(plan.len());
    for index in 0..plan.len() {
        let failed = |error| BatchFailure::at(index, error);
        let target = plan.target(index, &outcomes).map_err(failed)?;
        let target_type = match target {
            Some(id) => Some(
                objects::object_type_of(&tx, id)
                    .and_then(|t| t.ok_or(StoreError::ObjectNotFound(id)))
                    .map_err(|e| failed(e.into()))?,
            ),
            None => None,
        };
        let op = plan
            .step(index, &outcomes, target_type.as_deref())
            .map_err(failed)?;
        let outcome = match op {
            WriteOp::NewObject(req) => objects::new_object_in(&tx, &req).map(WriteOutcome::Object),
            WriteOp::SaveProperties(req) => objects::save_in(&tx, &req).map(WriteOutcome::Object),
            WriteOp::ChangeObjectType {
                object_id,
                object_type,
                config_version,
            } => objects::change_object_type_in(&tx, object_id, &object_type, config_version)
                .map(WriteOutcome::Object),
            WriteOp::DropObject(req) => {
                relations::drop_object_in(&tx, &req).map(WriteOutcome::Dropped)
            }
            WriteOp::SaveRelationship {
                parent,
                child,
                strict,
            } => relations::save_relationship_in(&tx, parent, child, strict).map(|()| {
                WriteOutcome::Related {
                    parent,
                    child,
                    strict,
                }
            }),
            WriteOp::DropRelationship { parent, child } => {
                relations::drop_relationship_in(&tx, parent, child).map(WriteOutcome::Unrelated)
            }
        };
        outcomes.push(outcome.map_err(|e| failed(e.into()))?);
    }
    // One mark of the request's claim for the whole batch, in its transaction.
    mark.finish(&tx).map_err(BatchFailure::whole)?;
    tx.commit().map_err(|e| BatchFailure::whole(e.into()))?;
    Ok(outcomes)
}
