//! Connections: one direct connect (start-up, admin), the bb8 pool of tiberius clients, and
//! the one place where a unit of work meets them — [`Db::transaction`] and [`Db::read`],
//! which run it, roll back on failure and re-run it when SQL Server says that trying again
//! can succeed (deadlock victim, serialization failure, a duplicate key raced in by a
//! concurrent upsert, a reference to a row deleted meanwhile, a connection that broke).
//! Reads that must see one state of the database run in a `SNAPSHOT` transaction.
//!
//! A connection whose work was interrupted half-way (the caller gave up, the command
//! timeout fired, the network failed) may still have a response on the wire or a
//! transaction open: it is marked broken and bb8 throws it away instead of lending it out.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::compat::TokioAsyncWriteCompatExt;

use super::connect::ConnectOptions;
use super::exec;
use super::sql;
use crate::store::StoreError;

/// A tiberius client over tokio TCP.
pub type Client = bb8_tiberius::rt::Client;

/// A unit of work on one connection; it borrows the connection for its lifetime.
pub type Work<'c, T> = Pin<Box<dyn Future<Output = Result<T, Fail>> + Send + 'c>>;

/// How a unit of work failed: the database said no, or the request is refused.
#[derive(Debug, thiserror::Error)]
pub enum Fail {
    #[error(transparent)]
    Sql(#[from] tiberius::error::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Attempts per unit of work before a retryable failure is given up on.
const MAX_ATTEMPTS: u32 = 8;

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Lost a race (deadlock, serialization, duplicate key of an upsert): run it again.
    Contention,
    /// The connection is gone: run it again on another one.
    Connection,
    /// Anything else: report it.
    Fatal,
}

fn classify(e: &tiberius::error::Error) -> Kind {
    use tiberius::error::Error as E;
    match e {
        E::Io { .. } | E::Protocol(_) | E::Tls(_) => Kind::Connection,
        E::Server(token) => match token.code() {
            // 1205 deadlock victim; 3960/3961 snapshot update conflicts; 2627/2601 a
            // concurrent upsert inserted the same key first; 40001 serialization failure
            // (as engines with optimistic SERIALIZABLE report it); 547 a reference to a row
            // deleted concurrently (the statements lock what they reference first, so this
            // is a race lost, and the re-run answers 404 cleanly; the one CHECK constraint of
            // the schema, which shares the number, is never broken by a request); 51205 an
            // application lock not granted (sql::PROJECTIONS_LOCK_SHARED).
            1205 | 3960 | 3961 | 2627 | 2601 | 40001 | 547 | 51205 => Kind::Contention,
            // Azure SQL's documented transient errors.
            4060 | 40197 | 40501 | 40613 | 49918 | 49919 | 49920 | 10928 | 10929 => {
                Kind::Connection
            }
            // Some engines report serialization failures with SQLSTATE text only.
            _ if token.message().contains("could not serialize access") => Kind::Contention,
            _ => Kind::Fatal,
        },
        _ => Kind::Fatal,
    }
}

/// The database error for a failure we do not retry (or gave up retrying).
pub fn to_store_error(e: tiberius::error::Error) -> StoreError {
    match classify(&e) {
        Kind::Contention => StoreError::Busy,
        _ => StoreError::Database(e.to_string()),
    }
}

pub fn fail_to_store(e: Fail) -> StoreError {
    match e {
        Fail::Store(e) => e,
        Fail::Sql(e) => to_store_error(e),
    }
}

fn io_error(e: impl std::fmt::Display) -> bb8_tiberius::Error {
    bb8_tiberius::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        e.to_string(),
    ))
}

/// One connection, outside any pool, with the session options set. Routing redirects
/// (Azure SQL gateways) are followed once.
pub async fn connect(options: &ConnectOptions) -> Result<Client, bb8_tiberius::Error> {
    let config = options
        .to_config()
        .map_err(|e| bb8_tiberius::Error::Io(std::io::Error::other(e.to_string())))?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(config.get_addr()).await?;
        tcp.set_nodelay(true)?;
        let mut client = match tiberius::Client::connect(config.clone(), tcp.compat_write()).await {
            Err(tiberius::error::Error::Routing { host, port }) => {
                let mut routed = config.clone();
                routed.host(&host);
                routed.port(port);
                let tcp = tokio::net::TcpStream::connect(routed.get_addr()).await?;
                tcp.set_nodelay(true)?;
                tiberius::Client::connect(routed, tcp.compat_write()).await?
            }
            other => other?,
        };
        exec::batch(&mut client, sql::SESSION_SETUP).await?;
        Ok::<_, bb8_tiberius::Error>(client)
    };
    match tokio::time::timeout(options.connect_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(io_error(format!(
            "no connection within the connect timeout ({} s)",
            options.connect_timeout.as_secs()
        ))),
    }
}

