//! The projection answers exactly what the EAV plan answers: random data (written through
//! every write path: new objects, saves, deletes of properties, retypes, drops), random
//! queries of the language and random table views, both plans run in one snapshot.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

use super::counts::{CountCache, Estimate, Snapshot, FAKE_ESTIMATE};
use super::{merge, open_connection, projected, query, table, SqliteStore};
use crate::dsconfig::{self, Config};
use crate::query::resolve::{self, Paging};
use crate::service::{ActiveConfig, Datastore};
use crate::store::{
    Filter, FilterValue, Key, Order, Page, Store, StoreOptions, SystemField, TableQuery, Walk,
};

pub(super) const CONFIG: &str = r#"
[[lists.S]]
code = "A"
value = "Active"

[[lists.S]]
code = "I"
value = "Inactive"

[types.City.properties]
name = "String"

[types.Company.properties]
name = "String"
city = { type = "Lookup", objectType = "City", display = "name" }

[types.P]
index = ["status, born", "last, age", "last", "status, last, born"]
counts = ["age", "score", "last", "first, status", "last, age"]

[types.P.properties]
first = "String"
last = "String"
age = "Integer"
born = "Date"
active = "Switch"
status = { type = "List", list = "S" }
company = { type = "Lookup", objectType = "Company", display = "name" }
tags = "JsonArray"
prefs = "Map"
score = "Number"
"#;

pub(super) fn config() -> Config {
    dsconfig::parse_files(&[(std::path::PathBuf::from("t.toml"), CONFIG.to_owned())])
        .unwrap_or_else(|e| panic!("{e}"))
}

const FIRSTS: [&str; 5] = ["Ann", "ann", "Bob", "Émile", "Zoë"];
/// With texts beyond the BMP (an emoji: one character, two UTF-16 units) as long as the
/// pair counts on SQL Server keep (100 characters) and twice that.
const LASTS: [&str; 8] = [
    "Doe",
    "doe",
    "Dope",
    "Meier",
    "M",
    "Müller",
    concat!(
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"
    ),
    concat!(
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx😀"
    ),
];
const DATES: [&str; 4] = ["01-01-1990", "15-06-1990", "01-01-2000", "31-12-1969"];

/// One person's values; `None` leaves the property out.
#[derive(Debug, Clone)]
pub(super) struct Person {
    first: Option<usize>,
    last: Option<usize>,
    age: Option<i64>,
    born: Option<usize>,
    active: Option<bool>,
    status: Option<bool>,
    company: Option<usize>,
    tags: Option<Vec<i64>>,
    prefs: Option<i64>,
    score: Option<i8>,
}

pub(super) fn person() -> impl Strategy<Value = Person> {
    (
        (
            prop::option::of(0..FIRSTS.len()),
            prop::option::of(0..LASTS.len()),
            prop::option::of(0i64..4),
            prop::option::of(0..DATES.len()),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(0usize..4),
            prop::option::of(prop::collection::vec(0i64..3, 0..3)),
            prop::option::of(0i64..3),
            prop::option::of(-2i8..3),
        ),
    )
        .prop_map(
            |((first, last, age, born, active), (status, company, tags, prefs, score))| Person {
                first,
                last,
                age,
                born,
                active,
                status,
                company,
                tags,
                prefs,
                score,
            },
        )
}

impl Person {
    fn json(&self, companies: &[i64]) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("first", self.first.map(|i| json!(FIRSTS[i])));
        put("last", self.last.map(|i| json!(LASTS[i])));
        put("age", self.age.map(|a| json!(a)));
        put("born", self.born.map(|i| json!(DATES[i])));
        put("active", self.active.map(|a| json!(a)));
        put(
            "status",
            self.status.map(|s| json!(if s { "A" } else { "I" })),
        );
        put("company", self.company.map(|c| json!(companies[c])));
        put("tags", self.tags.as_ref().map(|t| json!(t)));
        put("prefs", self.prefs.map(|p| json!({ "k": p })));
        put("score", self.score.map(|s| json!(f64::from(s) * 1.5)));
        m
    }
}

/// A change after the objects exist.
#[derive(Debug, Clone)]
pub(super) enum Change {
    Save(usize, Person),
    Unset(usize, &'static str),
    Archive(usize),
    Retype(usize),
    Drop(usize),
    /// `age` and `score` declared String for a while, one object's written as this text
    /// (it keeps that stored type when they are numbers again).
    Stored(usize, &'static str),
}

pub(super) fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), person()).prop_map(|(i, p)| Change::Save(i.index(usize::MAX), p)),
        2 => (any::<prop::sample::Index>(), prop::sample::select(vec!["age", "last", "status", "born", "company", "first"]))
            .prop_map(|(i, n)| Change::Unset(i.index(usize::MAX), n)),
        1 => any::<prop::sample::Index>().prop_map(|i| Change::Archive(i.index(usize::MAX))),
        1 => any::<prop::sample::Index>().prop_map(|i| Change::Retype(i.index(usize::MAX))),
        1 => any::<prop::sample::Index>().prop_map(|i| Change::Drop(i.index(usize::MAX))),
        1 => (any::<prop::sample::Index>(), prop::sample::select(vec!["abc", "2", "1.5", ""]))
            .prop_map(|(i, t)| Change::Stored(i.index(usize::MAX), t)),
    ]
}

