//! Relationships on SQL Server: save, drop, list, and `dropObject`'s walk and cascade.
//!
//! `dropObject` answers exactly as the embedded store does: the dropped ids root first,
//! then breadth-first (children in id order); `STRICT_CHILDREN_EXIST` with the blocking
//! types sorted; `REFERENCED_BY_LOOKUP` with at most 100 referencing ids, sorted. The walk
//! reads one level of the tree per statement, after locking that level's objects (as
//! saveRelationship and dropRelationship lock both of theirs). The deletes come before the
//! Lookup check so that a Lookup saved concurrently either commits first (and is found) or
//! waits for the deletes (and finds its target gone); a refusal rolls the whole transaction
//! back.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::builders::{self, float_params, id_chunks, int_params};
use super::exec;
use super::pool::{Client, Fail};
use super::sql;
use crate::model::ObjectId;
use crate::store::changes::{op, NewChange};
use crate::store::{DropObject, RelatedPage, RelatedQuery, StoreError};

/// Most referencing ids a REFERENCED_BY_LOOKUP answer lists.
const MAX_REFERENCES: usize = 100;

/// Locks both objects of a relationship, the lower id first, and refuses the first of
/// `ids` that does not exist. Holding both locks to commit is what keeps a concurrent
/// dropObject from missing the relationship (see [`drop_object`]).
async fn lock_pair(c: &mut Client, ids: [ObjectId; 2]) -> Result<(), Fail> {
    let (low, high) = (ids[0].min(ids[1]), ids[0].max(ids[1]));
    let found: HashSet<ObjectId> = exec::rows(c, sql::LOCK_PAIR, params![low, high])
        .await?
        .iter()
        .map(|r| exec::req::<ObjectId>(r, 0))
        .collect::<Result<_, _>>()?;
    match ids.into_iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(Fail::Store(StoreError::ObjectNotFound(missing))),
        None => Ok(()),
    }
}

/// Locks `ids` (a level of dropObject's walk) and answers those that still exist.
async fn lock_objects(c: &mut Client, ids: &[ObjectId]) -> Result<HashSet<ObjectId>, Fail> {
    let mut found = HashSet::new();
    for chunk in id_chunks(ids) {
        let sql = builders::lock_objects(chunk.len());
        for row in exec::rows(c, &sql, int_params(&chunk)).await? {
            found.insert(exec::req::<ObjectId>(&row, 0)?);
        }
    }
    Ok(found)
}

pub async fn save_relationship(
    c: &mut Client,
    parent: ObjectId,
    child: ObjectId,
    strict: bool,
) -> Result<(), Fail> {
    lock_pair(c, [parent, child]).await?;
    let was = strict_of(c, parent, child).await?;
    exec::execute(c, sql::UPSERT_RELATIONSHIP, params![parent, child, strict]).await?;
    record_link(
        c,
        op::SAVE_RELATIONSHIP,
        (parent, child),
        (was, Some(strict)),
    )
    .await
}

/// The `Strict` of a relationship, `None` when there is none.
async fn strict_of(
    c: &mut Client,
    parent: ObjectId,
    child: ObjectId,
) -> Result<Option<bool>, Fail> {
    match exec::row(c, sql::SELECT_STRICT, params![parent, child]).await? {
        Some(row) => Ok(Some(exec::req::<bool>(&row, 0)?)),
        None => Ok(None),
    }
}

/// Logs a relationship write as a change of its parent and of its child.
async fn record_link(
    c: &mut Client,
    operation: &'static str,
    link: (ObjectId, ObjectId),
    strict: (Option<bool>, Option<bool>),
) -> Result<(), Fail> {
    if strict.0 == strict.1 {
        return Ok(());
    }
    let mut changes = Vec::with_capacity(2);
    for id in [link.0, link.1] {
        let ty = super::objects::object_type(c, id)
            .await?
            .unwrap_or_default();
        changes.push(NewChange::relationship(operation, (id, &ty), link, strict));
    }
    super::changes::record(c, changes).await
}

pub async fn drop_relationship(
    c: &mut Client,
    parent: ObjectId,
    child: ObjectId,
) -> Result<bool, Fail> {
    lock_pair(c, [parent, child]).await?;
    let was = strict_of(c, parent, child).await?;
    let n = exec::execute(c, sql::DELETE_RELATIONSHIP, params![parent, child]).await?;
    record_link(c, op::DROP_RELATIONSHIP, (parent, child), (was, None)).await?;
    Ok(n.iter().sum::<u64>() > 0)
}

/// A page of related objects and their number; run in a snapshot transaction, so the
/// count, the page and its properties agree.
pub async fn related(c: &mut Client, q: &RelatedQuery) -> Result<RelatedPage, Fail> {
    let paged = q.limit > 0;
    let sql = builders::related_walk(
        q.direction,
        q.object_type.is_some(),
        paged,
        q.after.is_some(),
        q.count,
    );
    let mut params = params![q.object_id];
    if let Some(t) = &q.object_type {
        params.push(t.as_str().into());
    }
    if paged {
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        params.push(clamp(q.offset).into());
        params.push(clamp(q.limit).into());
        if let Some(after) = q.after {
            params.push(after.into());
        }
    }
    let mut sets = exec::sets(c, &sql, params).await?.into_iter();
    let mut count = || -> Result<i64, Fail> {
        match sets.next().and_then(|s| s.into_iter().next()) {
            Some(row) => Ok(exec::req::<i64>(&row, 0)?),
            None => Ok(0),
        }
    };
    if count()? == 0 {
        return Err(Fail::Store(StoreError::ObjectNotFound(q.object_id)));
    }
    let total = count()?.max(0) as u64;
    let mut objects = Vec::new();
    let mut position = HashMap::new();
    for row in sets.next().unwrap_or_default() {
        let record = exec::object_from_row(&row, 0)?;
        let strict: bool = exec::req(&row, 5)?;
        position.insert(record.id, objects.len());
        objects.push((record, strict));
    }
    for row in sets.next().unwrap_or_default() {
        let owner: ObjectId = exec::req(&row, 0)?;
        if let Some(&i) = position.get(&owner) {
            objects[i]
                .0
                .properties
                .push(exec::property_from_row(&row, 1)?);
        }
    }
    Ok(RelatedPage { objects, total })
}

