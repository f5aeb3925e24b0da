//! Group commit: what one group's jobs see of each other, and when they are answered.

use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

use rusqlite::Connection;

use super::*;

/// Bounds no test machine reaches: a group ends when its queue is empty.
const WIDE: Bounds = Bounds {
    jobs: 1000,
    time: Duration::from_secs(600),
};

fn writer(dir: &tempfile::TempDir) -> Connection {
    let conn = super::super::open_connection(&dir.path().join("w.db"), false).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (n INTEGER PRIMARY KEY); CREATE TABLE p (id INTEGER PRIMARY KEY); \
         CREATE TABLE c (p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
    )
    .unwrap();
    conn
}

fn rows(dir: &tempfile::TempDir) -> Vec<i64> {
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A job inserting `n` in its own transaction, failing after the insert when `fail`;
/// its answer goes to `answers`.
fn insert(n: i64, fail: bool, answers: &Sender<(i64, Result<i64, String>)>) -> WriteJob {
    let answers = answers.clone();
    WriteJob::new(
        move |c: &mut Connection| {
            let tx = begin(c)?;
            tx.execute("INSERT INTO t VALUES (?1)", [n])?;
            if fail {
                return Err(StoreError::Database("refused".into()));
            }
            tx.commit()?;
            Ok(n)
        },
        move |r: Result<i64, StoreError>| {
            let _ = answers.send((n, r.map_err(|e| e.to_string())));
        },
        false,
    )
}

#[test]
fn one_failing_job_in_a_group_leaves_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    let (tx, rx) = channel();
    let mut queue = vec![
        insert(2, false, &tx),
        insert(3, true, &tx),
        insert(4, false, &tx),
    ]
    .into_iter();
    let (ran, left) = run_group(&mut conn, insert(1, false, &tx), || queue.next(), WIDE);
    assert_eq!(ran, 4);
    assert!(left.is_none());
    let answers: Vec<_> = rx.try_iter().collect();
    assert_eq!(answers.len(), 4);
    for (n, answer) in answers {
        assert_eq!(answer.is_ok(), n != 3, "job {n}: {answer:?}");
    }
    assert_eq!(rows(&dir), vec![1, 2, 4]);
    assert!(conn.is_autocommit(), "the group is committed");
}

#[test]
fn answers_come_only_after_the_commit_that_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    let (tx, rx) = channel();
    let (seen_tx, seen) = channel();
    let reader = Connection::open(dir.path().join("w.db")).unwrap();
    // The second job looks, from another connection, at what the first one wrote, and at
    // whether the first one was answered yet.
    let first_answer = std::sync::Arc::new(std::sync::Mutex::new(None));
    let first_answered = first_answer.clone();
    let first = WriteJob::new(
        |c: &mut Connection| Ok(c.execute("INSERT INTO t VALUES (1)", [])?),
        move |r: Result<usize, StoreError>| *first_answered.lock().unwrap() = Some(r.is_ok()),
        false,
    );
    let look_answer = first_answer.clone();
    let look = WriteJob::new(
        move |_: &mut Connection| {
            let visible: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
            let answered = look_answer.lock().unwrap().is_some();
            let _ = seen_tx.send((visible, answered));
            Ok(())
        },
        move |r: Result<(), StoreError>| {
            let _ = tx.send(r.is_ok());
        },
        false,
    );
    let mut queue = Some(look);
    let (ran, _) = run_group(&mut conn, first, || queue.take(), WIDE);
    assert_eq!(ran, 2);
    assert_eq!(
        seen.try_recv().unwrap(),
        (0, false),
        "inside the group, the first write is neither visible elsewhere nor answered"
    );
    assert_eq!(*first_answer.lock().unwrap(), Some(true));
    assert!(rx.try_recv().unwrap());
    assert_eq!(rows(&dir), vec![1]);
}

#[test]
fn a_failed_commit_fails_every_job_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    let (tx, rx) = channel();
    // A deferred foreign key passes the statement and fails the COMMIT.
    let dangling = {
        let tx = tx.clone();
        WriteJob::new(
            |c: &mut Connection| Ok(c.execute("INSERT INTO c VALUES (99)", [])? as i64),
            move |r: Result<i64, StoreError>| {
                let _ = tx.send((99, r.map_err(|e| e.to_string())));
            },
            false,
        )
    };
    let mut queue = vec![dangling, insert(2, false, &tx)].into_iter();
    let (ran, _) = run_group(&mut conn, insert(1, false, &tx), || queue.next(), WIDE);
    assert_eq!(ran, 3);
    let answers: Vec<_> = rx.try_iter().collect();
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|(_, a)| a.is_err()), "{answers:?}");
    assert!(rows(&dir).is_empty());
    assert!(conn.is_autocommit(), "the failed group is rolled back");
    // The writer goes on: the next group commits.
    let (ran, _) = run_group(&mut conn, insert(3, false, &tx), || None, WIDE);
    assert_eq!(ran, 1);
    assert_eq!(rows(&dir), vec![3]);
}

