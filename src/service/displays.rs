//! Display texts after a DSConfig change (API.md §4): when a list item's value or a Lookup's
//! `display` changes, every stored `PropertyAsString` that depends on it follows.
//!
//! The refresh works out which configured Lookup and List properties the change touches
//! (directly, or through a chain of Lookups displaying them), orders them so that a Lookup
//! is recomputed after the property it displays, and lets the store rewrite them in batches
//! of [`BATCH`] objects, one transaction each, so writers never wait long. The stored
//! DSConfig records when its refresh has completed (`DisplaysVersion`); a refresh cut short
//! (the process stopped) is done again, in full, by the next process that starts.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dsconfig::{Config, PropertyConfig};
use crate::model::PropertyType;
use crate::store::{DisplayRefresh, DisplaySource, Store, StoreError, StoredConfig};

use super::ARCHIVE_PREFIX;

/// Objects per refresh transaction.
pub const BATCH: u32 = 1000;

/// How long, and how many times, a batch waits for an overloaded store before giving up.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
const BUSY_WAITS: u32 = 1200;

/// Longest display chain followed (a DSConfig may contain a cycle).
const MAX_DEPTH: usize = 16;

type Site = (String, String);

/// The refreshes that bring display texts from DSConfig `old` (`None`: unknown, so
/// everything) to `new`, inner properties of a chain first.
pub fn refreshes_between(old: Option<&Config>, new: &Config) -> Vec<DisplayRefresh> {
    let mut changed: Vec<Site> = Vec::new();
    for (object_type, ty) in &new.types {
        for (name, p) in &ty.properties {
            let before = old.and_then(|o| o.property(object_type, name));
            let differs = match p.property_type {
                PropertyType::Lookup => before != Some(p),
                PropertyType::List => {
                    before != Some(p)
                        || old.and_then(|o| o.list(p.list.as_deref().unwrap_or_default()))
                            != new.list(p.list.as_deref().unwrap_or_default())
                }
                _ => false,
            };
            if differs {
                changed.push((object_type.clone(), name.clone()));
            }
        }
    }
    // Whatever displays a changed property changes with it, down the chain.
    let mut sites: Vec<Site> = Vec::new();
    let mut queue = changed;
    while let Some(site) = queue.pop() {
        if sites.contains(&site) {
            continue;
        }
        queue.extend(new.lookups_displaying(&site.0, &site.1));
        sites.push(site);
    }
    let mut depths: BTreeMap<Site, usize> = BTreeMap::new();
    for site in &sites {
        let depth = depth(new, site, 0);
        depths.insert(site.clone(), depth);
    }
    sites.sort_by_key(|s| (depths.get(s).copied().unwrap_or(0), s.clone()));
    sites
        .into_iter()
        .filter_map(|(object_type, name)| {
            let p = new.property(&object_type, &name)?;
            Some(DisplayRefresh {
                owner_types: vec![
                    object_type.clone(),
                    format!("{ARCHIVE_PREFIX}{object_type}"),
                ],
                property_name: name,
                source: source(p)?,
            })
        })
        .collect()
}

/// How many Lookups stand between a property and the plain value it finally shows.
fn depth(config: &Config, (object_type, name): &Site, level: usize) -> usize {
    if level >= MAX_DEPTH {
        return level;
    }
    match config.property(object_type, name) {
        Some(PropertyConfig {
            property_type: PropertyType::Lookup,
            object_type: Some(target),
            display: Some(display),
            ..
        }) => 1 + depth(config, &(target.clone(), display.clone()), level + 1),
        _ => 0,
    }
}

fn source(p: &PropertyConfig) -> Option<DisplaySource> {
    match p.property_type {
        PropertyType::Lookup => Some(DisplaySource::Lookup {
            display: p.display.clone().unwrap_or_else(|| "objectId".into()),
        }),
        PropertyType::List => Some(DisplaySource::List {
            list: p.list.clone()?,
        }),
        _ => None,
    }
}

