//! The properties cache never answers what the rows no longer hold: a reader store keeps
//! the properties of every object it lists, then random writes go through it and through
//! a second store on the same file (another process), display texts are refreshed, and
//! every list (and `getObject`) it answers afterwards is compared with the rows read without
//! the cache.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::objects;
use super::projection_tests::{apply, change, config, person, world, World};
use super::{open_connection, SqliteStore};
use crate::service::{ActiveConfig, Datastore};
use crate::store::{Page, Store, StoreOptions, TableQuery};

const TYPES: [&str; 5] = ["P", "ARCH_P", "Other", "Company", "City"];

async fn list(store: &SqliteStore, ty: &str, columns: Option<&[&str]>) -> Page {
    store
        .list_table(&TableQuery {
            object_type: ty.into(),
            columns: columns.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            parent_id: None,
            filters: Vec::new(),
            order: Vec::new(),
            offset: 0,
            limit: 1000,
            walk: Default::default(),
        })
        .await
        .unwrap()
}

/// Every object of every type, as `reader` lists it, holds exactly its rows.
async fn lists_hold_the_rows(
    reader: &SqliteStore,
    path: &std::path::Path,
    columns: Option<&[&str]>,
) -> Result<(), TestCaseError> {
    let conn = open_connection(path, true).unwrap();
    for ty in TYPES {
        for object in list(reader, ty, columns).await.objects {
            let rows = objects::load(&conn, object.id, None).unwrap().unwrap();
            if columns.is_none() {
                // getObject keeps and checks objects through the same cache.
                let got = reader.get_object(object.id).await.unwrap();
                prop_assert_eq!(got.as_ref(), Some(&rows), "getObject {}", object.id);
            }
            let expected: Vec<_> = rows
                .properties
                .into_iter()
                .filter(|p| columns.is_none_or(|c| c.contains(&p.name.as_str())))
                .collect();
            prop_assert_eq!(
                &object.properties,
                &expected,
                "object {} of {}",
                object.id,
                ty
            );
        }
    }
    Ok(())
}

fn writer_on(store: Arc<dyn Store>, version: i64) -> Datastore {
    let active = ActiveConfig::new(config(), version, chrono_tz::Tz::UTC, 1000);
    Datastore::new(store, Arc::new(active))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn a_kept_object_is_always_what_its_rows_hold(
        people in prop::collection::vec(person(), 1..10),
        own in prop::collection::vec(change(), 0..6),
        other in prop::collection::vec(change(), 0..6),
        rename in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let w = world(&people, &[]).await;
            let reader = Arc::new(
                SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
                    .await
                    .unwrap(),
            );
            let version = reader.apply_config(&config()).await.unwrap().version;
            let reader_dyn: Arc<dyn Store> = reader.clone();
            let own_writer = writer_on(reader_dyn.clone(), version);
            // Kept: every object's properties.
            lists_hold_the_rows(&reader, &w.path, None).await?;
            let before = reader.readers.properties.hits();
            lists_hold_the_rows(&reader, &w.path, None).await?;
            prop_assert!(reader.readers.properties.hits() > before, "the second lists come from memory");
            // Writes through the reader's own store and through another one on the file.
            apply(&own_writer, &reader_dyn, &w.ids, &w.companies, &own).await;
            apply(&w.ds, &w.store, &w.ids, &w.companies, &other).await;
            if rename {
                // A company renamed: its people's display texts change, not their values.
                let name = json!({ "name": "Renamed" }).as_object().unwrap().clone();
                w.ds.save_properties(w.companies[0], name).await.unwrap();
            }
            lists_hold_the_rows(&reader, &w.path, None).await?;
            lists_hold_the_rows(&reader, &w.path, Some(&["last", "company", "nothing"])).await?;
            Ok(())
        })?;
    }
}

fn last(v: &str) -> serde_json::Map<String, serde_json::Value> {
    json!({ "last": v }).as_object().unwrap().clone()
}

/// A world with one person (`last` "A"), and a second store on its file: the reader.
async fn one_person() -> (World, i64, SqliteStore) {
    let w = world(&[], &[]).await;
    let made = w.ds.new_object("P", Some(last("A"))).await.unwrap();
    let id = made["objectId"].as_i64().unwrap();
    let reader = SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    (w, id, reader)
}

/// `getObject` answers a kept object from memory while its version stands, and the rows
/// another store (process) wrote once it moved.
#[tokio::test]
async fn get_object_is_kept_and_follows_another_stores_write() {
    let (w, id, reader) = one_person().await;
    let shown = || async {
        let object = reader.get_object(id).await.unwrap().unwrap();
        let last = object.properties.iter().find(|p| p.name == "last");
        (last.map(|p| p.value.clone()), object.updated_at)
    };
    let (first, updated) = shown().await;
    assert_eq!(first.as_deref(), Some("A"));
    let hits = reader.readers.properties.hits();
    assert_eq!(shown().await, (first, updated));
    assert_eq!(
        reader.readers.properties.hits(),
        hits + 1,
        "the second read is kept"
    );
    w.ds.save_properties(id, last("B")).await.unwrap();
    let (second, _) = shown().await;
    assert_eq!(second.as_deref(), Some("B"));
    assert_eq!(reader.get_object(id + 1_000).await.unwrap(), None);
}

