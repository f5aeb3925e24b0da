//! Objects and their properties in the embedded store: create, read, write, retype; and
//! the stored DSConfig. (Relationships and dropObject are in `relations.rs`.)
//!
//! Writes run on the writer thread, each in its own transaction (`writer::begin`); reads take a
//! reader connection. The SQL of each operation sits next to it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::properties_cache::PropertiesCache;
pub(super) use super::writer::{begin, Transaction};

use crate::model::{archived_type, is_archive_change, ObjectId, PropertyType};
use crate::store::changes::{op, NewChange};
use crate::store::{
    LookupSite, LookupTarget, NewObject, ObjectRecord, PropertyRow, PropertyWrite, SaveProperties,
    StoreError,
};

/// Most referencing ids a REFERENCED_BY_LOOKUP answer lists.
pub(super) const MAX_REFERENCES: usize = 100;

/// Now, as stored: RFC 3339 UTC with milliseconds, fixed width.
pub(crate) fn now_text() -> String {
    time_text(&Utc::now())
}

/// A time as this store keeps it: UTC with milliseconds, fixed width, so text order is time
/// order.
pub(crate) fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

pub(super) fn object_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRecord> {
    Ok(ObjectRecord {
        id: r.get(0)?,
        object_type: r.get(1)?,
        object_number: r.get(2)?,
        created_at: parse_time(&r.get::<_, String>(3)?),
        updated_at: parse_time(&r.get::<_, String>(4)?),
        properties: Vec::new(),
    })
}

pub(super) fn property_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<PropertyRow> {
    let ty: String = r.get(at + 1)?;
    Ok(PropertyRow {
        name: r.get(at)?,
        property_type: ty.parse().unwrap_or(PropertyType::String),
        value: r.get(at + 2)?,
        as_double: r.get(at + 3)?,
        as_string: r.get(at + 4)?,
    })
}

/// An object and its property rows in one statement, so in one snapshot and one read
/// transaction (two statements would each open their own, and a write committed between
/// them would pair one version's `updatedAt` with another's properties). An object without
/// properties is one row with NULLs on the right. `+?1`: the same rowid seek, but the
/// planner cannot look the bound id up in the STAT4 samples, which would make every new id
/// prepare the statement again (on readers, which keep value-aware plans for queries; see
/// `open_connection`). Without it, `a_reader_loads_objects_without_preparing_the_statement_again`
/// counts 20 preparations in 20 reads.
pub(super) const SELECT_OBJECT_AND_PROPERTIES: &str =
    "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt, \
            p.PropertyName, p.PropertyType, p.PropertyValue, p.PropertyAsDouble, p.PropertyAsString, \
            o.Version \
     FROM Objects o LEFT JOIN Properties p ON p.OwnerObjectId = o.ObjectId \
     WHERE o.ObjectId = +?1 ORDER BY p.PropertyName";

/// One object with its properties (only `columns` when given).
pub(super) fn load(
    conn: &Connection,
    id: ObjectId,
    columns: Option<&[String]>,
) -> Result<Option<ObjectRecord>, StoreError> {
    Ok(load_versioned(conn, id, columns)?.map(|(object, _)| object))
}

/// [`load`], with the object's `Version` (migration 0073) read in the same statement.
fn load_versioned(
    conn: &Connection,
    id: ObjectId,
    columns: Option<&[String]>,
) -> Result<Option<(ObjectRecord, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(SELECT_OBJECT_AND_PROPERTIES)?;
    let mut rows = stmt.query([id])?;
    let Some(first) = rows.next()? else {
        return Ok(None);
    };
    let mut object = object_from_row(first)?;
    let version = first.get(10)?;
    let mut row = Some(first);
    while let Some(r) = row {
        if r.get_ref(5)? != rusqlite::types::ValueRef::Null {
            let property = property_from_row(r, 5)?;
            if columns.is_none_or(|c| c.contains(&property.name)) {
                object.properties.push(property);
            }
        }
        row = rows.next()?;
    }
    Ok(Some((object, version)))
}

/// An object's row and its `Version`, without its properties. `+?1` as in
/// [`SELECT_OBJECT_AND_PROPERTIES`].
const SELECT_OBJECT_VERSION: &str = "SELECT ObjectId, ObjectType, ObjectNumber, CreatedAt, \
     UpdatedAt, Version FROM Objects WHERE ObjectId = +?1";

