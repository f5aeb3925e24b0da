//! Files on the embedded store: `Files` and `FileChunks` (migration 0005).
//!
//! An upload creates a pending file, writes its chunks one write job each (the writer is
//! never held for a whole upload), then links it in the transaction that sets the property.
//! Reads take one chunk at a time.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::writer::Transaction;

use super::objects::{self, now_text};
use crate::store::{FileId, FileInfo, LinkFile, NewFile, ObjectRecord, PropertyWrite, StoreError};

const FILE_COLUMNS: &str =
    "FileId, OwnerObjectId, PropertyName, Name, ContentType, Size, ChunkSize, Sha256, CreatedAt";

fn file_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileInfo> {
    let owner: Option<i64> = r.get(1)?;
    let property: Option<String> = r.get(2)?;
    let created: String = r.get(8)?;
    Ok(FileInfo {
        file_id: r.get(0)?,
        owner: owner.zip(property),
        name: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        chunk_size: r.get::<_, i64>(6)?.clamp(1, i64::from(u32::MAX)) as u32,
        sha256: r.get(7)?,
        created_at: super::objects::parse_time(&created),
    })
}

pub(super) fn create(conn: &mut Connection, file: &NewFile) -> Result<FileId, StoreError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO Files (Name, ContentType, ChunkSize, CreatedAt, Linked) \
             VALUES (?1, ?2, ?3, ?4, 0) RETURNING FileId",
        )?
        .query_row(
            params![file.name, file.content_type, file.chunk_size, now_text()],
            |r| r.get(0),
        )?)
}

/// Stores one chunk of a pending file (a linked file's bytes never change).
pub(super) fn write_chunk(
    conn: &mut Connection,
    file_id: FileId,
    seq: u32,
    data: &[u8],
) -> Result<(), StoreError> {
    let written = conn
        .prepare_cached(
            "INSERT INTO FileChunks (FileId, Seq, Data) \
             SELECT FileId, ?2, ?3 FROM Files WHERE FileId = ?1 AND Linked = 0",
        )?
        .execute(params![file_id, seq, data])?;
    if written == 0 {
        return Err(StoreError::Database(format!(
            "file {file_id} is no longer pending"
        )));
    }
    Ok(())
}

/// Deletes the files linked to the properties `writes` set or remove (a property holds at
/// most one file; whatever replaces or removes it lets the old one go): one statement per
/// save, as on SQL Server, an index probe per name. (Any write may replace a file: a
/// property's type may have changed since the file was linked.)
pub(super) fn unlink_properties(
    tx: &Transaction<'_>,
    id: crate::model::ObjectId,
    writes: &[PropertyWrite],
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = writes.iter().map(|w| w.name.as_str()).collect();
    let names = serde_json::to_string(&names).map_err(|e| StoreError::Database(e.to_string()))?;
    tx.prepare_cached(
        "DELETE FROM Files WHERE OwnerObjectId = ?1 \
         AND PropertyName IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![id, names])?;
    Ok(())
}

pub(super) fn link(conn: &mut Connection, req: &LinkFile) -> Result<ObjectRecord, StoreError> {
    let tx = objects::begin(conn)?;
    let record = objects::save_in(&tx, &req.save)?;
    let property = req.save.writes.first().map(|w| w.name.as_str());
    let linked = tx
        .prepare_cached(
            "UPDATE Files SET OwnerObjectId = ?2, PropertyName = ?3, Size = ?4, Sha256 = ?5, \
             Linked = 1 WHERE FileId = ?1 AND Linked = 0",
        )?
        .execute(params![
            req.file_id,
            req.save.object_id,
            property,
            req.size as i64,
            req.sha256
        ])?;
    if linked == 0 {
        return Err(StoreError::Database(format!(
            "file {} is no longer pending",
            req.file_id
        )));
    }
    tx.commit()?;
    Ok(record)
}

pub(super) fn delete(conn: &mut Connection, file_id: FileId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM Files WHERE FileId = ?1")?
        .execute([file_id])?
        > 0)
}

pub(super) fn sweep(conn: &mut Connection, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let before = super::objects::time_text(&before);
    Ok(conn
        .prepare_cached("DELETE FROM Files WHERE Linked = 0 AND CreatedAt < ?1")?
        .execute([before])? as u64)
}

pub(super) fn linked(
    conn: &Connection,
    object_id: crate::model::ObjectId,
    property: &str,
) -> Result<Option<FileInfo>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM Files \
             WHERE OwnerObjectId = ?1 AND PropertyName = ?2 AND Linked = 1"
        ))?
        .query_row(params![object_id, property], file_from_row)
        .optional()?)
}

pub(super) fn chunk(
    conn: &Connection,
    file_id: FileId,
    seq: u32,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT Data FROM FileChunks WHERE FileId = ?1 AND Seq = ?2")?
        .query_row(params![file_id, seq], |r| r.get(0))
        .optional()?)
}

pub(super) fn list(
    conn: &Connection,
    after: FileId,
    limit: u32,
) -> Result<Vec<FileInfo>, StoreError> {
    let files = conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM Files WHERE FileId > ?1 ORDER BY FileId LIMIT ?2"
        ))?
        .query_map(params![after, limit], file_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(files)
}

/// Up to `limit` linked files with ids above `after`, in id order (export).
pub(super) fn list_linked(
    conn: &Connection,
    after: FileId,
    limit: u32,
) -> Result<Vec<FileInfo>, StoreError> {
    let files = conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM Files WHERE FileId > ?1 AND Linked = 1 \
             ORDER BY FileId LIMIT ?2"
        ))?
        .query_map(params![after, limit], file_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(files)
}
