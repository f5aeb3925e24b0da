//! The change log of the embedded store (API.md §12): written by [`record`] inside each
//! write's transaction, read by history and event streams, pruned by retention; and the
//! `Idempotency-Key` records.
//!
//! There is one writer at a time (this process's writer thread, and SQLite's write lock
//! across processes), so ChangeId order is commit order.

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::objects::{now_text, parse_time, time_text};
use crate::model::ObjectId;
use crate::store::changes::{
    actor, idempotency_claim, Change, ChangeFilter, ChangePage, Claim, NewChange,
};
use crate::store::StoreError;

/// A change row as [`record`] encodes it, waiting to be inserted.
pub(super) struct PendingRow {
    object_id: ObjectId,
    object_type: String,
    operation: &'static str,
    at: String,
    key: Option<String>,
    json: String,
}

thread_local! {
    /// On the writer thread, while a group is open: the change rows of the running job.
    /// They are inserted once the job's savepoint is released ([`flush`]), still inside the
    /// group's transaction, so they commit or roll back with their write; only the log's
    /// pages are kept out of the job's savepoint (its sub-journal copies every page first
    /// changed under it, and the log's pages would be copied for every job).
    static PENDING: RefCell<Option<Vec<PendingRow>>> = const { RefCell::new(None) };
}

thread_local! {
    /// On the writer thread, while a batch runs ([`MarkOnce`]): whether one of its steps
    /// recorded a change; its `Idempotency-Key` claim is marked once, after the steps.
    static MARK_DEFERRED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Defers the marks of the acting request's claim while a batch's steps run: each step's
/// [`record`] notes that it wrote instead of marking, and [`MarkOnce::finish`] marks once
/// (a batch is one write under its key, not one per operation). Dropped without finishing
/// (a step failed, the transaction rolls back), it marks nothing.
pub(super) struct MarkOnce {
    previous: Option<bool>,
}

impl MarkOnce {
    pub(super) fn start() -> MarkOnce {
        MarkOnce {
            previous: MARK_DEFERRED.with(|m| m.replace(Some(false))),
        }
    }

    /// Marks the claim committed if a step recorded a change; a claim taken over fails
    /// the whole batch ([`StoreError::IdempotencyClaimLost`]).
    pub(super) fn finish(self, tx: &Connection) -> Result<(), StoreError> {
        let wrote = MARK_DEFERRED.with(|m| m.replace(Some(false))) == Some(true);
        drop(self);
        if wrote {
            mark_committed(tx)?;
        }
        Ok(())
    }
}

impl Drop for MarkOnce {
    fn drop(&mut self) {
        MARK_DEFERRED.with(|m| m.set(self.previous));
    }
}

/// Writes `changes` (one per object touched) in the caller's transaction, as the acting
/// key. A change that changed nothing (a relationship saved as it was) is left out. In a
/// writer group the rows wait for the job's end (see `PENDING`).
pub(super) fn record(tx: &Connection, changes: &[NewChange]) -> Result<(), StoreError> {
    if changes.iter().all(|c| c.changes.is_empty()) {
        return Ok(());
    }
    let deferred = MARK_DEFERRED.with(|m| {
        let batch = m.get().is_some();
        if batch {
            m.set(Some(true));
        }
        batch
    });
    if !deferred {
        mark_committed(tx)?;
    }
    let key = actor();
    let now = now_text();
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes.iter().filter(|c| !c.changes.is_empty()) {
        rows.push(PendingRow {
            object_id: c.object_id,
            object_type: c.object_type.clone(),
            operation: c.operation,
            at: now.clone(),
            key: key.clone(),
            json: serde_json::to_string(&c.changes)
                .map_err(|e| StoreError::Database(e.to_string()))?,
        });
    }
    let rows = PENDING.with_borrow_mut(|pending| match pending {
        Some(pending) => {
            pending.append(&mut rows);
            None
        }
        None => Some(rows),
    });
    match rows {
        Some(rows) => insert(tx, &rows),
        None => Ok(()),
    }
}

/// The newest change of object `?1`: on its row while it exists, in `ChangeHeads` once it
/// was dropped (`NULL`: none). One text for the writer's insert and the readers' walk.
macro_rules! head_of {
    () => {
        "SELECT LastChangeId FROM Objects WHERE ObjectId = ?1 AND LastChangeId IS NOT NULL \
         UNION ALL SELECT LastChangeId FROM ChangeHeads WHERE ObjectId = ?1 LIMIT 1"
    };
}

fn insert(tx: &Connection, rows: &[PendingRow]) -> Result<(), StoreError> {
    // Each change points at its object's newest change so far, then becomes it (see
    // [`head`]); the object's row was written by the write itself, so this adds no page.
    let mut insert = tx.prepare_cached(concat!(
        "INSERT INTO Changes (ObjectId, ObjectType, Operation, At, KeyId, Changes, PrevChangeId) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (",
        head_of!(),
        "))"
    ))?;
    let mut on_object =
        tx.prepare_cached("UPDATE Objects SET LastChangeId = ?2 WHERE ObjectId = ?1")?;
    let mut on_dropped = tx.prepare_cached(
        "INSERT INTO ChangeHeads (ObjectId, LastChangeId) VALUES (?1, ?2) \
         ON CONFLICT (ObjectId) DO UPDATE SET LastChangeId = excluded.LastChangeId",
    )?;
    for r in rows {
        insert.execute(params![
            r.object_id,
            r.object_type,
            r.operation,
            r.at,
            r.key,
            r.json
        ])?;
        let id = tx.last_insert_rowid();
        if on_object.execute(params![r.object_id, id])? == 0 {
            on_dropped.execute(params![r.object_id, id])?;
        }
    }
    Ok(())
}

/// Inside a drop's transaction, before the object's row goes: its newest change moves to
/// `ChangeHeads`, where its history (and the drop's own change) find it.
pub(super) fn keep_head(tx: &Connection, object_id: ObjectId) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO ChangeHeads (ObjectId, LastChangeId) \
         SELECT ObjectId, LastChangeId FROM Objects WHERE ObjectId = ?1 AND LastChangeId IS NOT NULL \
         ON CONFLICT (ObjectId) DO UPDATE SET LastChangeId = excluded.LastChangeId",
    )?
    .execute([object_id])?;
    Ok(())
}