/// A pooled client and whether it may be lent out again.
pub struct Conn {
    pub client: Client,
    broken: bool,
}

impl Conn {
    /// Whether the pool must discard the connection when it comes back.
    pub fn set_broken(&mut self, broken: bool) {
        self.broken = broken;
    }
}

/// bb8's view of SQL Server: connects through [`connect`], discards broken connections.
pub struct Manager {
    options: ConnectOptions,
}

impl bb8::ManageConnection for Manager {
    type Connection = Conn;
    type Error = bb8_tiberius::Error;

    async fn connect(&self) -> Result<Conn, Self::Error> {
        let client = connect(&self.options).await?;
        Ok(Conn {
            client,
            broken: false,
        })
    }

    async fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        exec::batch(&mut conn.client, sql::HEALTH).await?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

/// Logs what bb8 would otherwise only report as "timed out".
#[derive(Debug, Clone, Copy)]
struct LogErrors;

impl bb8::ErrorSink<bb8_tiberius::Error> for LogErrors {
    fn sink(&self, error: bb8_tiberius::Error) {
        tracing::warn!(error = %error, "SQL Server connection failed");
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<bb8_tiberius::Error>> {
        Box::new(*self)
    }
}

/// The pool and the retry policy.
pub struct Db {
    pool: bb8::Pool<Manager>,
    size: u32,
    /// Moves after each transaction that committed (event streams wake on it).
    pub signal: tokio::sync::watch::Sender<u64>,
}

impl Db {
    /// A pool of `size` connections to the database `options` names.
    pub async fn new(options: &ConnectOptions, size: u32) -> Result<Db, StoreError> {
        let pool = bb8::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            // No `SELECT 1` round trip per checkout: a connection that died while idle
            // fails its first statement with an I/O error, and the work is re-run on a
            // fresh connection (see `classify`).
            .test_on_check_out(false)
            .connection_timeout(options.connect_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .max_lifetime(Some(Duration::from_secs(1800)))
            .error_sink(Box::new(LogErrors))
            .build(Manager {
                options: options.clone(),
            })
            .await
            .map_err(|e| StoreError::Database(format!("cannot open the pool: {e}")))?;
        Ok(Db {
            pool,
            size: size.max(1),
            signal: tokio::sync::watch::channel(0).0,
        })
    }

    /// Connections in use and the pool's size (bb8's `state()`).
    pub fn stats(&self) -> crate::store::PoolStats {
        let state = self.pool.state();
        crate::store::PoolStats {
            writer_queue: 0,
            connections_in_use: state.connections.saturating_sub(state.idle_connections) as usize,
            connections_max: self.size as usize,
        }
    }

    async fn checkout(&self) -> Result<bb8::PooledConnection<'_, Manager>, Fail> {
        self.pool.get().await.map_err(|e| match e {
            bb8::RunError::User(e) => Fail::Store(StoreError::Database(e.to_string())),
            bb8::RunError::TimedOut => {
                tracing::warn!("no SQL Server connection became free in time");
                Fail::Store(StoreError::Busy)
            }
        })
    }

    /// A connection of the pool for as long as the caller holds it (a lock's). Mark it
    /// with [`Conn::set_broken`] unless it ends as it began (no transaction open).
    pub async fn checkout_owned(
        &self,
    ) -> Result<bb8::PooledConnection<'static, Manager>, StoreError> {
        self.pool.get_owned().await.map_err(|e| match e {
            bb8::RunError::User(e) => StoreError::Database(e.to_string()),
            bb8::RunError::TimedOut => StoreError::Busy,
        })
    }

