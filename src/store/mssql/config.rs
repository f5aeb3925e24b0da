//! The applied DSConfig on SQL Server: PropertyConfig rows, ObjectNumbers, the document with
//! its version, and the display-text refresh a new DSConfig may need.

use super::builders::{
    insert_list_items, insert_property_config, refresh_list_displays, refresh_lookup_displays,
    CONFIG_ROWS, LIST_ITEM_ROWS,
};
use super::exec::{self, now, Param};
use super::pool::{Client, Fail};
use super::sql;
use crate::dsconfig::Config;
use crate::store::{
    AppliedConfig, ConfigVersions, DisplayRefresh, DisplaySource, StoreError, StoredConfig,
};

fn parse_stored(row: &tiberius::Row) -> Result<StoredConfig, Fail> {
    let document: &str = exec::req(row, 0)?;
    let config = serde_json::from_str(document)
        .map_err(|e| StoreError::Database(format!("stored DSConfig: {e}")))?;
    Ok(StoredConfig {
        config,
        version: exec::req(row, 1)?,
        displays_version: exec::req(row, 2)?,
    })
}

/// Replaces the stored DSConfig under the next version, in one transaction, unless the same
/// one is stored. Numbering already under way keeps its next number; types no longer
/// numbered keep their counter, inactive.
pub async fn apply_config(c: &mut Client, config: &Config) -> Result<AppliedConfig, Fail> {
    // The document row first: every write reads it first too, so the two take turns
    // instead of deadlocking on ObjectNumbers.
    let previous = match exec::sets(c, sql::LOCK_CONFIG_DOCUMENT, Vec::new())
        .await?
        .into_iter()
        .flatten()
        .next()
    {
        Some(row) => Some(parse_stored(&row)?),
        None => None,
    };
    if let Some(p) = previous.as_ref().filter(|p| &p.config == config) {
        // A database from before projections (or after a failed layout) gets them now.
        super::projection::sync_layouts(c, config).await?;
        return Ok(AppliedConfig {
            version: p.version,
            changed: false,
            previous,
        });
    }
    exec::execute(c, sql::CLEAR_PROPERTY_CONFIG, Vec::new()).await?;
    exec::execute(c, sql::CLEAR_LIST_ITEMS, Vec::new()).await?;
    let items: Vec<[Param; 4]> = config
        .lists
        .iter()
        .flat_map(|(list, items)| {
            items.iter().enumerate().map(move |(position, item)| {
                [
                    Param::Text(list.clone()),
                    Param::Text(item.code.clone()),
                    Param::Text(item.value.clone()),
                    Param::Int(position as i64),
                ]
            })
        })
        .collect();
    for chunk in items.chunks(LIST_ITEM_ROWS) {
        let params = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
        exec::execute(c, &insert_list_items(chunk.len()), params).await?;
    }
    exec::execute(c, sql::DEACTIVATE_NUMBERING, Vec::new()).await?;
    let rows: Vec<[Param; 6]> = config
        .types
        .iter()
        .flat_map(|(object_type, ty)| {
            ty.properties.iter().map(move |(name, p)| {
                [
                    Param::Text(object_type.clone()),
                    Param::Text(name.clone()),
                    Param::Text(p.property_type.as_str().to_owned()),
                    Param::OptText(p.list.clone()),
                    Param::OptText(p.object_type.clone()),
                    Param::OptText(p.display.clone()),
                ]
            })
        })
        .collect();
    for chunk in rows.chunks(CONFIG_ROWS) {
        let params = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
        exec::execute(c, &insert_property_config(chunk.len()), params).await?;
    }
    for (object_type, ty) in &config.types {
        if let Some(n) = &ty.numbering {
            exec::execute(
                c,
                sql::UPSERT_NUMBERING,
                params![
                    object_type.as_str(),
                    n.prefix.as_str(),
                    i64::from(n.width),
                    n.start
                ],
            )
            .await?;
        }
    }
    super::projection::sync_layouts(c, config).await?;
    let document =
        serde_json::to_string(config).map_err(|e| StoreError::Database(e.to_string()))?;
    let version = previous.as_ref().map_or(1, |p| p.version + 1);
    exec::execute(
        c,
        sql::UPSERT_CONFIG_DOCUMENT,
        params![document, now(), version],
    )
    .await?;
    Ok(AppliedConfig {
        version,
        changed: true,
        previous,
    })
}