pub async fn drop_object(c: &mut Client, req: &DropObject) -> Result<Vec<ObjectId>, Fail> {
    if exec::row(c, sql::LOCK_OBJECT, params![req.object_id])
        .await?
        .is_none()
    {
        return Err(Fail::Store(StoreError::ObjectNotFound(req.object_id)));
    }
    // Walk down a level at a time: listed child types join the drop, strict others block it.
    // Each level is locked before its children are read (the root above): a relationship
    // saved concurrently locks both its objects, so it either committed before the lock
    // and is read here, or waits for this transaction and then finds its object gone.
    let mut doomed = vec![req.object_id];
    let mut seen: HashSet<ObjectId> = HashSet::from([req.object_id]);
    let mut level = vec![req.object_id];
    let mut blocking = BTreeSet::new();
    let mut gone = HashSet::new();
    let mut root_level = true;
    while !level.is_empty() {
        if !std::mem::take(&mut root_level) {
            let found = lock_objects(c, &level).await?;
            // Dropped by a concurrent dropObject since the walk read them.
            gone.extend(level.iter().filter(|id| !found.contains(id)).copied());
            level.retain(|id| found.contains(id));
        }
        let mut children: HashMap<ObjectId, Vec<(ObjectId, String, bool)>> = HashMap::new();
        for chunk in id_chunks(&level) {
            let sql = builders::children_of(chunk.len());
            for row in exec::rows(c, &sql, int_params(&chunk)).await? {
                let parent: ObjectId = exec::req(&row, 0)?;
                let child: ObjectId = exec::req(&row, 1)?;
                let ty: &str = exec::req(&row, 2)?;
                let strict: bool = exec::req(&row, 3)?;
                children
                    .entry(parent)
                    .or_default()
                    .push((child, ty.to_owned(), strict));
            }
        }
        // The embedded store's queue order: parents in the order they were reached.
        let mut next = Vec::new();
        for parent in &level {
            for (child, ty, strict) in children.remove(parent).unwrap_or_default() {
                if req.child_types.contains(&ty) {
                    if seen.insert(child) {
                        doomed.push(child);
                        next.push(child);
                    }
                } else if strict && !seen.contains(&child) {
                    // A strict link back to an object being dropped (a cycle) does not block.
                    blocking.insert(ty);
                }
            }
        }
        level = next;
    }
    if !blocking.is_empty() {
        return Err(Fail::Store(StoreError::StrictChildrenExist {
            child_types: blocking.into_iter().collect(),
        }));
    }
    doomed.retain(|id| !gone.contains(id));
    if req.unexpected(&doomed) {
        return Err(Fail::Store(StoreError::TypeChanged(req.object_id)));
    }
    let mut dropped = Vec::with_capacity(doomed.len());
    // A check only deletes nothing for good: no change to record.
    for id in doomed.iter().filter(|_| !req.check_only) {
        let before = super::objects::load(c, *id).await?;
        if let Some(o) = &before {
            // Its projection row with its Lookup counts (the cascade takes only the row).
            super::projection::before_drop(c, *id, &o.object_type).await?;
        }
        dropped.extend(NewChange::of(op::DROP_OBJECT, before.as_ref(), None));
    }
    for chunk in id_chunks(&doomed) {
        let sql = builders::delete_objects(chunk.len());
        exec::execute(c, &sql, int_params(&chunk)).await?;
    }
    // What still points at a dropped object comes from outside the drop.
    let mut referencing = BTreeSet::new();
    for chunk in id_chunks(&doomed) {
        let sql = builders::lookup_references(chunk.len());
        for row in exec::rows(c, &sql, float_params(&chunk)).await? {
            referencing.insert(exec::req::<ObjectId>(&row, 0)?);
        }
    }
    if !referencing.is_empty() {
        return Err(Fail::Store(StoreError::ReferencedByLookup {
            object_ids: referencing.into_iter().take(MAX_REFERENCES).collect(),
        }));
    }
    if req.check_only {
        // Rolls the deletes back; the store answers with the ids.
        return Err(Fail::Store(StoreError::DropChecked(doomed)));
    }
    super::changes::record(c, dropped).await?;
    Ok(doomed)
}

/// Up to 100 objects (ascending) with a Lookup pointing at any of `targets`.
pub async fn lookups_to(c: &mut Client, targets: &[ObjectId]) -> Result<Vec<ObjectId>, Fail> {
    let mut owners = BTreeSet::new();
    for chunk in id_chunks(targets) {
        let sql = builders::lookup_references(chunk.len());
        for row in exec::rows(c, &sql, float_params(&chunk)).await? {
            owners.insert(exec::req::<ObjectId>(&row, 0)?);
        }
    }
    Ok(owners.into_iter().take(MAX_REFERENCES).collect())
}
