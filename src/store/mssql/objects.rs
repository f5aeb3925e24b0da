//! Objects and their properties on SQL Server: create, read, write, retype.
//!
//! Each write runs inside [`super::pool::Db::transaction`]; the functions here are the
//! body of that transaction and may be run more than once. Their rules are the embedded
//! store's, statement for statement: Lookup targets are checked and their display text
//! copied in the same transaction, and the Lookups displaying a changed property follow it.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::builders::{float_params, id_chunks, lookups_pointing_at};
use super::config;
use super::exec::{self, now};
use super::pool::{Client, Fail};
use super::sql;
use crate::dsconfig::Numbering;
use crate::model::{archived_type, is_archive_change, ObjectId, PropertyType};
use crate::store::changes::{op, NewChange};
use crate::store::{
    LookupSite, LookupTarget, NewObject, ObjectRecord, PropertyWrite, SaveProperties, StoreError,
};

/// The type of one object.
pub async fn object_type(c: &mut Client, id: ObjectId) -> Result<Option<String>, Fail> {
    match exec::row(c, sql::SELECT_OBJECT_TYPE, params![id]).await? {
        Some(row) => Ok(Some(exec::req::<&str>(&row, 0)?.to_owned())),
        None => Ok(None),
    }
}

/// The types that have objects, in order: one seek of `IX_Objects_Type` per type.
pub async fn object_types(c: &mut Client, limit: u32) -> Result<Vec<String>, Fail> {
    let mut out: Vec<String> = Vec::new();
    while out.len() < limit as usize {
        let after = out.last().cloned().unwrap_or_default();
        match exec::row(c, sql::SELECT_NEXT_OBJECT_TYPE, params![after]).await? {
            Some(row) => out.push(exec::req::<&str>(&row, 0)?.to_owned()),
            None => break,
        }
    }
    Ok(out)
}

/// One object with all its properties.
pub async fn load(c: &mut Client, id: ObjectId) -> Result<Option<ObjectRecord>, Fail> {
    let mut sets = exec::sets(c, sql::SELECT_OBJECT, params![id])
        .await?
        .into_iter();
    let Some(row) = sets.next().and_then(|s| s.into_iter().next()) else {
        return Ok(None);
    };
    let mut object = exec::object_from_row(&row, 0)?;
    for row in sets.next().unwrap_or_default() {
        object.properties.push(exec::property_from_row(&row, 0)?);
    }
    Ok(Some(object))
}

async fn require(c: &mut Client, id: ObjectId) -> Result<ObjectRecord, Fail> {
    load(c, id)
        .await?
        .ok_or(Fail::Store(StoreError::ObjectNotFound(id)))
}

/// The display text a Lookup of `owner` to `target` shows, checking that the target is
/// what the DSConfig asks for. An archived target (`ARCH_` + that type) is accepted only
/// where the Lookup already points at it: re-saving a value still works after its target
/// was archived, a new Lookup to an archived object is refused.
async fn lookup_display(
    c: &mut Client,
    owner: ObjectId,
    property: &str,
    target: &LookupTarget,
) -> Result<Option<String>, Fail> {
    let row = exec::row(
        c,
        sql::LOOKUP_TARGET,
        params![target.object_id, target.display.as_str()],
    )
    .await?;
    let invalid = |reason: String| {
        Fail::Store(StoreError::InvalidLookup {
            property: property.to_owned(),
            target: target.object_id,
            reason,
        })
    };
    let Some(row) = row else {
        return Err(invalid("does not exist".into()));
    };
    let found: &str = exec::req(&row, 0)?;
    if found != target.object_type {
        if found != archived_type(&target.object_type) {
            return Err(invalid(format!(
                "is a {found}, not a {}",
                target.object_type
            )));
        }
        let held = exec::row(
            c,
            sql::HELD_LOOKUP,
            params![owner, property, target.object_id as f64],
        )
        .await?;
        if held.is_none() {
            return Err(invalid(format!(
                "is archived ({found}); only a Lookup that already points at it may keep it"
            )));
        }
    }
    Ok(match target.display.as_str() {
        "objectId" => Some(target.object_id.to_string()),
        "objectNumber" => exec::text(&row, 1)?,
        _ => exec::text(&row, 2)?,
    })
}

