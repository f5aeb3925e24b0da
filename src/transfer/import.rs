//! Import: a JSON Lines file checked line by line and handed to the store in batches, in
//! the store's one transaction. The first bad line stops everything: the reader closes
//! its channel, the store rolls back, and the error names the line.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use tokio::sync::mpsc;

use super::format::{self, Record};
use super::global_refs::{self, GlobalRefs};
use super::{Progress, TransferError};
use crate::model::ObjectId;
use crate::store::transfer::{CHANNEL_DEPTH, OBJECT_BATCH, RELATIONSHIP_BATCH};
use crate::store::{DataBatch, FileId, ImportItem, Store, TransferCounts};

/// The longest line an import reads (a file chunk's line is about 1.4 MB; an object's is
/// bounded by what a request may carry).
const MAX_LINE: u64 = 64 * 1024 * 1024;

/// The highest object id an import takes: an app's ids stay below the global types' (from
/// 2^50), or a later call by id would reach the global database.
const MAX_ID: ObjectId = GLOBAL_ID_BASE - 1;

/// The first and the highest id of a global database's import (2^53 − 1: exact as JSON).
const GLOBAL_ID_BASE: ObjectId = crate::tenancy::GLOBAL_ID_BASE;
const MAX_GLOBAL_ID: ObjectId = (1 << 53) - 1;

/// Why the reader stopped.
enum Stop {
    /// The file is not a valid export: the message names the line.
    Invalid(String),
    Io(std::io::Error),
    /// The store stopped taking batches (it has its own error).
    StoreGone,
}

/// Reads an export from `input` into `store` in one transaction (see the module).
pub async fn import_from<R: AsyncBufRead + Unpin>(
    store: &dyn Store,
    input: R,
    replace: bool,
    progress: &Progress,
    refs: GlobalRefs<'_>,
) -> Result<TransferCounts, TransferError> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let (into_store, checked) = mpsc::channel(CHANNEL_DEPTH);
    let into_global = matches!(refs, GlobalRefs::TargetIsGlobal);
    let (read, check, written) = tokio::join!(
        read(input, tx, progress, into_global),
        global_refs::forward(rx, into_store, refs),
        store.import_data(checked, replace)
    );
    match (read, written, check) {
        (Err(Stop::Invalid(message)), _, _) => Err(TransferError::Invalid(message)),
        (Err(Stop::Io(e)), _, _) => Err(TransferError::Io(e)),
        // Global ids the target system does not hold: refused before the end.
        (_, _, Err(refused)) => Err(refused),
        (_, Err(e), _) => Err(e.into()),
        (Err(Stop::StoreGone), Ok(_), _) => Err(TransferError::Invalid(
            "the store stopped before the end of the file".into(),
        )),
        (Ok(()), Ok(counts), _) => Ok(counts),
    }
}

/// What the reader has seen so far.
#[derive(Default)]
struct State {
    line: u64,
    rank: usize,
    last_object: ObjectId,
    last_relationship: (ObjectId, ObjectId),
    last_numbering: Option<String>,
    counts: TransferCounts,
    batch: Option<(u64, DataBatch)>,
    last_file: FileId,
    /// The file whose chunks are being read.
    file: Option<OpenFile>,
    ended: bool,
    /// The target is a global database: its ids are from 2^50, and only a global
    /// database's export goes there.
    into_global: bool,
}

/// A file announced by its `file` record, checked chunk by chunk.
struct OpenFile {
    id: FileId,
    line: u64,
    size: u64,
    chunk_size: u64,
    sha256: String,
    next_seq: u32,
    bytes: u64,
    hash: Sha256,
}

/// Checks, at the record after a file's last chunk (`line`), that its bytes are complete.
fn close_file(state: &mut State, line: u64) -> Result<(), Stop> {
    let Some(file) = state.file.take() else {
        return Ok(());
    };
    if file.bytes != file.size {
        return Err(invalid(
            line,
            format!(
                "file {} (line {}) holds {} bytes in its chunks, its record says {}",
                file.id, file.line, file.bytes, file.size
            ),
        ));
    }
    let sha256: String = file
        .hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha256 != file.sha256 {
        return Err(invalid(
            line,
            format!(
                "the bytes of file {} (line {}) do not have the sha256 its record says",
                file.id, file.line
            ),
        ));
    }
    Ok(())
}

fn invalid(line: u64, message: impl std::fmt::Display) -> Stop {
    Stop::Invalid(format!("line {line}: {message}"))
}

async fn flush(state: &mut State, tx: &mpsc::Sender<ImportItem>) -> Result<(), Stop> {
    if let Some((first_line, data)) = state.batch.take() {
        state.counts.add(&data);
        tx.send(ImportItem::Batch { first_line, data })
            .await
            .map_err(|_| Stop::StoreGone)?;
    }
    Ok(())
}