/// The ids of the oldest `limit` changes of `object_id` after `after`, oldest first: the
/// object's chain, walked back from its newest change. The walk reads one row per change
/// after `after` (ids only; the rows of the page are read afterwards), so a page of an
/// object with many changes since `after` costs that many point reads: the price of a
/// write path without an index on the object (docs/DECISIONS.md, "The change log").
fn chain(
    conn: &Connection,
    object_id: ObjectId,
    after: i64,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
    let head: Option<i64> = conn
        .prepare_cached(head_of!())?
        .query_row([object_id], |r| r.get(0))
        .optional()?;
    let mut previous =
        conn.prepare_cached("SELECT PrevChangeId FROM Changes WHERE ChangeId = ?1")?;
    let mut oldest = std::collections::VecDeque::with_capacity(limit as usize + 1);
    let mut at = head;
    while let Some(id) = at.filter(|id| *id > after) {
        // A change retention or an import took ends the chain.
        let Some(prev) = previous
            .query_row([id], |r| r.get::<_, Option<i64>>(0))
            .optional()?
        else {
            break;
        };
        oldest.push_back(id);
        if oldest.len() > limit as usize {
            oldest.pop_front();
        }
        at = prev.filter(|p| *p < id);
    }
    Ok(oldest.into_iter().rev().collect())
}

/// The changes with these ids, in the order given.
fn changes_at(conn: &Connection, ids: &[i64]) -> Result<Vec<Change>, StoreError> {
    let mut one = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM Changes WHERE ChangeId = ?1"
    ))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(one.query_row([id], change_from_row).optional()?);
    }
    Ok(out)
}