/// Applies property writes to one object; its `UpdatedAt` is the caller's business.
async fn apply_writes(c: &mut Client, id: ObjectId, writes: &[PropertyWrite]) -> Result<(), Fail> {
    for w in writes {
        let display = match &w.value {
            Some(v) => {
                let as_string = match &v.lookup {
                    Some(target) => lookup_display(c, id, &w.name, target).await?,
                    None => v.as_string.clone(),
                };
                exec::execute(
                    c,
                    sql::UPSERT_PROPERTY,
                    params![
                        id,
                        w.name.as_str(),
                        v.property_type.as_str(),
                        v.value.as_str(),
                        v.as_double,
                        as_string.clone()
                    ],
                )
                .await?;
                match v.property_type {
                    // A Lookup's or List's display text is its own, absent or not.
                    PropertyType::Lookup | PropertyType::List => as_string,
                    _ => as_string.or_else(|| Some(v.value.clone())),
                }
            }
            None => {
                exec::execute(c, sql::DELETE_PROPERTY, params![id, w.name.as_str()]).await?;
                None
            }
        };
        refresh_dependents(c, vec![id], &w.dependents, display).await?;
    }
    Ok(())
}

/// Sets `text` as the display text of the Lookups of `sites` pointing at any of `targets`,
/// then of the Lookups displaying those (a chain shows the same text all the way down).
/// The objects of `owner_type` whose Lookup `property` points at any of `targets`.
pub(super) async fn lookups_at(
    c: &mut Client,
    owner_type: &str,
    property: &str,
    targets: &[ObjectId],
) -> Result<Vec<ObjectId>, Fail> {
    let mut owners = std::collections::BTreeSet::new();
    for chunk in id_chunks(targets) {
        let mut params = params![property, owner_type, Option::<String>::None];
        params.extend(float_params(&chunk));
        for row in exec::rows(c, &lookups_pointing_at(chunk.len(), true), params).await? {
            owners.insert(exec::req::<ObjectId>(&row, 0)?);
        }
    }
    Ok(owners.into_iter().collect())
}

pub(super) fn refresh_dependents<'a>(
    c: &'a mut Client,
    targets: Vec<ObjectId>,
    sites: &'a [LookupSite],
    text: Option<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Fail>> + Send + 'a>> {
    Box::pin(async move {
        if targets.is_empty() {
            return Ok(());
        }
        for site in sites {
            let mut owners = Vec::new();
            for chunk in id_chunks(&targets) {
                let mut params = params![
                    site.property_name.as_str(),
                    site.owner_type.as_str(),
                    text.clone()
                ];
                params.extend(float_params(&chunk));
                if !site.dependents.is_empty() {
                    let sql = lookups_pointing_at(chunk.len(), true);
                    for row in exec::rows(c, &sql, params.clone()).await? {
                        owners.push(exec::req::<ObjectId>(&row, 0)?);
                    }
                }
                exec::execute(c, &lookups_pointing_at(chunk.len(), false), params).await?;
            }
            refresh_dependents(c, owners, &site.dependents, text.clone()).await?;
        }
        Ok(())
    })
}

/// Numbers object `id` if its type is numbered: the type's counter is taken and the number
/// set. Run as late as possible in the transaction: the counter's row lock is held until
/// commit and makes every other `newObject` of the type wait, so it is taken after the
/// properties and the projection row are written, not before.
async fn number_object(
    c: &mut Client,
    id: ObjectId,
    object_type: &str,
) -> Result<Option<String>, Fail> {
    let Some(row) = exec::row(c, sql::NEXT_NUMBER, params![object_type]).await? else {
        return Ok(None);
    };
    let prefix: &str = exec::req(&row, 0)?;
    let width: i32 = exec::req(&row, 1)?;
    let n: i64 = exec::req(&row, 2)?;
    let number = Numbering {
        prefix: prefix.to_owned(),
        width: width.max(0) as u32,
        start: 0,
    }
    .format(n);
    exec::execute(c, sql::SET_OBJECT_NUMBER, params![id, number.as_str()]).await?;
    Ok(Some(number))
}

pub async fn new_object(c: &mut Client, req: &NewObject) -> Result<ObjectRecord, Fail> {
    config::check_version(c, req.config_version).await?;
    insert_object(c, req, now()).await
}

/// Creates many objects in the caller's transaction.
pub async fn new_objects(c: &mut Client, reqs: &[NewObject]) -> Result<Vec<ObjectId>, Fail> {
    let versions: std::collections::BTreeSet<i64> = reqs.iter().map(|r| r.config_version).collect();
    for version in versions {
        config::check_version(c, version).await?;
    }
    let now = now();
    let mut ids = Vec::with_capacity(reqs.len());
    for req in reqs {
        ids.push(insert_object(c, req, now).await?.id);
    }
    Ok(ids)
}

