//! Relationships of the embedded store: save, drop, list, and `dropObject`'s walk and
//! cascade. Writes run on the writer thread in one `IMMEDIATE` transaction each.

use std::collections::{BTreeSet, HashSet, VecDeque};

use rusqlite::{params, Connection};

use super::objects::{begin, load, object_type_of, MAX_REFERENCES};
use crate::model::ObjectId;
use crate::store::{Direction, DropObject, ObjectRecord, StoreError};

pub(super) fn drop_object(
    conn: &mut Connection,
    req: &DropObject,
) -> Result<Vec<ObjectId>, StoreError> {
    let tx = begin(conn)?;
    if object_type_of(&tx, req.object_id)?.is_none() {
        return Err(StoreError::ObjectNotFound(req.object_id));
    }
    // Walk down from the object: listed child types join the drop, strict others block it.
    let mut doomed = vec![req.object_id];
    let mut seen: HashSet<ObjectId> = HashSet::from([req.object_id]);
    let mut queue = VecDeque::from([req.object_id]);
    let mut blocking = BTreeSet::new();
    {
        let mut children = tx.prepare_cached(
            "SELECT r.ChildObjectId, o.ObjectType, r.Strict FROM Relationships r \
             JOIN Objects o ON o.ObjectId = r.ChildObjectId WHERE r.ParentObjectId = ?1",
        )?;
        while let Some(parent) = queue.pop_front() {
            let rows = children.query_map([parent], |r| {
                Ok((
                    r.get::<_, ObjectId>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })?;
            for row in rows {
                let (child, ty, strict) = row?;
                if req.child_types.contains(&ty) {
                    if seen.insert(child) {
                        doomed.push(child);
                        queue.push_back(child);
                    }
                } else if strict && !seen.contains(&child) {
                    // A strict link back to an object being dropped (a cycle) does not block.
                    blocking.insert(ty);
                }
            }
        }
    }
    if !blocking.is_empty() {
        return Err(StoreError::StrictChildrenExist {
            child_types: blocking.into_iter().collect(),
        });
    }
    let mut referencing = BTreeSet::new();
    {
        let mut refs = tx.prepare_cached(
            "SELECT OwnerObjectId FROM Properties WHERE PropertyType = 'Lookup' AND PropertyAsDouble = ?1",
        )?;
        for id in &doomed {
            for owner in refs.query_map([*id as f64], |r| r.get::<_, ObjectId>(0))? {
                let owner = owner?;
                if !seen.contains(&owner) {
                    referencing.insert(owner);
                }
            }
        }
    }
    if !referencing.is_empty() {
        return Err(StoreError::ReferencedByLookup {
            object_ids: referencing.into_iter().take(MAX_REFERENCES).collect(),
        });
    }
    {
        // Properties and relationship rows go with the object (ON DELETE CASCADE).
        let mut delete = tx.prepare_cached("DELETE FROM Objects WHERE ObjectId = ?1")?;
        for id in &doomed {
            delete.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(doomed)
}

fn require_exists(conn: &Connection, ids: &[ObjectId]) -> Result<(), StoreError> {
    for id in ids {
        if object_type_of(conn, *id)?.is_none() {
            return Err(StoreError::ObjectNotFound(*id));
        }
    }
    Ok(())
}

pub(super) fn save_relationship(
    conn: &mut Connection,
    parent: ObjectId,
    child: ObjectId,
    strict: bool,
) -> Result<(), StoreError> {
    let tx = begin(conn)?;
    require_exists(&tx, &[parent, child])?;
    tx.prepare_cached(
        "INSERT INTO Relationships (ParentObjectId, ChildObjectId, Strict) VALUES (?1, ?2, ?3) \
         ON CONFLICT (ParentObjectId, ChildObjectId) DO UPDATE SET Strict = excluded.Strict",
    )?
    .execute(params![parent, child, strict])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn drop_relationship(
    conn: &mut Connection,
    parent: ObjectId,
    child: ObjectId,
) -> Result<bool, StoreError> {
    let tx = begin(conn)?;
    require_exists(&tx, &[parent, child])?;
    let n = tx
        .prepare_cached(
            "DELETE FROM Relationships WHERE ParentObjectId = ?1 AND ChildObjectId = ?2",
        )?
        .execute(params![parent, child])?;
    tx.commit()?;
    Ok(n > 0)
}

pub(super) fn related(
    conn: &Connection,
    id: ObjectId,
    direction: Direction,
    object_type: Option<&str>,
) -> Result<Vec<(ObjectRecord, bool)>, StoreError> {
    require_exists(conn, &[id])?;
    let sql = match direction {
        Direction::Children => {
            "SELECT r.ChildObjectId, r.Strict FROM Relationships r JOIN Objects o ON o.ObjectId = r.ChildObjectId \
             WHERE r.ParentObjectId = ?1 AND (?2 IS NULL OR o.ObjectType = ?2) ORDER BY r.ChildObjectId"
        }
        Direction::Parents => {
            "SELECT r.ParentObjectId, r.Strict FROM Relationships r JOIN Objects o ON o.ObjectId = r.ParentObjectId \
             WHERE r.ChildObjectId = ?1 AND (?2 IS NULL OR o.ObjectType = ?2) ORDER BY r.ParentObjectId"
        }
    };
    let pairs = conn
        .prepare_cached(sql)?
        .query_map(params![id, object_type], |r| {
            Ok((r.get::<_, ObjectId>(0)?, r.get::<_, bool>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(pairs.len());
    for (other, strict) in pairs {
        if let Some(record) = load(conn, other, None)? {
            out.push((record, strict));
        }
    }
    Ok(out)
}
