//! Relationships of the embedded store: save, drop, list, and `dropObject`'s walk and
//! cascade. Writes run on the writer thread in one transaction each (`writer::begin`).

use std::collections::{BTreeSet, HashSet, VecDeque};

use rusqlite::types::Value as Sql;
use rusqlite::{params, Connection, OptionalExtension};

use super::writer::Transaction;

use super::counts::Snapshot;

use super::objects::{begin, object_from_row, object_type_of, property_from_row, MAX_REFERENCES};
use crate::model::ObjectId;
use crate::store::changes::{op, NewChange};
use crate::store::{Direction, DropObject, ObjectRecord, RelatedPage, RelatedQuery, StoreError};

pub(super) fn drop_object(
    conn: &mut Connection,
    req: &DropObject,
) -> Result<Vec<ObjectId>, StoreError> {
    let tx = begin(conn)?;
    let doomed = drop_object_in(&tx, req)?;
    tx.commit()?;
    Ok(doomed)
}

/// The body of [`drop_object`] in the caller's transaction (also a batch's).
pub(super) fn drop_object_in(
    tx: &Transaction<'_>,
    req: &DropObject,
) -> Result<Vec<ObjectId>, StoreError> {
    if object_type_of(tx, req.object_id)?.is_none() {
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
    if req.unexpected(&doomed) {
        return Err(StoreError::TypeChanged(req.object_id));
    }
    if req.check_only {
        return Ok(doomed);
    }
    {
        // Properties and relationship rows go with the object (ON DELETE CASCADE).
        let mut gone = Vec::with_capacity(doomed.len());
        let mut delete = tx.prepare_cached("DELETE FROM Objects WHERE ObjectId = ?1")?;
        for id in &doomed {
            let before = super::objects::load(tx, *id, None)?;
            gone.extend(NewChange::of(op::DROP_OBJECT, before.as_ref(), None));
            super::changes::keep_head(tx, *id)?;
            delete.execute([id])?;
        }
        super::changes::record(tx, &gone)?;
    }
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
    save_relationship_in(&tx, parent, child, strict)?;
    tx.commit()?;
    Ok(())
}

/// The body of [`save_relationship`] in the caller's transaction (also a batch's).
pub(super) fn save_relationship_in(
    tx: &Transaction<'_>,
    parent: ObjectId,
    child: ObjectId,
    strict: bool,
) -> Result<(), StoreError> {
    require_exists(tx, &[parent, child])?;
    let was = strict_of(tx, parent, child)?;
    tx.prepare_cached(
        "INSERT INTO Relationships (ParentObjectId, ChildObjectId, Strict) VALUES (?1, ?2, ?3) \
         ON CONFLICT (ParentObjectId, ChildObjectId) DO UPDATE SET Strict = excluded.Strict",
    )?
    .execute(params![parent, child, strict])?;
    record_link(
        tx,
        op::SAVE_RELATIONSHIP,
        (parent, child),
        (was, Some(strict)),
    )
}

/// The `Strict` of a relationship, `None` when there is none.
fn strict_of(
    tx: &Connection,
    parent: ObjectId,
    child: ObjectId,
) -> Result<Option<bool>, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT Strict FROM Relationships WHERE ParentObjectId = ?1 AND ChildObjectId = ?2",
        )?
        .query_row(params![parent, child], |r| r.get(0))
        .optional()?)
}

/// Logs a relationship write as a change of its parent and of its child.
fn record_link(
    tx: &Connection,
    operation: &'static str,
    link: (ObjectId, ObjectId),
    strict: (Option<bool>, Option<bool>),
) -> Result<(), StoreError> {
    if strict.0 == strict.1 {
        return Ok(());
    }
    let mut changes = Vec::with_capacity(2);
    for id in [link.0, link.1] {
        let ty = object_type_of(tx, id)?.unwrap_or_default();
        changes.push(NewChange::relationship(operation, (id, &ty), link, strict));
    }
    super::changes::record(tx, &changes)
}