pub async fn stored_config(c: &mut Client) -> Result<Option<StoredConfig>, Fail> {
    match exec::row(c, sql::SELECT_CONFIG_DOCUMENT, Vec::new()).await? {
        Some(row) => Ok(Some(parse_stored(&row)?)),
        None => Ok(None),
    }
}

/// The stored DSConfig's version, 0 when there is none.
pub async fn version(c: &mut Client) -> Result<i64, Fail> {
    match exec::row(c, sql::CONFIG_VERSION, Vec::new()).await? {
        Some(row) => exec::req(&row, 0),
        None => Ok(0),
    }
}

pub async fn versions(c: &mut Client) -> Result<ConfigVersions, Fail> {
    match exec::row(c, sql::CONFIG_VERSIONS, Vec::new()).await? {
        Some(row) => Ok(ConfigVersions {
            version: exec::req(&row, 0)?,
            displays_version: exec::req(&row, 1)?,
        }),
        None => Ok(ConfigVersions::default()),
    }
}

/// Refuses a write converted with another DSConfig than the stored one; run first in the
/// write's transaction.
pub async fn check_version(c: &mut Client, expected: i64) -> Result<(), Fail> {
    if version(c).await? == expected {
        Ok(())
    } else {
        Err(Fail::Store(StoreError::ConfigChanged))
    }
}

pub async fn mark_displays_refreshed(c: &mut Client, version: i64) -> Result<(), Fail> {
    exec::execute(c, sql::MARK_DISPLAYS_REFRESHED, params![version]).await?;
    Ok(())
}

/// The last of the next `batch` objects of `owner_type` after `after`, if any.
pub async fn batch_end(
    c: &mut Client,
    owner_type: &str,
    after: i64,
    batch: u32,
) -> Result<Option<i64>, Fail> {
    match exec::row(
        c,
        sql::BATCH_END,
        params![owner_type, after, i64::from(batch)],
    )
    .await?
    {
        Some(row) => exec::get(&row, 0),
        None => Ok(None),
    }
}

/// The distinct Lookup targets of `property` on objects of `owner_type` in `(after, upto]`.
pub async fn lookup_targets(
    c: &mut Client,
    owner_type: &str,
    property: &str,
    after: i64,
    upto: i64,
) -> Result<Vec<i64>, Fail> {
    let mut targets = Vec::new();
    for row in exec::rows(
        c,
        sql::LOOKUP_TARGETS,
        params![property, owner_type, after, upto],
    )
    .await?
    {
        targets.push(exec::req::<i64>(&row, 0)?);
    }
    Ok(targets)
}

/// Recomputes the display texts of objects of `owner_type` with ids in `(after, upto]`.
pub async fn refresh_batch(
    c: &mut Client,
    refresh: &DisplayRefresh,
    owner_type: &str,
    after: i64,
    upto: i64,
    version: i64,
) -> Result<u64, Fail> {
    check_version(c, version).await?;
    let base = params![refresh.property_name.as_str(), owner_type, after, upto];
    let mut rewritten = 0;
    match &refresh.source {
        DisplaySource::Lookup { display } => {
            let mut params = base;
            if display != "objectId" && display != "objectNumber" {
                params.push(display.as_str().into());
            }
            let n = exec::execute(c, &refresh_lookup_displays(display), params).await?;
            rewritten += n.iter().sum::<u64>();
        }
        DisplaySource::Given { texts } => {
            for (target, text) in texts {
                let mut params = base.clone();
                params.push(text.clone().into());
                params.push((*target as f64).into());
                let n = exec::execute(c, sql::REFRESH_GIVEN_DISPLAY, params).await?;
                rewritten += n.iter().sum::<u64>();
            }
        }
        DisplaySource::List { list } => {
            let mut params = base;
            params.push(list.as_str().into());
            let n = exec::execute(c, &refresh_list_displays(), params).await?;
            rewritten += n.iter().sum::<u64>();
        }
    }
    Ok(rewritten)
}
