//! The global references lock of the SQL Server store ([`crate::store::Store::lock_references`]):
//! `sp_getapplock` on `datastore-global-references`, shared or exclusive, owned by a
//! transaction on a connection held for the lock. A task on the stores' runtime holds the
//! connection, reads objects on it for the holder (no second connection from the pool is
//! needed under the lock), and commits (releasing the lock) once the holder drops its
//! guard. A connection lost meanwhile releases it too. A waiter asks without waiting
//! (`@LockTimeout = 0`) and closes its connection between tries (see `take`), so that
//! waiters never hold the connections the holder may need from the small per-database pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::pool::{fail_to_store, to_store_error, Client, Db};
use super::{exec, objects, sql};
use crate::model::ObjectId;
use crate::store::{ObjectRecord, ReferenceLock, StoreError, REFERENCE_LOCK_WAIT};

type Reply = oneshot::Sender<Result<Option<ObjectRecord>, StoreError>>;

/// The holder's side: reads go to the task holding the lock; dropping it releases.
struct MssqlReferenceLock {
    reads: mpsc::Sender<(ObjectId, Reply)>,
}

#[async_trait]
impl ReferenceLock for MssqlReferenceLock {
    async fn get_object(&self, id: ObjectId) -> Result<Option<ObjectRecord>, StoreError> {
        let lost = || StoreError::Database("the references lock was lost".into());
        let (reply, answer) = oneshot::channel();
        self.reads.send((id, reply)).await.map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
    }
}

/// Begins a transaction and asks for the lock without waiting: whether it was granted.
async fn try_lock(client: &mut Client, exclusive: bool) -> Result<bool, StoreError> {
    exec::batch(client, sql::BEGIN)
        .await
        .map_err(to_store_error)?;
    let statement = if exclusive {
        sql::REFERENCE_LOCK_EXCLUSIVE
    } else {
        sql::REFERENCE_LOCK_SHARED
    };
    let row = exec::row(client, statement, Vec::new())
        .await
        .map_err(fail_to_store)?;
    let result: i32 = match row {
        Some(row) => exec::req(&row, 0).map_err(fail_to_store)?,
        None => -999,
    };
    Ok(result >= 0)
}

/// Takes the lock on a connection of `db`, held by a task on `runtime`.
pub async fn take(
    db: Arc<Db>,
    runtime: &tokio::runtime::Handle,
    exclusive: bool,
) -> Result<Box<dyn ReferenceLock>, StoreError> {
    let (granted, answer) = oneshot::channel::<Result<(), StoreError>>();
    let (reads, mut requests) = mpsc::channel::<(ObjectId, Reply)>(1);
    runtime.spawn(async move {
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut conn = loop {
            let mut conn = match db.checkout_owned().await {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = granted.send(Err(e));
                    return;
                }
            };
            // Stays broken (discarded) unless the transaction ends cleanly.
            conn.set_broken(true);
            match try_lock(&mut conn.client, exclusive).await {
                Ok(true) => break conn,
                // Not granted: the connection stays broken, so it is closed, not reused.
                // Babelfish 4.2 keeps something of each refused `sp_getapplock` in the
                // session, and a second refusal in one session crashes the whole server
                // (`PANIC: ERRORDATA_STACK_SIZE exceeded`, seen in its log); a fresh
                // connection per try costs a login only while a global object is dropped.
                Ok(false) => {}
                Err(e) => {
                    let _ = granted.send(Err(e));
                    return;
                }
            }
            // Not granted: the connection goes back while waiting.
            drop(conn);
            if started.elapsed() >= REFERENCE_LOCK_WAIT {
                let _ = granted.send(Err(StoreError::Busy));
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(25));
        };
        if granted.send(Ok(())).is_err() {
            // The holder is gone: end the transaction.
            if exec::batch(&mut conn.client, sql::ROLLBACK).await.is_ok() {
                conn.set_broken(false);
            }
            return;
        }
        while let Some((id, reply)) = requests.recv().await {
            let read = objects::load(&mut conn.client, id)
                .await
                .map_err(fail_to_store);
            let _ = reply.send(read);
        }
        if exec::batch(&mut conn.client, sql::COMMIT).await.is_ok() {
            conn.set_broken(false);
        }
    });
    answer
        .await
        .map_err(|_| StoreError::Database("the references lock task ended".into()))??;
    Ok(Box::new(MssqlReferenceLock { reads }))
}
