//! The projections on SQL Server hold exactly what the EAV rows say: random data written
//! through every write path (new objects, saves, deletes of properties, archives, retypes,
//! drops, an import), a DSConfig change, `datastore reindex`, and two stores on one database
//! (one writing while the other re-lays out and rebuilds). Each projection row is compared
//! with the object's properties read from `dbo.Properties`. Runs on the TDS server of
//! `DATASTORE_TEST_MSSQL_URL`; skipped without it. Also the snapshots of the dynamic DDL.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};

use super::connect::ConnectOptions;
use super::exec::{self, Param};
use super::pool::Client;
use super::projection::Counts;
use super::{admin, aggregate, projection, query, sql, table, MssqlStore};
use crate::dsconfig::{self, Config};
use crate::query::plan::QueryPlan;
use crate::query::resolve::{self, Paging};
use crate::service::{ActiveConfig, Datastore, FilterRequest};
use crate::store::aggregate::{
    measure, same_within_rounding as same, AggregateOrder, AggregatePlan, Function, GroupKey,
    Measure, Reading, Sort,
};
use crate::store::sqlite::projection::Layout;
use crate::store::{
    Filter, FilterValue, ImportItem, Key, Order, Page, Store, StoreOptions, SystemField,
    TableQuery, Walk,
};

const CONFIG: &str = r#"
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
index = ["status, born", "last, age"]
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
score = "Number"
"#;

fn config(extra: &str) -> Config {
    dsconfig::parse_files(&[(
        std::path::PathBuf::from("t.toml"),
        format!("{CONFIG}{extra}"),
    )])
    .unwrap_or_else(|e| panic!("{e}"))
}

const FIRSTS: [&str; 4] = ["Ann", "ann", "Émile", "Zoë"];
/// Longer than the projection's 200-character prefix (`projection::PREFIX`): no count row
/// holds it (its equality counts the rows).
const LONG_LAST: &str = concat!(
    "Lo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
    "oooooooooooooooooooooooooooooooooooooooooooooooooo",
);
/// Longer than a pair's count keeps (100 characters, `projection::PAIR_TEXT`), within the
/// projection's prefix: counted alone, not in a pair.
const MID_LAST: &str = concat!(
    "Mi",
    "dddddddddddddddddddddddddddddddddddddddddddddddddd",
    "dddddddddddddddddddddddddddddddddddddddddddddddddd",
    "dddddddddddddddddddddddddddddddddddddddddddddddddd",
);
const LASTS: [&str; 6] = ["Doe", "doe", "Meier", "Müller", LONG_LAST, MID_LAST];
const DATES: [&str; 3] = ["01-01-1990", "15-06-1990", "31-12-1969"];

fn person() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::option::of(0..FIRSTS.len()),
        prop::option::of(0..LASTS.len()),
        prop::option::of(0i64..4),
        prop::option::of(0..DATES.len()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(0usize..2),
        prop::option::of(prop::collection::vec(0i64..3, 0..3)),
        prop::option::of(-2i8..3),
    )
        .prop_map(
            |(first, last, age, born, active, status, company, tags, score)| {
                let mut m = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                };
                put("first", first.map(|i| json!(FIRSTS[i])));
                put("last", last.map(|i| json!(LASTS[i])));
                put("age", age.map(|a| json!(a)));
                put("born", born.map(|i| json!(DATES[i])));
                put("active", active.map(|a| json!(a)));
                put("status", status.map(|s| json!(if s { "A" } else { "I" })));
                // The companies' index: replaced by an id when written.
                put("company", company.map(|c| json!(c)));
                put("tags", tags.map(|t| json!(t)));
                put("score", score.map(|s| json!(f64::from(s) * 1.5)));
                m
            },
        )
}

#[derive(Debug, Clone)]
enum Change {
    Save(usize, Map<String, Value>),
    Unset(usize, &'static str),
    Archive(usize),
    Retype(usize),
    Drop(usize),
}

fn change() -> impl Strategy<Value = Change> {
    let i = any::<prop::sample::Index>().prop_map(|i| i.index(usize::MAX));
    prop_oneof![
        3 => (i.clone(), person()).prop_map(|(i, p)| Change::Save(i, p)),
        2 => (i.clone(), prop::sample::select(vec!["age", "last", "status", "company", "first"]))
            .prop_map(|(i, n)| Change::Unset(i, n)),
        1 => i.clone().prop_map(Change::Archive),
        1 => i.clone().prop_map(Change::Retype),
        1 => i.prop_map(Change::Drop),
    ]
}

fn case() -> impl Strategy<Value = (Vec<Map<String, Value>>, Vec<Change>)> {
    (
        prop::collection::vec(person(), 0..12),
        prop::collection::vec(change(), 0..10),
    )
}

struct Db {
    url: String,
    name: String,
    db_url: String,
}

impl Db {
    async fn create(suffix: &str) -> Option<Db> {
        let url = std::env::var("DATASTORE_TEST_MSSQL_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        // Named as the API tests name theirs, so that their clean-up drops a leftover.
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("dstest_{seconds}_{}_{suffix}", std::process::id());
        let db_url = admin::database_url_with(&url, &name).unwrap();
        let client = admin::connect_creating(&ConnectOptions::parse(&db_url).unwrap())
            .await
            .unwrap();
        drop(client.close().await);
        Some(Db { url, name, db_url })
    }

    async fn client(&self) -> Client {
        admin::connect_creating(&ConnectOptions::parse(&self.db_url).unwrap())
            .await
            .unwrap()
    }

    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(
            MssqlStore::open(&self.db_url, &StoreOptions::default())
                .await
                .unwrap(),
        )
    }

