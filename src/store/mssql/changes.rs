//! The change log on SQL Server (API.md §12), as the embedded store's `changes.rs`, and the
//! `Idempotency-Key` records.
//!
//! Change ids come from the one row of `ChangeSeq`, taken at the very end of a write's
//! transaction ([`sql::TAKE_CHANGE_IDS`]): the row lock is held until commit, so a
//! transaction that took smaller ids has committed before a later one can take larger
//! ones, and "the changes after the last id I saw" never skips one that commits late (the
//! trap of IDENTITY; docs/DECISIONS.md). Inside a batch, [`deferred`] collects the changes
//! of every step and writes them once at the end, so the lock is held only for the commit.

use std::cell::RefCell;

use chrono::NaiveDateTime;
use serde_json::{Map, Value};
use tiberius::Row;

use super::exec::{self, now};
use super::pool::{Client, Fail};
use super::sql;
use crate::model::ObjectId;
use crate::store::changes::{
    actor, idempotency_claim, Change, ChangeFilter, ChangePage, Claim, NewChange,
};
use crate::store::StoreError;

tokio::task_local! {
    static DEFERRED: RefCell<Vec<NewChange>>;
}

/// Runs `f` (a batch's steps) with their changes collected instead of written; gives them
/// back for one [`record`] at the end.
pub async fn deferred<T, F: std::future::Future<Output = T>>(f: F) -> (T, Vec<NewChange>) {
    DEFERRED
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let changes = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
            (out, changes)
        })
        .await
}

/// Writes `changes` (one per object touched) in the caller's transaction, as the acting
/// key; inside [`deferred`], keeps them for the end of the batch instead.
pub async fn record(c: &mut Client, changes: Vec<NewChange>) -> Result<(), Fail> {
    let changes: Vec<NewChange> = changes
        .into_iter()
        .filter(|c| !c.changes.is_empty())
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let kept = DEFERRED.try_with(|d| d.borrow_mut().extend(changes.iter().cloned()));
    if kept.is_ok() {
        return Ok(());
    }
    write(c, changes).await
}

/// Takes ids for `changes` and inserts them: the last statements of a transaction.
pub async fn write(c: &mut Client, changes: Vec<NewChange>) -> Result<(), Fail> {
    if changes.is_empty() {
        return Ok(());
    }
    // Before the ids: taking them locks ChangeSeq until the commit.
    mark_committed(c).await?;
    let (key, at) = (actor(), now());
    if let [change] = changes.as_slice() {
        let json = serde_json::to_string(&change.changes)
            .map_err(|e| Fail::Store(StoreError::Database(e.to_string())))?;
        exec::execute(
            c,
            sql::TAKE_CHANGE_ID_AND_INSERT,
            params![
                change.object_id,
                change.object_type.as_str(),
                change.operation,
                at,
                key,
                json
            ],
        )
        .await?;
        return Ok(());
    }
    let row = exec::row(c, sql::TAKE_CHANGE_IDS, params![changes.len() as i64])
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Database("ChangeSeq has no row".into())))?;
    let first: i64 = exec::req(&row, 0)?;
    for (i, change) in changes.into_iter().enumerate() {
        let json = serde_json::to_string(&change.changes)
            .map_err(|e| Fail::Store(StoreError::Database(e.to_string())))?;
        exec::execute(
            c,
            sql::INSERT_CHANGE,
            params![
                first + i as i64,
                change.object_id,
                change.object_type,
                change.operation,
                at,
                key.clone(),
                json
            ],
        )
        .await?;
    }
    Ok(())
}

fn change_from_row(row: &Row) -> Result<Change, Fail> {
    let text = exec::text(row, 6)?.unwrap_or_default();
    let changes = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Ok(Change {
        change_id: exec::req(row, 0)?,
        object_id: exec::req(row, 1)?,
        object_type: exec::req::<&str>(row, 2)?.to_owned(),
        operation: exec::req::<&str>(row, 3)?.to_owned(),
        at: exec::utc(exec::req(row, 4)?),
        key_id: exec::text(row, 5)?,
        changes,
    })
}

pub async fn history(
    c: &mut Client,
    object_id: ObjectId,
    after: i64,
    limit: u32,
) -> Result<Vec<Change>, Fail> {
    exec::rows(
        c,
        sql::OBJECT_HISTORY,
        params![object_id, after, i64::from(limit)],
    )
    .await?
    .iter()
    .map(change_from_row)
    .collect()
}

