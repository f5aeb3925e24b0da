//! Export and import on SQL Server (docs/EXPORT.md).
//!
//! An export is one SNAPSHOT transaction (migration 0003) on one connection, paging by id.
//! An import is one transaction on one connection: explicit ids go in with
//! `SET IDENTITY_INSERT` (inside each statement's batch, so it never outlives it), rows in
//! multi-row INSERTs within the 2,100-parameter limit. Neither is re-run on contention: a
//! re-run would send or take batches twice.

use super::exec::{self, Param};
use super::pool::{Client, Fail};
use super::sql;
use crate::model::ObjectId;
use crate::store::transfer::{
    abandoned, check_file_owner, line_of, not_empty, NumberingRow, RelationshipRow, FILE_BATCH,
    OBJECT_BATCH, RELATIONSHIP_BATCH,
};
use crate::store::{
    DataBatch, ExportSink, FileId, ImportItem, ImportSource, ObjectRecord, PropertyRow, StoreError,
    TransferCounts,
};

/// Objects per INSERT (5 parameters each).
const OBJECTS_PER_INSERT: usize = 400;
/// Properties per INSERT (6 parameters each).
const PROPERTIES_PER_INSERT: usize = 300;
/// Relationships per INSERT and per check (3 parameters each).
const RELATIONSHIPS_PER_INSERT: usize = 600;