/// A random comparison of the language over `P`.
fn comparison() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["==", "!=", ">", "<", ">=", "<="]);
    prop_oneof![
        (op.clone(), 0i64..5).prop_map(|(o, n)| format!("age {o} {n}")),
        (op.clone(), 0..DATES.len()).prop_map(|(o, i)| format!("born {o} \"{}\"", DATES[i])),
        (op.clone(), -3i8..4).prop_map(|(o, n)| format!("score {o} {}", f64::from(n) * 1.5)),
        (op.clone(), 0..LASTS.len()).prop_map(|(o, i)| format!("last {o} \"{}\"", LASTS[i])),
        (0..FIRSTS.len()).prop_map(|i| format!("first == \"{}\"", FIRSTS[i])),
        prop::sample::select(vec!["D", "d", "M", "Mü", "Do", ""])
            .prop_map(|p| format!("last startswith \"{p}\"")),
        // A prefix and a range of the next column of the index `last, age`: the prefix's
        // values become equalities (each seeks its age range).
        (
            prop::sample::select(vec!["D", "M", "m", "Mü"]),
            op.clone(),
            0i64..5
        )
            .prop_map(|(p, o, n)| format!("(last startswith \"{p}\" and age {o} {n})")),
        // No index leads with `first`: the prefix stays one range.
        prop::sample::select(vec!["A", "a", "É", "Z"])
            .prop_map(|p| format!("first startswith \"{p}\"")),
        prop::sample::select(vec!["o", "E", "ü", "nn"]).prop_map(|p| format!("first like \"{p}\"")),
        prop::sample::select(vec!["==", "!="]).prop_map(|o| format!("status {o} \"A\"")),
        prop::sample::select(vec!["true", "false"]).prop_map(|b| format!("active == {b}")),
        prop::sample::select(vec![
            "age", "last", "status", "born", "company", "tags", "prefs", "first"
        ])
        .prop_flat_map(
            |p| prop::sample::select(vec!["==", "!="]).prop_map(move |o| format!("{p} {o} null"))
        ),
        (0i64..3).prop_map(|n| format!("tags == {n}")),
        (op.clone(), 0i64..3).prop_map(|(o, n)| format!("prefs.k {o} {n}")),
        prop::sample::select(vec!["City 0", "City 1", "Berlin"])
            .prop_map(|c| format!("company.city.name == \"{c}\"")),
        prop::sample::select(vec!["==", "!="]).prop_map(|o| format!("company.name {o} \"Co 1\"")),
        (op, 0i64..40).prop_map(|(o, n)| format!("objectId {o} id({n})")),
        // Counted columns' equalities, lists and ranges (`ValueCounts` alone).
        (0i64..5, 0i64..5).prop_map(|(a, b)| format!("(age >= {a} and age < {b})")),
        (0i64..5, 0i64..5).prop_map(|(a, b)| format!("(age == {a} or age == {b})")),
        (-3i8..4, -3i8..4).prop_map(|(a, b)| format!(
            "(score > {} and score <= {})",
            f64::from(a) * 1.5,
            f64::from(b) * 1.5
        )),
        prop::sample::select(vec!["A", "I", "a", ""])
            .prop_map(|s| format!("(status == \"{s}\" or status == \"I\")")),
        (0..LASTS.len(), 0..LASTS.len())
            .prop_map(|(a, b)| format!("(last == \"{}\" or last == \"{}\")", LASTS[a], LASTS[b])),
        // A counted pair's equalities with equalities, a list or a range of its second
        // column (`PairCounts` alone), in either order, with `or`s and nested `and`s.
        (
            0..FIRSTS.len(),
            prop::sample::select(vec!["A", "I", "a"]),
            any::<bool>()
        )
            .prop_map(|(f, s, flip)| if flip {
                format!("(status == \"{s}\" and first == \"{}\")", FIRSTS[f])
            } else {
                format!("(first == \"{}\" and status == \"{s}\")", FIRSTS[f])
            }),
        (0..FIRSTS.len(), 0..FIRSTS.len()).prop_map(|(a, b)| format!(
            "((first == \"{}\" or first == \"{}\") and (status == \"A\" or status == \"I\"))",
            FIRSTS[a], FIRSTS[b]
        )),
        (
            0..LASTS.len(),
            prop::sample::select(vec!["==", ">", "<", ">=", "<="]),
            0i64..5
        )
            .prop_map(|(l, o, n)| format!("(last == \"{}\" and age {o} {n})", LASTS[l])),
        (0..LASTS.len(), 0..LASTS.len(), 0i64..5, 0i64..5).prop_map(|(l, m, a, b)| format!(
            "((last == \"{}\" or last == \"{}\") and (age >= {a} and age < {b}))",
            LASTS[l], LASTS[m]
        )),
        (0..LASTS.len(), 0i64..5, 0i64..5).prop_map(|(l, a, b)| format!(
            "(age >= {a} and last == \"{}\" and age <= {b})",
            LASTS[l]
        )),
        (0..LASTS.len(), 0i64..5, 0i64..5).prop_map(|(l, a, b)| format!(
            "(last == \"{}\" and (age == {a} or age == {b}))",
            LASTS[l]
        )),
        // A Lookup's own value, one or several (counted from `LookupCounts` alone).
        (3i64..9).prop_map(|n| format!("company == id({n})")),
        (3i64..9, 3i64..9).prop_map(|(a, b)| format!("(company == id({a}) or company == id({b}))")),
        Just("objectNumber == \"X\"".to_owned()),
        Just("objectNumber != \"X\"".to_owned()),
    ]
}

pub(super) fn condition() -> impl Strategy<Value = String> {
    comparison().prop_recursive(3, 12, 3, |inner| {
        (
            prop::sample::select(vec![" and ", " or "]),
            prop::collection::vec(inner, 2..4),
        )
            .prop_map(|(glue, parts)| format!("({})", parts.join(glue)))
    })
}

/// A query of the language: `cond`, ordered by `order` (key, descending), paged.
pub(crate) fn query_of(
    cond: Option<String>,
    order: &[(&str, bool)],
    offset: Option<u64>,
    limit: Option<u64>,
) -> String {
    let mut q = cond.unwrap_or_default();
    if !order.is_empty() {
        let keys: Vec<String> = order
            .iter()
            .map(|(k, d)| format!("{k}{}", if *d { " desc" } else { "" }))
            .collect();
        q.push_str(&format!(" order by {}", keys.join(", ")));
    }
    if let Some(o) = offset {
        q.push_str(&format!(" offset {o}"));
    }
    if let Some(l) = limit {
        q.push_str(&format!(" limit {l}"));
    }
    q
}

fn query_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "age",
        "last",
        "born",
        "status",
        "score",
        "first",
        "active",
        "company",
        "objectId",
        "createdAt",
    ]);
    (
        prop::option::of(condition()),
        prop::collection::vec((key, any::<bool>()), 0..3),
        prop::option::of(0u64..8),
        prop::option::of(0u64..12),
    )
        .prop_map(|(cond, order, offset, limit)| query_of(cond, &order, offset, limit))
}

fn table_view() -> impl Strategy<Value = (Vec<Filter>, Vec<Order>, u64, u64)> {
    let filter = prop_oneof![
        prop::sample::select(vec!["A", "I"]).prop_map(|s| Filter {
            key: Key::Text("status".into()),
            value: FilterValue::Text(s.into()),
        }),
        (0i64..4).prop_map(|a| Filter {
            key: Key::Double("age".into()),
            value: FilterValue::Double(a as f64),
        }),
        (0..LASTS.len()).prop_map(|i| Filter {
            key: Key::Text("last".into()),
            value: FilterValue::Text(LASTS[i].into()),
        }),
        // With `status`, a counted pair (`PairCounts`).
        (0..FIRSTS.len()).prop_map(|i| Filter {
            key: Key::Text("first".into()),
            value: FilterValue::Text(FIRSTS[i].into()),
        }),
    ];
    let order = prop_oneof![
        Just(Key::Double("born".into())),
        Just(Key::Text("last".into())),
        Just(Key::Double("age".into())),
        Just(Key::System(SystemField::ObjectNumber)),
        // A Number without an index, and a text with none of its own.
        Just(Key::Double("score".into())),
        Just(Key::Text("first".into())),
    ]
    .prop_flat_map(|key| {
        any::<bool>().prop_map(move |descending| Order {
            key: key.clone(),
            descending,
        })
    });
    (
        prop::collection::vec(filter, 0..3),
        prop::collection::vec(order, 0..3),
        0u64..6,
        0u64..10,
    )
}

pub(super) struct World {
    _dir: tempfile::TempDir,
    pub(super) path: std::path::PathBuf,
    pub(super) ds: Arc<Datastore>,
    pub(super) store: Arc<dyn Store>,
    /// The people's ids, in the order they were made.
    pub(super) ids: Vec<i64>,
    pub(super) companies: Vec<i64>,
}

pub(super) async fn world(people: &[Person], changes: &[Change]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let config = config();
    let applied = store.apply_config(&config).await.unwrap();
    let active = ActiveConfig::new(config, applied.version, chrono_tz::Tz::UTC, 1000);
    let ds = Arc::new(Datastore::new(store.clone(), Arc::new(active)));
    let id = |v: Value| v["objectId"].as_i64().unwrap();
    let mut cities = Vec::new();
    for name in ["Berlin", "City 1", "City 0"] {
        let m = json!({ "name": name }).as_object().unwrap().clone();
        cities.push(id(ds.new_object("City", Some(m)).await.unwrap()));
    }
    let mut companies = Vec::new();
    for c in 0..4 {
        let m = json!({ "name": format!("Co {}", c % 3), "city": cities[c % 3] })
            .as_object()
            .unwrap()
            .clone();
        companies.push(id(ds.new_object("Company", Some(m)).await.unwrap()));
    }
    let mut ids = Vec::new();
    for p in people {
        ids.push(id(ds
            .new_object("P", Some(p.json(&companies)))
            .await
            .unwrap()));
    }
    apply(&ds, &store, &ids, &companies, changes).await;
    World {
        _dir: dir,
        path,
        ds,
        store,
        ids,
        companies,
    }
}

