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

/// How long one record may wait for its reader (a client that stopped reading, a stalled
/// pipe) before the export gives up: it holds a read snapshot and a connection meanwhile.
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

async fn write_record<W: AsyncWrite + Unpin>(
    out: &mut W,
    record: &Record,
) -> Result<(), TransferError> {
    let mut line = serde_json::to_vec(record).map_err(|e| TransferError::Io(e.into()))?;
    line.push(b'\n');
    match tokio::time::timeout(STALL, out.write_all(&line)).await {
        Ok(written) => written?,
        Err(_) => {
            return Err(TransferError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the export's reader took nothing for {} s", STALL.as_secs()),
            )))
        }
    }
    Ok(())
}

/// Writes the whole export of `store` (app `app`, system `system`) to `out`.
pub async fn export_to<W: AsyncWrite + Unpin>(
    store: &dyn Store,
    app: Option<&AppName>,
    system: System,
    out: W,
    progress: &Progress,
) -> Result<TransferCounts, TransferError> {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let version = store.config_versions().await?.version;
    let header = Header {
        format: format::FORMAT.into(),
        format_version: format::FORMAT_VERSION,
        app: app.map_or("global", |a| a.as_str()).into(),
        system: system.as_str().into(),
        exported_at: format::time_text(&chrono::Utc::now()),
        source: store.backend().into(),
        config_version: (version > 0).then_some(version),
        global: app.is_none(),
    };
    write_record(&mut out, &Record::Header(header)).await?;
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let mut counts = TransferCounts::default();
    let writing = async {
        // Owned here: when writing fails, the receiver goes with it and the store's side
        // of the export stops at its next send (instead of waiting for a reader forever).
        let mut rx = rx;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewObject, StoreOptions};

    /// Accepts `room` bytes, then fails every write: a client that went away.
    struct Broken {
        room: usize,
    }

    impl AsyncWrite for Broken {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            if self.room == 0 {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            std::task::Poll::Ready(Ok(n))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Found by review: the store's side of an export waited forever for a reader that had
    /// gone, holding its read snapshot and a pooled reader.
    #[tokio::test]
    async fn an_export_whose_reader_goes_away_ends_and_gives_its_reader_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        let options = StoreOptions {
            pool_size: 1,
            migrate: true,
        };
        let store = crate::store::open(&url, &options).await.unwrap();
        let object = NewObject {
            object_type: "Thing".into(),
            properties: Vec::new(),
            config_version: 0,
        };
        // Several batches more than the channel holds.
        store
            .new_objects(vec![object; 20 * crate::store::transfer::OBJECT_BATCH])
            .await
            .unwrap();
        let app = AppName::default_app();
        let out = Broken { room: 64 * 1024 };
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            export_to(
                store.as_ref(),
                Some(&app),
                System::Live,
                out,
                &Progress::hidden(),
            ),
        )
        .await
        .expect("the export ends when its reader goes away");
        assert!(ended.is_err());
        // The one reader is free again.
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), store.object_type(1))
            .await
            .expect("the reader is given back");
        assert_eq!(read.unwrap().as_deref(), Some("Thing"));
    }
}