/// One object with all its properties (`getObject`): the properties from `cache` when the
/// object's version is the one they were kept at, else read with the object in one
/// statement (so the version and the rows are of one snapshot) and kept. Only a read-only
/// connection uses the cache, as in `table::with_properties` (docs/DECISIONS.md, "The
/// properties cache").
pub(super) fn load_kept(
    conn: &Connection,
    cache: &PropertiesCache,
    id: ObjectId,
) -> Result<Option<ObjectRecord>, StoreError> {
    if !PropertiesCache::serves(conn) {
        return load(conn, id, None);
    }
    let found = conn
        .prepare_cached(SELECT_OBJECT_VERSION)?
        .query_row([id], |r| Ok((object_from_row(r)?, r.get::<_, i64>(5)?)))
        .optional()?;
    let Some((mut object, version)) = found else {
        return Ok(None);
    };
    if let Some(rows) = cache.get(id, version) {
        object.properties = rows.to_vec();
        return Ok(Some(object));
    }
    let Some((object, version)) = load_versioned(conn, id, None)? else {
        return Ok(None);
    };
    if PropertiesCache::keeps(&object.properties) {
        cache.put(id, version, object.properties.clone());
    }
    Ok(Some(object))
}

fn require(conn: &Connection, id: ObjectId) -> Result<ObjectRecord, StoreError> {
    load(conn, id, None)?.ok_or(StoreError::ObjectNotFound(id))
}

pub(super) fn object_type_of(
    conn: &Connection,
    id: ObjectId,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT ObjectType FROM Objects WHERE ObjectId = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// The types that have objects, in order: a skip scan of `IX_Objects_Type`, one seek each.
pub(super) fn object_types(conn: &Connection, limit: u32) -> Result<Vec<String>, StoreError> {
    let mut next =
        conn.prepare_cached("SELECT MIN(ObjectType) FROM Objects WHERE ObjectType > ?1")?;
    let mut out: Vec<String> = Vec::new();
    while out.len() < limit as usize {
        let after = out.last().map_or("", String::as_str);
        let found: Option<String> = next.query_row([after], |r| r.get(0))?;
        match found {
            Some(t) => out.push(t),
            None => break,
        }
    }
    Ok(out)
}

/// The display text of `target`'s `display` property (or system field).
fn display_text(
    conn: &Connection,
    target: ObjectId,
    display: &str,
) -> Result<Option<String>, StoreError> {
    let sql = match display {
        "objectId" => return Ok(Some(target.to_string())),
        "objectNumber" => "SELECT ObjectNumber FROM Objects WHERE ObjectId = ?1",
        _ => {
            // As `config::DISPLAY_OF_ROW`: a Lookup's or List's own display text, else the
            // decoded or plain value.
            "SELECT CASE WHEN t.PropertyType IN ('Lookup', 'List') THEN t.PropertyAsString \
                    ELSE COALESCE(t.PropertyAsString, t.PropertyValue) END \
             FROM Properties t WHERE t.OwnerObjectId = ?1 AND t.PropertyName = ?2"
        }
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let text = if display == "objectNumber" {
        stmt.query_row(params![target], |r| r.get(0)).optional()?
    } else {
        stmt.query_row(params![target, display], |r| r.get(0))
            .optional()?
    };
    Ok(text.flatten())
}

/// Refuses a Lookup of `owner` whose target is missing or of another type than the
/// configured one. An archived target (`ARCH_` + that type) is accepted only where the
/// Lookup already points at it: re-saving a value still works after its target was
/// archived, a new Lookup to an archived object is refused.
fn check_lookup(
    conn: &Connection,
    owner: ObjectId,
    property: &str,
    target: &LookupTarget,
) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidLookup {
        property: property.to_owned(),
        target: target.object_id,
        reason,
    };
    let Some(found) = object_type_of(conn, target.object_id)? else {
        return Err(invalid("does not exist".into()));
    };
    if found == target.object_type {
        return Ok(());
    }
    if found != archived_type(&target.object_type) {
        return Err(invalid(format!(
            "is a {found}, not a {}",
            target.object_type
        )));
    }
    let held = conn
        .prepare_cached(
            "SELECT 1 FROM Properties WHERE OwnerObjectId = ?1 AND PropertyName = ?2 \
             AND PropertyType = 'Lookup' AND PropertyAsDouble = ?3",
        )?
        .exists(params![owner, property, target.object_id as f64])?;
    if held {
        Ok(())
    } else {
        Err(invalid(format!(
            "is archived ({found}); only a Lookup that already points at it may keep it"
        )))
    }
}

/// Owners of Lookups pointing at `id`, the first [`MAX_REFERENCES`] by id.
pub(super) fn lookup_owners(conn: &Connection, id: ObjectId) -> Result<Vec<ObjectId>, StoreError> {
    let owners = conn
        .prepare_cached(
            "SELECT DISTINCT OwnerObjectId FROM Properties \
             WHERE PropertyType = 'Lookup' AND PropertyAsDouble = ?1 ORDER BY OwnerObjectId LIMIT ?2",
        )?
        .query_map(params![id as f64, MAX_REFERENCES as i64], |r| r.get(0))?
        .collect::<Result<Vec<ObjectId>, _>>()?;
    Ok(owners)
}

/// Up to [`MAX_REFERENCES`] objects (ascending) with a Lookup pointing at any of `targets`.
pub(super) fn lookups_to(
    conn: &Connection,
    targets: &[ObjectId],
) -> Result<Vec<ObjectId>, StoreError> {
    let mut owners = std::collections::BTreeSet::new();
    for chunk in targets.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT DISTINCT OwnerObjectId FROM Properties \
             WHERE PropertyType = 'Lookup' AND PropertyAsDouble IN ({marks}) \
             ORDER BY OwnerObjectId LIMIT {MAX_REFERENCES}"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(chunk.iter().map(|id| *id as f64)),
            |r| r.get::<_, ObjectId>(0),
        )?;
        for owner in rows {
            owners.insert(owner?);
        }
    }
    Ok(owners.into_iter().take(MAX_REFERENCES).collect())
}