    async fn drop(self) {
        admin::drop_database(&self.url, &self.name, Duration::from_secs(30))
            .await
            .unwrap();
    }
}

async fn datastore(store: Arc<dyn Store>, config: Config) -> Datastore {
    let applied = store.apply_config(&config).await.unwrap();
    let active = ActiveConfig::new(config, applied.version, chrono_tz::Tz::UTC, 1000);
    Datastore::new(store, Arc::new(active))
}

fn id(v: Value) -> i64 {
    v["objectId"].as_i64().unwrap()
}

/// Cities and companies; the companies' ids.
async fn companies(ds: &Datastore) -> Vec<i64> {
    let mut cities = Vec::new();
    for name in ["Berlin", "Bonn"] {
        let m = json!({ "name": name }).as_object().unwrap().clone();
        cities.push(id(ds.new_object("City", Some(m)).await.unwrap()));
    }
    let mut out = Vec::new();
    for (c, city) in cities.iter().enumerate() {
        let m = json!({ "name": format!("Co {c}"), "city": city })
            .as_object()
            .unwrap()
            .clone();
        out.push(id(ds.new_object("Company", Some(m)).await.unwrap()));
    }
    out
}

fn with_companies(p: &Map<String, Value>, companies: &[i64]) -> Map<String, Value> {
    let mut p = p.clone();
    if let Some(c) = p.get("company").and_then(Value::as_u64) {
        p.insert("company".into(), json!(companies[c as usize]));
    }
    p
}

/// Writes the people and applies the changes (a refused change is fine: the data is what
/// the writes made it).
async fn write(ds: &Datastore, people: &[Map<String, Value>], changes: &[Change]) {
    let companies = companies(ds).await;
    let mut ids = Vec::new();
    for p in people {
        let m = with_companies(p, &companies);
        ids.push(id(ds.new_object("P", Some(m)).await.unwrap()));
    }
    for c in changes {
        if ids.is_empty() {
            break;
        }
        let pick = |i: &usize| ids[*i % ids.len()];
        let _ = match c {
            Change::Save(i, p) => {
                ds.save_properties(pick(i), with_companies(p, &companies))
                    .await
            }
            Change::Unset(i, name) => ds.save_property(pick(i), name, Value::Null).await,
            Change::Archive(i) => ds.change_object_type(pick(i), "ARCH_P").await,
            Change::Retype(i) => ds.change_object_type(pick(i), "Other").await,
            Change::Drop(i) => ds.drop_object(pick(i), Vec::new()).await,
        };
    }
}

/// A projected value as compared: (v, d, n) of one column.
type Cell = (Option<String>, Option<f64>, Option<i32>);

/// Every projection's rows equal what the EAV rows of its type's objects say, and every
/// projection is complete (`complete`) or not checked yet.
/// What a count table holds (`statements[1]`) equals what the projection's rows say it
/// should (`statements[0]`), each row read by `row`; else an error led by `what`.
async fn same_rows<T: PartialEq + std::fmt::Debug>(
    c: &mut Client,
    statements: [String; 2],
    row: impl Fn(&tiberius::Row) -> T,
    what: &str,
) -> Result<(), String> {
    let mut read = Vec::new();
    for sql in statements {
        let rows = exec::rows(c, &sql, Vec::new()).await.unwrap();
        read.push(rows.iter().map(&row).collect::<Vec<T>>());
    }
    if read[0] != read[1] {
        return Err(format!("{what} {:?}, rows {:?}", read[1], read[0]));
    }
    Ok(())
}

async fn check(c: &mut Client, complete: bool) -> Result<(), String> {
    let catalogue = exec::rows(c, sql::PROJECTIONS, Vec::new()).await.unwrap();
    let mut checked = 0;
    for r in &catalogue {
        let table = i64::from(exec::req::<i32>(r, 0).unwrap());
        let object_type = exec::req::<&str>(r, 1).unwrap().to_owned();
        let layout: Layout = serde_json::from_str(exec::req::<&str>(r, 2).unwrap()).unwrap();
        let status = exec::row(
            c,
            "SELECT BuiltUpTo FROM dbo.Projections WHERE TableNo = @P1",
            vec![Param::Int(table)],
        )
        .await
        .unwrap()
        .unwrap();
        let built: Option<i64> = exec::get(&status, 0).unwrap();
        if built.is_some() {
            if complete {
                return Err(format!("{object_type}: not complete ({built:?})"));
            }
            continue;
        }
        checked += 1;
        // What the EAV rows say.
        let mut expected: std::collections::BTreeMap<i64, Vec<Cell>> = Default::default();
        let rows = exec::rows(
            c,
            "SELECT o.ObjectId, p.PropertyName, p.PropertyType, p.PropertyValue, \
             p.PropertyAsDouble FROM dbo.Objects AS o LEFT JOIN dbo.Properties AS p \
             ON p.OwnerObjectId = o.ObjectId WHERE o.ObjectType = @P1",
            vec![Param::Text(object_type.clone())],
        )
        .await
        .unwrap();
        for row in &rows {
            let oid: i64 = exec::req(row, 0).unwrap();
            let cells = expected
                .entry(oid)
                .or_insert_with(|| vec![(None, None, None); layout.columns.len()]);
            let Some(name) = exec::get::<&str>(row, 1).unwrap() else {
                continue;
            };
            let Some(i) = layout.columns.iter().position(|c| c.name == name) else {
                continue;
            };
            let lookup = layout.columns[i].lookup;
            let ty: &str = exec::req(row, 2).unwrap();
            cells[i] = (
                exec::text(row, 3).unwrap(),
                exec::get::<f64>(row, 4).unwrap(),
                (lookup && ty != "Lookup").then_some(1),
            );
        }
        // What the projection holds.
        let mut select = vec!["ObjectId".to_owned()];
        for col in &layout.columns {
            let k = col.no;
            select.push(format!("v{k}"));
            select.push(format!("d{k}"));
            select.push(if col.lookup {
                format!("n{k}")
            } else {
                "CAST(NULL AS int)".into()
            });
        }
        // Its Lookup counts: what its rows hold, target by target (migration 0070).
        for col in layout.columns.iter().filter(|c| c.lookup) {
            let k = col.no;
            let statements = [
                format!(
                    "SELECT d{k}, CASE WHEN n{k} IS NULL THEN 0 ELSE 1 END, COUNT_BIG(*) \
                     FROM dbo.Proj_{table} WHERE d{k} IS NOT NULL \
                     GROUP BY d{k}, CASE WHEN n{k} IS NULL THEN 0 ELSE 1 END \
                     ORDER BY 1, 2"
                ),
                format!(
                    "SELECT TargetId, NotLookup, Total FROM dbo.LookupCounts \
                     WHERE TableNo = {table} AND ColumnNo = {k} AND Total <> 0 ORDER BY 1, 2"
                ),
            ];
            let row = |r: &tiberius::Row| {
                (
                    exec::req::<f64>(r, 0).unwrap(),
                    exec::req::<i32>(r, 1).unwrap(),
                    exec::req::<i64>(r, 2).unwrap(),
                )
            };
            same_rows(
                c,
                statements,
                row,
                &format!("{object_type}.{}: counts", col.name),
            )
            .await?;
        }
        // Its value counts (migration 0071): its rows per stripe, and per stripe and value
        // of each counted column.
        if exec::req::<i32>(r, 4).unwrap() != 1 {
            return Err(format!("{object_type}: its value counts are not kept"));
        }
        let mut grouped = vec![format!(
            "SELECT 0 AS ColumnNo, CAST(0 AS float) AS Number, N'' AS Text, \
             CAST(ObjectId % 16 AS int) AS Stripe, COUNT_BIG(*) AS Total FROM dbo.Proj_{table} \
             GROUP BY ObjectId % 16"
        )];
        for col in layout.counted() {
            let k = col.no;
            let (number, text, present, keys) = if col.by_value {
                (
                    format!("d{k}"),
                    "N''".to_owned(),
                    format!("d{k} IS NOT NULL"),
                    format!("d{k}"),
                )
            } else {
                (
                    format!("CAST(DATALENGTH(v{k}) AS float)"),
                    format!("p{k}"),
                    format!("v{k} IS NOT NULL AND DATALENGTH(v{k}) = DATALENGTH(p{k})"),
                    format!("DATALENGTH(v{k}), p{k}"),
                )
            };
            grouped.push(format!(
                "SELECT {k}, {number}, {text}, CAST(ObjectId % 16 AS int), COUNT_BIG(*) \
                 FROM dbo.Proj_{table} WHERE {present} GROUP BY {keys}, ObjectId % 16"
            ));
        }
        // Its pair counts (migration 0072): per stripe and pair of values of each pair.
        let mut pairs = Vec::new();
        for (a, b) in layout.counted_pairs() {
            let value = |c: &crate::store::sqlite::projection::Column| {
                let k = c.no;
                if c.by_value {
                    (
                        format!("d{k}"),
                        "N''".to_owned(),
                        format!("d{k} IS NOT NULL"),
                        format!("d{k}"),
                    )
                } else {
                    (
                        format!("CAST(DATALENGTH(v{k}) AS float)"),
                        // (At most 100 characters, as `LEFT` counts them: always fits.)
                        format!("CAST(v{k} AS nvarchar(200))"),
                        format!("v{k} IS NOT NULL AND LEN(v{k} + N'x') <= 101"),
                        format!("DATALENGTH(v{k}), CAST(v{k} AS nvarchar(200))"),
                    )
                }
            };
            let ((na, ta, pa, ga), (nb, tb, pb, gb)) = (value(a), value(b));
            pairs.push(format!(
                "SELECT {}, {}, {na}, {ta}, {nb}, {tb}, CAST(ObjectId % 16 AS int), COUNT_BIG(*) \
                 FROM dbo.Proj_{table} WHERE {pa} AND {pb} GROUP BY {ga}, {gb}, ObjectId % 16",
                a.no, b.no
            ));
        }
        let pair_statements = [
            if pairs.is_empty() {
                "SELECT 0, 0, CAST(0 AS float), N'', CAST(0 AS float), N'', 0, CAST(0 AS bigint) \
                 WHERE 1 = 0"
                    .to_owned()
            } else {
                format!(
                    "SELECT * FROM ({}) AS x ORDER BY 1, 2, 3, 4, 5, 6, 7",
                    pairs.join(" UNION ALL ")
                )
            },
            format!(
                "SELECT ColumnA, ColumnB, NumberA, TextA, NumberB, TextB, Stripe, Total \
                 FROM dbo.PairCounts WHERE TableNo = {table} AND Total <> 0 \
                 ORDER BY 1, 2, 3, 4, 5, 6, 7"
            ),
        ];
        let pair_row = |r: &tiberius::Row| {
            (
                exec::req::<i32>(r, 0).unwrap(),
                exec::req::<i32>(r, 1).unwrap(),
                exec::req::<f64>(r, 2).unwrap(),
                exec::text(r, 3).unwrap().unwrap_or_default(),
                exec::req::<f64>(r, 4).unwrap(),
                exec::text(r, 5).unwrap().unwrap_or_default(),
                exec::req::<i32>(r, 6).unwrap(),
                exec::req::<i64>(r, 7).unwrap(),
            )
        };
        let what = format!("{object_type}: pair counts");
        same_rows(c, pair_statements, pair_row, &what).await?;
        let statements = [
            format!(
                "SELECT * FROM ({}) AS x ORDER BY 1, 2, 3, 4",
                grouped.join(" UNION ALL ")
            ),
            format!(
                "SELECT ColumnNo, Number, Text, Stripe, Total FROM dbo.ValueCounts \
                 WHERE TableNo = {table} AND Total <> 0 ORDER BY 1, 2, 3, 4"
            ),
        ];
        let value_row = |r: &tiberius::Row| {
            (
                exec::req::<i32>(r, 0).unwrap(),
                exec::req::<f64>(r, 1).unwrap(),
                exec::text(r, 2).unwrap().unwrap_or_default(),
                exec::req::<i32>(r, 3).unwrap(),
                exec::req::<i64>(r, 4).unwrap(),
            )
        };
        let what = format!("{object_type}: value counts");
        same_rows(c, statements, value_row, &what).await?;
        let sql = format!("SELECT {} FROM dbo.Proj_{table}", select.join(", "));
        let mut found: std::collections::BTreeMap<i64, Vec<Cell>> = Default::default();
        for row in exec::rows(c, &sql, Vec::new()).await.unwrap() {
            let cells = (0..layout.columns.len())
                .map(|i| {
                    (
                        exec::text(&row, 1 + 3 * i).unwrap(),
                        exec::get::<f64>(&row, 2 + 3 * i).unwrap(),
                        exec::get::<i32>(&row, 3 + 3 * i).unwrap(),
                    )
                })
                .collect();
            found.insert(exec::req(&row, 0).unwrap(), cells);
        }
        if found != expected {
            return Err(format!(
                "{object_type} (Proj_{table}):\n projection {found:?}\n EAV        {expected:?}"
            ));
        }
    }
    if complete && checked != 3 {
        return Err(format!("{checked} projections checked, not 3"));
    }
    Ok(())
}

/// The first column of every row `sql` answers.
async fn first_column<T: for<'a> tiberius::FromSql<'a>>(c: &mut Client, sql: &str) -> Vec<T> {
    exec::rows(c, sql, Vec::new())
        .await
        .unwrap()
        .iter()
        .map(|r| exec::req(r, 0).unwrap())
        .collect()
}

async fn build(store: &dyn Store) {
    crate::service::projections::build_all(store).await.unwrap();
}

/// A random comparison of the language over `P`.
fn comparison() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["==", "!=", ">", "<", ">=", "<="]);
    prop_oneof![
        (op.clone(), 0i64..5).prop_map(|(o, n)| format!("age {o} {n}")),
        (op.clone(), 0..DATES.len()).prop_map(|(o, i)| format!("born {o} \"{}\"", DATES[i])),
        (op.clone(), -3i8..4).prop_map(|(o, n)| format!("score {o} {}", f64::from(n) * 1.5)),
        (op, 0..LASTS.len()).prop_map(|(o, i)| format!("last {o} \"{}\"", LASTS[i])),
        (0..FIRSTS.len()).prop_map(|i| format!("first == \"{}\"", FIRSTS[i])),
        prop::sample::select(vec!["D", "d", "M", "Mü"])
            .prop_map(|p| format!("last startswith \"{p}\"")),
        prop::sample::select(vec!["o", "E", "ü", "nn", ""])
            .prop_map(|p| format!("first like \"{p}\"")),
        prop::sample::select(vec!["==", "!="]).prop_map(|o| format!("status {o} \"A\"")),
        prop::sample::select(vec!["true", "false"]).prop_map(|b| format!("active == {b}")),
        (
            prop::sample::select(vec![
                "age", "last", "status", "born", "company", "tags", "first"
            ]),
            prop::sample::select(vec!["==", "!="])
        )
            .prop_map(|(p, o)| format!("{p} {o} null")),
        (0i64..3).prop_map(|n| format!("tags == {n}")),
        prop::sample::select(vec!["Berlin", "Bonn"])
            .prop_map(|c| format!("company.city.name == \"{c}\"")),
        prop::sample::select(vec!["==", "!="]).prop_map(|o| format!("company.name {o} \"Co 1\"")),
        // Counted columns' equalities, lists and ranges (`dbo.ValueCounts` alone).
        (0i64..5, 0i64..5).prop_map(|(a, b)| format!("(age >= {a} and age < {b})")),
        (0i64..5, 0i64..5).prop_map(|(a, b)| format!("(age == {a} or age == {b})")),
        prop::sample::select(vec!["A", "I", "A "])
            .prop_map(|s| format!("(status == \"{s}\" or status == \"I\")")),
        (0..LASTS.len(), 0..LASTS.len()).prop_map(|(a, b)| {
            format!("(last == \"{}\" or last == \"{}\")", LASTS[a], LASTS[b])
        }),
        // A counted pair's shapes (`dbo.PairCounts` alone).
        (0..FIRSTS.len(), prop::sample::select(vec!["A", "I", "A "]))
            .prop_map(|(f, s)| { format!("(first == \"{}\" and status == \"{s}\")", FIRSTS[f]) }),
        (
            0..LASTS.len(),
            prop::sample::select(vec!["==", ">", "<=", ">="]),
            0i64..5
        )
            .prop_map(|(l, o, n)| format!("(last == \"{}\" and age {o} {n})", LASTS[l])),
        (0..LASTS.len(), 0..LASTS.len(), 0i64..5).prop_map(|(a, b, n)| {
            format!(
                "((last == \"{}\" or last == \"{}\") and age < {n})",
                LASTS[a], LASTS[b]
            )
        }),
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    let condition = comparison().prop_recursive(3, 10, 3, |inner| {
        (
            prop::sample::select(vec![" and ", " or "]),
            prop::collection::vec(inner, 2..4),
        )
            .prop_map(|(glue, parts)| format!("({})", parts.join(glue)))
    });
    let key = prop::sample::select(vec![
        "age", "last", "born", "status", "score", "first", "active", "company", "objectId",
    ]);
    (
        prop::option::of(condition),
        prop::collection::vec((key, any::<bool>()), 0..3),
        prop::option::of(0u64..5),
        prop::option::of(1u64..8),
    )
        .prop_map(|(cond, order, offset, limit)| {
            crate::store::sqlite::projection_tests::query_of(cond, &order, offset, limit)
        })
}