/// Inserts one object (numbered if its type is) with its properties and answers it as
/// created. The number comes last (see [`number_object`]), the change just after it.
async fn insert_object(
    c: &mut Client,
    req: &NewObject,
    now: NaiveDateTime,
) -> Result<ObjectRecord, Fail> {
    let row = exec::row(
        c,
        sql::INSERT_OBJECT,
        params![req.object_type.as_str(), Option::<String>::None, now],
    )
    .await?
    .ok_or_else(|| Fail::Store(StoreError::Database("INSERT returned no id".into())))?;
    let id: ObjectId = exec::req(&row, 0)?;
    apply_writes(c, id, &req.properties).await?;
    super::projection::refresh(c, id, &req.object_type).await?;
    let mut created = require(c, id).await?;
    created.object_number = number_object(c, id, &req.object_type).await?;
    let change = NewChange::of(op::NEW_OBJECT, None, Some(&created));
    super::changes::record(c, change.into_iter().collect()).await?;
    Ok(created)
}

/// Touches object `id` ([`sql::TOUCH_OBJECT`]): its type and the `UpdatedAt` it had. The
/// row is locked (a no-op update) before that is read, so no other writer changes it
/// between the read and the new time; `OUTPUT deleted` would say it in one statement, but
/// is not reliable on Babelfish.
async fn touch(
    c: &mut Client,
    id: ObjectId,
    now: NaiveDateTime,
) -> Result<(String, DateTime<Utc>), Fail> {
    match exec::row(c, sql::TOUCH_OBJECT, params![id, now]).await? {
        Some(row) => Ok((
            exec::req::<&str>(&row, 0)?.to_owned(),
            exec::utc(exec::req::<NaiveDateTime>(&row, 1)?),
        )),
        None => Err(Fail::Store(StoreError::ObjectNotFound(id))),
    }
}

pub async fn save_properties(c: &mut Client, req: &SaveProperties) -> Result<ObjectRecord, Fail> {
    save_in(c, req).await
}

/// The body of [`save_properties`] in the caller's transaction (also linking a file):
/// checks, lets go of the files of the properties written, writes.
pub async fn save_in(c: &mut Client, req: &SaveProperties) -> Result<ObjectRecord, Fail> {
    config::check_version(c, req.config_version).await?;
    let (current, was_updated) = touch(c, req.object_id, now()).await?;
    if current != req.expected_type {
        return Err(Fail::Store(StoreError::TypeChanged(req.object_id)));
    }
    let mut before = require(c, req.object_id).await?;
    before.updated_at = was_updated;
    super::files::unlink_properties(c, req.object_id, &req.writes).await?;
    apply_writes(c, req.object_id, &req.writes).await?;
    super::projection::after_save(c, req.object_id, &req.expected_type, &req.writes).await?;
    let after = require(c, req.object_id).await?;
    let change = NewChange::of(op::SAVE_PROPERTIES, Some(&before), Some(&after));
    super::changes::record(c, change.into_iter().collect()).await?;
    Ok(after)
}

pub async fn change_object_type(
    c: &mut Client,
    id: ObjectId,
    object_type: &str,
    config_version: i64,
) -> Result<ObjectRecord, Fail> {
    config::check_version(c, config_version).await?;
    // The row lock of the touch keeps concurrent writers of the object out until commit.
    let now = now();
    let (current, was_updated) = touch(c, id, now).await?;
    let current = current.as_str();
    let mut before = require(c, id).await?;
    before.updated_at = was_updated;
    // Lookups pointing here keep their configured type only through an archive or a restore.
    if current != object_type && !is_archive_change(current, object_type) {
        let owners = exec::rows(c, sql::LOOKUP_OWNERS, params![id as f64])
            .await?
            .iter()
            .map(|r| exec::req::<ObjectId>(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        if !owners.is_empty() {
            return Err(Fail::Store(StoreError::ReferencedByLookup {
                object_ids: owners,
            }));
        }
    }
    exec::execute(c, sql::CHANGE_TYPE, params![object_type, now, id]).await?;
    super::projection::after_retype(c, id, current, object_type).await?;
    let after = require(c, id).await?;
    let change = NewChange::of(op::CHANGE_OBJECT_TYPE, Some(&before), Some(&after));
    super::changes::record(c, change.into_iter().collect()).await?;
    Ok(after)
}
