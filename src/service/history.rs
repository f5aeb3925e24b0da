//! The change log as clients see it (API.md §12): `getHistory` pages and the event
//! stream's records. Values render as §4 renders them, from the columns the log kept.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::cursor;
use super::{Datastore, ErrorCode, ServiceError};
use crate::convert;
use crate::model::ObjectId;
use crate::store::changes::{row_of, Change, SYSTEM_FIELDS};
use crate::store::ChangeFilter;

/// Operations whose change entries are properties and system fields (the others are a
/// relationship's `parentObjectId`, `childObjectId` and `strict`).
fn is_object_operation(operation: &str) -> bool {
    !matches!(operation, "saveRelationship" | "dropRelationship")
}

/// A change without its values: what an event carries (`changed` names what changed).
pub fn render_change_head(c: &Change) -> Value {
    let mut out = Map::new();
    out.insert("changeId".into(), c.change_id.into());
    out.insert("objectId".into(), c.object_id.into());
    out.insert("objectType".into(), c.object_type.clone().into());
    out.insert("operation".into(), c.operation.clone().into());
    out.insert("at".into(), crate::store::changes::time(&c.at).into());
    if let Some(k) = &c.key_id {
        out.insert("keyId".into(), k.clone().into());
    }
    out.insert(
        "changed".into(),
        c.changes.keys().cloned().collect::<Vec<_>>().into(),
    );
    Value::Object(out)
}

/// A change with `"changes": {"NAME": {"from": .., "to": ..}}` (an absent side is left
/// out); a Lookup or List also gets `NAME@display` with its display texts.
pub fn render_change(c: &Change) -> Value {
    let mut out = render_change_head(c);
    if let Some(o) = out.as_object_mut() {
        o.remove("changed");
    }
    let object_op = is_object_operation(&c.operation);
    let mut changes = Map::new();
    for (name, sides) in &c.changes {
        let side = |i: usize| sides.get(i).cloned().unwrap_or(Value::Null);
        if !object_op || SYSTEM_FIELDS.contains(&name.as_str()) {
            changes.insert(name.clone(), from_to(side(0), side(1)));
            continue;
        }
        let (from, to) = (row_of(name, &side(0)), row_of(name, &side(1)));
        let value = |r: &Option<crate::store::PropertyRow>| {
            r.as_ref()
                .map_or(Value::Null, |r| convert::to_json(r.property_type, &r.value))
        };
        changes.insert(name.clone(), from_to(value(&from), value(&to)));
        let display = |r: &Option<crate::store::PropertyRow>| match r {
            Some(r) if super::render::has_display(r.property_type) => {
                r.as_string.clone().map_or(Value::Null, Value::String)
            }
            _ => Value::Null,
        };
        let (df, dt) = (display(&from), display(&to));
        if !(df.is_null() && dt.is_null()) && df != dt {
            changes.insert(super::render::display_name(name), from_to(df, dt));
        }
    }
    out["changes"] = Value::Object(changes);
    out
}

fn from_to(from: Value, to: Value) -> Value {
    let mut m = Map::new();
    if !from.is_null() {
        m.insert("from".into(), from);
    }
    if !to.is_null() {
        m.insert("to".into(), to);
    }
    Value::Object(m)
}

impl Datastore {
    /// `getHistory`: an object's changes after `after`, oldest first (API.md §12); also for
    /// a dropped object. `limit` defaults to and is capped at `--max-results`. `after` is
    /// the token of a page's `X-Next-After` or, as before tokens, a `changeId`. Returns the
    /// page and the token of the next one, if there is one.
    pub async fn history(
        &self,
        object_id: ObjectId,
        after: Option<String>,
        limit: Option<u64>,
    ) -> Result<(Vec<Value>, Option<String>), ServiceError> {
        const ENDPOINT: &str = "getHistory";
        let schema = self.schema();
        let limit = limit.unwrap_or(schema.max_limit).min(schema.max_limit);
        let limit = u32::try_from(limit).unwrap_or(u32::MAX - 1);
        let fingerprint = cursor::fingerprint(&object_id.to_string());
        let after = match after.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(text) => match text.parse::<i64>() {
                Ok(id) if id >= 0 => id,
                Ok(_) => {
                    return Err(ServiceError::new(
                        ErrorCode::InvalidParameter,
                        "parameter `after` must be a cursor token or a changeId (0 or more)",
                    )
                    .with_details(json!({ "parameter": "after" })))
                }
                Err(_) => cursor::decode(text, ENDPOINT, &fingerprint, 0)?.seek.id,
            },
        };
        let global = self.global_for_id(object_id).await?;
        let ds = global.as_deref().unwrap_or(self);
        if limit == 0 {
            return Ok((Vec::new(), None));
        }
        // One more: whether there is a next page.
        let mut changes = ds.store.history(object_id, after, limit + 1).await?;
        let next = if changes.len() > limit as usize {
            changes.truncate(limit as usize);
            changes.last().map(|c| {
                let seek = crate::store::Seek {
                    keys: Vec::new(),
                    id: c.change_id,
                };
                cursor::encode(ENDPOINT, &fingerprint, &seek, None)
            })
        } else {
            None
        };
        Ok((changes.iter().map(render_change).collect(), next))
    }

    /// The changes after `after` that `filter` takes, for an event stream.
    pub async fn changes_since(
        &self,
        after: i64,
        filter: &ChangeFilter,
        limit: u32,
    ) -> Result<crate::store::ChangePage, ServiceError> {
        Ok(self.store.changes_since(after, filter, limit).await?)
    }

    /// The head of this database's change log, moving as it grows ([`super::heads`]).
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<i64> {
        super::heads::watch(&self.store)
    }
}

/// How often the log of every open database is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Changes one prune deletes at most: short write transactions, never a long lock.
pub const PRUNE_BATCH: u32 = 500;

/// How long an `Idempotency-Key`'s answer is kept.
pub const IDEMPOTENCY_KEEP: Duration = Duration::from_secs(24 * 3600);

/// Batches one database gives up per round at most (the rest waits for the next round).
const PRUNE_ROUNDS: u32 = 200;

/// Prunes, every [`PRUNE_EVERY`], the changes older than `history_days` (0: none) and
/// the idempotency records older than a day, of every open database, in small batches.
/// Several processes may prune one database at once: each deletes a prefix of the log.
pub fn prune(tenants: Arc<super::Tenants>, history_days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for datastore in tenants.open_datastores() {
                prune_once(datastore.store.as_ref(), history_days).await;
            }
        }
    })
}

/// One round of pruning of one database; how many changes went.
pub async fn prune_once(store: &dyn crate::store::Store, history_days: u32) -> u64 {
    let mut pruned = 0;
    if history_days > 0 {
        let before = chrono::Utc::now() - chrono::Duration::days(i64::from(history_days));
        for _ in 0..PRUNE_ROUNDS {
            match store.prune_changes(before, PRUNE_BATCH).await {
                Ok(n) => {
                    pruned += n;
                    if n < u64::from(PRUNE_BATCH) {
                        break;
                    }
                    // Let the writes of requests in between.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prune the change log");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(changes = pruned, "pruned the change log");
        }
    }
    let day = chrono::Utc::now() - chrono::Duration::from_std(IDEMPOTENCY_KEEP).unwrap_or_default();
    if let Err(e) = store.prune_idempotency(day, PRUNE_BATCH).await {
        tracing::warn!(error = %e, "cannot prune idempotency records");
    }
    pruned
}
