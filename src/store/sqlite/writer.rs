//! The writer thread and its group commit.
//!
//! Every write of the embedded store is a job sent to one thread that owns the only
//! read-write connection. The thread takes every job waiting in its queue (up to
//! 256, or until 4 ms of work: [`BOUNDS`]) into one `IMMEDIATE` transaction, runs
//! each job in its own `SAVEPOINT` (a job that fails is rolled back to it and leaves the
//! others alone) and answers the jobs only once the `COMMIT` that holds them succeeded; if
//! that commit fails, every job of the group gets the error. One commit per group instead
//! of one per write is what lets writes keep up under load: the WAL gets each page once per
//! group, and with `synchronous = FULL` one fsync serves the whole group.
//!
//! The write functions keep their own transactions: [`begin`] gives a savepoint inside the
//! job's savepoint when a group is open, and an `IMMEDIATE` transaction otherwise (tests,
//! migrations).

use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

/// How large a group may grow.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// Most jobs in one group.
    jobs: usize,
    /// Once a group has worked this long, it takes no more jobs and commits: the first
    /// job's answer waits for the last one's work.
    time: Duration,
}

const BOUNDS: Bounds = Bounds {
    jobs: 256,
    time: Duration::from_millis(4),
};

/// Writes between two `PRAGMA optimize` runs of the writer.
const OPTIMIZE_EVERY: u64 = 20_000;

/// Answers a job's caller once the fate of its group is known: `None` when the commit that
/// holds the job succeeded (the job's own result stands), else the commit's error.
pub(super) type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A job's work and its caller, with the result type erased.
trait Job: Send {
    /// Runs the work; says whether it succeeded, and how to answer once the group ends.
    fn run(self: Box<Self>, conn: &mut Connection) -> (bool, Answer);
    /// Answers without running: the group could not start.
    fn refuse(self: Box<Self>, e: &StoreError);
}

struct Typed<F, R> {
    job: F,
    reply: R,
}

impl<T, F, R> Job for Typed<F, R>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    R: FnOnce(Result<T, StoreError>) + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Connection) -> (bool, Answer) {
        let Typed { job, reply } = *self;
        let result = job(conn);
        let ok = result.is_ok();
        let answer: Answer = Box::new(move |failed| match failed {
            Some(e) if ok => reply(Err(retell(e))),
            _ => reply(result),
        });
        (ok, answer)
    }

    fn refuse(self: Box<Self>, e: &StoreError) {
        (self.reply)(Err(retell(e)))
    }
}

/// One write, as the writer thread takes it.
pub(super) struct WriteJob {
    job: Box<dyn Job>,
    /// Runs in a group of its own: a job that may hold the writer long (an import waiting on
    /// its upload) must not hold back the answers of the jobs grouped before it.
    solo: bool,
}

impl WriteJob {
    /// A job whose `Result` goes to `reply` once its group's fate is known.
    pub(super) fn new<T, F, R>(job: F, reply: R, solo: bool) -> WriteJob
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        R: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        WriteJob {
            job: Box::new(Typed { job, reply }),
            solo,
        }
    }
}

/// The same error again, for each job of a group whose commit failed.
fn retell(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        other => StoreError::Database(other.to_string()),
    }
}

/// A write function's transaction: its own `IMMEDIATE` one outside a group, a savepoint
/// inside the job's savepoint within one. Dropped without [`Transaction::commit`], it rolls
/// back (to the savepoint), with the change rows it recorded.
pub(crate) struct Transaction<'c> {
    inner: Option<Inner<'c>>,
    /// The change rows waiting when it began (see `changes::record`).
    mark: usize,
}

enum Inner<'c> {
    Own(rusqlite::Transaction<'c>),
    /// A savepoint (see [`savepoint`]) on this connection.
    Nested(&'c Connection),
}

/// Runs one of the writer's fixed statements (savepoints, group begin and commit) from the
/// prepared-statement cache: parsed once per connection instead of once per write.
fn run_fixed(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Opens a nested savepoint. One name serves every depth: `RELEASE` and `ROLLBACK TO`
/// act on the innermost savepoint of that name.
fn savepoint(conn: &Connection) -> rusqlite::Result<()> {
    run_fixed(conn, "SAVEPOINT w")
}

/// Rolls a nested savepoint back and ends it.
fn roll_back_savepoint(conn: &Connection) {
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back already (an I/O error, disk full).
        return;
    }
    let undone = run_fixed(conn, "ROLLBACK TO w").and_then(|()| run_fixed(conn, "RELEASE w"));
    if let Err(e) = undone {
        tracing::error!(error = %e, "cannot roll a write's savepoint back");
    }
}

impl Transaction<'_> {
    /// Commits (or releases the savepoint: the group commits it).
    /// A commit that fails rolls back, and so drops the change rows recorded under it.
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        let done = match self.inner.take() {
            Some(Inner::Own(tx)) => tx.commit(),
            Some(Inner::Nested(conn)) => {
                let released = run_fixed(conn, "RELEASE w");
                if released.is_err() {
                    roll_back_savepoint(conn);
                }
                released
            }
            None => Ok(()),
        };
        if done.is_err() {
            super::changes::discard_pending(self.mark);
        }
        done
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        match self.inner.take() {
            // Its own transaction rolls back as it drops.
            Some(Inner::Own(tx)) => drop(tx),
            Some(Inner::Nested(conn)) => roll_back_savepoint(conn),
            None => return,
        }
        super::changes::discard_pending(self.mark);
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self.inner.as_ref() {
            Some(Inner::Own(tx)) => tx,
            Some(Inner::Nested(conn)) => conn,
            None => unreachable!("a transaction is used only until it commits"),
        }
    }
}