    /// Runs `work` in one transaction, re-running it on contention or a lost connection.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        let done = self.attempts(Mode::Transaction, work).await;
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
        done
    }

    /// Runs read-only `work` outside a transaction, re-running it on a lost connection.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        self.attempts(Mode::Autocommit, work).await
    }

    /// Runs read-only `work` in one `SNAPSHOT` transaction: every statement of it sees the
    /// database as it was when the first one began (a count and its page agree), and it
    /// neither waits for writers nor blocks them.
    pub async fn snapshot<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        self.attempts(Mode::Snapshot, work).await
    }

    /// Runs `work` in one transaction, once: for work that cannot be run twice (it takes
    /// from or sends to a channel).
    pub async fn transaction_once<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        self.once(Mode::Transaction, &work)
            .await
            .map_err(fail_to_store)
    }

    /// Runs read-only `work` in one `SNAPSHOT` transaction, once (as [`Db::transaction_once`]).
    pub async fn snapshot_once<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        self.once(Mode::Snapshot, &work)
            .await
            .map_err(fail_to_store)
    }

    async fn attempts<T, F>(&self, mode: Mode, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        let mut attempt = 1;
        loop {
            let e = match self.once(mode, &work).await {
                Ok(value) => return Ok(value),
                Err(Fail::Store(e)) => return Err(e),
                Err(Fail::Sql(e)) => e,
            };
            let kind = classify(&e);
            if kind == Kind::Fatal || attempt >= MAX_ATTEMPTS {
                if kind != Kind::Fatal {
                    tracing::warn!(attempt, error = %e, "giving up after retries");
                }
                return Err(to_store_error(e));
            }
            tracing::debug!(attempt, error = %e, ?kind, "retrying");
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn once<T, F>(&self, mode: Mode, work: &F) -> Result<T, Fail>
    where
        F: for<'c> Fn(&'c mut Client) -> Work<'c, T>,
    {
        let mut conn = self.checkout().await?;
        // Stays set unless the work ends cleanly: a dropped future leaves it broken.
        conn.broken = true;
        let client = &mut conn.client;
        let ends = mode.ends();
        let result = match ends {
            Some((begin, commit, _)) => match exec::batch(client, begin).await {
                Ok(()) => match work(client).await {
                    Ok(value) => exec::batch(client, commit)
                        .await
                        .map(|()| value)
                        .map_err(|e| match classify(&e) {
                            // The COMMIT may have reached the server: running the work
                            // again could write it twice. Reported, never retried.
                            Kind::Connection => Fail::Store(StoreError::Database(format!(
                                "the connection broke while committing; the write may or \
                                 may not be stored: {e}"
                            ))),
                            _ => Fail::Sql(e),
                        }),
                    Err(e) => Err(e),
                },
                Err(e) => Err(Fail::Sql(e)),
            },
            None => work(client).await,
        };
        // A connection goes back to the pool only without a transaction and at the default
        // isolation level (the pool does not reset sessions).
        let clean = match (&result, ends) {
            (Err(Fail::Sql(e)), _) if classify(e) == Kind::Connection => false,
            (Err(_), Some((_, _, rollback))) => exec::batch(client, rollback).await.is_ok(),
            _ => true,
        };
        conn.broken = !clean;
        result
    }
}

/// How a unit of work meets transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Each statement on its own (READ COMMITTED).
    Autocommit,
    /// One READ COMMITTED transaction.
    Transaction,
    /// One SNAPSHOT transaction, the session back at READ COMMITTED after it.
    Snapshot,
}

impl Mode {
    /// The batches that begin, commit and roll back the mode's transaction.
    fn ends(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Mode::Autocommit => None,
            Mode::Transaction => Some((sql::BEGIN, sql::COMMIT, sql::ROLLBACK)),
            Mode::Snapshot => Some((
                sql::BEGIN_SNAPSHOT,
                sql::COMMIT_SNAPSHOT,
                sql::ROLLBACK_SNAPSHOT,
            )),
        }
    }
}

/// 4, 8, 16, ... ms (at most 250), with jitter so that racing clients fall apart.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let base = (2u64 << attempt.min(6)).min(250);
    let jitter = RandomState::new().hash_one(attempt) % (base + 1);
    Duration::from_millis(base + jitter)
}