/// Adds a row to the batch being built, sending it first when it is of another kind or
/// full.
async fn push(
    state: &mut State,
    tx: &mpsc::Sender<ImportItem>,
    row: DataBatch,
) -> Result<(), Stop> {
    let line = state.line;
    let fits = match (&state.batch, &row) {
        (Some((_, DataBatch::Objects(v))), DataBatch::Objects(_)) => v.len() < OBJECT_BATCH,
        (Some((_, DataBatch::Relationships(v))), DataBatch::Relationships(_)) => {
            v.len() < RELATIONSHIP_BATCH
        }
        (Some((_, DataBatch::Numbering(_))), DataBatch::Numbering(_)) => true,
        _ => false,
    };
    if !fits {
        flush(state, tx).await?;
        state.batch = Some((line, row));
        return Ok(());
    }
    match (&mut state.batch, row) {
        (Some((_, DataBatch::Objects(v))), DataBatch::Objects(mut r)) => v.append(&mut r),
        (Some((_, DataBatch::Relationships(v))), DataBatch::Relationships(mut r)) => {
            v.append(&mut r)
        }
        (Some((_, DataBatch::Numbering(v))), DataBatch::Numbering(mut r)) => v.append(&mut r),
        _ => {}
    }
    Ok(())
}

async fn read<R: AsyncBufRead + Unpin>(
    mut input: R,
    tx: mpsc::Sender<ImportItem>,
    progress: &Progress,
    into_global: bool,
) -> Result<(), Stop> {
    let mut state = State {
        into_global,
        ..State::default()
    };
    let mut text = String::new();
    let mut bytes: u64 = 0;
    loop {
        text.clear();
        // At most one byte past the limit: a longer line is refused, never held whole.
        let n = match (&mut input).take(MAX_LINE + 1).read_line(&mut text).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(invalid(state.line + 1, "not UTF-8 text"));
            }
            Err(e) => return Err(Stop::Io(e)),
        };
        if n == 0 {
            break;
        }
        if n as u64 > MAX_LINE {
            return Err(invalid(
                state.line + 1,
                format!("longer than {} MiB", MAX_LINE / (1024 * 1024)),
            ));
        }
        bytes += n as u64;
        progress.set(bytes);
        state.line += 1;
        let line = state.line;
        if state.ended {
            return Err(invalid(line, "data after the end record"));
        }
        let trimmed = text.trim_end_matches(['\n', '\r']);
        if trimmed.trim().is_empty() {
            return Err(invalid(line, "an empty line"));
        }
        let record = format::parse(trimmed).map_err(|e| invalid(line, e))?;
        take(&mut state, &tx, record).await?;
    }
    if !state.ended {
        return Err(if state.line == 0 {
            Stop::Invalid("the file is empty: not an export".into())
        } else {
            invalid(
                state.line,
                "the file ends here without its end record: it was cut short",
            )
        });
    }
    tx.send(ImportItem::End)
        .await
        .map_err(|_| Stop::StoreGone)?;
    Ok(())
}