fn ids(page: &Page) -> Vec<i64> {
    page.objects.iter().map(|o| o.id).collect()
}

/// The ids of every page of a cursor walk, `run` reading one page.
async fn walk(c: &mut Client, plan: &QueryPlan, proj: Option<(i64, Arc<Layout>)>) -> Vec<i64> {
    let mut page_plan = plan.clone();
    page_plan.offset = 0;
    page_plan.limit = 3;
    page_plan.walk = Walk {
        count: false,
        ..Walk::default()
    };
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = query::run_with(c, &page_plan, None, proj.clone(), true)
            .await
            .unwrap();
        out.extend(ids(&page));
        match page.next {
            Some(seek) => {
                page_plan.walk.after = Some(seek);
                page_plan.walk.head = page.head;
            }
            None => return out,
        }
    }
    panic!(
        "the walk does not end ({}): {page_plan:?} {:?}",
        if proj.is_some() { "projection" } else { "EAV" },
        &out[..30]
    );
}

/// Each query answers the same (count, page, objects, a cursor walk) from the projection
/// as from the EAV rows.
async fn compare_queries(c: &mut Client, ds: &Datastore, queries: &[String]) -> Result<(), String> {
    compare_queries_of(c, ds, "P", queries).await
}

/// [`compare_queries`] over the objects of `object_type`.
async fn compare_queries_of(
    c: &mut Client,
    ds: &Datastore,
    object_type: &str,
    queries: &[String],
) -> Result<(), String> {
    let proj = projection::complete(c, object_type)
        .await
        .unwrap()
        .ok_or(format!("{object_type}'s projection is not complete"))?;
    for text in queries {
        let parsed = crate::query::parse(text).map_err(|e| format!("{text}: {e:?}"))?;
        let paging = Paging {
            offset: None,
            limit: None,
            max_results: 1000,
        };
        let plan = resolve::resolve(&parsed, object_type, ds.schema().as_ref(), paging)
            .map_err(|e| format!("{text}: {e}"))?;
        let eav = query::run_with(c, &plan, None, None, false).await.unwrap();
        let fast = query::run_with(c, &plan, None, Some(proj.clone()), true)
            .await
            .unwrap();
        if (fast.total, ids(&fast)) != (eav.total, ids(&eav)) || fast.objects != eav.objects {
            return Err(format!(
                "`{text}`: projection {} {:?}, EAV {} {:?}",
                fast.total,
                ids(&fast),
                eav.total,
                ids(&eav)
            ));
        }
        if plan.location.is_none() {
            let (a, b) = (
                walk(c, &plan, None).await,
                walk(c, &plan, Some(proj.clone())).await,
            );
            if a != b {
                return Err(format!("`{text}` walked: projection {b:?}, EAV {a:?}"));
            }
            // And the walk is the whole listing, in its order.
            let mut whole = plan.clone();
            (whole.offset, whole.limit) = (0, 1000);
            let all = ids(&query::run_with(c, &whole, None, None, false).await.unwrap());
            if a != all {
                return Err(format!("`{text}` walked {a:?}, listed {all:?}"));
            }
        }
    }
    Ok(())
}

