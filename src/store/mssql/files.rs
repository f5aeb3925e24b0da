//! Files on SQL Server: `Files` and `FileChunks` (`varbinary(max)`, migration 0005), with
//! the embedded store's rules. Each chunk is one short autocommit statement; linking runs
//! in the transaction of the property's write ([`super::objects::save_in`]).

use chrono::NaiveDateTime;
use tiberius::Row;

use super::builders::unlink_files;
use super::exec::{self, now};
use super::objects;
use super::pool::{Client, Fail};
use super::sql;
use crate::model::ObjectId;
use crate::store::{FileId, FileInfo, LinkFile, NewFile, ObjectRecord, PropertyWrite, StoreError};

/// Most property names in one unlink statement.
const NAMES: usize = 500;

fn file_from_row(row: &Row) -> Result<FileInfo, Fail> {
    let owner = exec::get::<ObjectId>(row, 1)?;
    let property = exec::text(row, 2)?;
    Ok(FileInfo {
        file_id: exec::req(row, 0)?,
        owner: owner.zip(property),
        name: exec::req::<&str>(row, 3)?.to_owned(),
        content_type: exec::req::<&str>(row, 4)?.to_owned(),
        size: exec::req::<i64>(row, 5)?.max(0) as u64,
        chunk_size: exec::req::<i32>(row, 6)?.max(1) as u32,
        sha256: exec::text(row, 7)?,
        created_at: exec::utc(exec::req::<NaiveDateTime>(row, 8)?),
    })
}

pub async fn create(c: &mut Client, file: &NewFile) -> Result<FileId, Fail> {
    let row = exec::row(
        c,
        sql::INSERT_FILE,
        params![
            file.name.as_str(),
            file.content_type.as_str(),
            i64::from(file.chunk_size),
            now()
        ],
    )
    .await?
    .ok_or_else(|| Fail::Store(StoreError::Database("INSERT returned no file id".into())))?;
    exec::req(&row, 0)
}

pub async fn write_chunk(
    c: &mut Client,
    file_id: FileId,
    seq: u32,
    data: &[u8],
) -> Result<(), Fail> {
    let written = exec::execute(
        c,
        sql::INSERT_FILE_CHUNK,
        params![file_id, i64::from(seq), data.to_vec()],
    )
    .await?;
    if written.iter().sum::<u64>() == 0 {
        return Err(Fail::Store(StoreError::Database(format!(
            "file {file_id} is no longer pending"
        ))));
    }
    Ok(())
}

/// Deletes the files linked to the properties `writes` set or remove.
pub async fn unlink_properties(
    c: &mut Client,
    id: ObjectId,
    writes: &[PropertyWrite],
) -> Result<(), Fail> {
    for chunk in writes.chunks(NAMES) {
        let mut params = params![id];
        params.extend(chunk.iter().map(|w| exec::Param::from(w.name.as_str())));
        exec::execute(c, &unlink_files(chunk.len()), params).await?;
    }
    Ok(())
}

pub async fn link(c: &mut Client, req: &LinkFile) -> Result<ObjectRecord, Fail> {
    let record = objects::save_in(c, &req.save).await?;
    let property = req.save.writes.first().map(|w| w.name.clone());
    let linked = exec::execute(
        c,
        sql::LINK_FILE,
        params![
            req.file_id,
            req.save.object_id,
            property,
            req.size as i64,
            req.sha256.as_str()
        ],
    )
    .await?;
    if linked.iter().sum::<u64>() == 0 {
        return Err(Fail::Store(StoreError::Database(format!(
            "file {} is no longer pending",
            req.file_id
        ))));
    }
    Ok(record)
}

pub async fn delete(c: &mut Client, file_id: FileId) -> Result<bool, Fail> {
    let deleted = exec::execute(c, sql::DELETE_FILE, params![file_id]).await?;
    Ok(deleted.iter().sum::<u64>() > 0)
}

pub async fn sweep(c: &mut Client, before: NaiveDateTime) -> Result<u64, Fail> {
    Ok(exec::execute(c, sql::SWEEP_FILES, params![before])
        .await?
        .iter()
        .sum())
}

pub async fn linked(
    c: &mut Client,
    id: ObjectId,
    property: &str,
) -> Result<Option<FileInfo>, Fail> {
    match exec::row(c, sql::SELECT_LINKED_FILE, params![id, property]).await? {
        Some(row) => Ok(Some(file_from_row(&row)?)),
        None => Ok(None),
    }
}

pub async fn chunk(c: &mut Client, file_id: FileId, seq: u32) -> Result<Option<Vec<u8>>, Fail> {
    match exec::row(c, sql::SELECT_FILE_CHUNK, params![file_id, i64::from(seq)]).await? {
        Some(row) => Ok(exec::get::<&[u8]>(&row, 0)?.map(<[u8]>::to_vec)),
        None => Ok(None),
    }
}

pub async fn list(c: &mut Client, after: FileId, limit: u32) -> Result<Vec<FileInfo>, Fail> {
    exec::rows(c, sql::SELECT_FILES, params![after, i64::from(limit)])
        .await?
        .iter()
        .map(file_from_row)
        .collect()
}

/// Up to `limit` linked files with ids above `after`, in id order (export).
pub async fn list_linked(c: &mut Client, after: FileId, limit: u32) -> Result<Vec<FileInfo>, Fail> {
    exec::rows(c, sql::EXPORT_FILES, params![after, i64::from(limit)])
        .await?
        .iter()
        .map(file_from_row)
        .collect()
}