/// Checks one record against what came before and passes its rows on.
async fn take(
    state: &mut State,
    tx: &mpsc::Sender<ImportItem>,
    record: Record,
) -> Result<(), Stop> {
    let line = state.line;
    if line == 1 {
        let Record::Header(header) = &record else {
            return Err(invalid(
                line,
                "the file does not start with a header record",
            ));
        };
        if header.format != format::FORMAT {
            return Err(invalid(
                line,
                format!(
                    "the format is `{}`, not `{}`",
                    header.format,
                    format::FORMAT
                ),
            ));
        }
        if header.format_version != format::FORMAT_VERSION {
            return Err(invalid(
                line,
                format!(
                    "format version {} is not supported (this version reads {})",
                    header.format_version,
                    format::FORMAT_VERSION
                ),
            ));
        }
        if header.global != state.into_global {
            return Err(invalid(
                line,
                if header.global {
                    "this is the export of a global database: import it with --global"
                } else {
                    "this is the export of an app: it cannot be imported with --global"
                },
            ));
        }
        state.rank = 0;
        return Ok(());
    }
    let rank = record.rank();
    if rank == 0 {
        return Err(invalid(line, "a second header record"));
    }
    if rank < state.rank {
        return Err(invalid(
            line,
            format!(
                "a `{}` record after the records that follow it",
                record.kind()
            ),
        ));
    }
    state.rank = rank;
    if !matches!(record, Record::FileChunk(_)) {
        close_file(state, line)?;
    }
    match record {
        Record::Header(_) => {}
        Record::Object(object) => {
            let id = object.object_id;
            if state.into_global && !(GLOBAL_ID_BASE..=MAX_GLOBAL_ID).contains(&id) {
                return Err(invalid(
                    line,
                    format!(
                        "object id {id} is not between {GLOBAL_ID_BASE} (2^50) and \
                         {MAX_GLOBAL_ID}: a global database's ids"
                    ),
                ));
            }
            if !state.into_global && !(1..=MAX_ID).contains(&id) {
                return Err(invalid(
                    line,
                    format!(
                        "object id {id} is not between 1 and {MAX_ID} (ids from 2^50 are the \
                         global types')"
                    ),
                ));
            }
            if id == state.last_object {
                return Err(invalid(line, format!("object {id} appears twice")));
            }
            if id < state.last_object {
                return Err(invalid(
                    line,
                    format!(
                        "object {id} follows object {}: objects come in id order",
                        state.last_object
                    ),
                ));
            }
            state.last_object = id;
            let record = object.into_record().map_err(|e| invalid(line, e))?;
            push(state, tx, DataBatch::Objects(vec![record])).await?;
        }
        Record::Relationship(r) => {
            let key = (r.parent_object_id, r.child_object_id);
            if key == state.last_relationship {
                return Err(invalid(
                    line,
                    format!("the relationship {} -> {} appears twice", key.0, key.1),
                ));
            }
            if key < state.last_relationship {
                return Err(invalid(
                    line,
                    "relationships come in (parentObjectId, childObjectId) order",
                ));
            }
            state.last_relationship = key;
            push(state, tx, DataBatch::Relationships(vec![r.into()])).await?;
        }
        Record::Numbering(n) => {
            if state
                .last_numbering
                .as_ref()
                .is_some_and(|last| n.object_type.as_str() <= last.as_str())
            {
                return Err(invalid(
                    line,
                    format!(
                        "numbering of `{}` is out of order or appears twice",
                        n.object_type
                    ),
                ));
            }
            state.last_numbering = Some(n.object_type.clone());
            push(state, tx, DataBatch::Numbering(vec![n.into()])).await?;
        }
        Record::File(file) => {
            let id = file.file_id;
            if id <= state.last_file {
                return Err(invalid(
                    line,
                    format!("file {id} appears twice or out of order: files come in id order"),
                ));
            }
            state.last_file = id;
            let info = file.into_info().map_err(|e| invalid(line, e))?;
            state.file = Some(OpenFile {
                id,
                line,
                size: info.size,
                chunk_size: u64::from(info.chunk_size),
                sha256: info.sha256.clone().unwrap_or_default(),
                next_seq: 0,
                bytes: 0,
                hash: Sha256::new(),
            });
            push(state, tx, DataBatch::File(info)).await?;
        }
        Record::FileChunk(chunk) => {
            let Some(file) = state.file.as_mut().filter(|f| f.id == chunk.file_id) else {
                return Err(invalid(
                    line,
                    format!(
                        "a chunk of file {} that does not follow its file record",
                        chunk.file_id
                    ),
                ));
            };
            if chunk.seq != file.next_seq {
                return Err(invalid(
                    line,
                    format!(
                        "chunk {} of file {} where chunk {} comes next",
                        chunk.seq, file.id, file.next_seq
                    ),
                ));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(chunk.data.as_bytes())
                .map_err(|e| invalid(line, format!("the chunk's data is not base64 ({e})")))?;
            // Every chunk but the last is full: a chunk starts where the last one ended.
            if file.bytes != u64::from(chunk.seq) * file.chunk_size
                || data.is_empty()
                || data.len() as u64 > file.chunk_size
            {
                return Err(invalid(
                    line,
                    format!(
                        "chunk {} of file {} holds {} bytes: chunks before the last hold {}",
                        chunk.seq,
                        file.id,
                        data.len(),
                        file.chunk_size
                    ),
                ));
            }
            file.bytes += data.len() as u64;
            if file.bytes > file.size {
                return Err(invalid(
                    line,
                    format!(
                        "file {} (line {}) is longer than the {} bytes its record says",
                        file.id, file.line, file.size
                    ),
                ));
            }
            file.hash.update(&data);
            file.next_seq += 1;
            let batch = DataBatch::FileChunk {
                file_id: file.id,
                seq: chunk.seq,
                data,
            };
            push(state, tx, batch).await?;
        }
        Record::End(end) => {
            flush(state, tx).await?;
            let c = state.counts;
            let held = format::EndLine::from(c);
            if end != held {
                return Err(invalid(
                    line,
                    format!(
                        "the end record counts {} objects, {} properties, {} relationships, \
                         {} numbering rows, {} files and {} file chunks; the file holds {}, {}, \
                         {}, {}, {} and {}",
                        end.objects,
                        end.properties,
                        end.relationships,
                        end.numbering,
                        end.files,
                        end.file_chunks,
                        c.objects,
                        c.properties,
                        c.relationships,
                        c.numbering,
                        c.files,
                        c.file_chunks
                    ),
                ));
            }
            state.ended = true;
        }
    }
    Ok(())
}