/// A random table view of `P`: equality filters and sort keys on projected properties
/// (read from the projection), on `nick` (not projected: its EAV rows) and on system
/// fields, with an offset and a limit (0: only the count).
fn table_query() -> impl Strategy<Value = TableQuery> {
    let filter = prop_oneof![
        (0i64..4).prop_map(|n| (Key::Double("age".into()), FilterValue::Double(n as f64))),
        prop::sample::select(vec!["2", " 3 ", "x"])
            .prop_map(|t| (Key::Double("age".into()), FilterValue::Text(t.into()))),
        (0..LASTS.len())
            .prop_map(|i| (Key::Text("last".into()), FilterValue::Text(LASTS[i].into()))),
        (0..FIRSTS.len()).prop_map(|i| (
            Key::Text("first".into()),
            FilterValue::Text(FIRSTS[i].into())
        )),
        prop::sample::select(vec!["A", "I", "A "])
            .prop_map(|t| (Key::Text("status".into()), FilterValue::Text(t.into()))),
        (-2i8..3).prop_map(|n| (
            Key::Double("score".into()),
            FilterValue::Double(f64::from(n) * 1.5)
        )),
        prop::sample::select(vec![0.0, 1.0])
            .prop_map(|d| (Key::Double("active".into()), FilterValue::Double(d))),
        prop::sample::select(vec!["true", "false"])
            .prop_map(|t| (Key::Text("active".into()), FilterValue::Text(t.into()))),
        Just((Key::Text("nick".into()), FilterValue::Text("Al".into()))),
        (0i64..3).prop_map(|n| (
            Key::System(SystemField::ObjectNumber),
            FilterValue::Double(n as f64)
        )),
    ]
    .prop_map(|(key, value)| Filter { key, value });
    let key = prop::sample::select(vec![
        Key::Double("age".into()),
        Key::Text("last".into()),
        Key::Double("born".into()),
        Key::Text("status".into()),
        Key::Double("score".into()),
        Key::Text("first".into()),
        Key::Double("active".into()),
        Key::Double("company".into()),
        Key::Text("tags".into()),
        Key::Text("nick".into()),
        Key::System(SystemField::ObjectNumber),
        Key::System(SystemField::UpdatedAt),
    ]);
    (
        prop::collection::vec(filter, 0..3),
        prop::collection::vec((key, any::<bool>()), 0..3),
        0u64..4,
        0u64..8,
    )
        .prop_map(|(filters, order, offset, limit)| TableQuery {
            object_type: "P".into(),
            columns: None,
            parent_id: None,
            filters,
            order: order
                .into_iter()
                .map(|(key, descending)| Order { key, descending })
                .collect(),
            offset,
            limit,
            walk: Walk::default(),
        })
}

