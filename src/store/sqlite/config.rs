//! The applied DSConfig on the embedded store: PropertyConfig rows, ObjectNumbers, the
//! document with its version, and the display-text refresh a new DSConfig may need.

use rusqlite::{params, Connection, OptionalExtension};

use super::objects::{begin, now_text};
use crate::dsconfig::Config;
use crate::store::{
    AppliedConfig, ConfigVersions, DisplayRefresh, DisplaySource, StoreError, StoredConfig,
};

/// The stored DSConfig's versions, 0 when there is none. Every write checks `version`.
pub(super) fn versions(conn: &Connection) -> Result<ConfigVersions, StoreError> {
    Ok(conn
        .prepare_cached("SELECT Version, DisplaysVersion FROM ConfigDocument WHERE Id = 1")?
        .query_row([], |r| {
            Ok(ConfigVersions {
                version: r.get(0)?,
                displays_version: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Refuses a write converted with another DSConfig than the stored one.
pub(super) fn check_version(conn: &Connection, expected: i64) -> Result<(), StoreError> {
    if versions(conn)?.version == expected {
        Ok(())
    } else {
        Err(StoreError::ConfigChanged)
    }
}

pub(super) fn stored_config(conn: &Connection) -> Result<Option<StoredConfig>, StoreError> {
    let row: Option<(String, i64, i64)> = conn
        .query_row(
            "SELECT Document, Version, DisplaysVersion FROM ConfigDocument WHERE Id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(document, version, displays_version)| {
        let config = serde_json::from_str(&document)
            .map_err(|e| StoreError::Database(format!("stored DSConfig: {e}")))?;
        Ok(StoredConfig {
            config,
            version,
            displays_version,
        })
    })
    .transpose()
}

pub(super) fn apply_config(
    conn: &mut Connection,
    config: &Config,
) -> Result<AppliedConfig, StoreError> {
    let tx = begin(conn)?;
    let previous = stored_config(&tx)?;
    let document =
        serde_json::to_string(config).map_err(|e| StoreError::Database(e.to_string()))?;
    if let Some(p) = previous.as_ref().filter(|p| &p.config == config) {
        // A database from before projections (or after a failed layout) gets them now.
        super::projection::sync_layouts(&tx, config)?;
        tx.commit()?;
        return Ok(AppliedConfig {
            version: p.version,
            changed: false,
            previous,
        });
    }
    tx.execute("DELETE FROM PropertyConfig", [])?;
    tx.execute("DELETE FROM ListItems", [])?;
    for (list, items) in &config.lists {
        for (position, item) in items.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO ListItems (ListName, Code, Value, Position) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![list, item.code, item.value, position as i64])?;
        }
    }
    tx.execute("UPDATE ObjectNumbers SET Active = 0", [])?;
    for (object_type, ty) in &config.types {
        for (name, p) in &ty.properties {
            tx.prepare_cached(
                "INSERT INTO PropertyConfig (ObjectType, PropertyName, PropertyType, ListName, \
                 LookupObjectType, LookupDisplay) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                object_type,
                name,
                p.property_type.as_str(),
                p.list,
                p.object_type,
                p.display
            ])?;
        }
        if let Some(n) = &ty.numbering {
            tx.prepare_cached(
                "INSERT INTO ObjectNumbers (ObjectType, Prefix, Width, NextNumber, Active) \
                 VALUES (?1, ?2, ?3, ?4, 1) \
                 ON CONFLICT (ObjectType) DO UPDATE SET Prefix = excluded.Prefix, Width = excluded.Width, \
                     NextNumber = MAX(NextNumber, excluded.NextNumber), Active = 1",
            )?
            .execute(params![object_type, n.prefix, n.width, n.start])?;
        }
    }
    super::projection::sync_layouts(&tx, config)?;
    let version = previous.as_ref().map_or(1, |p| p.version + 1);
    // A first DSConfig has no stored display texts to bring up to date.
    let displays_version = if previous.is_none() { version } else { 0 };
    tx.execute(
        "INSERT INTO ConfigDocument (Id, Document, AppliedAt, Version, DisplaysVersion) \
         VALUES (1, ?1, ?2, ?3, ?4) \
         ON CONFLICT (Id) DO UPDATE SET Document = excluded.Document, \
             AppliedAt = excluded.AppliedAt, Version = excluded.Version",
        params![document, now_text(), version, displays_version],
    )?;
    tx.commit()?;
    Ok(AppliedConfig {
        version,
        changed: true,
        previous,
    })
}

pub(super) fn mark_displays_refreshed(
    conn: &mut Connection,
    version: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE ConfigDocument SET DisplaysVersion = ?1 WHERE Id = 1 AND Version = ?1",
        [version],
    )?;
    Ok(())
}

/// The display text of a target's property, as a Lookup shows it: a Lookup's or List's own
/// display text (absent when it has none), else the decoded or plain value.
pub(super) const DISPLAY_OF_ROW: &str = "CASE WHEN t.PropertyType IN ('Lookup', 'List') \
     THEN t.PropertyAsString ELSE COALESCE(t.PropertyAsString, t.PropertyValue) END";

/// The last of the next `batch` objects of `owner_type` after `after`, if any.
pub(super) fn batch_end(
    conn: &Connection,
    owner_type: &str,
    after: i64,
    batch: u32,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MAX(ObjectId) FROM (SELECT ObjectId FROM Objects \
             WHERE ObjectType = ?1 AND ObjectId > ?2 ORDER BY ObjectId LIMIT ?3)",
        )?
        .query_row(params![owner_type, after, batch], |r| r.get(0))?)
}