/// Makes `changes` through `ds` (over `store`) to the people `ids`.
pub(super) async fn apply(
    ds: &Datastore,
    store: &Arc<dyn Store>,
    ids: &[i64],
    companies: &[i64],
    changes: &[Change],
) {
    for c in changes {
        if ids.is_empty() {
            break;
        }
        let pick = |i: &usize| ids[*i % ids.len()];
        // A change may be refused (a dropped object, a type with Lookups to it): that is
        // fine, the data is whatever the writes made it.
        let _ = match c {
            Change::Save(i, p) => ds.save_properties(pick(i), p.json(companies)).await,
            Change::Unset(i, name) => ds.save_property(pick(i), name, Value::Null).await,
            Change::Archive(i) => ds.change_object_type(pick(i), "ARCH_P").await,
            Change::Retype(i) => ds.change_object_type(pick(i), "Other").await,
            Change::Drop(i) => ds.drop_object(pick(i), Vec::new()).await,
            Change::Stored(i, text) => {
                let mut changed = self::config();
                let p = changed.types.get_mut("P").unwrap();
                let first = p.properties["first"].clone();
                p.properties.insert("age".into(), first.clone());
                p.properties.insert("score".into(), first);
                let applied = store.apply_config(&changed).await.unwrap();
                let active = ActiveConfig::new(changed, applied.version, chrono_tz::Tz::UTC, 1000);
                let as_text = Datastore::new(store.clone(), Arc::new(active));
                let json = json!({ "age": text, "score": text })
                    .as_object()
                    .unwrap()
                    .clone();
                let saved = as_text.save_properties(pick(i), json).await;
                store.apply_config(&self::config()).await.unwrap();
                crate::service::projections::build_all(store.as_ref())
                    .await
                    .unwrap();
                saved
            }
        };
    }
}

/// The plan of the query `text` over `P` (at most 1000 results).
fn plan_of(ds: &Datastore, text: &str) -> crate::query::plan::QueryPlan {
    let paging = Paging {
        offset: None,
        limit: None,
        max_results: 1000,
    };
    resolve::resolve(
        &crate::query::parse(text).unwrap(),
        "P",
        ds.schema().as_ref(),
        paging,
    )
    .unwrap()
}

fn ids(page: &Page) -> Vec<i64> {
    page.objects.iter().map(|o| o.id).collect()
}