/// The ids of every page of a table view's cursor walk.
async fn table_walk(c: &mut Client, q: &TableQuery, proj: Option<(i64, Arc<Layout>)>) -> Vec<i64> {
    let mut q = q.clone();
    q.offset = 0;
    q.limit = 3;
    q.walk = Walk {
        count: false,
        ..Walk::default()
    };
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = table::list_table_with(c, &q, proj.clone(), true)
            .await
            .unwrap();
        out.extend(ids(&page));
        match page.next {
            Some(seek) => {
                q.walk.after = Some(seek);
                q.walk.head = page.head;
            }
            None => return out,
        }
    }
    panic!(
        "the walk does not end ({}): {q:?} {:?}",
        if proj.is_some() { "projection" } else { "EAV" },
        &out[..30]
    );
}

/// Each table view answers the same (count, page, objects, a cursor walk) from the
/// projection as from the EAV rows.
async fn compare_tables(c: &mut Client, views: &[TableQuery]) -> Result<(), String> {
    let proj = projection::complete(c, "P")
        .await
        .unwrap()
        .ok_or("P's projection is not complete")?;
    for q in views {
        let eav = table::list_table_with(c, q, None, false).await.unwrap();
        let fast = table::list_table_with(c, q, Some(proj.clone()), true)
            .await
            .unwrap();
        if (fast.total, ids(&fast)) != (eav.total, ids(&eav)) || fast.objects != eav.objects {
            return Err(format!(
                "{q:?}: projection {} {:?}, EAV {} {:?}",
                fast.total,
                ids(&fast),
                eav.total,
                ids(&eav)
            ));
        }
        let (a, b) = (
            table_walk(c, q, None).await,
            table_walk(c, q, Some(proj.clone())).await,
        );
        if a != b {
            return Err(format!("{q:?} walked: projection {b:?}, EAV {a:?}"));
        }
        let mut whole = q.clone();
        (whole.offset, whole.limit) = (0, 1000);
        let all = ids(&table::list_table_with(c, &whole, None, false)
            .await
            .unwrap());
        if a != all {
            return Err(format!("{q:?} walked {a:?}, listed {all:?}"));
        }
    }
    Ok(())
}

/// The group keys an aggregate over `P` may take: (property, by value, display).
const GROUPS: [(&str, bool, bool); 7] = [
    ("status", false, true),
    ("company", true, true),
    ("active", true, false),
    ("age", true, false),
    ("last", false, false),
    ("born", true, false),
    ("nick", false, false),
];

/// The measures, and whether sorting by them is exact (floating sums are not: the order
/// of addition may differ between the plans).
fn measures() -> Vec<(Measure, bool)> {
    let m = measure;
    vec![
        (m(Function::Count, None, Reading::Double), true),
        (m(Function::Sum, Some("age"), Reading::Integer), true),
        (m(Function::Sum, Some("score"), Reading::Currency), true),
        (m(Function::Sum, Some("score"), Reading::Double), false),
        (m(Function::Avg, Some("age"), Reading::Integer), false),
        (m(Function::Min, Some("born"), Reading::Double), true),
        (m(Function::Max, Some("last"), Reading::Text), true),
        (
            m(Function::CountDistinct, Some("first"), Reading::Text),
            true,
        ),
        (m(Function::Max, Some("nick"), Reading::Text), true),
    ]
}

/// A random aggregate over `P`: groups, measures, an order over them, a limit and a
/// condition of the language.
fn aggregate_plan() -> impl Strategy<Value = (AggregatePlan, Option<String>)> {
    let condition = comparison().prop_recursive(2, 6, 3, |inner| {
        (
            prop::sample::select(vec![" and ", " or "]),
            prop::collection::vec(inner, 2..3),
        )
            .prop_map(|(glue, parts)| format!("({})", parts.join(glue)))
    });
    (
        prop::sample::subsequence((0..GROUPS.len()).collect::<Vec<_>>(), 0..=3),
        prop::sample::subsequence((0..measures().len()).collect::<Vec<_>>(), 1..=4),
        prop::collection::vec((0usize..8, any::<bool>(), any::<bool>()), 0..3),
        0u64..12,
        prop::option::of(condition),
    )
        .prop_map(|(groups, chosen, order, limit, condition)| {
            let all = measures();
            let mut sorts: Vec<AggregateOrder> = Vec::new();
            for (i, measure, descending) in order {
                let sort = if measure {
                    let m = i % chosen.len();
                    if !all[chosen[m]].1 {
                        continue;
                    }
                    Sort::Measure(m)
                } else if groups.is_empty() {
                    continue;
                } else {
                    Sort::Group(i % groups.len())
                };
                if !sorts.iter().any(|o| o.sort == sort) {
                    sorts.push(AggregateOrder { sort, descending });
                }
            }
            let plan = AggregatePlan {
                object_type: "P".into(),
                condition: None,
                groups: groups
                    .iter()
                    .map(|&g| GroupKey {
                        property: GROUPS[g].0.into(),
                        by_value: GROUPS[g].1,
                        display: GROUPS[g].2,
                    })
                    .collect(),
                measures: chosen.iter().map(|&m| all[m].0.clone()).collect(),
                order: sorts,
                limit,
            };
            (plan, condition)
        })
}