/// Where the targets of Lookups to global types are (API.md §9).
pub enum GlobalTargets {
    /// In this database: it is a global database (or the caller knows no other).
    Here,
    /// In the system's global database, when it exists (`None`: there is none, so no
    /// global object exists and such Lookups show no text).
    Elsewhere(Option<Arc<dyn Store>>),
}

/// The global database's store when `refresh` is a Lookup to a global type and its
/// targets live elsewhere: `Some(None)` when that database does not exist.
fn targets_elsewhere<'a>(
    config: &Config,
    refresh: &DisplayRefresh,
    global: &'a GlobalTargets,
) -> Option<Option<&'a dyn Store>> {
    let GlobalTargets::Elsewhere(store) = global else {
        return None;
    };
    let owner = refresh.owner_types.first()?;
    let target = config
        .property(owner, &refresh.property_name)?
        .object_type
        .as_ref()?;
    if !config.types.get(target).is_some_and(|t| t.global) {
        return None;
    }
    Some(store.as_deref())
}

/// One property's display texts, batch by batch, each batch a transaction of its own.
/// A Lookup to a global type takes its targets' texts from `global` (the app store
/// cannot see them), batch by batch.
async fn refresh_one(
    store: &dyn Store,
    refresh: &DisplayRefresh,
    version: i64,
    global: Option<Option<&dyn Store>>,
) -> Result<u64, StoreError> {
    let mut rewritten = 0;
    for owner_type in &refresh.owner_types {
        let mut after = 0;
        while let Some(upto) = store.display_batch_end(owner_type, after, BATCH).await? {
            let given;
            let batch_refresh = match (global, &refresh.source) {
                (Some(global), DisplaySource::Lookup { display }) => {
                    let targets = store
                        .lookup_targets(owner_type, &refresh.property_name, (after, upto))
                        .await?;
                    let mut texts = Vec::with_capacity(targets.len());
                    for target in targets {
                        let text = match global {
                            Some(g) => g
                                .get_object(target)
                                .await?
                                .and_then(|r| super::display_text(&r, display)),
                            None => None,
                        };
                        texts.push((target, text));
                    }
                    given = DisplayRefresh {
                        owner_types: refresh.owner_types.clone(),
                        property_name: refresh.property_name.clone(),
                        source: DisplaySource::Given { texts },
                    };
                    &given
                }
                _ => refresh,
            };
            // An overloaded store (a full write queue, a command timeout) is no reason to
            // give up: wait and try the batch again.
            let mut waits = 0;
            rewritten += loop {
                match store
                    .refresh_display_batch(batch_refresh, owner_type, (after, upto), version)
                    .await
                {
                    Err(StoreError::Busy) if waits < BUSY_WAITS => {
                        waits += 1;
                        tokio::time::sleep(BUSY_WAIT).await;
                    }
                    done => break done?,
                }
            };
            after = upto;
        }
    }
    Ok(rewritten)
}

/// Brings every display text up to DSConfig `version` (`new`), coming from `previous`,
/// and records that it did. Returns how many rows were rewritten.
pub async fn refresh(
    store: &dyn Store,
    new: &Config,
    version: i64,
    previous: Option<&StoredConfig>,
    global: &GlobalTargets,
) -> Result<u64, StoreError> {
    // The previous DSConfig only tells what changed if its own refresh had completed.
    let old = previous
        .filter(|p| p.displays_version >= p.version)
        .map(|p| &p.config);
    let mut rewritten = 0;
    for r in refreshes_between(old, new) {
        let elsewhere = targets_elsewhere(new, &r, global);
        match refresh_one(store, &r, version, elsewhere).await {
            Ok(n) => rewritten += n,
            // A newer DSConfig is stored: its own refresh covers everything.
            Err(StoreError::ConfigChanged) => return Ok(rewritten),
            Err(e) => return Err(e),
        }
    }
    store.mark_displays_refreshed(version).await?;
    tracing::info!(version, rewritten, "display texts follow the DSConfig");
    Ok(rewritten)
}