/// Applies property writes to one object inside `tx`, then touches its `UpdatedAt`.
fn apply_writes(
    tx: &Transaction<'_>,
    id: ObjectId,
    writes: &[PropertyWrite],
    now: &str,
) -> Result<Vec<(String, Option<PropertyRow>)>, StoreError> {
    let mut stored = Vec::with_capacity(writes.len());
    for w in writes {
        let display = match &w.value {
            Some(v) => {
                let mut as_string = v.as_string.clone();
                if let Some(target) = &v.lookup {
                    check_lookup(tx, id, &w.name, target)?;
                    as_string = display_text(tx, target.object_id, &target.display)?;
                }
                tx.prepare_cached(
                    "INSERT INTO Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue, \
                         PropertyAsDouble, PropertyAsString) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (OwnerObjectId, PropertyName) DO UPDATE SET \
                         PropertyType = excluded.PropertyType, PropertyValue = excluded.PropertyValue, \
                         PropertyAsDouble = excluded.PropertyAsDouble, PropertyAsString = excluded.PropertyAsString",
                )?
                .execute(params![
                    id,
                    w.name,
                    v.property_type.as_str(),
                    v.value,
                    v.as_double,
                    as_string
                ])?;
                stored.push((
                    w.name.clone(),
                    Some(PropertyRow {
                        name: w.name.clone(),
                        property_type: v.property_type,
                        value: v.value.clone(),
                        as_double: v.as_double,
                        as_string: as_string.clone(),
                    }),
                ));
                match v.property_type {
                    // A Lookup's or List's display text is its own, absent or not.
                    PropertyType::Lookup | PropertyType::List => as_string,
                    _ => as_string.or_else(|| Some(v.value.clone())),
                }
            }
            None => {
                tx.prepare_cached(
                    "DELETE FROM Properties WHERE OwnerObjectId = ?1 AND PropertyName = ?2",
                )?
                .execute(params![id, w.name])?;
                stored.push((w.name.clone(), None));
                None
            }
        };
        refresh_dependents(tx, &[id], &w.dependents, display.as_deref())?;
    }
    tx.prepare_cached("UPDATE Objects SET UpdatedAt = ?1 WHERE ObjectId = ?2")?
        .execute(params![now, id])?;
    Ok(stored)
}

/// Sets `text` as the display text of the Lookups of `sites` pointing at any of `targets`,
/// then of the Lookups displaying those (a chain shows the same text all the way down).
/// The objects of `owner_type` whose Lookup `property` points at any of `targets`.
pub(super) fn lookups_at(
    conn: &Connection,
    owner_type: &str,
    property: &str,
    targets: &[ObjectId],
) -> Result<Vec<ObjectId>, StoreError> {
    let targets_json =
        serde_json::to_string(targets).map_err(|e| StoreError::Database(e.to_string()))?;
    let owners = conn
        .prepare_cached(
            "SELECT DISTINCT OwnerObjectId FROM Properties \
             WHERE PropertyType = 'Lookup' AND PropertyName = ?2 \
               AND PropertyAsDouble IN (SELECT value FROM json_each(?1)) \
               AND EXISTS (SELECT 1 FROM Objects o WHERE o.ObjectId = Properties.OwnerObjectId \
                           AND o.ObjectType = ?3) ORDER BY OwnerObjectId",
        )?
        .query_map(params![targets_json, property, owner_type], |r| r.get(0))?
        .collect::<Result<Vec<ObjectId>, _>>()?;
    Ok(owners)
}