/// The writer opens (`true`) or closes (`false`) a group: while it is open, [`record`]
/// keeps the rows for [`flush`].
pub(super) fn hold_pending(open: bool) {
    PENDING.set(open.then(Vec::new));
}

/// How many rows wait (a mark for [`discard_pending`]).
pub(super) fn pending_mark() -> usize {
    PENDING.with_borrow(|p| p.as_ref().map_or(0, Vec::len))
}

/// Forgets the rows recorded after `mark`: their writes were rolled back.
pub(super) fn discard_pending(mark: usize) {
    PENDING.with_borrow_mut(|p| {
        if let Some(p) = p {
            p.truncate(mark);
        }
    });
}

/// Inserts the rows waiting, in the open transaction (outside any savepoint).
pub(super) fn flush(conn: &Connection) -> Result<(), StoreError> {
    let rows = PENDING.with_borrow_mut(|p| p.as_mut().map(std::mem::take).unwrap_or_default());
    if rows.is_empty() {
        return Ok(());
    }
    insert(conn, &rows)
}

fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let text: String = r.get(6)?;
    let changes = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Ok(Change {
        change_id: r.get(0)?,
        object_id: r.get(1)?,
        object_type: r.get(2)?,
        operation: r.get(3)?,
        at: parse_time(&r.get::<_, String>(4)?),
        key_id: r.get(5)?,
        changes,
    })
}

const COLUMNS: &str = "ChangeId, ObjectId, ObjectType, Operation, At, KeyId, Changes";

/// Up to `limit` changes of one object after change `after`, oldest first. Run it in one
/// snapshot (`SqliteStore::read_snapshot`): the walk and the rows read must agree.
pub(super) fn history(
    conn: &Connection,
    object_id: ObjectId,
    after: i64,
    limit: u32,
) -> Result<Vec<Change>, StoreError> {
    changes_at(conn, &chain(conn, object_id, after, limit)?)
}

/// Up to `limit` changes after `after` that `filter` takes, oldest first, read in one
/// snapshot (`SqliteStore::read_snapshot`) with the retention mark. Rows are read `limit` at a time until enough match or
/// the log ends, so a rare type does not starve the page.
pub(super) fn since(
    conn: &Connection,
    after: i64,
    filter: &ChangeFilter,
    limit: u32,
) -> Result<ChangePage, StoreError> {
    let pruned_through: i64 = conn
        .prepare_cached("SELECT PrunedThrough FROM ChangeLogState WHERE Id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let head: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(ChangeId), 0) FROM Changes")?
        .query_row([], |r| r.get(0))?;
    // A log that retention emptied has its head where the pruning stopped.
    let head = head.max(pruned_through);
    let mut page = ChangePage {
        changes: Vec::new(),
        pruned_through,
        head,
        through: after,
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM Changes WHERE ChangeId > ?1 ORDER BY ChangeId LIMIT ?2"
    ))?;
    let mut cursor = after;
    loop {
        let rows = match filter.object_id {
            // One object's changes: its chain, the oldest `limit` after the cursor.
            Some(id) => changes_at(conn, &chain(conn, id, cursor, limit)?)?,
            None => stmt
                .query_map(params![cursor, limit], change_from_row)?
                .collect::<Result<Vec<_>, _>>()?,
        };
        let full = rows.len() as u32 == limit;
        for c in rows {
            if page.changes.len() >= limit as usize {
                break;
            }
            cursor = c.change_id;
            page.through = cursor;
            if filter.matches(&c) {
                page.changes.push(c);
            }
        }
        if !full {
            // Everything up to the head of this snapshot was read (of the object, when
            // filtered by one): a filtered stream must not read the same range again.
            page.through = page.through.max(head);
        }
        if !full || page.changes.len() >= limit as usize {
            return Ok(page);
        }
    }
}

