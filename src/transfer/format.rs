//! The export format: JSON Lines, one record per line, each with its kind in `record`
//! (docs/EXPORT.md). Objects carry their properties; times are RFC 3339 UTC with
//! milliseconds, as both backends store them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{ObjectId, PropertyType};
use crate::store::transfer::FILE_CHUNK_MAX;
use crate::store::transfer::{NumberingRow, RelationshipRow};
use crate::store::{FileId, FileInfo, ObjectRecord, PropertyRow, TransferCounts};

/// The `format` of every header.
pub const FORMAT: &str = "datastore-export";

/// The `formatVersion` this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum Record {
    Header(Header),
    Object(ObjectLine),
    Relationship(RelationshipLine),
    Numbering(NumberingLine),
    File(FileLine),
    FileChunk(FileChunkLine),
    End(EndLine),
}

/// The record kinds, in the order a file holds them.
pub const KINDS: [&str; 7] = [
    "header",
    "object",
    "relationship",
    "numbering",
    "file",
    "fileChunk",
    "end",
];

impl Record {
    /// The record's kind, as `record` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Header(_) => KINDS[0],
            Record::Object(_) => KINDS[1],
            Record::Relationship(_) => KINDS[2],
            Record::Numbering(_) => KINDS[3],
            Record::File(_) => KINDS[4],
            Record::FileChunk(_) => KINDS[5],
            Record::End(_) => KINDS[6],
        }
    }

    /// Where the kind comes in a file: records never go back to an earlier rank.
    pub fn rank(&self) -> usize {
        match self {
            // A file's chunks follow the file they belong to.
            Record::FileChunk(_) => 4,
            Record::End(_) => 5,
            other => KINDS.iter().position(|k| *k == other.kind()).unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    pub app: String,
    pub system: String,
    pub exported_at: String,
    /// `sqlite` or `mssql`.
    pub source: String,
    /// The source's DSConfig version (not exported: it is the deployment's, not data).
    pub config_version: Option<i64>,
    /// True for the export of a system's global database (`datastore export --global`):
    /// it imports only into a global database, and an app's only into an app's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub global: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectLine {
    pub object_id: ObjectId,
    pub object_type: String,
    pub object_number: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub properties: Vec<PropertyLine>,
}

/// One `Properties` row as stored: the type it was converted as, the value, and the
/// columns filters, sorts and display texts use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyLine {
    pub name: String,
    #[serde(rename = "type")]
    pub property_type: String,
    pub value: String,
    pub as_double: Option<f64>,
    pub as_string: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipLine {
    pub parent_object_id: ObjectId,
    pub child_object_id: ObjectId,
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberingLine {
    pub object_type: String,
    pub prefix: String,
    pub width: u32,
    pub next_number: i64,
    pub active: bool,
}

/// A linked file of an Image or FileLink property; its `fileChunk` records follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileLine {
    pub file_id: FileId,
    pub object_id: ObjectId,
    pub property_name: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Bytes in every chunk but the last (at most 1 MiB).
    pub chunk_size: u32,
    /// Hex SHA-256 of the bytes, checked once every chunk is in.
    pub sha256: String,
    pub created_at: String,
}

/// Chunk `seq` (from 0) of the file announced last: `chunkSize` bytes but the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChunkLine {
    pub file_id: FileId,
    pub seq: u32,
    /// Standard base64.
    pub data: String,
}

/// The last line: what the file holds. A file without it was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndLine {
    pub objects: u64,
    pub properties: u64,
    pub relationships: u64,
    pub numbering: u64,
    #[serde(default)]
    pub files: u64,
    #[serde(default)]
    pub file_chunks: u64,
}

impl From<TransferCounts> for EndLine {
    fn from(c: TransferCounts) -> Self {
        EndLine {
            objects: c.objects,
            properties: c.properties,
            relationships: c.relationships,
            numbering: c.numbering,
            files: c.files,
            file_chunks: c.file_chunks,
        }
    }
}

/// A time as both backends store it.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{field}` is not an RFC 3339 time ({e})"))
}

impl From<&ObjectRecord> for ObjectLine {
    fn from(o: &ObjectRecord) -> Self {
        ObjectLine {
            object_id: o.id,
            object_type: o.object_type.clone(),
            object_number: o.object_number.clone(),
            created_at: time_text(&o.created_at),
            updated_at: time_text(&o.updated_at),
            properties: o
                .properties
                .iter()
                .map(|p| PropertyLine {
                    name: p.name.clone(),
                    property_type: p.property_type.as_str().to_owned(),
                    value: p.value.clone(),
                    as_double: p.as_double,
                    as_string: p.as_string.clone(),
                })
                .collect(),
        }
    }
}