/// Opens a write function's transaction (see [`Transaction`]).
pub(super) fn begin(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    let mark = super::changes::pending_mark();
    let inner = if conn.is_autocommit() {
        Inner::Own(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    } else {
        savepoint(conn)?;
        Inner::Nested(conn)
    };
    Ok(Transaction {
        inner: Some(inner),
        mark,
    })
}

/// The writer thread's loop: groups until every sender is gone.
pub(super) fn run(mut conn: Connection, jobs: mpsc::Receiver<WriteJob>, queued: Arc<AtomicUsize>) {
    let take = |job: WriteJob| {
        queued.fetch_sub(1, Ordering::Relaxed);
        job
    };
    let mut next: Option<WriteJob> = None;
    let mut written: u64 = 0;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => take(job),
                Err(_) => return,
            },
        };
        let (done, left) = run_group(&mut conn, first, || jobs.try_recv().ok().map(take), BOUNDS);
        next = left;
        let before = written;
        written += done as u64;
        if written / OPTIMIZE_EVERY != before / OPTIMIZE_EVERY {
            // Keeps the planner's statistics current as the data grows.
            if let Err(e) = conn.execute_batch("PRAGMA optimize") {
                tracing::warn!(error = %e, "PRAGMA optimize failed");
            }
        }
    }
}

/// Runs `first` and whatever `more` gives (within the bounds) in one transaction, then
/// answers them. Returns how many jobs ran, and a solo job taken but not run.
fn run_group(
    conn: &mut Connection,
    first: WriteJob,
    mut more: impl FnMut() -> Option<WriteJob>,
    bounds: Bounds,
) -> (usize, Option<WriteJob>) {
    let started = Instant::now();
    if let Err(e) = run_fixed(conn, "BEGIN IMMEDIATE") {
        first.job.refuse(&StoreError::from(e));
        return (1, None);
    }
    let solo = first.solo;
    super::changes::hold_pending(true);
    let _closed = Closes;
    let mut answers: Vec<Answer> = Vec::new();
    let mut ran = 0;
    let mut job = Some(first);
    let mut left = None;
    while let Some(current) = job.take() {
        answers.extend(run_job(conn, current));
        ran += 1;
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error): nothing of
            // the group stays, and every job of it hears so.
            let e = StoreError::Database("the write was rolled back by the database".into());
            answer_all(answers, Some(&e));
            return (0, None);
        }
        if let Err(e) = super::changes::flush(conn) {
            // The job's write is in the transaction without its change: none of the group
            // may commit.
            tracing::error!(error = %e, "cannot write a job's changes");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            answer_all(answers, Some(&e));
            return (0, None);
        }
        if solo || ran >= bounds.jobs || started.elapsed() >= bounds.time {
            break;
        }
        match more() {
            Some(j) if j.solo => left = Some(j),
            Some(j) => job = Some(j),
            None => {}
        }
    }
    match run_fixed(conn, "COMMIT") {
        Ok(()) => {
            tracing::debug!(
                jobs = ran,
                micros = started.elapsed().as_micros() as u64,
                "a group committed"
            );
            answer_all(answers, None)
        }
        Err(e) => {
            let e = StoreError::from(e);
            tracing::error!(error = %e, jobs = ran, "a group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            answer_all(answers, Some(&e));
        }
    }
    (ran, left)
}

/// Stops holding change rows when a group ends, however it ends.
struct Closes;

impl Drop for Closes {
    fn drop(&mut self) {
        super::changes::hold_pending(false);
    }
}

/// Runs one job in its own savepoint: rolled back to it when the job fails or panics.
/// Returns how to answer it once the group ends (none when it was answered already, or
/// panicked: its caller hears that the write was abandoned).
fn run_job(conn: &mut Connection, job: WriteJob) -> Option<Answer> {
    if let Err(e) = run_fixed(conn, "SAVEPOINT job") {
        job.job.refuse(&StoreError::from(e));
        return None;
    }
    // A panic in one job must not take the writer down with it (its caller hears that the
    // write was abandoned).
    let mark = super::changes::pending_mark();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job.job.run(conn)));
    let (ok, answer) = match outcome {
        Ok((ok, answer)) => (ok, Some(answer)),
        Err(_) => (false, None),
    };
    if !ok {
        super::changes::discard_pending(mark);
    }
    if !conn.is_autocommit() {
        let end = if ok {
            run_fixed(conn, "RELEASE job")
        } else {
            run_fixed(conn, "ROLLBACK TO job").and_then(|()| run_fixed(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "cannot end a write's savepoint");
        }
    }
    answer
}

fn answer_all(answers: Vec<Answer>, failed: Option<&StoreError>) {
    for answer in answers {
        answer(failed);
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