/// Deletes up to `batch` of the oldest changes made before `before`, never leaving a hole
/// (only a prefix of the log goes), and records how far it went. Safe with other processes
/// pruning at once: each deletes a prefix and the mark only grows.
pub(super) fn prune(
    conn: &mut Connection,
    before: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    let tx = super::objects::begin(conn)?;
    let cutoff = time_text(&before);
    let oldest: Vec<(i64, String)> = tx
        .prepare_cached("SELECT ChangeId, At FROM Changes ORDER BY ChangeId LIMIT ?1")?
        .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let through = oldest
        .iter()
        .take_while(|(_, at)| *at < cutoff)
        .map(|(id, _)| *id)
        .last();
    let Some(through) = through else {
        return Ok(0);
    };
    // A dropped object whose changes all go has no history left to find: the heads of the
    // objects dropped in the range (their drop is their last change), read before it goes.
    tx.prepare_cached(
        "DELETE FROM ChangeHeads WHERE LastChangeId <= ?1 AND ObjectId IN \
         (SELECT ObjectId FROM Changes WHERE ChangeId <= ?1 AND Operation = 'dropObject')",
    )?
    .execute([through])?;
    let n = tx
        .prepare_cached("DELETE FROM Changes WHERE ChangeId <= ?1")?
        .execute([through])?;
    tx.prepare_cached(
        "UPDATE ChangeLogState SET PrunedThrough = ?1 WHERE Id = 1 AND PrunedThrough < ?1",
    )?
    .execute([through])?;
    tx.commit()?;
    Ok(n as u64)
}

/// Inside an import's transaction: the data was replaced wholesale, so the log starts over.
/// Its changes go, and `PrunedThrough` moves past every id handed out so far (the next id
/// comes after it): every event stream gets a `reset` (refetch) instead of a silent gap,
/// and no history of a replaced object is mistaken for one of the imported object that
/// has its id now.
pub(super) fn restart(tx: &Connection) -> Result<(), StoreError> {
    tx.execute_batch(
        "DELETE FROM Changes;
         DELETE FROM ChangeHeads;
         UPDATE ChangeLogState SET PrunedThrough = 1 + MAX(PrunedThrough,
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'Changes'), 0))
         WHERE Id = 1;
         UPDATE sqlite_sequence SET seq = (SELECT PrunedThrough FROM ChangeLogState WHERE Id = 1)
         WHERE name = 'Changes';
         INSERT INTO sqlite_sequence (name, seq)
         SELECT 'Changes', PrunedThrough FROM ChangeLogState
         WHERE Id = 1 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'Changes');",
    )?;
    Ok(())
}

/// Claims `key` for a request whose body hashes to `hash`, under `token`, or says who has
/// it. A claim older than `stale` whose write never committed (its process stopped, or it
/// still runs and will roll back: [`mark_committed`]) is taken over; a committed one never.
pub(super) fn claim(
    conn: &mut Connection,
    key: &str,
    hash: &str,
    token: &str,
    stale: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    let tx = super::objects::begin(conn)?;
    let found: Option<(String, i64, Option<String>, String)> = tx
        .prepare_cached(
            "SELECT BodyHash, Status, Response, CreatedAt FROM IdempotencyKeys WHERE IdemKey = ?1",
        )?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let stale = time_text(&stale);
    let claim = match found {
        Some((body_hash, status, response, created)) if status != 0 || created >= stale => {
            Claim::Taken {
                body_hash,
                response,
                committed: status != 0,
                stale: created < stale,
            }
        }
        _ => {
            tx.prepare_cached(
                "INSERT INTO IdempotencyKeys (IdemKey, BodyHash, Status, Response, CreatedAt, Token) \
                 VALUES (?1, ?2, 0, NULL, ?3, ?4) ON CONFLICT (IdemKey) DO UPDATE SET \
                 BodyHash = excluded.BodyHash, Status = 0, Response = NULL, \
                 CreatedAt = excluded.CreatedAt, Token = excluded.Token",
            )?
            .execute(params![key, hash, now_text(), token])?;
            Claim::Claimed
        }
    };
    tx.commit()?;
    Ok(claim)
}

