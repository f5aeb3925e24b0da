//! Export and import in the embedded store (docs/EXPORT.md).
//!
//! An export is one read transaction on one reader connection: every page comes from the
//! same snapshot, and writers go on meanwhile (WAL). An import is one job on the writer
//! thread: one `IMMEDIATE` transaction that takes batches from its channel until the end,
//! then commits; any failure, or a channel closed early, rolls it back.

use super::objects::time_text;
use rusqlite::{params, Connection, OptionalExtension};

use super::objects::{begin, object_from_row, property_from_row};
use crate::model::ObjectId;
use crate::store::transfer::{
    abandoned, check_file_owner, line_of, not_empty, NumberingRow, RelationshipRow, FILE_BATCH,
    OBJECT_BATCH, RELATIONSHIP_BATCH,
};
use crate::store::{
    DataBatch, ExportSink, FileId, ImportItem, ImportSource, StoreError, TransferCounts,
};

const EXPORT_OBJECTS: &str = "SELECT ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt \
     FROM Objects WHERE ObjectId > ?1 ORDER BY ObjectId LIMIT ?2";
const EXPORT_PROPERTIES: &str = "SELECT OwnerObjectId, PropertyName, PropertyType, \
     PropertyValue, PropertyAsDouble, PropertyAsString FROM Properties \
     WHERE OwnerObjectId > ?1 AND OwnerObjectId <= ?2 ORDER BY OwnerObjectId, PropertyName";
const EXPORT_RELATIONSHIPS: &str = "SELECT ParentObjectId, ChildObjectId, Strict \
     FROM Relationships WHERE ParentObjectId >= ?1 AND (ParentObjectId > ?1 OR ChildObjectId > ?2) \
     ORDER BY ParentObjectId, ChildObjectId LIMIT ?3";
const EXPORT_NUMBERING: &str =
    "SELECT ObjectType, Prefix, Width, NextNumber, Active FROM ObjectNumbers ORDER BY ObjectType";

/// What an import deletes first (with replace; otherwise the target holds no object and
/// this deletes only pending files).
const CLEAR_DATA: &str = "DELETE FROM FileChunks; DELETE FROM Files; DELETE FROM Relationships; \
     DELETE FROM Properties; DELETE FROM Objects;";

fn send(sink: &ExportSink, batch: DataBatch) -> Result<(), StoreError> {
    sink.blocking_send(batch)
        .map_err(|_| StoreError::Database("the export's reader went away".into()))
}