/// The objects that existed before migration 0073 leave the migrations with versions of
/// their own, not the column's default: two copies of a file migrated apart cannot agree
/// on an object's version while its rows differ.
#[test]
fn objects_older_than_the_versions_get_random_ones() {
    use super::migrate::{self, MIGRATIONS};
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE SchemaVersions (Version INTEGER PRIMARY KEY, Name TEXT NOT NULL, \
         AppliedAt TEXT NOT NULL)",
    )
    .unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version < 73) {
        conn.execute_batch(m.sql).unwrap();
        conn.execute(
            "INSERT INTO SchemaVersions VALUES (?1, ?2, 't')",
            rusqlite::params![m.version, m.name],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO Objects (ObjectId, ObjectType, CreatedAt, UpdatedAt) \
         VALUES (1, 'T', 't', 't'), (2, 'T', 't', 't'), (3, 'T', 't', 't')",
    )
    .unwrap();
    migrate::run(&mut conn).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT Version FROM Objects ORDER BY ObjectId")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(versions.iter().all(|v| *v > 0), "{versions:?}");
    assert_ne!(versions[0], versions[1]);
    assert_ne!(versions[1], versions[2]);
}

/// An object with a long text is answered whole every time but not kept: it would push
/// many small objects out.
#[tokio::test]
async fn a_heavy_object_is_read_each_time() {
    let w = world(&[], &[]).await;
    let text = "x".repeat(40 * 1024);
    let made =
        w.ds.new_object(
            "P",
            Some(json!({ "last": text }).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let id = made["objectId"].as_i64().unwrap();
    let reader = SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    for _ in 0..2 {
        let object = reader.get_object(id).await.unwrap().unwrap();
        assert_eq!(object.properties[0].value.len(), 40 * 1024);
        list(&reader, "P", None).await;
    }
    assert_eq!(reader.readers.properties.hits(), 0);
}

/// A display refresh alone (no value of the object changes) moves the object's version.
#[tokio::test]
async fn a_display_refresh_is_seen_by_a_reader_that_kept_the_object() {
    let w = world(&[], &[]).await;
    let person = json!({ "last": "Doe", "company": w.companies[0] });
    w.ds.new_object("P", Some(person.as_object().unwrap().clone()))
        .await
        .unwrap();
    let reader = SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    let shown = |page: &Page| {
        page.objects[0]
            .properties
            .iter()
            .find(|p| p.name == "company")
            .and_then(|p| p.as_string.clone())
    };
    let first = list(&reader, "P", None).await;
    assert_eq!(shown(&first).as_deref(), Some("Co 0"));
    let name = json!({ "name": "Renamed" }).as_object().unwrap().clone();
    w.ds.save_properties(w.companies[0], name).await.unwrap();
    let second = list(&reader, "P", None).await;
    assert_eq!(shown(&second).as_deref(), Some("Renamed"));
    // The unchanged ones still come from memory.
    let hits = reader.readers.properties.hits();
    list(&reader, "City", None).await;
    list(&reader, "City", None).await;
    assert!(reader.readers.properties.hits() > hits);
}

/// A file that goes back in time under a running service (a backup restored page by page:
/// no trigger runs) and then changes again never meets what a reader kept of the other
/// future: versions are drawn at random, not counted up.
#[tokio::test]
async fn a_restored_backup_then_a_save_is_seen_by_a_reader_that_kept_the_object() {
    let (w, id, reader) = one_person().await;
    let shown = || async {
        let page = list(&reader, "P", None).await;
        page.objects[0]
            .properties
            .iter()
            .find(|p| p.name == "last")
            .map(|p| p.value.clone())
    };
    let backup = w.path.with_file_name("backup.db");
    let raw = rusqlite::Connection::open(&w.path).unwrap();
    raw.execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    w.ds.save_properties(id, last("B")).await.unwrap();
    assert_eq!(shown().await.as_deref(), Some("B"));
    // The object's rows and version as the backup holds them, written without the
    // triggers (as a page-level restore writes them).
    raw.execute("ATTACH ?1 AS b", [backup.to_str().unwrap()])
        .unwrap();
    let triggers: Vec<(String, String)> = raw
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND name GLOB 'Version_*'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    raw.execute_batch("BEGIN").unwrap();
    for (name, _) in &triggers {
        raw.execute_batch(&format!("DROP TRIGGER {name}")).unwrap();
    }
    raw.execute("DELETE FROM main.Properties WHERE OwnerObjectId = ?1", [id])
        .unwrap();
    raw.execute(
        "INSERT INTO main.Properties SELECT * FROM b.Properties WHERE OwnerObjectId = ?1",
        [id],
    )
    .unwrap();
    raw.execute(
        "UPDATE main.Objects SET Version = (SELECT Version FROM b.Objects WHERE ObjectId = ?1) \
         WHERE ObjectId = ?1",
        [id],
    )
    .unwrap();
    for (_, sql) in &triggers {
        raw.execute_batch(sql).unwrap();
    }
    raw.execute_batch("COMMIT").unwrap();
    // (The reader does not look at the object in between.)
    w.ds.save_properties(id, last("C")).await.unwrap();
    assert_eq!(shown().await.as_deref(), Some("C"));
}