/// Inside a write's transaction: marks the acting request's `Idempotency-Key` claim as
/// committed (Status 2), if it runs under one. A claim that is no longer its own (a retry
/// took it over) fails the write, which rolls back: one key, one write. A write that lands
/// in another database than the claim (a global object) leaves a committed mark of its
/// token there, so a retry's write finds the first one's mark.
pub(super) fn mark_committed(tx: &Connection) -> Result<(), StoreError> {
    let Some(claim) = idempotency_claim() else {
        return Ok(());
    };
    let marked = tx
        .prepare_cached(
            "UPDATE IdempotencyKeys SET Status = 2 \
             WHERE IdemKey = ?1 AND Token = ?2 AND Status IN (0, 2)",
        )?
        .execute(params![claim.key, claim.token])?;
    if marked > 0 {
        return Ok(());
    }
    let placed = tx
        .prepare_cached(
            "INSERT INTO IdempotencyKeys (IdemKey, BodyHash, Status, Response, CreatedAt, Token) \
             SELECT ?1, '', 2, NULL, ?3, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM IdempotencyKeys WHERE IdemKey = ?1)",
        )?
        .execute(params![claim.key, claim.token, now_text()])?;
    if placed == 0 {
        return Err(StoreError::IdempotencyClaimLost);
    }
    Ok(())
}

/// Stores the answer of the key claimed under `token` (`None`: lets the key go, so a retry
/// runs again, unless its write committed). A claim taken over is left to its new owner.
pub(super) fn finish(
    conn: &mut Connection,
    key: &str,
    token: &str,
    response: Option<&str>,
) -> Result<(), StoreError> {
    match response {
        Some(r) => conn
            .prepare_cached(
                "UPDATE IdempotencyKeys SET Status = 1, Response = ?3 \
                 WHERE IdemKey = ?1 AND Token = ?2",
            )?
            .execute(params![key, token, r])?,
        None => conn
            .prepare_cached(
                "DELETE FROM IdempotencyKeys WHERE IdemKey = ?1 AND Token = ?2 AND Status = 0",
            )?
            .execute(params![key, token])?,
    };
    Ok(())
}

