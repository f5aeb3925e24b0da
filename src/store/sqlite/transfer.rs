//! Export and import in the embedded store (docs/EXPORT.md).
//!
//! An export is one read transaction on one reader connection: every page comes from the
//! same snapshot, and writers go on meanwhile (WAL). An import is one job on the writer
//! thread: one `IMMEDIATE` transaction that takes batches from its channel until the end,
//! then commits; any failure, or a channel closed early, rolls it back.

use super::objects::time_text;
use rusqlite::{params, Connection, OptionalExtension};

use super::objects::{begin, object_from_row, property_from_row};
use super::writer::Transaction;
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
    // Before the rows go: a delete through indexes and triggers is row by row.
    let indexes = set_indexes_aside(&tx)?;
    // Files go too, pending ones included (without objects, every file is pending).
    tx.execute_batch(CLEAR_DATA)?;
    let started = std::time::Instant::now();
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
    // Index builds and the projections' GROUP BY sort millions of rows: SQLite's sorter
    // may use helper threads (the reader of the file has finished, its core is free) and
    // a larger memory per sorted run (fewer runs to merge). Both go back to what the
    // writer uses for its short writes, whatever happens.
    let rows_written = started.elapsed();
    let sorting = sort_wide(&tx);
    let built = build_after_rows(&tx, &indexes);
    sorting.and(sort_narrow(&tx)).and(built)?;
    let indexes_built = started.elapsed() - rows_written;
    super::changes::restart(&tx)?;
    tx.commit()?;
    tracing::info!(
        rows_s = rows_written.as_secs_f64(),
        indexes_s = indexes_built.as_secs_f64(),
        commit_s = (started.elapsed() - rows_written - indexes_built).as_secs_f64(),
        "import written"
    );
    Ok(counts)
}

/// Sorter helper threads an import's index builds may use (SQLite's `PRAGMA threads`).
fn sort_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

/// The writer's page cache while an import builds its indexes, in KiB: SQLite sizes each
/// sorted run by it.
const IMPORT_SORT_CACHE_KIB: i64 = 32 * 1024;

fn sort_wide(tx: &Connection) -> Result<(), StoreError> {
    tx.pragma_update(None, "threads", sort_threads() as i64)?;
    tx.pragma_update(None, "cache_size", -IMPORT_SORT_CACHE_KIB)?;
    Ok(())
}

fn sort_narrow(tx: &Connection) -> Result<(), StoreError> {
    tx.pragma_update(None, "threads", 0)?;
    tx.pragma_update(None, "cache_size", -super::WRITER_CACHE_KIB)?;
    Ok(())
}

/// The secondary indexes set aside, then the projections, built from the rows whole.
fn build_after_rows(tx: &Transaction<'_>, indexes: &[String]) -> Result<(), StoreError> {
    for sql in indexes {
        tx.execute_batch(sql)?;
    }
    // The rows came in as EAV rows: the projections follow them whole.
    super::projection::rebuild_all(tx)
}

/// The tables whose secondary indexes an import builds after its rows rather than row by
/// row: rows come in key order, so the tables themselves grow at their end, but each index
/// row goes to a random place of its index, and at a million objects that (page cache
/// misses, pages spilled to the WAL mid-transaction) was most of the writer's time. An index
/// built at the end sorts its rows once. The import's checks need only the primary keys.
const REINDEXED: &str = "'Objects', 'Properties', 'Relationships'";

/// Drops the secondary indexes and the triggers of [`REINDEXED`] and returns their
/// definitions, as the schema holds them, to create them again. (The triggers move
/// objects' versions, migration 0073: the objects an import writes get theirs in
/// [`write_objects`].) In the import's transaction: a failed import rolls the drop back
/// with the rows.
fn set_indexes_aside(tx: &Connection) -> Result<Vec<String>, StoreError> {
    let indexes = tx
        .prepare(&format!(
            "SELECT name, type, sql FROM sqlite_schema \
             WHERE type IN ('index', 'trigger') AND sql IS NOT NULL \
             AND tbl_name IN ({REINDEXED}) ORDER BY name"
        ))?
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut definitions = Vec::with_capacity(indexes.len());
    for (name, kind, sql) in indexes {
        let kind = if kind == "trigger" {
            "TRIGGER"
        } else {
            "INDEX"
        };
        tx.execute_batch(&format!("DROP {kind} \"{}\"", name.replace('"', "\"\"")))?;
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

/// Property rows per `INSERT` statement: one statement's fixed cost (step, reset, the
/// table's cursor) spread over many rows.
const PROPERTY_ROWS: usize = 64;

fn insert_properties_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue, \
         PropertyAsDouble, PropertyAsString) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?)");
    }
    sql
}