/// `LookupCounts` holds, for every Lookup column of every projection, what its rows hold
/// (targets with no row may keep a count of 0).
pub(super) fn counts_follow_the_rows(conn: &rusqlite::Connection) -> Result<(), String> {
    let all: Vec<(i64, String, bool, bool)> = conn
        .prepare("SELECT TableNo, Layout, Counted, ValueCounted FROM Projections")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (table, layout, counted, value_counted) in all {
        if !counted || !value_counted {
            return Err(format!("Proj_{table}: its counts are not kept"));
        }
        let layout: super::projection::Layout = serde_json::from_str(&layout).unwrap();
        // `ValueCounts` (migration 0071): the rows, and the rows per value of each
        // counted column (values with no row may keep a count of 0).
        let read = |sql: String| -> Vec<(i64, rusqlite::types::Value, i64)> {
            conn.prepare(&sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut rows = read(format!(
            "SELECT 0, 0, COUNT(*) FROM Proj_{table} HAVING COUNT(*) > 0"
        ));
        for c in layout.counted() {
            let x = super::projection::Layout::counted_by(c);
            rows.extend(read(format!(
                "SELECT {}, {x}, COUNT(*) FROM Proj_{table} WHERE {x} IS NOT NULL \
                 GROUP BY {x} ORDER BY {x}",
                c.no
            )));
        }
        let kept = read(format!(
            "SELECT ColumnNo, Value, Total FROM ValueCounts WHERE TableNo = {table} \
             AND Total <> 0 ORDER BY ColumnNo, Value"
        ));
        if rows != kept {
            return Err(format!(
                "Proj_{table}: value counts {kept:?}, rows {rows:?}"
            ));
        }
        // `PairCounts` (migration 0072): the rows per pair of values of each counted pair.
        for (a, b) in layout.counted_pairs() {
            let (xa, xb) = (
                super::projection::Layout::counted_by(a),
                super::projection::Layout::counted_by(b),
            );
            let read = |sql: String| -> Vec<(rusqlite::types::Value, rusqlite::types::Value, i64)> {
                conn.prepare(&sql)
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let rows = read(format!(
                "SELECT {xa}, {xb}, COUNT(*) FROM Proj_{table} \
                 WHERE {xa} IS NOT NULL AND {xb} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
            ));
            let kept = read(format!(
                "SELECT ValueA, ValueB, Total FROM PairCounts WHERE TableNo = {table} \
                 AND ColumnA = {} AND ColumnB = {} AND Total <> 0 ORDER BY 1, 2",
                a.no, b.no
            ));
            if rows != kept {
                return Err(format!(
                    "Proj_{table} ({}, {}): pair counts {kept:?}, rows {rows:?}",
                    a.name, b.name
                ));
            }
        }
        let pairs: i64 = conn
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM PairCounts WHERE TableNo = {table} AND Total <> 0 \
                     AND NOT EXISTS (SELECT 1 FROM json_each(?1) AS j \
                     WHERE j.value ->> 0 = ColumnA AND j.value ->> 1 = ColumnB)"
                ),
                [serde_json::to_string(&layout.pairs).unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        if pairs != 0 {
            return Err(format!(
                "Proj_{table}: {pairs} counts of pairs it does not count"
            ));
        }
        for c in layout.columns.iter().filter(|c| c.lookup) {
            let k = c.no;
            let read = |sql: String| -> Vec<(f64, i64, i64)> {
                conn.prepare(&sql)
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let rows = read(format!(
                "SELECT d{k}, n{k} IS NOT NULL, COUNT(*) FROM Proj_{table} \
                 WHERE d{k} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
            ));
            let kept = read(format!(
                "SELECT TargetId, NotLookup, Total FROM LookupCounts \
                 WHERE TableNo = {table} AND ColumnNo = {k} AND Total <> 0 ORDER BY 1, 2"
            ));
            if rows != kept {
                return Err(format!(
                    "Proj_{table}.{}: counts {kept:?}, rows {rows:?}",
                    c.name
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn reader(path: &Path) -> rusqlite::Connection {
    open_connection(path, true).unwrap()
}

fn compare_query(
    conn: &rusqlite::Connection,
    ds: &Datastore,
    text: &str,
) -> Result<bool, TestCaseError> {
    let parsed =
        crate::query::parse(text).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
    let paging = Paging {
        offset: None,
        limit: None,
        max_results: 1000,
    };
    let plan = resolve::resolve(&parsed, "P", ds.schema().as_ref(), paging)
        .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    let mut cache = CountCache::default();
    let mut s = Snapshot::begin(conn, &mut cache).unwrap();
    let eav = query::run_eav(&mut s, &plan, None).unwrap();
    let fast = projected::query(&mut s, &plan, None).unwrap();
    s.end().unwrap();
    let Some(fast) = fast else {
        return Ok(false);
    };
    prop_assert_eq!(fast.total, eav.total, "count of `{}`", text);
    prop_assert_eq!(ids(&fast), ids(&eav), "page of `{}`", text);
    prop_assert_eq!(&fast.objects, &eav.objects, "objects of `{}`", text);
    if plan.location.is_none() {
        // A cursor walk, three at a time, visits the whole listing in its order on both.
        let mut whole = plan.clone();
        whole.offset = 0;
        whole.limit = 1000;
        let mut s = Snapshot::begin(conn, &mut cache).unwrap();
        let all = ids(&query::run_eav(&mut s, &whole, None).unwrap());
        let mut page = plan.clone();
        page.offset = 0;
        page.limit = 3;
        let by_eav = walk(|w| {
            page.walk = w.clone();
            query::run_eav(&mut s, &page, None).unwrap()
        });
        let by_projection = walk(|w| {
            page.walk = w.clone();
            projected::query(&mut s, &page, None).unwrap().unwrap()
        });
        s.end().unwrap();
        prop_assert_eq!(&by_eav, &all, "EAV walk of `{}`", text);
        prop_assert_eq!(&by_projection, &all, "projection walk of `{}`", text);
    }
    Ok(true)
}

/// The ids of every page of a cursor walk, `run` reading one page.
fn walk(mut run: impl FnMut(&Walk) -> Page) -> Vec<i64> {
    let mut out = Vec::new();
    let mut w = Walk {
        count: false,
        ..Walk::default()
    };
    for _ in 0..1000 {
        let page = run(&w);
        out.extend(ids(&page));
        match page.next {
            Some(seek) => {
                w.after = Some(seek);
                w.head = page.head;
            }
            None => return out,
        }
    }
    panic!("the walk does not end");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_projection_answers_what_the_eav_plan_answers(
        people in prop::collection::vec(person(), 0..40),
        changes in prop::collection::vec(change(), 0..12),
        queries in prop::collection::vec(query_text(), 12),
        views in prop::collection::vec(table_view(), 4),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let w = runtime.block_on(world(&people, &changes));
        let conn = reader(&w.path);
        counts_follow_the_rows(&conn).map_err(TestCaseError::fail)?;
        // Each page as the estimate chooses it, then always walking an order (the ids or
        // the first key's index), then never (the filter's index, and an unordered page
        // sorting the rows it finds or reading the ids alone).
        // Then as the estimate chooses with every remembered number of matches wrong:
        // none, exactly one, at least a billion.
        let wrong = [
            Some(Estimate { n: 0, exact: true }),
            Some(Estimate { n: 1, exact: true }),
            Some(Estimate { n: 1_000_000_000, exact: false }),
        ];
        // Then the bounded merge of point ranges (`merge.rs`) wherever it finds a bound, and
        // with the others forced, never.
        // Then the walk of the Lookups' index in id order wherever the filter reads only
        // Lookup columns (a path through `company`, its equalities), and never.
        let modes = [
            (None, None, None, None),
            (Some(true), None, None, None),
            (Some(false), Some(false), Some(false), None),
            (Some(false), Some(true), Some(false), None),
            (None, None, Some(true), None),
            (Some(false), Some(false), Some(true), None),
            (None, None, None, Some(true)),
            (None, None, None, Some(false)),
        ]
        .into_iter()
        .map(|(force, by_ids, by_merge, narrow)| (force, by_ids, by_merge, narrow, None))
        .chain(wrong.into_iter().map(|e| (None, None, None, None, e)));
        for (force, by_ids, by_merge, narrow, estimate) in modes {
        projected::FORCE_WALK.with(|f| f.set(force));
        projected::FORCE_IDS.with(|f| f.set(by_ids));
        merge::FORCE_MERGE.with(|f| f.set(by_merge));
        projected::FORCE_NARROW.with(|f| f.set(narrow));
        FAKE_ESTIMATE.with(|f| f.set(estimate));
        let mut used = 0;
        for text in &queries {
            if compare_query(&conn, &w.ds, text)? {
                used += 1;
            }
        }
        prop_assert_eq!(used, queries.len(), "every query over P's properties uses the projection");
        if narrow == Some(true) {
            // A two-hop path, projections on every type of the chain: the Lookups' index
            // in id order answers it, whatever the data.
            let before = projected::NARROWED.with(|n| n.get());
            prop_assert!(compare_query(&conn, &w.ds, "company.city.name == \"Berlin\" limit 3")?);
            prop_assert!(projected::NARROWED.with(|n| n.get()) > before, "the path walks the Lookups' index");
        }
        for (filters, order, offset, limit) in views.clone() {
            let q = TableQuery {
                object_type: "P".into(),
                columns: None,
                parent_id: None,
                filters,
                order,
                offset,
                limit,
                walk: Default::default(),
            };
            let mut cache = CountCache::default();
            let mut s = Snapshot::begin(&conn, &mut cache).unwrap();
            let eav = table::list_table_eav(&mut s, &q).unwrap();
            let fast = projected::table(&mut s, &q).unwrap().expect("the projection serves the view");
            prop_assert_eq!(fast.total, eav.total, "count of {:?}", q);
            prop_assert_eq!(ids(&fast), ids(&eav), "page of {:?}", q);
            // A cursor walk, two at a time, visits the whole view in its order on both.
            let mut whole = q.clone();
            whole.offset = 0;
            whole.limit = 1000;
            let all = ids(&table::list_table_eav(&mut s, &whole).unwrap());
            let mut page = whole.clone();
            page.limit = 2;
            let by_eav = walk(|w| {
                page.walk = w.clone();
                table::list_table_eav(&mut s, &page).unwrap()
            });
            let by_projection = walk(|w| {
                page.walk = w.clone();
                projected::table(&mut s, &page).unwrap().unwrap()
            });
            s.end().unwrap();
            prop_assert_eq!(&by_eav, &all, "EAV walk of {:?}", q);
            prop_assert_eq!(&by_projection, &all, "projection walk of {:?}", q);
        }
        }
        projected::FORCE_WALK.with(|f| f.set(None));
        projected::FORCE_IDS.with(|f| f.set(None));
        merge::FORCE_MERGE.with(|f| f.set(None));
        projected::FORCE_NARROW.with(|f| f.set(None));
        FAKE_ESTIMATE.with(|f| f.set(None));
    }
}

/// A projection rebuilt by batches (a DSConfig that changes what it holds) answers as the
/// EAV plan does, and is not used before it is complete.
#[tokio::test]
async fn a_changed_layout_is_rebuilt_by_batches_and_used_only_when_complete() {
    let people: Vec<Person> = (0..2500)
        .map(|i| Person {
            first: Some(i % FIRSTS.len()),
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: (i % 3 != 0).then_some(i % DATES.len()),
            active: None,
            status: Some(i % 2 == 0),
            company: None,
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let store = w.ds.store.clone();
    let conn = reader(&w.path);
    let text = "status == \"A\" and age > 1 order by born desc limit 7";
    assert!(compare_query(&conn, &w.ds, text).unwrap());
    // A new index, and one fewer: only the indexes change, the rows stay, the projection
    // stays complete and answers as before.
    let mut config = config();
    let index = &mut config.types.get_mut("P").unwrap().index;
    index.retain(|i| i.len() < 3);
    index.push(vec!["age".into(), "born".into()]);
    store.apply_config(&config).await.unwrap();
    assert!(
        compare_query(&conn, &w.ds, text).unwrap(),
        "a projection whose indexes changed is used at once"
    );
    let indexes: Vec<String> = conn
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'IX_Proj_%' AND tbl_name = (SELECT 'Proj_' || TableNo FROM Projections WHERE ObjectType = 'P') ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        indexes.iter().any(|i| i.ends_with("(d2, d3)")),
        "{indexes:?}"
    );
    assert!(!indexes.iter().any(|i| i.contains("v9, v6")), "{indexes:?}");
    // The declared ones, the four single-column ones of their own and the Lookups' in id
    // order (`Layout::ids_index`).
    assert_eq!(
        indexes.len(),
        config.types["P"].index.len() + 5,
        "{indexes:?}"
    );
    // A new property: the columns change, the projection is laid out anew and incomplete.
    let first = config.types["P"].properties["first"].clone();
    config
        .types
        .get_mut("P")
        .unwrap()
        .properties
        .insert("nick".into(), first);
    store.apply_config(&config).await.unwrap();
    assert!(
        !compare_query(&conn, &w.ds, text).unwrap(),
        "an incomplete projection is not used"
    );
    let status = store.build_projection_batch().await.unwrap().unwrap();
    assert_eq!(status.object_type, "P");
    assert!(status.built_up_to.is_some());
    assert!(
        !compare_query(&conn, &w.ds, text).unwrap(),
        "a projection one batch in is not used"
    );
    // Writes during the rebuild keep the rows already rebuilt right.
    let first =
        w.ds.store
            .query(
                &crate::query::resolve::resolve(
                    &crate::query::parse("age == 0 limit 1").unwrap(),
                    "P",
                    w.ds.schema().as_ref(),
                    Paging {
                        offset: None,
                        limit: None,
                        max_results: 10,
                    },
                )
                .unwrap(),
                None,
            )
            .await
            .unwrap();
    let id = first.objects[0].id;
    w.ds.save_property(id, "age", json!(3)).await.unwrap();
    crate::service::projections::build_all(store.as_ref())
        .await
        .unwrap();
    assert!(store
        .projections()
        .await
        .unwrap()
        .iter()
        .all(|p| p.built_up_to.is_none()));
    for text in [
        text,
        "age == 3 order by born limit 20",
        "last == \"Doe\" and age >= 1 order by age desc, born offset 3 limit 9",
        "born == null order by last desc limit 30",
    ] {
        assert!(
            compare_query(&conn, &w.ds, text).unwrap(),
            "{text} uses the projection"
        );
    }
    // `reindex`: emptied, not used, rebuilt.
    assert_eq!(
        store.reset_projections(Some("P")).await.unwrap(),
        vec!["P".to_owned()]
    );
    assert!(!compare_query(&conn, &w.ds, text).unwrap());
    assert!(matches!(
        store.reset_projections(Some("Nope")).await,
        Err(crate::store::StoreError::Config(_))
    ));
    crate::service::projections::build_all(store.as_ref())
        .await
        .unwrap();
    assert!(compare_query(&conn, &w.ds, text).unwrap());
}

/// A Lookup's index holds its `n<k>` (a path's `d<k> IN (...) AND n<k> IS NULL` is answered
/// by the index alone); a database whose index an earlier build made without it gets it
/// made anew when the same DSConfig is applied, and answers as before.
#[tokio::test]
async fn a_lookup_index_holds_its_n_column_and_an_earlier_one_is_made_anew() {
    let people: Vec<Person> = (0..30)
        .map(|i| Person {
            first: None,
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: None,
            active: None,
            status: None,
            company: Some(i % 4),
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    let lookup_index = |conn: &rusqlite::Connection| -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = \
             (SELECT 'Proj_' || TableNo FROM Projections WHERE ObjectType = 'P') \
             AND sql LIKE '%(d4%'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let made = lookup_index(&conn);
    assert!(made.ends_with("(d4, n4)"), "{made}");
    let text = "company.city.name == \"Berlin\" limit 5";
    assert!(compare_query(&conn, &w.ds, text).unwrap());
    // As an earlier build made it.
    let name: String = made.split_whitespace().nth(2).unwrap().to_owned();
    let table: String = made.split_whitespace().nth(4).unwrap().to_owned();
    {
        let writer = rusqlite::Connection::open(&w.path).unwrap();
        writer
            .execute_batch(&format!(
                "DROP INDEX {name}; CREATE INDEX {name} ON {table} (d4)"
            ))
            .unwrap();
    }
    assert!(lookup_index(&conn).ends_with("(d4)"));
    w.ds.store.apply_config(&config()).await.unwrap();
    assert!(lookup_index(&conn).ends_with("(d4, n4)"));
    assert!(compare_query(&conn, &w.ds, text).unwrap());
}

/// An equality on a text column that a composite index holds before its last column (an
/// exact, binary key) is that index's seek, with no test of each entry it reads: a count of
/// `status == "A"` reads only the index range (and is what the EAV plan counts).
#[tokio::test]
async fn an_equality_on_an_exact_index_column_is_its_seek() {
    let people: Vec<Person> = (0..60)
        .map(|i| Person {
            first: Some(i % FIRSTS.len()),
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: Some(i % DATES.len()),
            active: None,
            status: Some(i % 3 == 0),
            company: None,
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    let indexes: Vec<String> = conn
        .prepare(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = \
             (SELECT 'Proj_' || TableNo FROM Projections WHERE ObjectType = 'P') ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // status (v9) and last (v6) before the last key: exact; the last key and a lone text
    // column: NOCASE; status keeps its own NOCASE index for sorts.
    for wanted in [
        "(v9, d3)",
        "(v6, d2)",
        "(v6 COLLATE NOCASE)",
        "(v9, v6, d3)",
        "(v9 COLLATE NOCASE)",
    ] {
        assert!(
            indexes.iter().any(|i| i.ends_with(wanted)),
            "{wanted} in {indexes:?}"
        );
    }
    for (text, index) in [
        ("status == \"A\"", "(v9=?)"),
        ("last == \"Doe\" and age > 1", "(v6=? AND d2>?)"),
        ("status == \"I\" and last == \"doe\"", "(v9=? AND v6=?)"),
        ("last startswith \"D\" and age < 2", "(v6=? AND d2<?)"),
    ] {
        let plan = plan_of(&w.ds, text);
        let mut cache = CountCache::default();
        let s = Snapshot::begin(&conn, &mut cache).unwrap();
        let (p, filter, _) = projected::filter_over(&s, "P", plan.condition.as_ref(), &[])
            .unwrap()
            .unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM Proj_{} p WHERE {}",
            p.table, filter.sql
        );
        let details: Vec<String> = conn
            .prepare(&sql)
            .unwrap()
            .query_map(rusqlite::params_from_iter(filter.params.iter()), |r| {
                r.get(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        s.end().unwrap();
        assert!(
            !filter.sql.contains("COLLATE NOCASE ="),
            "{text}: {}",
            filter.sql
        );
        assert!(
            details
                .iter()
                .any(|d| d.contains("COVERING INDEX") && d.ends_with(index)),
            "{text}: {details:?}"
        );
        assert!(compare_query(&conn, &w.ds, text).unwrap(), "{text}");
    }
}

/// An unordered page whose whole filter an index answers by seeks reads the ids of its
/// matches from that index alone (`projected::covering`), counting them in the same pass;
/// a filter that needs a row, or a scan, does not. Either way the page, its count and a
/// cursor walk are what the EAV plan answers.
#[tokio::test]
async fn an_unordered_page_reads_its_ids_from_a_covering_index() {
    let people: Vec<Person> = (0..80)
        .map(|i| Person {
            first: Some(i % FIRSTS.len()),
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: Some(i % DATES.len()),
            active: Some(i % 2 == 0),
            status: Some(i % 3 == 0),
            company: Some(i % 4),
            tags: None,
            prefs: None,
            score: Some((i % 5) as i8 - 2),
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    for (text, covered) in [
        ("status == \"A\"", true),
        ("last == \"Doe\" and age > 1", true),
        ("last startswith \"D\" and age < 2", true),
        ("company.city.name == \"Berlin\"", true),
        // `score` (a Number) has no index, `first` only a NOCASE one: rows are read.
        ("score > 0", false),
        ("status == \"A\" and score > 0", false),
        ("first == \"Anna\"", false),
    ] {
        let plan = plan_of(&w.ds, text);
        let mut cache = CountCache::default();
        let s = Snapshot::begin(&conn, &mut cache).unwrap();
        let (p, filter, _) = projected::filter_over(&s, "P", plan.condition.as_ref(), &[])
            .unwrap()
            .unwrap();
        let mut ids = query::Fragment::default();
        ids.push(&format!("SELECT p.ObjectId FROM Proj_{} p WHERE ", p.table))
            .append(filter);
        assert_eq!(
            projected::covering(&conn, &ids).unwrap(),
            covered,
            "{text}: {}",
            ids.sql
        );
        s.end().unwrap();
        for force in [None, Some(true), Some(false)] {
            projected::FORCE_IDS.with(|f| f.set(force));
            assert!(compare_query(&conn, &w.ds, text).unwrap(), "{text}");
            assert!(
                compare_query(&conn, &w.ds, &format!("{text} offset 2 limit 3")).unwrap(),
                "{text}"
            );
        }
        projected::FORCE_IDS.with(|f| f.set(None));
    }
}

/// The bounded merge of point ranges (`merge.rs`) answers what the EAV plan answers, pages,
/// offsets and cursor walks alike: ranges with fewer matches than each must give (and empty
/// ones), values given twice, more rows asked than there are matches (no bound: the other
/// plans), a path, a Lookup's equalities, equalities on a number, a prefix and a range.
#[tokio::test]
async fn the_merge_of_point_ranges_bounds_the_first_ids() {
    // Uneven ranges: age 0 once, 1 often, 2 less, 3 twice; company 0 once, 3 ten times, 1
    // and 2 the rest but for a few without.
    let people: Vec<Person> = (0..90)
        .map(|i| Person {
            first: Some(i % FIRSTS.len()),
            last: Some(i % LASTS.len()),
            age: Some(match i {
                7 => 0,
                40 | 85 => 3,
                _ if i % 3 == 0 => 2,
                _ => 1,
            }),
            born: Some(i % DATES.len()),
            active: None,
            status: Some(i % 3 == 0),
            company: match i {
                50 => Some(0),
                _ if i % 9 == 4 => Some(3),
                _ if i % 11 == 0 => None,
                _ => Some(1 + i % 2),
            },
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    let companies: Vec<i64> = conn
        .prepare("SELECT ObjectId FROM Objects WHERE ObjectType = 'Company' ORDER BY ObjectId")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (c0, c1, c3) = (companies[0], companies[1], companies[3]);
    let filters = [
        "(age == 0 or age == 1 or age == 2 or age == 3)".to_owned(),
        "(age == 0 or age == 3)".to_owned(),
        "(age == 1 or age == 1 or age == 2)".to_owned(),
        "(age == 7 or age == 2)".to_owned(),
        "company.city.name == \"Berlin\"".to_owned(),
        "company.city.name == \"City 1\"".to_owned(),
        format!("(company == id({c0}) or company == id({c3}) or company == id({c1}))"),
        format!("company == id({c1})"),
        "(last startswith \"M\" and age < 3)".to_owned(),
        "(age >= 1 and last startswith \"D\")".to_owned(),
    ];
    merge::FORCE_MERGE.with(|f| f.set(Some(true)));
    for filter in &filters {
        for (offset, limit) in [
            (None, Some(1)),
            (None, Some(5)),
            (Some(2), Some(3)),
            (Some(7), Some(4)),
            (None, Some(60)),
            (Some(30), Some(200)),
            (None, None),
        ] {
            let text = query_of(Some(filter.clone()), &[], offset, limit);
            let before = merge::MERGED.with(|m| m.get());
            assert!(compare_query(&conn, &w.ds, &text).unwrap(), "{text}");
            let merged = merge::MERGED.with(|m| m.get()) - before;
            // A page of one from ranges of one match or more always finds its bound.
            if limit == Some(1) && offset.is_none() && !filter.contains("age == 7") {
                assert!(merged > 0, "{text}: no merge");
            }
        }
    }
    // More rows asked than there are matches: no bound, the same answer.
    let before = merge::MERGED.with(|m| m.get());
    assert!(compare_query(&conn, &w.ds, "(age == 0 or age == 3) limit 10").unwrap());
    assert_eq!(
        merge::MERGED.with(|m| m.get()),
        before,
        "three matches, 11 wanted"
    );
    merge::FORCE_MERGE.with(|f| f.set(None));
}

/// `LookupCounts` (migration 0070) follows the projection's rows through every write path
/// (new objects, a Lookup saved to another target or unset, a save that leaves it alone, a
/// retype, an archive, a drop), through a second store on the same file (another process),
/// `datastore reindex`, a DSConfig that lays the projection out anew, and a database whose
/// projection an earlier version made (no counts: not used until the DSConfig is applied).
/// The counts of a path and of a Lookup's equality answer what the EAV plan answers.
#[tokio::test]
async fn lookup_counts_follow_every_write_and_answer_the_counts() {
    let people: Vec<Person> = (0..40)
        .map(|i| Person {
            first: (i % 7 != 0).then_some(i % FIRSTS.len()),
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: None,
            active: None,
            status: (i % 6 != 0).then_some(i % 3 == 0),
            company: (i % 5 != 0).then_some(i % 4),
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    let queries = [
        "company.city.name == \"Berlin\" limit 5",
        "company.city.name == \"City 1\"",
        "company.name == \"Co 1\" limit 3",
        "company == id(4) limit 2",
        "company == id(5) or company == id(6)",
        // `ValueCounts` (migration 0071): the type's total, a range, a list.
        "limit 4",
        "age >= 1 and age < 3 limit 2",
        "last == \"Doe\" or last == \"M\"",
        "age == 9",
        // `PairCounts` (migration 0072): a pair's equalities, lists, a range of its second.
        "first == \"Ann\" and status == \"A\" limit 2",
        "status == \"I\" and first == \"Bob\"",
        "(first == \"Ann\" or first == \"Zoë\") and status == \"I\"",
        "last == \"Doe\" and age > 1",
        "last == \"Doe\" and age >= 1 and age < 9",
        "(last == \"Doe\" or last == \"M\") and (age == 0 or age == 9) limit 1",
    ];
    let same = |step: &str| {
        counts_follow_the_rows(&conn).unwrap_or_else(|e| panic!("{step}: {e}"));
        for text in queries {
            assert!(
                compare_query(&conn, &w.ds, text).unwrap_or_else(|e| panic!("{step}: {e}")),
                "{step}: {text} uses the projection"
            );
        }
    };
    same("new objects");
    let persons = |conn: &rusqlite::Connection| -> Vec<i64> {
        conn.prepare("SELECT ObjectId FROM Objects WHERE ObjectType = 'P' ORDER BY ObjectId")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let company = |conn: &rusqlite::Connection, i: usize| -> i64 {
        conn.query_row(
            "SELECT ObjectId FROM Objects WHERE ObjectType = 'Company' ORDER BY ObjectId \
             LIMIT 1 OFFSET ?1",
            [i as i64],
            |r| r.get(0),
        )
        .unwrap()
    };
    let ids = persons(&conn);
    // The path counted from `LookupCounts`: its count equals the plain count.
    let berlin: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM Properties WHERE PropertyName = 'company' AND \
             PropertyAsDouble IN (SELECT OwnerObjectId FROM Properties WHERE PropertyName = \
             'city' AND PropertyAsDouble = (SELECT ObjectId FROM Objects WHERE ObjectType = \
             'City' ORDER BY ObjectId LIMIT 1))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(berlin > 0);
    w.ds.save_property(ids[1], "company", json!(company(&conn, 3)))
        .await
        .unwrap();
    same("a Lookup saved to another target");
    w.ds.save_property(ids[2], "company", Value::Null)
        .await
        .unwrap();
    same("a Lookup unset");
    w.ds.save_property(ids[0], "company", json!(company(&conn, 0)))
        .await
        .unwrap();
    same("a Lookup set");
    w.ds.save_property(ids[3], "age", json!(9)).await.unwrap();
    same("a save of another property");
    // The pairs' columns, one at a time and together, set, changed and unset.
    w.ds.save_property(ids[12], "first", json!("Ann"))
        .await
        .unwrap();
    same("a save of a pair's first column");
    w.ds.save_property(ids[13], "status", json!("I"))
        .await
        .unwrap();
    same("a save of a pair's second column");
    w.ds.save_property(ids[14], "status", Value::Null)
        .await
        .unwrap();
    same("a pair's column unset");
    w.ds.save_properties(
        ids[15],
        json!({ "first": "Zoë", "status": "I", "last": "M", "age": 9 })
            .as_object()
            .unwrap()
            .clone(),
    )
    .await
    .unwrap();
    same("both columns of two pairs saved");
    w.ds.save_property(ids[16], "last", json!("doe"))
        .await
        .unwrap();
    same("a save of a column counted alone and in a pair");
    // The counts are what the pairs' counts answer: one changed by hand changes them.
    {
        let writer = rusqlite::Connection::open(&w.path).unwrap();
        let count = |text: &str| {
            let plan = plan_of(&w.ds, text);
            let mut cache = CountCache::default();
            let mut s = Snapshot::begin(&conn, &mut cache).unwrap();
            let n = projected::query(&mut s, &plan, None)
                .unwrap()
                .unwrap()
                .total;
            s.end().unwrap();
            n
        };
        let texts = [
            "first == \"Ann\" and status == \"A\"",
            "last == \"Doe\" and age >= 0",
        ];
        let before: Vec<_> = texts.iter().map(|t| count(t)).collect();
        writer
            .execute_batch("UPDATE PairCounts SET Total = Total + 1000")
            .unwrap();
        let after: Vec<_> = texts.iter().map(|t| count(t)).collect();
        writer
            .execute_batch("UPDATE PairCounts SET Total = Total - 1000")
            .unwrap();
        for ((text, before), after) in texts.iter().zip(before).zip(after) {
            assert!(
                after >= before + 1000,
                "`{text}` is counted from PairCounts"
            );
        }
    }
    w.ds.save_properties(
        ids[4],
        json!({ "age": 1, "company": company(&conn, 2) })
            .as_object()
            .unwrap()
            .clone(),
    )
    .await
    .unwrap();
    same("saveProperties");
    w.ds.change_object_type(ids[5], "Other").await.unwrap();
    same("a retype");
    w.ds.change_object_type(ids[6], "ARCH_P").await.unwrap();
    same("an archive");
    w.ds.change_object_type(ids[5], "P").await.unwrap();
    same("a retype back");
    w.ds.drop_object(ids[7], Vec::new()).await.unwrap();
    same("a drop");
    // Another process: its own store on the same file writes; this one reads.
    let other: Arc<dyn Store> = Arc::new(
        SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let applied = other.apply_config(&config()).await.unwrap();
    let active = ActiveConfig::new(config(), applied.version, chrono_tz::Tz::UTC, 1000);
    let other = Datastore::new(other, Arc::new(active));
    other
        .save_property(ids[8], "company", json!(company(&conn, 1)))
        .await
        .unwrap();
    other
        .new_object(
            "P",
            Some(
                json!({ "company": company(&conn, 0) })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    other.drop_object(ids[9], Vec::new()).await.unwrap();
    // A pair's columns written by the other store (its triggers are the file's).
    other
        .save_properties(
            ids[18],
            json!({ "first": "Bob", "status": "I", "age": 2 })
                .as_object()
                .unwrap()
                .clone(),
        )
        .await
        .unwrap();
    same("writes of another store on the file");
    // `datastore reindex`: emptied (counts with the rows), rebuilt.
    let store = w.ds.store.clone();
    store.reset_projections(None).await.unwrap();
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM LookupCounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 0, "reindex empties the counts with the rows");
    crate::service::projections::build_all(store.as_ref())
        .await
        .unwrap();
    same("reindex");
    // A new property: laid out anew (its counts anew), rebuilt.
    let mut changed = config();
    let first = changed.types["P"].properties["first"].clone();
    changed
        .types
        .get_mut("P")
        .unwrap()
        .properties
        .insert("nick".into(), first);
    store.apply_config(&changed).await.unwrap();
    crate::service::projections::build_all(store.as_ref())
        .await
        .unwrap();
    counts_follow_the_rows(&conn).unwrap();
    // As an earlier version left it: no triggers, no counts. Not used (the counts answer
    // from the rows), then taken when the DSConfig is applied.
    {
        let writer = rusqlite::Connection::open(&w.path).unwrap();
        let triggers: Vec<String> = writer
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!triggers.is_empty());
        for t in triggers {
            writer
                .execute_batch(&format!("DROP TRIGGER \"{t}\""))
                .unwrap();
        }
        writer
            .execute_batch(
                "DELETE FROM LookupCounts; DELETE FROM ValueCounts; \
                 UPDATE Projections SET Counted = 0, ValueCounted = 0",
            )
            .unwrap();
        // A write the counts would miss.
        writer
            .execute_batch(&format!(
                "PRAGMA foreign_keys = ON; DELETE FROM Objects WHERE ObjectId = {}",
                ids[10]
            ))
            .unwrap();
    }
    let text = "company.city.name == \"Berlin\" limit 5";
    let plan = plan_of(&w.ds, text);
    let mut cache = CountCache::default();
    let mut s = Snapshot::begin(&conn, &mut cache).unwrap();
    let fast = projected::query(&mut s, &plan, None).unwrap().unwrap();
    let eav = query::run_eav(&mut s, &plan, None).unwrap();
    s.end().unwrap();
    assert_eq!(fast.total, eav.total, "uncounted: the rows are counted");
    for text in ["limit 3", "age >= 1 and age < 3 limit 2"] {
        let plan = plan_of(&w.ds, text);
        let mut s = Snapshot::begin(&conn, &mut cache).unwrap();
        let fast = projected::query(&mut s, &plan, None).unwrap().unwrap();
        let eav = query::run_eav(&mut s, &plan, None).unwrap();
        s.end().unwrap();
        assert_eq!(
            fast.total, eav.total,
            "uncounted: the rows of `{text}` are counted"
        );
    }
    assert!(counts_follow_the_rows(&conn).is_err());
    store.apply_config(&changed).await.unwrap();
    same("counts taken when the DSConfig is applied");
    // As a build before 0070/0071 still running in a rolling upgrade leaves a table it
    // made anew: the counts marked kept, but no triggers keeping them, and a write they
    // missed. The next apply finds the triggers missing and counts again.
    {
        let writer = rusqlite::Connection::open(&w.path).unwrap();
        let triggers: Vec<String> = writer
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for t in triggers {
            writer
                .execute_batch(&format!("DROP TRIGGER \"{t}\""))
                .unwrap();
        }
        writer
            .execute_batch(&format!(
                "PRAGMA foreign_keys = ON; DELETE FROM Objects WHERE ObjectId = {}",
                ids[11]
            ))
            .unwrap();
        let kept: i64 = writer
            .query_row(
                "SELECT MIN(Counted * ValueCounted) FROM Projections",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1, "the counts are still marked kept");
    }
    assert!(counts_follow_the_rows(&conn).is_err());
    store.apply_config(&changed).await.unwrap();
    same("counts taken again when their triggers are missing");
    // As a build before 0072 leaves a table it made anew: the value counts' triggers, not
    // the pairs'.
    {
        let writer = rusqlite::Connection::open(&w.path).unwrap();
        let triggers: Vec<String> = writer
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'VCount!_%!_p%' ESCAPE '!'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            triggers.len(),
            6,
            "two pairs, three triggers each: {triggers:?}"
        );
        for t in triggers {
            writer
                .execute_batch(&format!("DROP TRIGGER \"{t}\""))
                .unwrap();
        }
        writer
            .execute_batch(&format!(
                "PRAGMA foreign_keys = ON; DELETE FROM Objects WHERE ObjectId = {}",
                ids[17]
            ))
            .unwrap();
    }
    assert!(counts_follow_the_rows(&conn).is_err());
    store.apply_config(&changed).await.unwrap();
    same("pair counts taken again when their triggers are missing");
}

/// Which filters the pairs of the sample DSConfig (`"firstName, status"`, `"lastName, age"`)
/// count, and which fall back to the rows (or to the counts of one column).
#[test]
fn a_counted_pair_answers_an_equality_of_its_first_column_with_a_test_of_its_second() {
    use super::projection::CountShape::{self, Numbers, Pair, Range, Texts};
    use crate::query::plan::Cmp;
    let config =
        dsconfig::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig").as_ref()).unwrap();
    let layout = super::projection::Layout::of(&config.types["Person"]).unwrap();
    let no = |name: &str| layout.column(name).unwrap().no;
    let (first, status, last, age) = (no("firstName"), no("status"), no("lastName"), no("age"));
    let shape = |text: &str| -> Option<CountShape> {
        let plan = crate::query::sample::plan("Person", text);
        layout.count_shape(plan.condition.as_ref())
    };
    let pair = |a: CountShape, b: CountShape| Some(Pair(Box::new(a), Box::new(b)));
    let texts = |k: usize, v: &[&str]| Texts(k, v.iter().map(|t| t.to_string()).collect());
    let emma_i = pair(texts(first, &["Emma"]), texts(status, &["I"]));
    assert_eq!(shape(r#"firstName == "Emma" and status == "I""#), emma_i);
    assert_eq!(shape(r#"status == "I" and firstName == "Emma""#), emma_i);
    assert_eq!(
        shape(
            r#"(firstName == "Emma" or firstName == "Ann" or firstName == "Emma") and (status == "A" or status == "I")"#
        ),
        pair(texts(first, &["Emma", "Ann"]), texts(status, &["A", "I"]))
    );
    assert_eq!(
        shape(r#"age > 30 and lastName == "Doe""#),
        pair(texts(last, &["Doe"]), Range(age, vec![(Cmp::Gt, 30.0)]))
    );
    assert_eq!(
        shape(r#"age > 30 and (lastName == "Doe" and age <= 40)"#),
        pair(
            texts(last, &["Doe"]),
            Range(age, vec![(Cmp::Gt, 30.0), (Cmp::Le, 40.0)])
        )
    );
    assert_eq!(
        shape(r#"lastName == "Doe" and (age == 3 or age == 4)"#),
        pair(texts(last, &["Doe"]), Numbers(age, vec![3.0, 4.0]))
    );
    // Equalities of a number joined by `and` are a range (of no value here).
    assert_eq!(
        shape(r#"lastName == "Doe" and age == 3 and age == 4"#),
        pair(
            texts(last, &["Doe"]),
            Range(age, vec![(Cmp::Eq, 3.0), (Cmp::Eq, 4.0)])
        )
    );
    // One column, as before: its own counts.
    assert_eq!(
        shape("age > 30 and age < 40"),
        Some(Range(age, vec![(Cmp::Gt, 30.0), (Cmp::Lt, 40.0)]))
    );
    // The rows: not a counted pair, a range of a pair's first column, three columns, a
    // prefix, a `!=`, an `or` across the columns, two equalities of a text, a path.
    for text in [
        r#"firstName == "Emma" and age > 30"#,
        r#"lastName > "D" and age == 3"#,
        r#"firstName == "Emma" and status == "I" and age > 3"#,
        r#"lastName startswith "D" and age > 30"#,
        r#"lastName == "Doe" and age != 30"#,
        r#"lastName == "Doe" or age == 30"#,
        r#"firstName == "Emma" and status == "A" and status == "I""#,
        r#"firstName == "Emma" and company.city.name == "Berlin""#,
    ] {
        assert_eq!(shape(text), None, "{text}");
    }
}

/// The walk of the Lookups' index in id order (`Layout::ids_index`) answers what the EAV
/// plan answers for a path through a Lookup and a Lookup's equalities, through a company
/// moving city, a city renamed, a company deleted, a dangling Lookup (its target gone), a
/// Lookup to an object of a type without projection, writes of another store on the same
/// file, and an index an earlier build dropped (the other plans answer; the DSConfig
/// applied makes it again).
#[tokio::test]
async fn the_lookups_index_in_id_order_answers_the_path_through_every_change() {
    let people: Vec<Person> = (0..60)
        .map(|i| Person {
            first: None,
            last: Some(i % LASTS.len()),
            age: Some((i % 4) as i64),
            born: None,
            active: None,
            status: None,
            company: (i % 7 != 0).then_some(i % 4),
            tags: None,
            prefs: None,
            score: None,
        })
        .collect();
    let w = world(&people, &[]).await;
    let conn = reader(&w.path);
    let of_type = |t: &str| -> Vec<i64> {
        conn.prepare("SELECT ObjectId FROM Objects WHERE ObjectType = ?1 ORDER BY ObjectId")
            .unwrap()
            .query_map([t], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let (cities, companies, persons) = (of_type("City"), of_type("Company"), of_type("P"));
    let p = super::projection::of_type(&conn, "P").unwrap().unwrap();
    let k = p.layout.column("company").unwrap().no;
    let index = super::projection::ids_index_name(p.table);
    let queries = [
        "company.city.name == \"Berlin\"".to_owned(),
        "company.city.name == \"Berlin\" limit 3".to_owned(),
        "company.city.name == \"Berlin\" offset 4 limit 5".to_owned(),
        "company.city.name == \"City 1\" limit 2".to_owned(),
        "company.city.name != \"Berlin\" limit 4".to_owned(),
        format!("company == id({}) limit 3", companies[1]),
        format!(
            "(company == id({}) or company == id({})) limit 6",
            companies[0], companies[2]
        ),
    ];
    let same = |step: &str, walks: bool| {
        counts_follow_the_rows(&conn).unwrap_or_else(|e| panic!("{step}: {e}"));
        for force in [Some(true), None] {
            projected::FORCE_NARROW.with(|f| f.set(force));
            for text in &queries {
                let before = projected::NARROWED.with(|n| n.get());
                assert!(
                    compare_query(&conn, &w.ds, text).unwrap_or_else(|e| panic!("{step}: {e}")),
                    "{step}: {text} uses the projection"
                );
                let walked = projected::NARROWED.with(|n| n.get()) > before;
                if force == Some(true) {
                    assert_eq!(walked, walks, "{step}: {text} walks the index");
                }
            }
        }
        projected::FORCE_NARROW.with(|f| f.set(None));
    };
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)",
            [&index],
            |r| r.get(0),
        )
        .unwrap();
    assert!(exists, "{index} is made with the table");
    same("new objects", true);
    // A company moving city (Co 1 of City 1 to Berlin), a city renamed (City 0 is another
    // Berlin).
    w.ds.save_property(companies[1], "city", json!(cities[0]))
        .await
        .unwrap();
    same("a company moving city", true);
    w.ds.save_property(cities[2], "name", json!("Berlin"))
        .await
        .unwrap();
    same("a city renamed", true);
    // A company in Berlin that nobody works for, deleted.
    let empty =
        w.ds.new_object(
            "Company",
            Some(
                json!({ "name": "Co 9", "city": cities[0] })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap()["objectId"]
            .as_i64()
            .unwrap();
    same("a company more", true);
    w.ds.drop_object(empty, Vec::new()).await.unwrap();
    same("a company deleted", true);
    // A dangling Lookup: a company gone under the persons that point at it (as a file
    // written by hand, or an older build, may hold), and a Lookup to an object of a type
    // without projection that has a `city` in Berlin.
    let writer = super::open_connection(&w.path, false).unwrap();
    writer
        .execute("DELETE FROM Objects WHERE ObjectId = ?1", [companies[3]])
        .unwrap();
    same("a dangling Lookup", true);
    writer
        .execute_batch(&format!(
            "INSERT INTO Objects (ObjectType, CreatedAt, UpdatedAt) \
             VALUES ('Branch', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'); \
             INSERT INTO Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue, PropertyAsDouble) \
             VALUES (last_insert_rowid(), 'city', 'Lookup', '{berlin}', {berlin}); \
             UPDATE Properties SET PropertyValue = (SELECT MAX(ObjectId) FROM Objects), \
             PropertyAsDouble = (SELECT MAX(ObjectId) FROM Objects) \
             WHERE OwnerObjectId = {person} AND PropertyName = 'company'; \
             UPDATE Proj_{t} SET d{k} = (SELECT MAX(ObjectId) FROM Objects), n{k} = NULL \
             WHERE ObjectId = {person};",
            berlin = cities[0],
            person = persons[1],
            t = p.table,
        ))
        .unwrap();
    same("a Lookup to an object of a type without projection", true);
    // Another process: its own store on the same file writes; this one reads.
    let other: Arc<dyn Store> = Arc::new(
        SqliteStore::open(w.path.to_str().unwrap(), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let applied = other.apply_config(&config()).await.unwrap();
    let active = ActiveConfig::new(config(), applied.version, chrono_tz::Tz::UTC, 1000);
    let other = Datastore::new(other.clone(), Arc::new(active));
    other
        .save_property(companies[2], "city", json!(cities[1]))
        .await
        .unwrap();
    other
        .save_property(persons[2], "company", json!(companies[0]))
        .await
        .unwrap();
    same("writes of another store on the file", true);
    // An earlier build on the same file dropped the index: the other plans answer.
    writer
        .execute_batch(&format!("DROP INDEX {index}"))
        .unwrap();
    same("the index dropped", false);
    w.ds.store.apply_config(&config()).await.unwrap();
    same("the DSConfig applied again", true);
}