fn rows_of(n: usize, width: usize) -> String {
    (0..n)
        .map(|r| {
            let cells: Vec<String> = (1..=width)
                .map(|c| format!("@P{}", r * width + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` objects with their ids.
pub fn insert_objects(n: usize) -> String {
    format!(
        "SET IDENTITY_INSERT dbo.Objects ON; \
         INSERT INTO dbo.Objects (ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt) \
         VALUES {}; SET IDENTITY_INSERT dbo.Objects OFF;",
        rows_of(n, 5)
    )
}

/// `n` property rows.
pub fn insert_properties(n: usize) -> String {
    format!(
        "INSERT INTO dbo.Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue, \
         PropertyAsDouble, PropertyAsString) VALUES {}",
        rows_of(n, 6)
    )
}

/// The first of `n` (index, parent, child) rows whose parent or child does not exist.
pub fn missing_endpoints(n: usize) -> String {
    format!(
        "SELECT TOP (1) v.i, v.p, v.c, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM dbo.Objects AS o WHERE o.ObjectId = v.p) \
         THEN 1 ELSE 0 END AS int) \
         FROM (VALUES {}) AS v (i, p, c) \
         WHERE NOT EXISTS (SELECT 1 FROM dbo.Objects AS o WHERE o.ObjectId = v.p) \
         OR NOT EXISTS (SELECT 1 FROM dbo.Objects AS o WHERE o.ObjectId = v.c) ORDER BY v.i",
        rows_of(n, 3)
    )
}

/// `n` relationships.
pub fn insert_relationships(n: usize) -> String {
    format!(
        "INSERT INTO dbo.Relationships (ParentObjectId, ChildObjectId, Strict) VALUES {}",
        rows_of(n, 3)
    )
}

async fn send(sink: &ExportSink, batch: DataBatch) -> Result<(), Fail> {
    sink.send(batch)
        .await
        .map_err(|_| Fail::Store(StoreError::Database("the export's reader went away".into())))
}

/// Sends everything to `sink`; runs inside the caller's SNAPSHOT transaction.
pub async fn export(c: &mut Client, sink: &ExportSink) -> Result<(), Fail> {
    let mut after: ObjectId = 0;
    loop {
        let mut sets = exec::sets(c, sql::EXPORT_OBJECTS, params![after, OBJECT_BATCH as i64])
            .await?
            .into_iter();
        let object_rows = sets.next().unwrap_or_default();
        let property_rows = sets.next().unwrap_or_default();
        let mut objects = object_rows
            .iter()
            .map(|r| exec::object_from_row(r, 0))
            .collect::<Result<Vec<ObjectRecord>, _>>()?;
        let Some(last) = objects.last().map(|o| o.id) else {
            break;
        };
        let mut at = 0;
        for row in &property_rows {
            let owner: ObjectId = exec::req(row, 0)?;
            while objects[at].id != owner {
                at += 1;
            }
            objects[at]
                .properties
                .push(exec::property_from_row(row, 1)?);
        }
        after = last;
        let full = objects.len() == OBJECT_BATCH;
        send(sink, DataBatch::Objects(objects)).await?;
        if !full {
            break;
        }
    }
    let (mut parent, mut child): (ObjectId, ObjectId) = (0, 0);
    loop {
        let rows = exec::rows(
            c,
            sql::EXPORT_RELATIONSHIPS,
            params![parent, child, RELATIONSHIP_BATCH as i64],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(RelationshipRow {
                parent: exec::req(r, 0)?,
                child: exec::req(r, 1)?,
                strict: exec::req(r, 2)?,
            })
        })
        .collect::<Result<Vec<_>, Fail>>()?;
        let Some(last) = rows.last() else {
            break;
        };
        (parent, child) = (last.parent, last.child);
        let full = rows.len() == RELATIONSHIP_BATCH;
        send(sink, DataBatch::Relationships(rows)).await?;
        if !full {
            break;
        }
    }
    let numbering = exec::rows(c, sql::EXPORT_NUMBERING, params![])
        .await?
        .iter()
        .map(|r| {
            Ok(NumberingRow {
                object_type: exec::req::<&str>(r, 0)?.to_owned(),
                prefix: exec::req::<&str>(r, 1)?.to_owned(),
                width: exec::req::<i32>(r, 2)?.max(0) as u32,
                next_number: exec::req(r, 3)?,
                active: exec::req(r, 4)?,
            })
        })
        .collect::<Result<Vec<_>, Fail>>()?;
    if !numbering.is_empty() {
        send(sink, DataBatch::Numbering(numbering)).await?;
    }
    export_files(c, sink).await
}

/// Linked files in id order, each followed by its chunks, one chunk in memory at a time.
async fn export_files(c: &mut Client, sink: &ExportSink) -> Result<(), Fail> {
    let mut after: FileId = 0;
    loop {
        let files = super::files::list_linked(c, after, FILE_BATCH).await?;
        let Some(last) = files.last().map(|f| f.file_id) else {
            break;
        };
        let full = files.len() == FILE_BATCH as usize;
        for file in files {
            let (file_id, chunks) = (file.file_id, file.chunks());
            send(sink, DataBatch::File(file)).await?;
            for seq in 0..chunks {
                let seq = seq as u32;
                let data = super::files::chunk(c, file_id, seq).await?.ok_or_else(|| {
                    Fail::Store(StoreError::Database(format!(
                        "file {file_id} has no chunk {seq}"
                    )))
                })?;
                send(sink, DataBatch::FileChunk { file_id, seq, data }).await?;
            }
        }
        after = last;
        if !full {
            break;
        }
    }
    Ok(())
}

/// Writes what `source` sends; runs inside the caller's transaction.
pub async fn import(
    c: &mut Client,
    source: &mut ImportSource,
    replace: bool,
) -> Result<TransferCounts, Fail> {
    let any = exec::row(c, sql::ANY_OBJECT, params![])
        .await?
        .map(|r| exec::req::<i32>(&r, 0))
        .transpose()?
        .unwrap_or(0)
        == 1;
    if any && !replace {
        return Err(Fail::Store(not_empty()));
    }
    // Files go too, pending ones included (without objects, every file is pending).
    exec::execute(c, sql::CLEAR_DATA, params![]).await?;
    let mut counts = TransferCounts::default();
    loop {
        let Some(item) = source.recv().await else {
            return Err(Fail::Store(abandoned()));
        };
        let (first_line, data) = match item {
            ImportItem::End => break,
            ImportItem::Batch { first_line, data } => (first_line, data),
        };
        write_batch(c, first_line, &data).await?;
        counts.add(&data);
    }
    // The projections follow the data written.
    super::projection::rebuild_all(c).await?;
    // The data was replaced: the change log starts over (streams get a reset). Last, so
    // ChangeSeq stays locked only for the commit.
    exec::execute(c, sql::RESTART_CHANGE_LOG, params![]).await?;
    Ok(counts)
}

async fn write_batch(c: &mut Client, first_line: u64, data: &DataBatch) -> Result<(), Fail> {
    match data {
        DataBatch::Objects(objects) => {
            for chunk in objects.chunks(OBJECTS_PER_INSERT) {
                let mut params: Vec<Param> = Vec::with_capacity(chunk.len() * 5);
                for o in chunk {
                    params.push(o.id.into());
                    params.push(o.object_type.clone().into());
                    params.push(o.object_number.clone().into());
                    params.push(o.created_at.naive_utc().into());
                    params.push(o.updated_at.naive_utc().into());
                }
                exec::execute(c, &insert_objects(chunk.len()), params).await?;
            }
            let properties: Vec<(ObjectId, &PropertyRow)> = objects
                .iter()
                .flat_map(|o| o.properties.iter().map(move |p| (o.id, p)))
                .collect();
            for chunk in properties.chunks(PROPERTIES_PER_INSERT) {
                let mut params: Vec<Param> = Vec::with_capacity(chunk.len() * 6);
                for (id, p) in chunk {
                    params.push((*id).into());
                    params.push(p.name.clone().into());
                    params.push(p.property_type.as_str().into());
                    params.push(p.value.clone().into());
                    params.push(p.as_double.into());
                    params.push(p.as_string.clone().into());
                }
                exec::execute(c, &insert_properties(chunk.len()), params).await?;
            }
        }
        DataBatch::Relationships(rows) => {
            for (n, chunk) in rows.chunks(RELATIONSHIPS_PER_INSERT).enumerate() {
                let mut check: Vec<Param> = Vec::with_capacity(chunk.len() * 3);
                let mut insert: Vec<Param> = Vec::with_capacity(chunk.len() * 3);
                for (i, r) in chunk.iter().enumerate() {
                    check.extend([
                        Param::Int((n * RELATIONSHIPS_PER_INSERT + i) as i64),
                        r.parent.into(),
                        r.child.into(),
                    ]);
                    insert.extend([r.parent.into(), r.child.into(), r.strict.into()]);
                }
                if let Some(row) = exec::row(c, &missing_endpoints(chunk.len()), check).await? {
                    let index: i64 = exec::req(&row, 0)?;
                    let parent_exists = exec::req::<i32>(&row, 3)? == 1;
                    let (role, id): (&str, i64) = if parent_exists {
                        ("child", exec::req(&row, 2)?)
                    } else {
                        ("parent", exec::req(&row, 1)?)
                    };
                    return Err(Fail::Store(StoreError::ImportRefused(format!(
                        "{}the relationship's {role} object {id} is not in the data",
                        line_of(first_line, index as usize)
                    ))));
                }
                exec::execute(c, &insert_relationships(chunk.len()), insert).await?;
            }
        }
        DataBatch::Numbering(rows) => {
            for n in rows {
                exec::execute(
                    c,
                    sql::IMPORT_NUMBERING,
                    params![
                        n.object_type.as_str(),
                        n.prefix.as_str(),
                        i64::from(n.width),
                        n.next_number,
                        n.active
                    ],
                )
                .await?;
            }
        }
        DataBatch::File(file) => {
            let (owner, name) = file.owner.clone().unwrap_or_default();
            let row = exec::row(c, sql::IMPORT_FILE_OWNER, params![owner, name.as_str()])
                .await?
                .ok_or_else(|| Fail::Store(StoreError::Database("no owner row".into())))?;
            let exists = exec::req::<i32>(&row, 0)? == 1;
            let (ty, value) = (exec::text(&row, 1)?, exec::text(&row, 2)?);
            let property = ty.as_deref().zip(value.as_deref());
            check_file_owner(first_line, file, exists, property).map_err(Fail::Store)?;
            exec::execute(
                c,
                sql::IMPORT_FILE,
                params![
                    file.file_id,
                    owner,
                    name.as_str(),
                    file.name.as_str(),
                    file.content_type.as_str(),
                    file.size as i64,
                    i64::from(file.chunk_size),
                    file.sha256.clone(),
                    file.created_at.naive_utc()
                ],
            )
            .await?;
        }
        DataBatch::FileChunk { file_id, seq, data } => {
            exec::execute(
                c,
                sql::IMPORT_FILE_CHUNK,
                params![*file_id, i64::from(*seq), data.clone()],
            )
            .await?;
        }
    }
    Ok(())
}
