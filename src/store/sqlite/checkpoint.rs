//! The checkpointer: copies the WAL's pages back into the database file, on a thread of its
//! own. Left to the writer (SQLite's auto-checkpoint), the copy and its fsync run inside
//! whichever commit crosses 1,000 WAL pages: a fifth of the writer's time under a steady
//! write load, and the writer thread is what bounds the rate of writes. A `PASSIVE`
//! checkpoint runs beside the writer and the readers without waiting for either, so here it
//! runs every [`EVERY`] (at no cost when nothing is new). Several processes on one file
//! each run theirs; SQLite lets one at a time do the work.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// The writer's own auto-checkpoint, in WAL pages: bounds the WAL (about 40 MB) when the
/// checkpointer cannot catch up with a steady writer.
pub(super) const WRITER_BACKSTOP_PAGES: i64 = 10_000;

/// How often the WAL is checkpointed.
const EVERY: Duration = Duration::from_millis(50);

/// The checkpointer's own connection (opened before the writer starts, so that a database
/// the checkpointer cannot open is refused rather than left to grow its WAL).
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A checkpoint syncs the WAL before copying and the file after, as the writer's level says.
    let synchronous = match super::super::synchronous() {
        super::super::Synchronous::Normal => "NORMAL",
        super::super::Synchronous::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "cache_size", -256)?;
    Ok(conn)
}

/// Checkpoints every [`EVERY`] until `stopped` hears that the writer has stopped.
pub(super) fn run(conn: Connection, stopped: &Receiver<()>) {
    loop {
        match stopped.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "a WAL checkpoint failed");
        }
    }
}