/// The distinct Lookup targets of `property` on objects of `owner_type` in `(after, upto]`.
pub(super) fn lookup_targets(
    conn: &Connection,
    owner_type: &str,
    property: &str,
    after: i64,
    upto: i64,
) -> Result<Vec<i64>, StoreError> {
    let targets = conn
        .prepare_cached(
            "SELECT DISTINCT CAST(PropertyAsDouble AS INTEGER) FROM Properties \
             WHERE PropertyName = ?1 AND PropertyType = 'Lookup' AND PropertyAsDouble IS NOT NULL \
               AND OwnerObjectId IN (SELECT ObjectId FROM Objects \
                   WHERE ObjectType = ?2 AND ObjectId > ?3 AND ObjectId <= ?4)",
        )?
        .query_map(params![property, owner_type, after, upto], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(targets)
}

/// Recomputes one batch: the rows of objects of `owner_type` with ids in `(after, upto]`.
pub(super) fn refresh_batch(
    conn: &mut Connection,
    refresh: &DisplayRefresh,
    owner_type: &str,
    after: i64,
    upto: i64,
    version: i64,
) -> Result<u64, StoreError> {
    let tx = begin(conn)?;
    check_version(&tx, version)?;
    let owners = "OwnerObjectId IN (SELECT ObjectId FROM Objects \
                  WHERE ObjectType = ?2 AND ObjectId > ?3 AND ObjectId <= ?4)";
    let n = match &refresh.source {
        DisplaySource::Lookup { display } => {
            let text = match display.as_str() {
                "objectId" => "Properties.PropertyValue".to_owned(),
                "objectNumber" => "(SELECT o.ObjectNumber FROM Objects o \
                     WHERE o.ObjectId = CAST(Properties.PropertyValue AS INTEGER))"
                    .to_owned(),
                _ => format!(
                    "(SELECT {DISPLAY_OF_ROW} FROM Properties t \
                     WHERE t.OwnerObjectId = CAST(Properties.PropertyValue AS INTEGER) \
                       AND t.PropertyName = ?5)"
                ),
            };
            let sql = format!(
                "UPDATE Properties SET PropertyAsString = {text} \
                 WHERE PropertyName = ?1 AND PropertyType = 'Lookup' AND {owners} \
                   AND PropertyAsString IS NOT {text}"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            if display == "objectId" || display == "objectNumber" {
                stmt.execute(params![refresh.property_name, owner_type, after, upto])?
            } else {
                stmt.execute(params![
                    refresh.property_name,
                    owner_type,
                    after,
                    upto,
                    display
                ])?
            }
        }
        DisplaySource::Given { texts } => {
            let sql = format!(
                "UPDATE Properties SET PropertyAsString = ?5 \
                 WHERE PropertyName = ?1 AND PropertyType = 'Lookup' AND {owners} \
                   AND PropertyAsDouble = ?6 AND PropertyAsString IS NOT ?5"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut n = 0;
            for (target, text) in texts {
                n += stmt.execute(params![
                    refresh.property_name,
                    owner_type,
                    after,
                    upto,
                    text,
                    *target as f64
                ])?;
            }
            n
        }
        DisplaySource::List { list } => {
            let text = "(SELECT li.Value FROM ListItems li \
                         WHERE li.ListName = ?5 AND li.Code = Properties.PropertyValue)";
            let sql = format!(
                "UPDATE Properties SET PropertyAsString = {text} \
                 WHERE PropertyName = ?1 AND PropertyType = 'List' AND {owners} \
                   AND PropertyAsString IS NOT {text}"
            );
            tx.prepare_cached(&sql)?.execute(params![
                refresh.property_name,
                owner_type,
                after,
                upto,
                list
            ])?
        }
    };
    tx.commit()?;
    Ok(n as u64)
}
