//! What crosses the store boundary when data moves (export, import, copy-system): batches
//! of rows as stored, exchanged through bounded channels so that neither side ever holds
//! more than a few batches (docs/EXPORT.md).

use tokio::sync::mpsc;

use crate::model::ObjectId;

use super::{FileId, FileInfo, ObjectRecord};

/// Objects (each with its properties) per export batch.
pub const OBJECT_BATCH: usize = 1000;

/// Relationships per export batch.
pub const RELATIONSHIP_BATCH: usize = 5000;

/// File rows read per query when exporting (their bytes go one chunk at a time).
pub const FILE_BATCH: u32 = 100;

/// The largest chunk of file bytes an import takes (the export writes chunks as stored,
/// 256 KiB each).
pub const FILE_CHUNK_MAX: usize = 1024 * 1024;

/// Batches in flight between the two sides of a transfer.
pub const CHANNEL_DEPTH: usize = 2;

/// One row of `Relationships`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipRow {
    pub parent: ObjectId,
    pub child: ObjectId,
    pub strict: bool,
}

/// One row of `ObjectNumbers`: a type's numbering and the next number it hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberingRow {
    pub object_type: String,
    pub prefix: String,
    pub width: u32,
    pub next_number: i64,
    pub active: bool,
}

/// Rows of one kind, in the order an export gives them: objects by id, relationships by
/// (parent, child), numbering by type.
#[derive(Debug, Clone, PartialEq)]
pub enum DataBatch {
    Objects(Vec<ObjectRecord>),
    Relationships(Vec<RelationshipRow>),
    Numbering(Vec<NumberingRow>),
    /// A linked file (`owner`, `size` and `sha256` set), before its chunks.
    File(FileInfo),
    /// Chunk `seq` (from 0) of the file last sent: every chunk but the last holds the
    /// file's `chunk_size` bytes.
    FileChunk {
        file_id: FileId,
        seq: u32,
        data: Vec<u8>,
    },
}

/// What an import receives: batches, then `End`. A channel closed before `End` means the
/// sender gave up (a bad line, a failed export): the import rolls back.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportItem {
    /// `first_line` is the file line of the batch's first row (rows of a batch are on
    /// consecutive lines), 0 when the rows come from no file (copy-system).
    Batch {
        first_line: u64,
        data: DataBatch,
    },
    End,
}

/// Where an export sends its batches.
pub type ExportSink = mpsc::Sender<DataBatch>;

/// Where an import takes its batches from.
pub type ImportSource = mpsc::Receiver<ImportItem>;

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferCounts {
    pub objects: u64,
    pub properties: u64,
    pub relationships: u64,
    pub numbering: u64,
    pub files: u64,
    pub file_chunks: u64,
}

impl TransferCounts {
    /// Adds what a batch holds.
    pub fn add(&mut self, batch: &DataBatch) {
        match batch {
            DataBatch::Objects(objects) => {
                self.objects += objects.len() as u64;
                self.properties += objects
                    .iter()
                    .map(|o| o.properties.len() as u64)
                    .sum::<u64>();
            }
            DataBatch::Relationships(rows) => self.relationships += rows.len() as u64,
            DataBatch::Numbering(rows) => self.numbering += rows.len() as u64,
            DataBatch::File(_) => self.files += 1,
            DataBatch::FileChunk { .. } => self.file_chunks += 1,
        }
    }
}

/// The line of row `index` of a batch starting at `first_line`, as an error prefix.
pub fn line_of(first_line: u64, index: usize) -> String {
    if first_line == 0 {
        String::new()
    } else {
        format!("line {}: ", first_line + index as u64)
    }
}

/// The refusal of an import into a target that holds objects, without `replace`.
pub fn not_empty() -> super::StoreError {
    super::StoreError::ImportRefused(
        "the target system holds objects; import with --replace to replace them".into(),
    )
}

/// The refusal of an import whose sender stopped before the end.
pub fn abandoned() -> super::StoreError {
    super::StoreError::ImportRefused("the import ended before its end record".into())
}

/// Checks, in the import's transaction, that `file` belongs where it says: its object is
/// in the data (`object_exists`), and its property row (`property`: type and value) is an
/// Image or FileLink whose value names this file.
pub fn check_file_owner(
    first_line: u64,
    file: &FileInfo,
    object_exists: bool,
    property: Option<(&str, &str)>,
) -> Result<(ObjectId, String), super::StoreError> {
    let at = line_of(first_line, 0);
    let refuse = |m: String| super::StoreError::ImportRefused(format!("{at}{m}"));
    let Some((owner, name)) = file.owner.clone() else {
        return Err(refuse(format!("file {} has no object", file.file_id)));
    };
    if !object_exists {
        return Err(refuse(format!(
            "the object {owner} of file {} is not in the data",
            file.file_id
        )));
    }
    let Some((ty, value)) = property else {
        return Err(refuse(format!(
            "object {owner} has no property `{name}` for file {}",
            file.file_id
        )));
    };
    if ty != "Image" && ty != "FileLink" {
        return Err(refuse(format!(
            "property `{name}` of object {owner} is of type {ty}, not Image or FileLink"
        )));
    }
    let named = serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get("fileId").and_then(serde_json::Value::as_i64));
    if named != Some(file.file_id) {
        return Err(refuse(format!(
            "property `{name}` of object {owner} does not hold file {}",
            file.file_id
        )));
    }
    Ok((owner, name))
}