/// Objects and their property rows: each object alone (an object's times are formatted
/// once for a run of equal ones), the property rows [`PROPERTY_ROWS`] to a statement. A
/// statement that fails is undone whole by SQLite; its rows then go one by one, so that
/// the error names the line.
fn write_objects(
    tx: &Connection,
    first_line: u64,
    objects: &[crate::store::ObjectRecord],
) -> Result<(), StoreError> {
    // The version a trigger of migration 0073 would draw (the import sets them aside).
    let mut insert_object = tx.prepare_cached(
        "INSERT INTO Objects (ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt, Version) \
         VALUES (?1, ?2, ?3, ?4, ?5, abs(random() % 4611686018427387904))",
    )?;
    let mut times = TimeTexts::default();
    for (i, o) in objects.iter().enumerate() {
        let created = times.created.text(&o.created_at);
        let updated = times.updated.text(&o.updated_at);
        insert_object
            .execute(params![
                o.id,
                o.object_type,
                o.object_number,
                created,
                updated
            ])
            .map_err(|e| refused(first_line, i, e))?;
    }
    drop(insert_object);
    // (object index, row) in order.
    let rows: Vec<(usize, ObjectId, &crate::store::PropertyRow)> = objects
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.properties.iter().map(move |p| (i, o.id, p)))
        .collect();
    let mut chunks = rows.chunks_exact(PROPERTY_ROWS);
    for chunk in &mut chunks {
        let mut many = tx.prepare_cached(&insert_properties_sql(PROPERTY_ROWS))?;
        let mut at = 1;
        for (_, id, p) in chunk {
            many.raw_bind_parameter(at, id)?;
            many.raw_bind_parameter(at + 1, &p.name)?;
            many.raw_bind_parameter(at + 2, p.property_type.as_str())?;
            many.raw_bind_parameter(at + 3, &p.value)?;
            many.raw_bind_parameter(at + 4, p.as_double)?;
            many.raw_bind_parameter(at + 5, &p.as_string)?;
            at += 6;
        }
        if let Err(e) = many.raw_execute() {
            if e.sqlite_error_code() != Some(rusqlite::ErrorCode::ConstraintViolation) {
                return Err(e.into());
            }
            insert_one_by_one(tx, first_line, chunk)?;
        }
    }
    insert_one_by_one(tx, first_line, chunks.remainder())
}

fn insert_one_by_one(
    tx: &Connection,
    first_line: u64,
    rows: &[(usize, ObjectId, &crate::store::PropertyRow)],
) -> Result<(), StoreError> {
    let mut one = tx.prepare_cached(&insert_properties_sql(1))?;
    for (i, id, p) in rows {
        one.execute(params![
            id,
            p.name,
            p.property_type.as_str(),
            p.value,
            p.as_double,
            p.as_string
        ])
        .map_err(|e| refused(first_line, *i, e))?;
    }
    Ok(())
}

/// The stored text of the last time formatted, reused while the times repeat (an export's
/// objects often share them).
#[derive(Default)]
struct TimeText {
    last: Option<(chrono::DateTime<chrono::Utc>, String)>,
}

impl TimeText {
    fn text(&mut self, t: &chrono::DateTime<chrono::Utc>) -> String {
        match &self.last {
            Some((at, text)) if at == t => text.clone(),
            _ => {
                let text = time_text(t);
                self.last = Some((*t, text.clone()));
                text
            }
        }
    }
}

#[derive(Default)]
struct TimeTexts {
    created: TimeText,
    updated: TimeText,
}

