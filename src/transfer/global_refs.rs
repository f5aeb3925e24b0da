//! Lookups to global objects in what an app's import or copy brings (API.md §9).
//!
//! An app's objects keep the ids of the global objects their Lookups point at. Those ids
//! mean objects of the *target* system's global database, which another system's (or
//! another deployment's) may not hold. So every distinct global id the incoming objects'
//! Lookups hold is collected while they pass, and before the import may commit each is
//! looked up in the target system's global database: one that is missing stops the whole
//! import (nothing is written) with a message naming the first ones. Move the global
//! database first (`datastore export --global` / `import --global`), then the app.

use std::collections::BTreeSet;

use tokio::sync::mpsc;

use super::TransferError;
use crate::model::{ObjectId, PropertyType};
use crate::store::{DataBatch, ImportItem, Store};
use crate::tenancy::is_global_id;

/// How many missing ids the message names.
const NAMED: usize = 20;

/// Where the incoming objects' global Lookups must find their targets.
#[derive(Clone, Copy)]
pub enum GlobalRefs<'a> {
    /// The target is itself a global database (its Lookups are its own): not checked, and
    /// the import must be a global database's export.
    TargetIsGlobal,
    /// The target system's global database; `None` when it does not exist (then every
    /// global id is missing).
    In(Option<&'a dyn Store>),
}

/// The global ids `batch`'s Lookups hold, added to `ids`.
pub(super) fn collect(batch: &DataBatch, ids: &mut BTreeSet<ObjectId>) {
    if let DataBatch::Objects(objects) = batch {
        for object in objects {
            for p in &object.properties {
                if p.property_type == PropertyType::Lookup {
                    if let Ok(id) = p.value.trim().parse::<ObjectId>() {
                        if is_global_id(id) {
                            ids.insert(id);
                        }
                    }
                }
            }
        }
    }
}

/// The ids of `ids` that `refs` does not hold; empty when unchecked.
pub(super) async fn missing(
    refs: GlobalRefs<'_>,
    ids: &BTreeSet<ObjectId>,
) -> Result<Vec<ObjectId>, TransferError> {
    let GlobalRefs::In(global) = refs else {
        return Ok(Vec::new());
    };
    let mut missing = Vec::new();
    for id in ids {
        let found = match global {
            Some(g) => g.object_type(*id).await?.is_some(),
            None => false,
        };
        if !found {
            missing.push(*id);
        }
    }
    Ok(missing)
}

/// The refusal naming `missing`.
pub(super) fn refusal(missing: &[ObjectId]) -> TransferError {
    let named: Vec<String> = missing
        .iter()
        .take(NAMED)
        .map(|id| id.to_string())
        .collect();
    TransferError::Invalid(format!(
        "Lookups of the incoming objects point at {} global object(s) the target system's \
         global database does not hold ({}{}): nothing was written. Move the global \
         database first (datastore export --global / import --global), then the app",
        missing.len(),
        named.join(", "),
        if missing.len() > NAMED { ", ..." } else { "" }
    ))
}

/// Passes `from` on to `to`, collecting global ids, and lets `End` through only when
/// every one is held by `refs` (otherwise `to` closes without it: the import rolls back).
pub(super) async fn forward(
    mut from: mpsc::Receiver<ImportItem>,
    to: mpsc::Sender<ImportItem>,
    refs: GlobalRefs<'_>,
) -> Result<(), TransferError> {
    let mut ids = BTreeSet::new();
    while let Some(item) = from.recv().await {
        match item {
            ImportItem::Batch { first_line, data } => {
                collect(&data, &mut ids);
                if to
                    .send(ImportItem::Batch { first_line, data })
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            ImportItem::End => {
                let missing = missing(refs, &ids).await?;
                if !missing.is_empty() {
                    return Err(refusal(&missing));
                }
                let _ = to.send(ImportItem::End).await;
                return Ok(());
            }
        }
    }
    Ok(())
}
