//! copy-system: the source's export piped into an import with replace on the target,
//! without text in between; the target's one transaction commits only when the whole
//! export arrived.

use tokio::sync::{mpsc, oneshot};

use super::global_refs::{self, GlobalRefs};
use super::TransferError;
use crate::store::transfer::CHANNEL_DEPTH;
use crate::store::{ImportItem, Store, TransferCounts};

/// Replaces `target`'s data with `source`'s, all or nothing; refused (nothing changes) when
/// the source's Lookups point at global objects `refs` does not hold.
pub async fn copy(
    source: &dyn Store,
    target: &dyn Store,
    refs: GlobalRefs<'_>,
) -> Result<TransferCounts, TransferError> {
    let (tx, mut rx) = mpsc::channel(CHANNEL_DEPTH);
    let (forward, checked) = mpsc::channel(CHANNEL_DEPTH);
    let (into_check, into_target) = mpsc::channel(CHANNEL_DEPTH);
    let (done, finished) = oneshot::channel::<bool>();
    let exporting = async move {
        let result = source.export_data(tx).await;
        let _ = done.send(result.is_ok());
        result
    };
    let forwarding = async move {
        while let Some(data) = rx.recv().await {
            let item = ImportItem::Batch {
                first_line: 0,
                data,
            };
            if forward.send(item).await.is_err() {
                return;
            }
        }
        // Only a complete export commits the target; otherwise the channel just closes.
        if finished.await == Ok(true) {
            let _ = forward.send(ImportItem::End).await;
        }
    };
    let (exported, (), check, imported) = tokio::join!(
        exporting,
        forwarding,
        global_refs::forward(checked, into_check, refs),
        target.import_data(into_target, true)
    );
    exported?;
    check?;
    Ok(imported?)
}