pub(super) fn refresh_dependents(
    tx: &Transaction<'_>,
    targets: &[ObjectId],
    sites: &[LookupSite],
    text: Option<&str>,
) -> Result<(), StoreError> {
    if targets.is_empty() {
        return Ok(());
    }
    let targets_json =
        serde_json::to_string(targets).map_err(|e| StoreError::Database(e.to_string()))?;
    const POINTING: &str = "PropertyType = 'Lookup' AND PropertyName = ?2 \
        AND PropertyAsDouble IN (SELECT value FROM json_each(?1)) \
        AND EXISTS (SELECT 1 FROM Objects o WHERE o.ObjectId = Properties.OwnerObjectId \
                    AND o.ObjectType = ?3)";
    for site in sites {
        let next: Vec<ObjectId> = if site.dependents.is_empty() {
            Vec::new()
        } else {
            tx.prepare_cached(&format!(
                "SELECT OwnerObjectId FROM Properties WHERE {POINTING}"
            ))?
            .query_map(
                params![targets_json, site.property_name, site.owner_type],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?
        };
        tx.prepare_cached(&format!(
            "UPDATE Properties SET PropertyAsString = ?4 WHERE {POINTING}"
        ))?
        .execute(params![
            targets_json,
            site.property_name,
            site.owner_type,
            text
        ])?;
        refresh_dependents(tx, &next, &site.dependents, text)?;
    }
    Ok(())
}

pub(super) fn new_object(
    conn: &mut Connection,
    req: &NewObject,
) -> Result<ObjectRecord, StoreError> {
    let tx = begin(conn)?;
    let record = new_object_in(&tx, req)?;
    tx.commit()?;
    Ok(record)
}

/// The body of [`new_object`] in the caller's transaction (also a batch's).
pub(super) fn new_object_in(
    tx: &Transaction<'_>,
    req: &NewObject,
) -> Result<ObjectRecord, StoreError> {
    super::config::check_version(tx, req.config_version)?;
    insert_object(tx, req, &now_text())
}

pub(super) fn new_objects(
    conn: &mut Connection,
    reqs: &[NewObject],
) -> Result<Vec<ObjectId>, StoreError> {
    let tx = begin(conn)?;
    for version in reqs
        .iter()
        .map(|r| r.config_version)
        .collect::<BTreeSet<_>>()
    {
        super::config::check_version(&tx, version)?;
    }
    let now = now_text();
    let ids = reqs
        .iter()
        .map(|req| insert_object(&tx, req, &now).map(|o| o.id))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(ids)
}

/// Inserts one object (numbered if its type is) with its properties, inside `tx`; returns
/// it as stored, from what was written (not read again: the writer thread is every write's
/// bottleneck).
fn insert_object(
    tx: &Transaction<'_>,
    req: &NewObject,
    now: &str,
) -> Result<ObjectRecord, StoreError> {
    let number: Option<String> = tx
        .prepare_cached(
            "UPDATE ObjectNumbers SET NextNumber = NextNumber + 1 \
             WHERE ObjectType = ?1 AND Active = 1 RETURNING Prefix, Width, NextNumber - 1",
        )?
        .query_row([&req.object_type], |r| {
            let (prefix, width, n): (String, u32, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(crate::dsconfig::Numbering {
                prefix,
                width,
                start: 0,
            }
            .format(n))
        })
        .optional()?;
    let id: ObjectId = tx
        .prepare_cached(
            "INSERT INTO Objects (ObjectType, ObjectNumber, CreatedAt, UpdatedAt) \
             VALUES (?1, ?2, ?3, ?3) RETURNING ObjectId",
        )?
        .query_row(params![req.object_type, number, now], |r| r.get(0))?;
    let stored = apply_writes(tx, id, &req.properties, now)?;
    super::projection::after_insert(tx, id, &req.object_type, &req.properties)?;
    let created = if req.properties.iter().all(|w| w.dependents.is_empty()) {
        let properties: Vec<PropertyRow> = crate::store::changes::last_writes(stored)
            .into_iter()
            .filter_map(|(_, row)| row)
            .collect();
        let at = parse_time(now);
        ObjectRecord {
            id,
            object_type: req.object_type.clone(),
            object_number: number,
            created_at: at,
            updated_at: at,
            properties,
        }
    } else {
        // A Lookup of the new object that others display may have changed its own texts.
        require(tx, id)?
    };
    // Every test run checks the derived record against the database.
    #[cfg(debug_assertions)]
    assert_eq!(created, require(tx, id)?, "the record of a new object");
    super::changes::record(
        tx,
        NewChange::of(op::NEW_OBJECT, None, Some(&created)).as_slice(),
    )?;
    Ok(created)
}

pub(super) fn save_properties(
    conn: &mut Connection,
    req: &SaveProperties,
) -> Result<ObjectRecord, StoreError> {
    let tx = begin(conn)?;
    let record = save_in(&tx, req)?;
    tx.commit()?;
    Ok(record)
}

/// The body of [`save_properties`] inside `tx` (also linking a file): checks, writes, and
/// lets go of the files of the properties written.
pub(super) fn save_in(
    tx: &Transaction<'_>,
    req: &SaveProperties,
) -> Result<ObjectRecord, StoreError> {
    super::config::check_version(tx, req.config_version)?;
    // The object is read once, before the write: it is the change log's `from`, and with
    // what the write stores, the answer (the writer thread is every write's bottleneck). A
    // write whose property other objects display may change this object's own texts too
    // (a Lookup to itself): then it is read again after the write.
    let before = match load(tx, req.object_id, None)? {
        None => return Err(StoreError::ObjectNotFound(req.object_id)),
        Some(o) if o.object_type != req.expected_type => {
            return Err(StoreError::TypeChanged(req.object_id))
        }
        Some(o) => o,
    };
    // Only an Image or FileLink property holds a file (its row keeps that type when the
    // DSConfig changes the property's): a write over another type has none to let go.
    let may_hold_file = |w: &&PropertyWrite| {
        before.property(&w.name).is_none_or(|p| {
            matches!(
                p.property_type,
                PropertyType::Image | PropertyType::FileLink
            )
        })
    };
    if req.writes.iter().any(|w| may_hold_file(&w)) {
        super::files::unlink_properties(tx, req.object_id, &req.writes)?;
    }
    let now = now_text();
    let stored = apply_writes(tx, req.object_id, &req.writes, &now)?;
    super::projection::after_save(tx, req.object_id, &req.expected_type, &req.writes)?;
    let (change, after) = if req.writes.iter().all(|w| w.dependents.is_empty()) {
        let (change, after) =
            NewChange::of_writes(op::SAVE_PROPERTIES, before, stored, parse_time(&now));
        (Some(change), after)
    } else {
        let after = require(tx, req.object_id)?;
        let change = NewChange::of(op::SAVE_PROPERTIES, Some(&before), Some(&after));
        (change, after)
    };
    // Every test run checks the derived answer against the database.
    #[cfg(debug_assertions)]
    assert_eq!(after, require(tx, req.object_id)?, "the answer of a save");
    super::changes::record(tx, change.as_slice())?;
    Ok(after)
}

pub(super) fn change_object_type(
    conn: &mut Connection,
    id: ObjectId,
    object_type: &str,
    config_version: i64,
) -> Result<ObjectRecord, StoreError> {
    let tx = begin(conn)?;
    let record = change_object_type_in(&tx, id, object_type, config_version)?;
    tx.commit()?;
    Ok(record)
}

/// The body of [`change_object_type`] in the caller's transaction (also a batch's).
pub(super) fn change_object_type_in(
    tx: &Transaction<'_>,
    id: ObjectId,
    object_type: &str,
    config_version: i64,
) -> Result<ObjectRecord, StoreError> {
    super::config::check_version(tx, config_version)?;
    let before = require(tx, id)?;
    let current = before.object_type.clone();
    // Lookups pointing here keep their configured type only through an archive or a restore.
    if current != object_type && !is_archive_change(&current, object_type) {
        let owners = lookup_owners(tx, id)?;
        if !owners.is_empty() {
            return Err(StoreError::ReferencedByLookup { object_ids: owners });
        }
    }
    tx.prepare_cached("UPDATE Objects SET ObjectType = ?1, UpdatedAt = ?2 WHERE ObjectId = ?3")?
        .execute(params![object_type, now_text(), id])?;
    super::projection::after_retype(tx, id, &current, object_type)?;
    let after = require(tx, id)?;
    super::changes::record(
        tx,
        NewChange::of(op::CHANGE_OBJECT_TYPE, Some(&before), Some(&after)).as_slice(),
    )?;
    Ok(after)
}