#[test]
fn a_group_stops_at_its_bound_and_before_a_solo_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    let (tx, rx) = channel();
    let mut queue = (2..=5).map(|n| insert(n, false, &tx));
    let three = Bounds {
        jobs: 3,
        time: WIDE.time,
    };
    let (ran, _) = run_group(&mut conn, insert(1, false, &tx), || queue.next(), three);
    assert_eq!(ran, 3);
    assert_eq!(rows(&dir), vec![1, 2, 3]);

    let solo = WriteJob::new(
        |c: &mut Connection| Ok(c.execute("INSERT INTO t VALUES (10)", [])?),
        |_: Result<usize, StoreError>| {},
        true,
    );
    let mut queue = vec![solo, insert(11, false, &tx)].into_iter();
    let (ran, left) = run_group(&mut conn, insert(9, false, &tx), || queue.next(), WIDE);
    assert_eq!(ran, 1, "the solo job waits for the next group");
    let left = left.expect("the solo job is handed back");
    assert!(left.solo);
    let (ran, left) = run_group(&mut conn, left, || queue.next(), WIDE);
    assert_eq!((ran, left.is_none()), (1, true), "a solo job runs alone");
    assert_eq!(rows(&dir), vec![1, 2, 3, 9, 10]);
    drop(rx);
}

#[test]
fn a_panicking_job_is_rolled_back_and_the_group_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    let (tx, rx) = channel();
    let (abandoned_tx, abandoned) = tokio::sync::oneshot::channel::<Result<(), StoreError>>();
    let panics = WriteJob::new(
        |c: &mut Connection| {
            c.execute("INSERT INTO t VALUES (7)", [])?;
            panic!("a bug in a write");
        },
        move |r| {
            let _ = abandoned_tx.send(r);
        },
        false,
    );
    let mut queue = vec![panics, insert(2, false, &tx)].into_iter();
    let (ran, _) = run_group(&mut conn, insert(1, false, &tx), || queue.next(), WIDE);
    assert_eq!(ran, 3);
    assert_eq!(rows(&dir), vec![1, 2]);
    assert_eq!(rx.try_iter().filter(|(_, a)| a.is_ok()).count(), 2);
    assert!(
        abandoned.blocking_recv().is_err(),
        "its caller hears it was abandoned"
    );
}

/// A job recording a change of `object` (and, when `fail`, failing after it), after a
/// transaction of its own that records a change of `-object` and rolls back.
fn change(object: i64, fail: bool, answers: &Sender<(i64, Result<i64, String>)>) -> WriteJob {
    let answers = answers.clone();
    WriteJob::new(
        move |c: &mut Connection| {
            {
                let abandoned = begin(c)?;
                record_of(&abandoned, -object)?;
            }
            let tx = begin(c)?;
            record_of(&tx, object)?;
            if fail {
                return Err(StoreError::Database("refused".into()));
            }
            tx.commit()?;
            Ok(object)
        },
        move |r: Result<i64, StoreError>| {
            let _ = answers.send((object, r.map_err(|e| e.to_string())));
        },
        false,
    )
}

fn record_of(tx: &Connection, object: i64) -> Result<(), StoreError> {
    let mut changes = serde_json::Map::new();
    changes.insert("age".into(), serde_json::json!([null, object]));
    super::super::changes::record(
        tx,
        &[crate::store::changes::NewChange {
            object_id: object,
            object_type: "Person".into(),
            operation: "saveProperties",
            changes,
        }],
    )
}

fn logged(dir: &tempfile::TempDir) -> Vec<i64> {
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT ObjectId FROM Changes ORDER BY ChangeId")
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_jobs_changes_commit_with_it_and_go_with_its_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    conn.execute_batch(
        "CREATE TABLE Changes (ChangeId INTEGER PRIMARY KEY AUTOINCREMENT, \
         ObjectId INTEGER NOT NULL, ObjectType TEXT NOT NULL, Operation TEXT NOT NULL, \
         At TEXT NOT NULL, KeyId TEXT NULL, Changes TEXT NOT NULL, PrevChangeId INTEGER NULL); \
         CREATE TABLE Objects (ObjectId INTEGER PRIMARY KEY, LastChangeId INTEGER NULL); \
         CREATE TABLE ChangeHeads (ObjectId INTEGER PRIMARY KEY, LastChangeId INTEGER NOT NULL);",
    )
    .unwrap();
    let (tx, rx) = channel();
    let mut queue = vec![change(2, true, &tx), change(3, false, &tx)].into_iter();
    let (ran, _) = run_group(&mut conn, change(1, false, &tx), || queue.next(), WIDE);
    assert_eq!(ran, 3);
    assert_eq!(rx.try_iter().count(), 3);
    // The failed job's change and the nested transactions' rolled-back ones are gone.
    assert_eq!(logged(&dir), vec![1, 3]);
    // Outside a group (a CLI write), a change is written at once, in the transaction.
    let tx = begin(&mut conn).unwrap();
    record_of(&tx, 4).unwrap();
    tx.commit().unwrap();
    assert_eq!(logged(&dir), vec![1, 3, 4]);
}

#[test]
fn a_transaction_whose_commit_fails_drops_the_changes_recorded_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = writer(&dir);
    super::super::changes::hold_pending(true);
    let tx = begin(&mut conn).unwrap();
    record_of(&tx, 1).unwrap();
    // A deferred foreign key fails the commit itself.
    tx.execute("INSERT INTO c VALUES (42)", []).unwrap();
    assert!(tx.commit().is_err());
    let left = super::super::changes::pending_mark();
    super::super::changes::hold_pending(false);
    assert_eq!(left, 0, "the failed commit's change rows are dropped");
}