/// Sends everything to `sink` from one read transaction.
pub(super) fn export(conn: &Connection, sink: &ExportSink) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN DEFERRED")?;
    let result = export_in_snapshot(conn, sink);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn export_in_snapshot(conn: &Connection, sink: &ExportSink) -> Result<(), StoreError> {
    let mut after: ObjectId = 0;
    loop {
        let mut objects = conn
            .prepare_cached(EXPORT_OBJECTS)?
            .query_map(params![after, OBJECT_BATCH as i64], object_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = objects.last().map(|o| o.id) else {
            break;
        };
        let mut stmt = conn.prepare_cached(EXPORT_PROPERTIES)?;
        let mut rows = stmt.query(params![after, last])?;
        let mut at = 0;
        while let Some(row) = rows.next()? {
            let owner: ObjectId = row.get(0)?;
            while objects[at].id != owner {
                at += 1;
            }
            objects[at].properties.push(property_from_row(row, 1)?);
        }
        after = last;
        let full = objects.len() == OBJECT_BATCH;
        send(sink, DataBatch::Objects(objects))?;
        if !full {
            break;
        }
    }
    let (mut parent, mut child): (ObjectId, ObjectId) = (0, 0);
    loop {
        let rows = conn
            .prepare_cached(EXPORT_RELATIONSHIPS)?
            .query_map(params![parent, child, RELATIONSHIP_BATCH as i64], |r| {
                Ok(RelationshipRow {
                    parent: r.get(0)?,
                    child: r.get(1)?,
                    strict: r.get::<_, i64>(2)? != 0,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = rows.last() else {
            break;
        };
        (parent, child) = (last.parent, last.child);
        let full = rows.len() == RELATIONSHIP_BATCH;
        send(sink, DataBatch::Relationships(rows))?;
        if !full {
            break;
        }
    }
    let numbering = conn
        .prepare_cached(EXPORT_NUMBERING)?
        .query_map([], |r| {
            Ok(NumberingRow {
                object_type: r.get(0)?,
                prefix: r.get(1)?,
                width: r.get(2)?,
                next_number: r.get(3)?,
                active: r.get::<_, i64>(4)? != 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if !numbering.is_empty() {
        send(sink, DataBatch::Numbering(numbering))?;
    }
    export_files(conn, sink)
}

/// Linked files in id order, each followed by its chunks, one chunk in memory at a time.
fn export_files(conn: &Connection, sink: &ExportSink) -> Result<(), StoreError> {
    let mut after: FileId = 0;
    loop {
        let files = super::files::list_linked(conn, after, FILE_BATCH)?;
        let Some(last) = files.last().map(|f| f.file_id) else {
            break;
        };
        let full = files.len() == FILE_BATCH as usize;
        for file in files {
            let (file_id, chunks) = (file.file_id, file.chunks());
            send(sink, DataBatch::File(file))?;
            for seq in 0..chunks {
                let seq = seq as u32;
                let data = super::files::chunk(conn, file_id, seq)?.ok_or_else(|| {
                    StoreError::Database(format!("file {file_id} has no chunk {seq}"))
                })?;
                send(sink, DataBatch::FileChunk { file_id, seq, data })?;
            }
        }
        after = last;
        if !full {
            break;
        }
    }
    Ok(())
}

/// Stored times: RFC 3339 UTC with milliseconds, as `objects::now_text` writes them.
/// Writes what `source` sends in one transaction (see the module's comment).
pub(super) fn import(
    conn: &mut Connection,
    mut source: ImportSource,
    replace: bool,
) -> Result<TransferCounts, StoreError> {
    let tx = begin(conn)?;
    let any: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM Objects)")?
        .query_row([], |r| r.get(0))?;
    if any && !replace {
        return Err(not_empty());
    }
    // Files go too, pending ones included (without objects, every file is pending).
    tx.execute_batch(CLEAR_DATA)?;
    let indexes = set_indexes_aside(&tx)?;
    let mut counts = TransferCounts::default();
    loop {
        let Some(item) = source.blocking_recv() else {
            return Err(abandoned());
        };
        let (first_line, data) = match item {
            ImportItem::End => break,
            ImportItem::Batch { first_line, data } => (first_line, data),
        };
        write_batch(&tx, first_line, &data)?;
        counts.add(&data);
    }
    for sql in &indexes {
        tx.execute_batch(sql)?;
    }
    // The rows came in as EAV rows: the projections follow them whole.
    super::projection::rebuild_all(&tx)?;
    super::changes::restart(&tx)?;
    tx.commit()?;
    Ok(counts)
}

/// The tables whose secondary indexes an import builds after its rows rather than row by
/// row: rows come in key order, so the tables themselves grow at their end, but each index
/// row goes to a random place of its index, and at a million objects that (page cache
/// misses, pages spilled to the WAL mid-transaction) was most of the writer's time. An index
/// built at the end sorts its rows once. The import's checks need only the primary keys.
const REINDEXED: &str = "'Objects', 'Properties', 'Relationships'";

/// Drops the secondary indexes of [`REINDEXED`] (the tables are empty here) and returns
/// their definitions, as the schema holds them, to create them again. In the import's
/// transaction: a failed import rolls the drop back with the rows.
fn set_indexes_aside(tx: &Connection) -> Result<Vec<String>, StoreError> {
    let indexes = tx
        .prepare(&format!(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ({REINDEXED}) ORDER BY name"
        ))?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut definitions = Vec::with_capacity(indexes.len());
    for (name, sql) in indexes {
        tx.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        definitions.push(sql);
    }
    Ok(definitions)
}

fn refused(first_line: u64, index: usize, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            StoreError::ImportRefused(format!("{}{e}", line_of(first_line, index)))
        }
        _ => e.into(),
    }
}

fn write_batch(tx: &Connection, first_line: u64, data: &DataBatch) -> Result<(), StoreError> {
    match data {
        DataBatch::Objects(objects) => {
            let mut insert_object = tx.prepare_cached(
                "INSERT INTO Objects (ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut insert_property = tx.prepare_cached(
                "INSERT INTO Properties (OwnerObjectId, PropertyName, PropertyType, \
                 PropertyValue, PropertyAsDouble, PropertyAsString) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, o) in objects.iter().enumerate() {
                insert_object
                    .execute(params![
                        o.id,
                        o.object_type,
                        o.object_number,
                        time_text(&o.created_at),
                        time_text(&o.updated_at)
                    ])
                    .map_err(|e| refused(first_line, i, e))?;
                for p in &o.properties {
                    insert_property
                        .execute(params![
                            o.id,
                            p.name,
                            p.property_type.as_str(),
                            p.value,
                            p.as_double,
                            p.as_string
                        ])
                        .map_err(|e| refused(first_line, i, e))?;
                }
            }
        }
        DataBatch::Relationships(rows) => {
            let mut exists = tx.prepare_cached("SELECT 1 FROM Objects WHERE ObjectId = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO Relationships (ParentObjectId, ChildObjectId, Strict) \
                 VALUES (?1, ?2, ?3)",
            )?;
            for (i, r) in rows.iter().enumerate() {
                for (role, id) in [("parent", r.parent), ("child", r.child)] {
                    if !exists.exists([id])? {
                        return Err(StoreError::ImportRefused(format!(
                            "{}the relationship's {role} object {id} is not in the data",
                            line_of(first_line, i)
                        )));
                    }
                }
                insert
                    .execute(params![r.parent, r.child, r.strict])
                    .map_err(|e| refused(first_line, i, e))?;
            }
        }
        DataBatch::Numbering(rows) => {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO ObjectNumbers (ObjectType, Prefix, Width, NextNumber, Active) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (ObjectType) DO UPDATE SET \
                 Prefix = excluded.Prefix, Width = excluded.Width, \
                 NextNumber = excluded.NextNumber, Active = excluded.Active",
            )?;
            for (i, n) in rows.iter().enumerate() {
                upsert
                    .execute(params![
                        n.object_type,
                        n.prefix,
                        n.width,
                        n.next_number,
                        n.active
                    ])
                    .map_err(|e| refused(first_line, i, e))?;
            }
        }
        DataBatch::File(file) => {
            let exists = tx
                .prepare_cached("SELECT 1 FROM Objects WHERE ObjectId = ?1")?
                .exists([file.owner.as_ref().map_or(0, |o| o.0)])?;
            let property: Option<(String, String)> = match &file.owner {
                Some((owner, name)) => tx
                    .prepare_cached(
                        "SELECT PropertyType, PropertyValue FROM Properties \
                         WHERE OwnerObjectId = ?1 AND PropertyName = ?2",
                    )?
                    .query_row(params![owner, name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
                None => None,
            };
            let (owner, name) = check_file_owner(
                first_line,
                file,
                exists,
                property.as_ref().map(|(t, v)| (t.as_str(), v.as_str())),
            )?;
            tx.prepare_cached(
                "INSERT INTO Files (FileId, OwnerObjectId, PropertyName, Name, ContentType, \
                 Size, ChunkSize, Sha256, CreatedAt, Linked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
            )?
            .execute(params![
                file.file_id,
                owner,
                name,
                file.name,
                file.content_type,
                file.size as i64,
                file.chunk_size,
                file.sha256,
                time_text(&file.created_at)
            ])
            .map_err(|e| refused(first_line, 0, e))?;
        }
        DataBatch::FileChunk { file_id, seq, data } => {
            tx.prepare_cached("INSERT INTO FileChunks (FileId, Seq, Data) VALUES (?1, ?2, ?3)")?
                .execute(params![file_id, seq, data])
                .map_err(|e| refused(first_line, 0, e))?;
        }
    }
    Ok(())
}