/// Each aggregate answers the same from the projection as from the EAV rows.
async fn compare_aggregates(
    c: &mut Client,
    ds: &Datastore,
    plans: &[(AggregatePlan, Option<String>)],
) -> Result<(), String> {
    let proj = projection::complete(c, "P")
        .await
        .unwrap()
        .ok_or("P's projection is not complete")?;
    for (plan, condition) in plans {
        let mut plan = plan.clone();
        if let Some(text) = condition {
            let parsed = crate::query::parse(text).map_err(|e| format!("{text}: {e:?}"))?;
            let paging = Paging {
                offset: None,
                limit: None,
                max_results: 1000,
            };
            plan.condition = resolve::resolve(&parsed, "P", ds.schema().as_ref(), paging)
                .map_err(|e| format!("{text}: {e}"))?
                .condition;
        }
        let eav = aggregate::run_with(c, &plan, None).await.unwrap();
        let fast = aggregate::run_with(c, &plan, Some(proj.clone()))
            .await
            .unwrap();
        if !same(&fast, &eav) {
            return Err(format!(
                "{plan:?} ({condition:?}):\n projection {fast:?}\n EAV        {eav:?}"
            ));
        }
        if plan.groups.is_empty() && eav.len() != usize::from(plan.limit > 0) {
            return Err(format!("{plan:?}: {} rows without groups", eav.len()));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_path_reindex_and_import_keep_the_projection_equal_to_the_eav_rows() {
    let Some(db) = Db::create("proj").await else {
        eprintln!("skipped: DATASTORE_TEST_MSSQL_URL is not set");
        return;
    };
    let store = db.store().await;
    let ds = datastore(store.clone(), config("")).await;
    build(store.as_ref()).await;
    let mut client = db.client().await;
    let mut runner = TestRunner::default();
    let strategy = case();
    let queries = prop::collection::vec(query_text(), 8);
    let views = prop::collection::vec(table_query(), 6);
    let aggregates = prop::collection::vec(aggregate_plan(), 8);
    for n in 0..12 {
        let (people, changes) = strategy.new_tree(&mut runner).unwrap().current();
        let queries = queries.new_tree(&mut runner).unwrap().current();
        let views = views.new_tree(&mut runner).unwrap().current();
        let aggregates = aggregates.new_tree(&mut runner).unwrap().current();
        exec::execute(&mut client, sql::CLEAR_DATA, Vec::new())
            .await
            .unwrap();
        write(&ds, &people, &changes).await;
        if let Err(e) = check(&mut client, true).await {
            panic!("case {n}: {e}\npeople {people:?}\nchanges {changes:?}");
        }
        if let Err(e) = compare_queries(&mut client, &ds, &queries).await {
            panic!("case {n}: {e}\npeople {people:?}\nchanges {changes:?}");
        }
        // Every shape the value counts answer (migration 0071), in every case.
        let counted: Vec<String> = [
            "limit 2",
            "age >= 1 and age < 3",
            "(age == 1 or age == 3) limit 2",
            "score > -1.5 and score <= 1.5",
            "status == \"A\" or status == \"I\"",
            "status == \"A \"",
            "last == \"Doe\" or last == \"Meier\" or last == \"Doe\"",
            "active == true",
            // A counted pair's (migration 0072).
            "first == \"Ann\" and status == \"A\"",
            "status == \"I\" and first == \"Zoë\" limit 1",
            "(first == \"Ann\" or first == \"ann\") and (status == \"A \" or status == \"A\")",
            "last == \"Doe\" and age >= 1 and age < 3",
            "(last == \"Doe\" or last == \"Meier\") and age > 0 limit 2",
            &format!("last == \"{MID_LAST}\" and age == 1"),
            &format!("last == \"{MID_LAST}\""),
        ]
        .map(str::to_owned)
        .to_vec();
        if let Err(e) = compare_queries(&mut client, &ds, &counted).await {
            panic!("case {n}: {e}\npeople {people:?}\nchanges {changes:?}");
        }
        if let Err(e) = compare_tables(&mut client, &views).await {
            panic!("case {n}: {e}\npeople {people:?}\nchanges {changes:?}");
        }
        if let Err(e) = compare_aggregates(&mut client, &ds, &aggregates).await {
            panic!("case {n}: {e}\npeople {people:?}\nchanges {changes:?}");
        }
    }
    // `datastore reindex`: emptied, rebuilt from the EAV rows, equal again.
    let marked = store.reset_projections(None).await.unwrap();
    assert_eq!(marked, ["City", "Company", "P"]);
    let rows = exec::row(
        &mut client,
        "SELECT COUNT(*) FROM dbo.Projections WHERE BuiltUpTo IS NULL",
        Vec::new(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(exec::req::<i32>(&rows, 0).unwrap(), 0, "all marked");
    build(store.as_ref()).await;
    check(&mut client, true).await.unwrap();
    // An export imported back: the projections are rebuilt in the import's transaction.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let collect = async move {
        let mut batches = Vec::new();
        while let Some(b) = rx.recv().await {
            batches.push(b);
        }
        batches
    };
    let (exported, batches) = tokio::join!(store.export_data(tx), collect);
    exported.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(batches.len() + 1);
    for data in batches {
        tx.send(ImportItem::Batch {
            first_line: 0,
            data,
        })
        .await
        .unwrap();
    }
    tx.send(ImportItem::End).await.unwrap();
    store.import_data(rx, true).await.unwrap();
    check(&mut client, true).await.unwrap();
    // A DSConfig that changes P's layout: P is laid out anew and rebuilt.
    drop(ds);
    let ds = datastore(store.clone(), config("nick = \"String\"\n")).await;
    build(store.as_ref()).await;
    check(&mut client, true).await.unwrap();
    let people: Vec<i64> = first_column(
        &mut client,
        "SELECT ObjectId FROM dbo.Objects WHERE ObjectType = N'P'",
    )
    .await;
    if let Some(first) = people.first() {
        let m = json!({ "nick": "Al", "age": 9 })
            .as_object()
            .unwrap()
            .clone();
        ds.save_properties(*first, m).await.unwrap();
        check(&mut client, true).await.unwrap();
    }
    // Only the counted columns change: the rows stay (complete), the counts are taken anew.
    drop(ds);
    let fewer = dsconfig::parse_files(&[(
        std::path::PathBuf::from("t.toml"),
        format!("{CONFIG}nick = \"String\"\n").replace(
            "counts = [\"age\", \"score\", \"last\", \"first, status\", \"last, age\"]",
            "counts = [\"score\", \"status, first\"]",
        ),
    )])
    .unwrap();
    let ds = datastore(store.clone(), fewer.clone()).await;
    check(&mut client, true).await.unwrap();
    // As an earlier version left it (no value counts): counted when the DSConfig is applied.
    exec::execute(
        &mut client,
        "DELETE FROM dbo.ValueCounts; UPDATE dbo.Projections SET ValueCounted = 0",
        Vec::new(),
    )
    .await
    .unwrap();
    assert!(check(&mut client, true).await.is_err());
    store.apply_config(&fewer).await.unwrap();
    check(&mut client, true).await.unwrap();
    drop(client.close().await);
    drop(ds);
    drop(store);
    db.drop().await;
}

/// Two stores on one database: one writes while the other applies DSConfigs that lay P out
/// anew and reindexes, rebuilding each time; afterwards every projection equals the EAV rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_beside_another_process_relaying_out_and_rebuilding_never_leaves_a_difference() {
    let Some(db) = Db::create("projrace").await else {
        eprintln!("skipped: DATASTORE_TEST_MSSQL_URL is not set");
        return;
    };
    let writer_store = db.store().await;
    let ds = datastore(writer_store.clone(), config("")).await;
    let companies = companies(&ds).await;
    let other = db.store().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rebuilder = {
        let other = other.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                round += 1;
                if round % 2 == 0 {
                    let extra = if round % 4 == 0 {
                        "nick = \"String\"\n"
                    } else {
                        ""
                    };
                    other.apply_config(&config(extra)).await.unwrap();
                } else {
                    other.reset_projections(None).await.unwrap();
                }
                build(other.as_ref()).await;
            }
            round
        })
    };
    let mut runner = TestRunner::default();
    let strategy = prop::collection::vec(person(), 40);
    let people = strategy.new_tree(&mut runner).unwrap().current();
    let mut ids = Vec::new();
    for (i, p) in people.iter().enumerate() {
        // A write converted under a DSConfig replaced meanwhile is refused: fine.
        if let Ok(v) = ds
            .new_object("P", Some(with_companies(p, &companies)))
            .await
        {
            ids.push(id(v));
        }
        if let Some(&target) = ids.get(i / 2) {
            let _ = ds
                .save_properties(
                    target,
                    with_companies(&people[(i + 1) % people.len()], &companies),
                )
                .await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = rebuilder.await.unwrap();
    assert!(rounds > 0);
    build(other.as_ref()).await;
    let mut client = db.client().await;
    check(&mut client, true).await.unwrap();
    drop(client.close().await);
    drop((ds, writer_store, other));
    db.drop().await;
}

#[test]
fn rendered_projection_ddl_and_rebuild() {
    let config = config("");
    let layout = Layout::of(&config.types["P"]).unwrap();
    let mut out = projection::create_table(7, &layout).join(";\n");
    out.push_str(";\n");
    out.push_str(&projection::drop_table(7));
    out.push_str(";\n");
    out.push_str(&projection::delete_row(7, &layout));
    out.push_str(";\n");
    out.push_str(&projection::recount_sql(7, &layout));
    out.push_str(";\n");
    out.push_str(&projection::empty_table(7));
    out.push_str(";\n");
    out.push_str(&projection::recount_values_sql(7, &layout));
    out.push_str(";\n");
    let counted = layout.counted().next().unwrap().no;
    for counts in [
        Counts::Written {
            lookups: false,
            values: Vec::new(),
            pairs: Vec::new(),
        },
        Counts::Written {
            lookups: true,
            values: vec![counted],
            pairs: vec![layout.pairs[0]],
        },
        Counts::All,
        Counts::None,
    ] {
        out.push_str(&format!("-- {counts:?}\n"));
        out.push_str(&projection::rebuild_sql(7, &layout, false, &counts));
        out.push_str(";\n");
    }
    out.push_str(&projection::rebuild_sql(7, &layout, true, &Counts::All));
    insta::assert_snapshot!("projection_p", out);
}

/// The sample queries over Person as read from its projection (table 9).
#[test]
fn rendered_t_sql_of_the_sample_queries_on_a_projection() {
    use crate::query::sample::{plan, SNAPSHOT_QUERIES};
    let config =
        dsconfig::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig").as_ref()).unwrap();
    let layout = Arc::new(Layout::of(&config.types["Person"]).unwrap());
    let mut out = String::new();
    for (name, object_type, text) in SNAPSHOT_QUERIES {
        if *object_type != "Person" {
            continue;
        }
        let built = query::build_projected(
            &plan(object_type, text),
            &super::walk::Stable::default(),
            Some((9, layout.clone())),
            true,
        );
        out.push_str(&format!(
            "-- {name}: {text}\n{}\n-- params: {:?}\n\n",
            built.sql, built.params
        ));
    }
    insta::assert_snapshot!("projected_queries", out);
}

/// Table views and aggregates over P as read from its projection (table 7): filters and
/// sort keys on projected properties read `pj`, `nick` (not projected) its EAV rows.
#[test]
fn rendered_t_sql_of_table_views_and_aggregates_on_a_projection() {
    let config = config("");
    let layout = Arc::new(Layout::of(&config.types["P"]).unwrap());
    let proj = Some((7, layout));
    let filter = |key: Key, value: FilterValue| Filter { key, value };
    let view = |filters: Vec<Filter>, order: Vec<Order>| TableQuery {
        object_type: "P".into(),
        columns: None,
        parent_id: None,
        filters,
        order,
        offset: 0,
        limit: 50,
        walk: Walk::default(),
    };
    let views = [
        (
            // A counted pair (`dbo.PairCounts`, migration 0072).
            "first == Emma, status == I order by born desc",
            view(
                vec![
                    filter(Key::Text("first".into()), FilterValue::Text("Emma".into())),
                    filter(Key::Text("status".into()), FilterValue::Text("I".into())),
                ],
                vec![Order {
                    key: Key::Double("born".into()),
                    descending: true,
                }],
            ),
        ),
        (
            "status == A order by born desc",
            view(
                vec![filter(
                    Key::Text("status".into()),
                    FilterValue::Text("A".into()),
                )],
                vec![Order {
                    key: Key::Double("born".into()),
                    descending: true,
                }],
            ),
        ),
        (
            "age == 3, last == Doe, nick == Al, objectNumber == 2 order by last, nick",
            view(
                vec![
                    filter(Key::Double("age".into()), FilterValue::Double(3.0)),
                    filter(Key::Text("last".into()), FilterValue::Text("Doe".into())),
                    filter(Key::Text("nick".into()), FilterValue::Text("Al".into())),
                    filter(
                        Key::System(SystemField::ObjectNumber),
                        FilterValue::Double(2.0),
                    ),
                ],
                vec![
                    Order {
                        key: Key::Text("last".into()),
                        descending: false,
                    },
                    Order {
                        key: Key::Text("nick".into()),
                        descending: false,
                    },
                ],
            ),
        ),
    ];
    let mut out = String::new();
    for (name, q) in &views {
        let built = table::build_walk(q, &super::walk::Stable::default(), proj.clone(), true);
        out.push_str(&format!(
            "-- view: {name}\n{}\n-- params: {:?}\n\n",
            built.sql, built.params
        ));
    }
    let grouped = AggregatePlan {
        object_type: "P".into(),
        condition: Some(crate::query::plan::Cond::Test {
            hops: Vec::new(),
            test: crate::query::plan::Test::Double {
                property: "age".into(),
                cmp: crate::query::plan::Cmp::Gt,
                value: 1.0,
            },
        }),
        groups: vec![
            GroupKey {
                property: "status".into(),
                by_value: false,
                display: true,
            },
            GroupKey {
                property: "nick".into(),
                by_value: false,
                display: false,
            },
        ],
        measures: vec![
            measure(Function::Count, None, Reading::Double),
            measure(Function::Sum, Some("age"), Reading::Integer),
            measure(Function::Avg, Some("score"), Reading::Double),
            measure(Function::Max, Some("last"), Reading::Text),
        ],
        order: vec![AggregateOrder {
            sort: Sort::Measure(0),
            descending: true,
        }],
        limit: 10,
    };
    let built = aggregate::build_projected(&grouped, proj);
    out.push_str(&format!(
        "-- aggregate: age > 1, by status (display) and nick, ordered by count desc\n{}\n-- params: {:?}\n",
        built.sql, built.params
    ));
    insta::assert_snapshot!("projected_views_and_aggregates", out);
}

/// Writers of disjoint objects sharing count rows (values from small sets, so the same
/// `dbo.ValueCounts` and `dbo.PairCounts` rows, new and old, are moved by many of them at
/// once), from two stores (two processes' pools) on one database: afterwards every count
/// is what a count of the rows says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_disjoint_objects_keep_every_count_exact() {
    let Some(db) = Db::create("countrace").await else {
        eprintln!("skipped: DATASTORE_TEST_MSSQL_URL is not set");
        return;
    };
    let stores = [db.store().await, db.store().await];
    let mut sites = Vec::new();
    for store in &stores {
        sites.push(Arc::new(datastore(store.clone(), config("")).await));
    }
    let (writers, saves): (usize, usize) = std::env::var("DATASTORE_TEST_COUNT_RACE")
        .ok()
        .and_then(|v| {
            v.split_once('x')
                .map(|(a, b)| (a.parse().ok(), b.parse().ok()))
        })
        .and_then(|(a, b)| Some((a?, b?)))
        .unwrap_or((8, 25));
    // Two objects a writer, all of them in stripes (`ObjectId % 16`) 0 and 1: the
    // writers share few count rows.
    const OWN: usize = 2;
    let mut ids = Vec::new();
    while ids.len() < writers * OWN {
        let i = ids.len();
        let m = json!({ "last": LASTS[i % 4], "age": i % 3 });
        let object = id(sites[0]
            .new_object("P", Some(m.as_object().unwrap().clone()))
            .await
            .unwrap());
        if object % 16 < 2 {
            ids.push(object);
        }
    }
    let mut tasks = Vec::new();
    for w in 0..writers {
        let ds = sites[w % 2].clone();
        let mine: Vec<i64> = ids[OWN * w..OWN * (w + 1)].to_vec();
        tasks.push(tokio::spawn(async move {
            for s in 0..saves {
                let n = w * 7 + s * 3;
                // A value new to the count tables now and then (a row inserted by many).
                let last = if n % 5 == 0 {
                    format!("New {}", s % 3)
                } else {
                    LASTS[n % 2].to_owned()
                };
                let mut m = json!({ "last": last, "age": n % 3 });
                if w % 2 == 1 {
                    m["first"] = json!(FIRSTS[n % 2]);
                }
                if n % 4 == 0 {
                    m["age"] = Value::Null;
                }
                // A save given up as busy (the pool's retries spent) is sent again, as a
                // client would.
                let mut tries = 0;
                while let Err(e) = ds
                    .save_properties(mine[s % OWN], m.as_object().unwrap().clone())
                    .await
                {
                    tries += 1;
                    assert!(tries < 20, "{e:?}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut client = db.client().await;
    check(&mut client, true).await.unwrap();
    drop(client.close().await);
    drop((sites, stores));
    db.drop().await;
}

/// Texts with characters outside the BMP (an emoji: two UTF-16 units, one code point)
/// around the limits of a pair's count (100 characters, `projection::PAIR_TEXT`) and of
/// a value's (the projection's 200-character prefix, `projection::PREFIX`),
/// in text-text and text-number pairs: every write is taken, every count row is what a
/// count of the rows says, and each count answered from them is the rows'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_beyond_the_bmp_near_the_pair_limits_are_written_and_counted_exactly() {
    let Some(db) = Db::create("emoji").await else {
        eprintln!("skipped: DATASTORE_TEST_MSSQL_URL is not set");
        return;
    };
    let extra = r#"
[types.Q]
counts = ["s, t", "s, n", "t"]

[types.Q.properties]
s = "String"
t = "String"
n = "Integer"
"#;
    let store = db.store().await;
    let ds = datastore(store.clone(), config(extra)).await;
    let e = "\u{1F600}";
    let texts = emoji_texts();
    let mut objects = vec![
        // The reported ones: a pair's second text of 251 characters starting with an
        // emoji, a first text of 200 characters ending with one.
        json!({ "s": "Doe", "t": format!("{e}{}", "x".repeat(250)) }),
        json!({ "s": format!("{}{e}", "x".repeat(199)), "n": 1 }),
    ];
    for (i, a) in texts.iter().enumerate() {
        for (j, b) in texts.iter().enumerate() {
            objects.push(json!({ "s": a, "t": b, "n": (i + j) % 3 }));
        }
    }
    let mut ids = Vec::new();
    for o in &objects {
        let m = o.as_object().unwrap().clone();
        ids.push(id(ds.new_object("Q", Some(m)).await.unwrap()));
    }
    // Every text reads back whole.
    for (o, &object) in objects.iter().zip(&ids) {
        let read = ds.get_object(object).await.unwrap();
        for (name, value) in o.as_object().unwrap() {
            assert_eq!(read.get(name), Some(value), "object {object}'s {name}");
        }
    }
    // Saves moving them between those texts.
    for (i, &object) in ids.iter().enumerate().step_by(3) {
        let m = json!({ "s": texts[(i + 1) % texts.len()], "t": texts[i % texts.len()] });
        ds.save_properties(object, m.as_object().unwrap().clone())
            .await
            .unwrap();
    }
    let mut queries = Vec::new();
    for a in &texts {
        queries.push(format!("t == \"{a}\""));
        queries.push(format!("s == \"{a}\" and n > 0"));
        queries.push(format!("s == \"{a}\" and n == 1"));
        for b in &texts {
            queries.push(format!("s == \"{a}\" and t == \"{b}\""));
        }
    }
    let mut client = db.client().await;
    check(&mut client, false).await.unwrap();
    compare_queries_of(&mut client, &ds, "Q", &queries)
        .await
        .unwrap();
    found_by_their_texts(&ds, &ids).await;
    // Migration 0075 once more, now over these rows, as an upgrade runs it over a database
    // with projections: the prefix column is made anew, the projections go, and the next
    // DSConfig apply lays them out again for the rebuild to fill.
    drop(ds);
    let tables: Vec<i32> = first_column(&mut client, "SELECT TableNo FROM dbo.Projections").await;
    assert!(!tables.is_empty());
    let script = include_str!("../../../migrations/mssql/0075_text_prefix_200.sql");
    for batch in super::migrate::split_batches(script) {
        exec::batch(&mut client, &batch).await.unwrap();
    }
    let left: Vec<i32> = first_column(&mut client, "SELECT COUNT(*) FROM dbo.Projections").await;
    assert_eq!(left, [0], "0075 drops the projections");
    for table in tables {
        let sql = format!(
            "SELECT CASE WHEN OBJECT_ID(N'dbo.Proj_{table}', N'U') IS NULL THEN 0 ELSE 1 END"
        );
        let found: Vec<i32> = first_column(&mut client, &sql).await;
        assert_eq!(found, [0], "dbo.Proj_{table} is dropped");
    }
    let ds = datastore(store.clone(), config(extra)).await;
    build(store.as_ref()).await;
    check(&mut client, false).await.unwrap();
    compare_queries_of(&mut client, &ds, "Q", &queries)
        .await
        .unwrap();
    found_by_their_texts(&ds, &ids).await;
    drop(client.close().await);
    drop((ds, store));
    db.drop().await;
}

/// Each of `objects` (of type `Q`) is found by an equality with each of its texts `s` and
/// `t`: a prefix that the query and the columns counted differently would find none (a
/// comparison of the projection with the EAV rows would not see it: both seek the prefix).
async fn found_by_their_texts(ds: &Datastore, objects: &[i64]) {
    for &object in objects {
        let read = ds.get_object(object).await.unwrap();
        for name in ["s", "t"] {
            let Some(Value::String(text)) = read.get(name) else {
                continue;
            };
            let query = format!("{name} == {}", serde_json::to_string(text).unwrap());
            let listed = ds
                .list_by_filter(FilterRequest {
                    object_type: "Q".into(),
                    query,
                    properties: None,
                    offset: None,
                    limit: Some(1000),
                    after: None,
                    count: Some(false),
                })
                .await
                .unwrap();
            assert!(
                ids(&listed.page).contains(&object),
                "object {object} by its {name} of {} characters",
                text.chars().count()
            );
        }
    }
}

/// Texts with emoji around 100 characters and 100 or 200 UTF-16 units, and around the
/// indexed prefix.
fn emoji_texts() -> Vec<String> {
    let e = "\u{1F600}";
    vec![
        "Doe".to_owned(),
        // 50 characters, 100 units: kept in a pair on both engines.
        e.repeat(50),
        // 100 characters, 101 units: a pair keeps it on Babelfish (100 code points), not
        // on SQL Server (101 units); its equality counts the rows on both.
        format!("{}{e}", "x".repeat(99)),
        // 101 characters, 102 units.
        format!("{e}{}", "x".repeat(100)),
        // 100 emoji: 200 units, 100 code points.
        e.repeat(100),
        // 200 characters, 201 units (the first 200 characters need 201 units).
        format!("{}{e}", "x".repeat(199)),
        // 150 emoji: 300 units, 150 code points.
        e.repeat(150),
        // Around the indexed prefix (`projection::PREFIX`, 200 characters): 201 characters,
        // 202 units.
        format!("{e}{}", "x".repeat(200)),
        // 250 emoji: the prefix holds 200 of them (400 units) on Babelfish, 100 on SQL Server.
        e.repeat(250),
        // The reported one: 450 characters with an emoji first. Before migration 0075,
        // Babelfish refused its write (400 code points in `nvarchar(400)`).
        format!("{e}{}", "y".repeat(449)),
    ]
}
