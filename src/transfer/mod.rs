//! Data movement (API.md §9, docs/EXPORT.md): `datastore export`, `import`, `copy-system`
//! and `exportData` / `copySystem` over HTTP.
//!
//! # Layout
//!
//! - `format`: the JSON Lines records and their checks.
//! - `export`: a store's batches to lines, in constant memory.
//! - `import`: lines to batches, checked, into the target's one transaction.
//! - `copy`: one store's batches straight into another's import.
//! - `progress`: the CLI's progress bar (only on a terminal).
//!
//! The stores do the reading and writing ([`crate::store::Store::export_data`] and
//! [`crate::store::Store::import_data`]); this module owns the format.

mod copy;
mod export;
pub mod format;
mod global_refs;
mod import;
mod progress;

use std::sync::Arc;

pub use copy::copy;
pub use export::export_to;
pub use global_refs::GlobalRefs;
pub use import::import_from;
pub use progress::Progress;

use crate::store::{self, Store, StoreError, StoreOptions};
use crate::tenancy::{AppName, Owner, System};

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The file is not a valid export; the message names the line.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Opens the global database of `system` (derived from the default app's LIVE
/// `database`), created if need be, migrated, its ids from 2^50.
pub async fn open_global_store(
    database: &str,
    system: System,
    pool_size: u32,
) -> Result<Arc<dyn Store>, StoreError> {
    let options = StoreOptions {
        pool_size,
        migrate: true,
    };
    let central = store::open(database, &options).await?;
    crate::service::open_tenant_store(database, &options, &Owner::Global, system, central.as_ref())
        .await
}

/// Opens the database of `app` in `system` (derived from the default app's LIVE
/// `database`), migrated. The one place transfers open a system's database.
pub async fn open_system_store(
    database: &str,
    app: &AppName,
    system: System,
    pool_size: u32,
) -> Result<Arc<dyn Store>, StoreError> {
    let options = StoreOptions {
        pool_size,
        migrate: true,
    };
    let central = store::open(database, &options).await?;
    if app.is_default() && system == System::Live {
        return Ok(central);
    }
    // Another database gets the deployment's DSConfig and its app is recorded, as when
    // `serve` opens it first.
    crate::service::open_tenant_store(
        database,
        &options,
        &Owner::App(app.clone()),
        system,
        central.as_ref(),
    )
    .await
}