fn write_batch(tx: &Connection, first_line: u64, data: &DataBatch) -> Result<(), StoreError> {
    match data {
        DataBatch::Objects(objects) => write_objects(tx, first_line, objects)?,
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

#[cfg(test)]
mod tests {
    use crate::model::PropertyType;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{
        DataBatch, ImportItem, ObjectRecord, PropertyRow, Store, StoreError, StoreOptions,
    };

    fn person(id: i64, names: &[&str]) -> ObjectRecord {
        ObjectRecord {
            id,
            object_type: "Person".into(),
            object_number: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            properties: names
                .iter()
                .map(|n| PropertyRow {
                    name: (*n).into(),
                    property_type: PropertyType::String,
                    value: format!("{n} of {id}"),
                    as_double: None,
                    as_string: None,
                })
                .collect(),
        }
    }

    async fn import(store: &SqliteStore, objects: Vec<ObjectRecord>) -> Result<u64, StoreError> {
        import_as(store, objects, false).await
    }

    async fn import_as(
        store: &SqliteStore,
        objects: Vec<ObjectRecord>,
        replace: bool,
    ) -> Result<u64, StoreError> {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let data = DataBatch::Objects(objects);
        tx.send(ImportItem::Batch {
            first_line: 2,
            data,
        })
        .await
        .unwrap();
        tx.send(ImportItem::End).await.unwrap();
        store.import_data(rx, replace).await.map(|c| c.properties)
    }

    /// An import that puts other rows under the same ids is seen at once by a store that
    /// kept those objects' properties (another process), and the triggers that move the
    /// objects' versions (migration 0073) are back after it.
    #[tokio::test]
    async fn a_replacing_import_is_seen_by_a_reader_that_kept_the_objects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let options = StoreOptions::default();
        let open = || SqliteStore::open(path.to_str().unwrap(), &options);
        let writer = open().await.unwrap();
        import(&writer, vec![person(1, &["a", "b"]), person(2, &["a"])])
            .await
            .unwrap();
        let reader = open().await.unwrap();
        let listed = || async {
            let q = crate::store::TableQuery {
                object_type: "Person".into(),
                columns: None,
                parent_id: None,
                filters: Vec::new(),
                order: Vec::new(),
                offset: 0,
                limit: 10,
                walk: Default::default(),
            };
            let page = reader.list_table(&q).await.unwrap();
            page.objects
                .into_iter()
                .map(|o| (o.id, o.properties))
                .collect::<Vec<_>>()
        };
        listed().await;
        let hits = reader.readers.properties.hits();
        assert_eq!(listed().await[0].1.len(), 2);
        assert!(reader.readers.properties.hits() > hits, "kept");
        let mut one = person(1, &["a"]);
        one.properties[0].value = "another a".into();
        let two = person(2, &["a", "b"]);
        import_as(&writer, vec![one.clone(), two.clone()], true)
            .await
            .unwrap();
        assert_eq!(
            listed().await,
            vec![(1, one.properties), (2, two.properties)]
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let triggers: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger' AND name GLOB 'Version_*'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 5);
    }

    /// Property rows go many to a statement; a row SQLite refuses (here one the file parser
    /// would have caught: a name twice) still names its own line, and nothing stays.
    #[tokio::test]
    async fn a_refused_property_row_in_a_many_row_insert_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let store = SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap();
        // 40 objects of 5 rows (200 rows: three full statements and a rest); object 20
        // (line 2 + 19) holds `b` twice, inside the second statement.
        let objects = |bad: bool| -> Vec<ObjectRecord> {
            (1..=40)
                .map(|id| {
                    if bad && id == 20 {
                        person(id, &["a", "b", "b", "c", "d"])
                    } else {
                        person(id, &["a", "b", "c", "d", "e"])
                    }
                })
                .collect()
        };
        match import(&store, objects(true)).await {
            Err(StoreError::ImportRefused(message)) => {
                assert!(message.starts_with("line 21: "), "{message}")
            }
            other => panic!("refused expected, got {other:?}"),
        }
        let page = store.get_object(1).await.unwrap();
        assert!(page.is_none(), "a refused import leaves nothing");
        assert_eq!(import(&store, objects(false)).await.unwrap(), 200);
        let last = store.get_object(40).await.unwrap().unwrap();
        assert_eq!(last.properties.len(), 5);
        assert_eq!(last.property("e").unwrap().value, "e of 40");
    }
}
