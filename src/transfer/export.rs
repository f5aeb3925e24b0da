//! Export: the store's batches written as JSON Lines, header first and end record last
//! (written only when every batch is out, so a failed export is a cut-short file).

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use base64::Engine as _;

use super::format::{
    self, EndLine, FileChunkLine, FileLine, Header, NumberingLine, ObjectLine, Record,
    RelationshipLine,
};
use super::{Progress, TransferError};
use crate::store::transfer::CHANNEL_DEPTH;
use crate::store::{DataBatch, Store, TransferCounts};
use crate::tenancy::{AppName, System};

async fn write_record<W: AsyncWrite + Unpin>(
    out: &mut W,
    record: &Record,
) -> Result<(), TransferError> {
    let mut line = serde_json::to_vec(record).map_err(|e| TransferError::Io(e.into()))?;
    line.push(b'\n');
    out.write_all(&line).await?;
    Ok(())
}

/// Writes the whole export of `store` (app `app`, system `system`) to `out`.
pub async fn export_to<W: AsyncWrite + Unpin>(
    store: &dyn Store,
    app: &AppName,
    system: System,
    out: W,
    progress: &Progress,
) -> Result<TransferCounts, TransferError> {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let version = store.config_versions().await?.version;
    let header = Header {
        format: format::FORMAT.into(),
        format_version: format::FORMAT_VERSION,
        app: app.as_str().into(),
        system: system.as_str().into(),
        exported_at: format::time_text(&chrono::Utc::now()),
        source: store.backend().into(),
        config_version: (version > 0).then_some(version),
    };
    write_record(&mut out, &Record::Header(header)).await?;
    let (tx, mut rx) = mpsc::channel(CHANNEL_DEPTH);
    let mut counts = TransferCounts::default();
    let writing = async {
        while let Some(batch) = rx.recv().await {
            counts.add(&batch);
            match &batch {
                DataBatch::Objects(objects) => {
                    for o in objects {
                        write_record(&mut out, &Record::Object(ObjectLine::from(o))).await?;
                    }
                    progress.set(counts.objects);
                }
                DataBatch::Relationships(rows) => {
                    progress.message("relationships");
                    for r in rows {
                        let line = RelationshipLine::from(r);
                        write_record(&mut out, &Record::Relationship(line)).await?;
                    }
                }
                DataBatch::Numbering(rows) => {
                    for n in rows {
                        write_record(&mut out, &Record::Numbering(NumberingLine::from(n))).await?;
                    }
                }
                DataBatch::File(file) => {
                    progress.message("files");
                    write_record(&mut out, &Record::File(FileLine::from(file))).await?;
                }
                DataBatch::FileChunk { file_id, seq, data } => {
                    let line = FileChunkLine {
                        file_id: *file_id,
                        seq: *seq,
                        data: base64::engine::general_purpose::STANDARD.encode(data),
                    };
                    write_record(&mut out, &Record::FileChunk(line)).await?;
                }
            }
        }
        Ok::<(), TransferError>(())
    };
    let (exported, written) = tokio::join!(store.export_data(tx), writing);
    // A failed write stops the export (its channel closes): report the write.
    written?;
    exported?;
    write_record(&mut out, &Record::End(EndLine::from(counts))).await?;
    out.flush().await?;
    out.shutdown().await?;
    Ok(counts)
}