impl ObjectLine {
    /// The object as the store takes it; the error says what is wrong with the line.
    pub fn into_record(self) -> Result<ObjectRecord, String> {
        if self.object_id <= 0 {
            return Err(format!("objectId {} is not positive", self.object_id));
        }
        if self.object_type.is_empty() {
            return Err("objectType is empty".into());
        }
        let mut properties = Vec::with_capacity(self.properties.len());
        let mut names = std::collections::HashSet::with_capacity(self.properties.len());
        for p in self.properties {
            if p.name.is_empty() {
                return Err("a property has an empty name".into());
            }
            if !names.insert(p.name.clone()) {
                return Err(format!("property `{}` appears twice", p.name));
            }
            let property_type: PropertyType = p
                .property_type
                .parse()
                .map_err(|_| format!("`{}` is not a property type", p.property_type))?;
            if p.as_double.is_some_and(|d| !d.is_finite()) {
                return Err(format!("asDouble of `{}` is not a finite number", p.name));
            }
            properties.push(PropertyRow {
                name: p.name,
                property_type,
                value: p.value,
                as_double: p.as_double,
                as_string: p.as_string,
            });
        }
        Ok(ObjectRecord {
            id: self.object_id,
            object_type: self.object_type,
            object_number: self.object_number,
            created_at: parse_time("createdAt", &self.created_at)?,
            updated_at: parse_time("updatedAt", &self.updated_at)?,
            properties,
        })
    }
}

impl From<&RelationshipRow> for RelationshipLine {
    fn from(r: &RelationshipRow) -> Self {
        RelationshipLine {
            parent_object_id: r.parent,
            child_object_id: r.child,
            strict: r.strict,
        }
    }
}

impl From<RelationshipLine> for RelationshipRow {
    fn from(r: RelationshipLine) -> Self {
        RelationshipRow {
            parent: r.parent_object_id,
            child: r.child_object_id,
            strict: r.strict,
        }
    }
}

impl From<&NumberingRow> for NumberingLine {
    fn from(n: &NumberingRow) -> Self {
        NumberingLine {
            object_type: n.object_type.clone(),
            prefix: n.prefix.clone(),
            width: n.width,
            next_number: n.next_number,
            active: n.active,
        }
    }
}

impl From<NumberingLine> for NumberingRow {
    fn from(n: NumberingLine) -> Self {
        NumberingRow {
            object_type: n.object_type,
            prefix: n.prefix,
            width: n.width,
            next_number: n.next_number,
            active: n.active,
        }
    }
}

impl From<&FileInfo> for FileLine {
    fn from(f: &FileInfo) -> Self {
        let (object_id, property_name) = f.owner.clone().unwrap_or_default();
        FileLine {
            file_id: f.file_id,
            object_id,
            property_name,
            name: f.name.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            chunk_size: f.chunk_size,
            sha256: f.sha256.clone().unwrap_or_default(),
            created_at: time_text(&f.created_at),
        }
    }
}

impl FileLine {
    /// The file as the store takes it; the error says what is wrong with the line.
    pub fn into_info(self) -> Result<FileInfo, String> {
        if self.file_id <= 0 {
            return Err(format!("fileId {} is not positive", self.file_id));
        }
        if self.property_name.is_empty() {
            return Err("propertyName is empty".into());
        }
        if self.chunk_size == 0 || self.chunk_size as usize > FILE_CHUNK_MAX {
            return Err(format!(
                "chunkSize {} is not between 1 and {FILE_CHUNK_MAX}",
                self.chunk_size
            ));
        }
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("sha256 is not 64 lowercase hex digits".into());
        }
        Ok(FileInfo {
            file_id: self.file_id,
            owner: Some((self.object_id, self.property_name)),
            name: self.name,
            content_type: self.content_type,
            size: self.size,
            chunk_size: self.chunk_size,
            sha256: Some(self.sha256),
            created_at: parse_time("createdAt", &self.created_at)?,
        })
    }
}

/// Parses one line; the error is a sentence without the line number.
pub fn parse(line: &str) -> Result<Record, String> {
    serde_json::from_str::<Record>(line).map_err(|e| {
        // Say which kind is unknown rather than serde's list of variants.
        match serde_json::from_str::<serde_json::Value>(line) {
            Err(_) => format!("not a JSON object: {e}"),
            Ok(value) => match value.get("record").and_then(|r| r.as_str()) {
                None => "a record without its `record` kind".to_owned(),
                Some(kind) if !KINDS.contains(&kind) => format!("unknown record kind `{kind}`"),
                Some(kind) => format!("not a valid `{kind}` record: {e}"),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_lines_are_named() {
        let line =
            r#"{"record":"relationship","parentObjectId":1,"childObjectId":2,"strict":true}"#;
        let record = parse(line).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), line);
        assert!(parse("{\"record\":\"bogus\"}")
            .unwrap_err()
            .contains("unknown record kind `bogus`"));
        assert!(parse("{oops").unwrap_err().contains("not a JSON object"));
        assert!(parse("{\"record\":\"end\"}")
            .unwrap_err()
            .contains("not a valid `end` record"));
        assert!(parse("{\"objectId\":1}").unwrap_err().contains("without"));
    }
}