pub(super) fn drop_relationship(
    conn: &mut Connection,
    parent: ObjectId,
    child: ObjectId,
) -> Result<bool, StoreError> {
    let tx = begin(conn)?;
    let dropped = drop_relationship_in(&tx, parent, child)?;
    tx.commit()?;
    Ok(dropped)
}

/// The body of [`drop_relationship`] in the caller's transaction (also a batch's).
pub(super) fn drop_relationship_in(
    tx: &Transaction<'_>,
    parent: ObjectId,
    child: ObjectId,
) -> Result<bool, StoreError> {
    require_exists(tx, &[parent, child])?;
    let was = strict_of(tx, parent, child)?;
    let n = tx
        .prepare_cached(
            "DELETE FROM Relationships WHERE ParentObjectId = ?1 AND ChildObjectId = ?2",
        )?
        .execute(params![parent, child])?;
    record_link(tx, op::DROP_RELATIONSHIP, (parent, child), (was, None))?;
    Ok(n > 0)
}

/// The SQL of a related read: (count, page with properties) for one direction. `?1` is
/// the object, `?2` the related objects' type or NULL, `?3`/`?4` limit and offset. The page
/// is picked in the subquery and joined with its properties: one statement per page.
fn related_sql(direction: Direction, after: bool) -> (String, String) {
    let (near, far) = match direction {
        Direction::Children => ("ParentObjectId", "ChildObjectId"),
        Direction::Parents => ("ChildObjectId", "ParentObjectId"),
    };
    let matches = format!(
        "FROM Relationships r JOIN Objects o ON o.ObjectId = r.{far} \
         WHERE r.{near} = ?1 AND (?2 IS NULL OR o.ObjectType = ?2)"
    );
    // Cursor paging: ids above the last one seen (`?5`).
    let after = if after {
        format!(" AND r.{far} > ?5")
    } else {
        String::new()
    };
    (
        format!("SELECT COUNT(*) {matches}"),
        format!(
            "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt, pg.Strict, \
                    p.PropertyName, p.PropertyType, p.PropertyValue, p.PropertyAsDouble, p.PropertyAsString \
             FROM (SELECT r.{far} AS Id, r.Strict AS Strict {matches}{after} \
                   ORDER BY r.{far} LIMIT ?3 OFFSET ?4) AS pg \
             JOIN Objects o ON o.ObjectId = pg.Id \
             LEFT JOIN Properties p ON p.OwnerObjectId = pg.Id \
             ORDER BY pg.Id, p.PropertyName"
        ),
    )
}

/// A page of related objects and their total, in the caller's read snapshot (the count
/// remembered like a table view's).
pub(super) fn related(s: &mut Snapshot<'_>, q: &RelatedQuery) -> Result<RelatedPage, StoreError> {
    let tx = s.conn;
    require_exists(tx, &[q.object_id])?;
    let (count_sql, page_sql) = related_sql(q.direction, q.after.is_some());
    let object_type = q.object_type.clone().map_or(Sql::Null, Sql::Text);
    let total = if q.count {
        s.count(&count_sql, &[Sql::Integer(q.object_id), object_type])?
    } else {
        u64::MAX
    };
    let mut objects: Vec<(ObjectRecord, bool)> = Vec::new();
    if q.limit > 0 && q.offset < total {
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        let mut page = tx.prepare_cached(&page_sql)?;
        let mut rows = match q.after {
            Some(after) => page.query(params![
                q.object_id,
                q.object_type,
                clamp(q.limit),
                clamp(q.offset),
                after
            ])?,
            None => page.query(params![
                q.object_id,
                q.object_type,
                clamp(q.limit),
                clamp(q.offset)
            ])?,
        };
        while let Some(row) = rows.next()? {
            let id: ObjectId = row.get(0)?;
            if objects.last().is_none_or(|(o, _)| o.id != id) {
                objects.push((object_from_row(row)?, row.get(5)?));
            }
            if row.get::<_, Option<String>>(6)?.is_some() {
                if let Some((object, _)) = objects.last_mut() {
                    object.properties.push(property_from_row(row, 6)?);
                }
            }
        }
    }
    let total = if q.count { total } else { 0 };
    Ok(RelatedPage { objects, total })
}