/// Deletes up to `batch` idempotency records created before `before`.
pub(super) fn prune_idempotency(
    conn: &mut Connection,
    before: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "DELETE FROM IdempotencyKeys WHERE IdemKey IN \
             (SELECT IdemKey FROM IdempotencyKeys WHERE CreatedAt < ?1 LIMIT ?2)",
        )?
        .execute(params![time_text(&before), batch])?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::migrate::{self, MIGRATIONS};

    fn change(object_id: ObjectId, op: &'static str) -> NewChange {
        let mut changes = Map::new();
        changes.insert("p".into(), Value::Array(vec![Value::Null, Value::Null]));
        NewChange {
            object_id,
            object_type: "T".into(),
            operation: op,
            changes,
        }
    }

    fn ids(conn: &Connection, object_id: ObjectId, after: i64, limit: u32) -> Vec<i64> {
        let walked = chain(conn, object_id, after, limit).unwrap();
        let read: Vec<i64> = history(conn, object_id, after, limit)
            .unwrap()
            .iter()
            .map(|c| c.change_id)
            .collect();
        assert_eq!(walked, read, "history reads the rows the chain names");
        walked
    }

    /// A database of the change log before the chain (version 60), with changes of two
    /// objects and of one dropped before, migrated: every history is there, and goes on.
    #[test]
    fn histories_written_before_the_chain_are_found_after_it_and_go_on() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE SchemaVersions (Version INTEGER PRIMARY KEY, Name TEXT NOT NULL, \
             AppliedAt TEXT NOT NULL)",
        )
        .unwrap();
        for m in MIGRATIONS.iter().filter(|m| m.version <= 60) {
            conn.execute_batch(m.sql).unwrap();
            conn.execute(
                "INSERT INTO SchemaVersions VALUES (?1, ?2, 't')",
                params![m.version, m.name],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO Objects (ObjectId, ObjectType, CreatedAt, UpdatedAt) \
                 VALUES (1, 'T', 't', 't'), (2, 'T', 't', 't'), (9, 'T', 't', 't');
             INSERT INTO Changes (ObjectId, ObjectType, Operation, At, Changes) VALUES
                 (1, 'T', 'newObject', '2000', '{}'), (2, 'T', 'newObject', '2000', '{}'),
                 (1, 'T', 'saveProperties', '2000', '{}'), (3, 'T', 'newObject', '2000', '{}'),
                 (2, 'T', 'saveProperties', '2000', '{}'), (1, 'T', 'saveProperties', '2000', '{}'),
                 (3, 'T', 'dropObject', '2000', '{}');",
        )
        .unwrap();
        migrate::run(&mut conn).unwrap();
        assert_eq!(ids(&conn, 1, 0, 10), [1, 3, 6]);
        assert_eq!(ids(&conn, 2, 0, 10), [2, 5]);
        assert_eq!(ids(&conn, 3, 0, 10), [4, 7], "a dropped object's history");
        assert_eq!(
            ids(&conn, 9, 0, 10),
            Vec::<i64>::new(),
            "an object without changes"
        );
        assert_eq!(ids(&conn, 1, 1, 1), [3], "the oldest after `after`");
        assert_eq!(ids(&conn, 1, 0, 2), [1, 3]);
        assert_eq!(ids(&conn, 1, 6, 10), Vec::<i64>::new());

        // New changes join the chains, of a live object and of a dropped one.
        record(
            &conn,
            &[change(1, "saveProperties"), change(3, "saveProperties")],
        )
        .unwrap();
        assert_eq!(ids(&conn, 1, 0, 10), [1, 3, 6, 8]);
        assert_eq!(ids(&conn, 3, 0, 10), [4, 7, 9]);

        // Dropping keeps the head: the drop's change follows the ones before it.
        conn.execute_batch("BEGIN").unwrap();
        keep_head(&conn, 2).unwrap();
        conn.execute("DELETE FROM Objects WHERE ObjectId = 2", [])
            .unwrap();
        record(&conn, &[change(2, "dropObject")]).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(ids(&conn, 2, 0, 10), [2, 5, 10]);

        // Retention takes a prefix: the chains end where it stopped.
        let later = Utc::now() + chrono::Duration::days(1);
        let old = [1, 2, 3, 4, 5, 6, 7];
        conn.execute("UPDATE Changes SET At = '2000' WHERE ChangeId <= 7", [])
            .unwrap();
        conn.execute("UPDATE Changes SET At = '9999' WHERE ChangeId > 7", [])
            .unwrap();
        assert_eq!(prune(&mut conn, later, 100).unwrap(), old.len() as u64);
        assert_eq!(ids(&conn, 1, 0, 10), [8]);
        assert_eq!(ids(&conn, 3, 0, 10), [9]);
        assert_eq!(ids(&conn, 2, 0, 10), [10]);
        let page = since(
            &conn,
            0,
            &ChangeFilter {
                object_types: Vec::new(),
                object_id: Some(3),
            },
            10,
        )
        .unwrap();
        assert_eq!(
            page.changes.iter().map(|c| c.change_id).collect::<Vec<_>>(),
            [9]
        );
        assert_eq!(
            page.through, page.head,
            "the object's stream read to the head"
        );
    }

    /// The object's event stream pages through its chain `limit` at a time.
    #[test]
    fn an_objects_stream_pages_through_its_chain() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate::run(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO Objects (ObjectId, ObjectType, CreatedAt, UpdatedAt) \
             VALUES (1, 'T', 't', 't'), (2, 'T', 't', 't')",
        )
        .unwrap();
        for _ in 0..5 {
            record(
                &conn,
                &[change(1, "saveProperties"), change(2, "saveProperties")],
            )
            .unwrap();
        }
        let filter = ChangeFilter {
            object_types: Vec::new(),
            object_id: Some(2),
        };
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = since(&conn, after, &filter, 2).unwrap();
            seen.extend(page.changes.iter().map(|c| c.change_id));
            if page.through == after {
                break;
            }
            after = page.through;
        }
        assert_eq!(seen, [2, 4, 6, 8, 10]);
    }
}