/// Changes after `after` that `filter` takes (as the embedded store's `since`); run in a
/// snapshot transaction, so the mark and the rows agree.
pub async fn since(
    c: &mut Client,
    after: i64,
    filter: &ChangeFilter,
    limit: u32,
) -> Result<ChangePage, Fail> {
    let mut page = ChangePage {
        through: after,
        ..ChangePage::default()
    };
    let mut cursor = after;
    loop {
        let mut sets = match filter.object_id {
            Some(id) => {
                exec::sets(
                    c,
                    sql::OBJECT_CHANGES_AFTER,
                    params![cursor, i64::from(limit), id],
                )
                .await?
            }
            None => exec::sets(c, sql::CHANGES_AFTER, params![cursor, i64::from(limit)]).await?,
        }
        .into_iter();
        if let Some(row) = sets.next().and_then(|s| s.into_iter().next()) {
            page.pruned_through = exec::req(&row, 0)?;
            // A log that retention emptied has its head where the pruning stopped.
            page.head = exec::req::<i64>(&row, 1)?.max(page.pruned_through);
        }
        let rows = sets.next().unwrap_or_default();
        let full = rows.len() as u32 == limit;
        for row in &rows {
            if page.changes.len() >= limit as usize {
                break;
            }
            let change = change_from_row(row)?;
            cursor = change.change_id;
            page.through = cursor;
            if filter.matches(&change) {
                page.changes.push(change);
            }
        }
        if !full {
            // Everything up to the head read first was read (of the object, when filtered by
            // one; ids commit in order): a filtered stream must not read the range again.
            page.through = page.through.max(page.head);
        }
        if !full || page.changes.len() >= limit as usize {
            return Ok(page);
        }
    }
}

/// Deletes up to `batch` of the oldest changes made before `before` (a prefix only).
pub async fn prune(c: &mut Client, before: NaiveDateTime, batch: u32) -> Result<u64, Fail> {
    let oldest = exec::rows(c, sql::OLDEST_CHANGES, params![i64::from(batch)]).await?;
    let mut through = None;
    let mut n = 0;
    for row in &oldest {
        let at: NaiveDateTime = exec::req(row, 1)?;
        if at >= before {
            break;
        }
        through = Some(exec::req::<i64>(row, 0)?);
        n += 1;
    }
    if let Some(through) = through {
        exec::execute(c, sql::PRUNE_CHANGES, params![through]).await?;
    }
    Ok(n)
}

/// Claims `key` under `token` (see `Store::claim_idempotency`); in its own transaction.
pub async fn claim(
    c: &mut Client,
    key: &str,
    hash: &str,
    token: &str,
    stale: NaiveDateTime,
) -> Result<Claim, Fail> {
    let found = exec::row(c, sql::SELECT_IDEMPOTENCY, params![key]).await?;
    match found {
        None => {
            exec::execute(c, sql::INSERT_IDEMPOTENCY, params![key, hash, now(), token]).await?;
            Ok(Claim::Claimed)
        }
        Some(row) => {
            let status: i32 = exec::req(&row, 1)?;
            let created: NaiveDateTime = exec::req(&row, 3)?;
            if status == 0 && created < stale {
                let reclaimed = exec::execute(
                    c,
                    sql::RECLAIM_IDEMPOTENCY,
                    params![key, hash, now(), token],
                )
                .await?;
                if reclaimed.iter().sum::<u64>() > 0 {
                    return Ok(Claim::Claimed);
                }
                // Its write committed meanwhile (where the lock hint is not honoured).
                return Ok(Claim::Taken {
                    body_hash: exec::req::<&str>(&row, 0)?.to_owned(),
                    response: None,
                    committed: true,
                    stale: true,
                });
            }
            Ok(Claim::Taken {
                body_hash: exec::req::<&str>(&row, 0)?.to_owned(),
                response: exec::text(&row, 2)?,
                committed: status != 0,
                stale: created < stale,
            })
        }
    }
}

/// In a write's transaction: marks the acting request's `Idempotency-Key` claim as
/// committed, if it runs under one; a claim a retry took over fails the write.
async fn mark_committed(c: &mut Client) -> Result<(), Fail> {
    let Some(claim) = idempotency_claim() else {
        return Ok(());
    };
    let marked = exec::execute(
        c,
        sql::MARK_IDEMPOTENCY_COMMITTED,
        params![claim.key.clone(), claim.token.clone()],
    )
    .await?;
    if marked.iter().sum::<u64>() > 0 {
        return Ok(());
    }
    // A write in another database than the claim (a global object).
    let placed = exec::execute(
        c,
        sql::PLACE_IDEMPOTENCY_MARK,
        params![claim.key, claim.token, now()],
    )
    .await?;
    if placed.iter().sum::<u64>() == 0 {
        return Err(Fail::Store(StoreError::IdempotencyClaimLost));
    }
    Ok(())
}

pub async fn finish(
    c: &mut Client,
    key: &str,
    token: &str,
    response: Option<&str>,
) -> Result<(), Fail> {
    match response {
        Some(r) => exec::execute(c, sql::FINISH_IDEMPOTENCY, params![key, token, r]).await?,
        None => exec::execute(c, sql::RELEASE_IDEMPOTENCY, params![key, token]).await?,
    };
    Ok(())
}

pub async fn prune_idempotency(
    c: &mut Client,
    before: NaiveDateTime,
    batch: u32,
) -> Result<u64, Fail> {
    let n = exec::execute(c, sql::PRUNE_IDEMPOTENCY, params![before, i64::from(batch)]).await?;
    Ok(n.iter().sum())
}
