//! The query-language benchmark of issue 4 (not a test: run it by hand, record the figures
//! in docs/BENCHMARKS.md).
//!
//! ```sh
//! cargo bench --bench query                          # 1,000,000 people (generated once)
//! DATASTORE_BENCH_PEOPLE=100000 cargo bench --bench query
//! DATASTORE_BENCH_ONLY="order by lastName" cargo bench --bench query   # the queries and views
//!                                       # whose text contains it; no aggregates, saves, walks
//! DATASTORE_BENCH_PEOPLE=100000 DATASTORE_BENCH_URL='mssql://sa:...@127.0.0.1:1433/bench_people?trustServerCertificate=true' \
//!   cargo bench --bench query          # on SQL Server, in a database of its own (created)
//! ```
//!
//! The data generator writes through the real `Store` (conversion, lookup checks, numbering):
//! 100 cities, 10,000 companies (each with a Lookup to a city) and N people of 8 properties
//! each (firstName, lastName, age, height, birthDate, active, status, company). The database
//! is kept in `target/bench/` and reused while its size matches. Each query then runs 10
//! times to warm the cache and 50 times measured (repeated use: the count of matches is
//! remembered until a write), then 10 times each after a write (a fresh count); p50 and p95
//! of both are printed. Then a cursor walk over every person (by objectId, by age, by
//! lastName DESC) times its first and last pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datastore::dsconfig;
use datastore::query::{self, resolve};
use datastore::service::{ActiveConfig, Datastore};
use datastore::store::{
    self, Filter, FilterValue, Key, NewObject, Order, StoreOptions, TableQuery,
};
use serde_json::{json, Value};

const LAST_NAMES: [&str; 10] = [
    "Doe", "Smith", "Meier", "Jansen", "Visser", "Müller", "Bakker", "Roe", "Poe", "Lee",
];
const FIRST_NAMES: [&str; 8] = [
    "John", "Jane", "Anna", "Piet", "Klaus", "Eva", "Noah", "Emma",
];

/// A small deterministic generator (xorshift), so every run builds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Creates an object through the service: conversion, lookup checks and numbering as in
/// production.
async fn create(ds: &Datastore, object_type: &str, properties: Value) -> i64 {
    let Value::Object(map) = properties else {
        panic!("properties are a map")
    };
    let object = ds
        .new_object(object_type, Some(map))
        .await
        .expect("the object is created");
    object["objectId"].as_i64().expect("an objectId")
}

async fn generate(ds: &Datastore, people: u64) {
    let started = Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut cities = Vec::new();
    for c in 0..100 {
        let name = if c == 0 {
            "Berlin".to_string()
        } else {
            format!("City {c}")
        };
        cities.push(create(ds, "City", json!({ "name": name })).await);
    }
    let mut companies = Vec::new();
    for c in 0..10_000 {
        let city = cities[rng.below(100) as usize];
        companies.push(
            create(
                ds,
                "Company",
                json!({ "name": format!("Company {c}"), "city": city }),
            )
            .await,
        );
    }
    // People in batches of 1,000 per transaction (Store::new_objects), converted by the
    // service exactly as newObject converts them.
    let mut batch = Vec::with_capacity(1000);
    for i in 0..people {
        let person = json!({
            "firstName": FIRST_NAMES[rng.below(8) as usize],
            "lastName": LAST_NAMES[rng.below(10) as usize],
            "age": 18 + rng.below(63),
            "height": format!("1,{}", 50 + rng.below(50)),
            "birthDate": format!("{:02}-{:02}-{}", 1 + rng.below(28), 1 + rng.below(12), 1940 + rng.below(65)),
            "active": rng.below(2) == 1,
            "status": if rng.below(3) == 0 { "I" } else { "A" },
            "company": companies[rng.below(companies.len() as u64) as usize],
        });
        let Value::Object(map) = person else {
            panic!("a map")
        };
        batch.push(
            ds.schema()
                .prepare_new_object("Person", &map)
                .expect("the generated values convert"),
        );
        if batch.len() == 1000 || i + 1 == people {
            ds.store
                .new_objects(std::mem::take(&mut batch))
                .await
                .expect("a batch is stored");
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("  {} people, {:.0?}", i + 1, started.elapsed());
        }
    }
    eprintln!("generated {people} people in {:.1?}", started.elapsed());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let people: u64 = std::env::var("DATASTORE_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("the bench directory");
    let path = dir.join(format!("people-{people}.db"));
    // `DATASTORE_BENCH_URL` (e.g. a SQL Server database of its own): generated there when it
    // holds no Person yet, else used as it is.
    let given = std::env::var("DATASTORE_BENCH_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let mut fresh = given.is_none() && !path.exists();
    let url = given
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", path.display()));
    let store = store::open(&url, &StoreOptions::default())
        .await
        .expect("the store opens");
    let config = dsconfig::load_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dsconfig"
    )))
    .expect("the sample DSConfig");
    let applied = store
        .apply_config(&config)
        .await
        .expect("the DSConfig applies");
    let active = ActiveConfig::new(config, applied.version, chrono_tz::Tz::UTC, 1000);
    let ds = Arc::new(Datastore::new(store.clone(), Arc::new(active)));
    if given.is_some() {
        let plan = resolve::resolve(
            &query::parse("limit 1").expect("parses"),
            "Person",
            ds.schema().as_ref(),
            resolve::Paging {
                offset: None,
                limit: None,
                max_results: 1000,
            },
        )
        .expect("resolves");
        let stored = store.query(&plan, None).await.expect("counts").total;
        assert!(
            stored == 0 || stored == people,
            "{url} holds {stored} people, not {people}"
        );
        fresh = stored == 0;
    }
    if fresh {
        eprintln!("generating {people} people into {} ...", redacted(&url));
        generate(&ds, people).await;
    }
    // Projections laid out by this DSConfig (a database generated before them, or a layout
    // change) are rebuilt before anything is measured.
    let started = Instant::now();
    let batches = datastore::service::projections::build_all(store.as_ref())
        .await
        .expect("the projections are rebuilt");
    if batches > 0 {
        eprintln!(
            "rebuilt the projections in {batches} batches, {:.1?}",
            started.elapsed()
        );
    }
    let shown = given.map_or_else(|| path.display().to_string(), |u| redacted(&u));
    println!("people: {people}; database: {shown}");
    println!("load before: {}", load());
    let paging = resolve::Paging {
        offset: None,
        limit: None,
        max_results: 1000,
    };
    let only = std::env::var("DATASTORE_BENCH_ONLY").ok();
    let chosen = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    for text in [
        "age > 30 and lastName == \"Doe\" order by age limit 50",
        "company.city.name == \"Berlin\" limit 50",
        "firstName == \"Emma\" and status == \"I\" order by birthDate DESC limit 20",
        "lastName startswith \"M\" and age < 20 limit 50",
        "status == \"A\" order by birthDate DESC limit 50",
        "age >= 18 and age < 65 order by lastName limit 50",
    ] {
        if !chosen(text) {
            continue;
        }
        let parsed = query::parse(text).expect("the query parses");
        let plan = resolve::resolve(&parsed, "Person", ds.schema().as_ref(), paging)
            .expect("the query resolves");
        let store = store.clone();
        measure(&ds, text, move || {
            let (store, plan) = (store.clone(), plan.clone());
            async move { store.query(&plan, None).await.expect("the query runs") }
        })
        .await;
    }
    let view = |filters: Vec<(&str, &str)>, order: &str, descending: bool, limit: u64| {
        let schema = ds.schema();
        TableQuery {
            object_type: "Person".into(),
            columns: None,
            parent_id: None,
            filters: filters
                .into_iter()
                .map(|(name, value)| {
                    let by_value = schema
                        .config
                        .property("Person", name)
                        .is_some_and(|p| p.property_type.compares_by_value());
                    if by_value {
                        Filter {
                            key: Key::Double(name.into()),
                            value: FilterValue::Double(value.parse().expect("a number")),
                        }
                    } else {
                        Filter {
                            key: Key::Text(name.into()),
                            value: FilterValue::Text(value.into()),
                        }
                    }
                })
                .collect(),
            order: vec![Order {
                key: if order == "lastName" {
                    Key::Text(order.into())
                } else {
                    Key::Double(order.into())
                },
                descending,
            }],
            offset: 0,
            limit,
            walk: Default::default(),
        }
    };
    for (name, q) in [
        (
            "table: status = A, birthDate DESC, 50",
            view(vec![("status", "A")], "birthDate", true, 50),
        ),
        (
            "table: firstName = Emma, status = I, birthDate DESC, 20",
            view(
                vec![("firstName", "Emma"), ("status", "I")],
                "birthDate",
                true,
                20,
            ),
        ),
        (
            "table: lastName = Doe, age, 50",
            view(vec![("lastName", "Doe")], "age", false, 50),
        ),
        (
            "table: all, lastName, 50",
            view(vec![], "lastName", false, 50),
        ),
        // Descending sorts over ascending indexes (ties come in id order), and a Number.
        (
            "table: all, lastName DESC, 50",
            view(vec![], "lastName", true, 50),
        ),
        (
            "table: status = A, age DESC, 50",
            view(vec![("status", "A")], "age", true, 50),
        ),
        ("table: all, height, 50", view(vec![], "height", false, 50)),
        (
            "table: all, height DESC, 50",
            view(vec![], "height", true, 50),
        ),
    ] {
        if !chosen(name) {
            continue;
        }
        // As counted, then with `count=false` (the figure a form's next page costs).
        for count in [true, false] {
            let mut q = q.clone();
            q.walk.count = count;
            let name = if count {
                name.to_string()
            } else {
                format!("{name}, count=false")
            };
            let store = store.clone();
            measure(&ds, &name, move || {
                let (store, q) = (store.clone(), q.clone());
                async move { store.list_table(&q).await.expect("the view runs") }
            })
            .await;
        }
    }
    if only.is_none() {
        aggregates(&ds).await;
        save_costs(&ds, paging).await;
        walk_costs(&ds).await;
    }
    println!("load after: {}", load());
}

/// A cursor walk (API.md §12) over every Person, 1,000 a page without counting, by
/// objectId, by a projected number and by a projected text: the first and the last pages'
/// times side by side, and an offset page at the same depth for comparison.
async fn walk_costs(ds: &Datastore) {
    for (name, order) in [
        ("objectId", Vec::new()),
        (
            "age",
            vec![Order {
                key: Key::Double("age".into()),
                descending: false,
            }],
        ),
        (
            "lastName DESC",
            vec![Order {
                key: Key::Text("lastName".into()),
                descending: true,
            }],
        ),
    ] {
        let mut q = TableQuery {
            object_type: "Person".into(),
            columns: None,
            parent_id: None,
            filters: Vec::new(),
            order,
            offset: 0,
            limit: 1000,
            walk: store::Walk {
                count: false,
                ..store::Walk::default()
            },
        };
        let started = Instant::now();
        let mut times = Vec::new();
        let mut seen = 0usize;
        loop {
            let t = Instant::now();
            let page = ds.store.list_table(&q).await.expect("a page");
            times.push(t.elapsed());
            seen += page.objects.len();
            match page.next {
                Some(seek) => {
                    q.walk.after = Some(seek);
                    q.walk.head = page.head;
                }
                None => break,
            }
        }
        let walk_time = started.elapsed();
        let median = |d: &[Duration]| {
            let mut d = d.to_vec();
            d.sort();
            percentile(&d, 0.5)
        };
        let k = times.len().min(5);
        let (first, last) = (median(&times[..k]), median(&times[times.len() - k..]));
        // The same depth by offset (what a walk replaces).
        q.walk = store::Walk {
            count: false,
            ..store::Walk::default()
        };
        q.offset = seen.saturating_sub(1000) as u64;
        let t = Instant::now();
        ds.store.list_table(&q).await.expect("an offset page");
        let by_offset = t.elapsed();
        println!(
            "cursor walk by {name}: {seen} objects, {} pages of 1000 in {walk_time:.1?}; first 5 pages p50 {first:.2?}, last 5 pages p50 {last:.2?}; the last page by offset {by_offset:.2?}",
            times.len()
        );
    }
}

/// `getAggregate` through the service (parse, resolve, the store's statement, rendering):
/// over the projection (every property read is declared) and over EAV (an undeclared one).
async fn aggregates(ds: &Datastore) {
    use datastore::service::aggregate::AggregateRequest;
    let list = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    for (name, query, group_by, aggregates, order_by, limit) in [
        (
            "aggregate: status; count, avg:age (projection)",
            None,
            list(&["status"]),
            list(&["count", "avg:age"]),
            None,
            None,
        ),
        (
            "aggregate: age >= 30 and lastName == Doe; status, active; count, sum:age, avg:height, min/max:birthDate (projection)",
            Some("age >= 30 and lastName == \"Doe\""),
            list(&["status", "active"]),
            list(&["count", "sum:age", "avg:height", "min:birthDate", "max:birthDate"]),
            None,
            None,
        ),
        (
            "aggregate: company (Lookup, display); count DESC, limit 10 (projection)",
            None,
            list(&["company"]),
            list(&["count", "avg:age"]),
            list(&["count DESC"]),
            Some(10),
        ),
        (
            "aggregate: status, nickname (undeclared: EAV); count, avg:age",
            None,
            list(&["status", "nickname"]),
            list(&["count", "avg:age"]),
            None,
            None,
        ),
    ] {
        let request = || AggregateRequest {
            object_type: "Person".into(),
            query: query.map(str::to_owned),
            group_by: group_by.clone(),
            aggregates: aggregates.clone(),
            order_by: order_by.clone(),
            limit,
        };
        let mut times = Vec::new();
        let mut groups = 0;
        for round in 0..15 {
            let started = Instant::now();
            let answer = ds.aggregate(request()).await.expect("the aggregate runs");
            if round >= 3 {
                times.push(started.elapsed());
            }
            groups = answer.rows.len();
        }
        times.sort();
        println!(
            "{name}\n    {groups} groups; p50 {:.2?}, p95 {:.2?} (12 runs after 3 warm-up)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
        );
    }
}

/// A URL without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if s < at => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// (measured runs, runs after a write) per query: 50 and 10, or `DATASTORE_BENCH_RUNS`
/// measured and a fifth of them after writes (a slow server: e.g. 10).
fn rounds() -> (usize, usize) {
    match std::env::var("DATASTORE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) if n > 0 => (n, (n / 5).max(2)),
        _ => (50, 10),
    }
}

/// The load average, as `uptime` says it.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Times `run`: "repeated" (the count remembered until the next write) and "after a write"
/// (counted afresh: the first page of a query), side by side.
async fn measure<F, Fut>(ds: &Datastore, name: &str, run: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = datastore::store::Page>,
{
    let (measured, writes) = rounds();
    let warm = (measured / 5).max(1);
    let mut times = Vec::new();
    let mut total = 0;
    for round in 0..warm + measured {
        let started = Instant::now();
        let page = run().await;
        if round >= warm {
            times.push(started.elapsed());
        }
        total = page.total;
    }
    times.sort();
    let mut fresh = Vec::new();
    for _ in 0..writes {
        let tick = NewObject {
            object_type: "BenchTick".into(),
            properties: Vec::new(),
            config_version: ds.schema().version,
        };
        ds.store
            .new_object(tick)
            .await
            .expect("a write between runs");
        let started = Instant::now();
        run().await;
        fresh.push(started.elapsed());
    }
    fresh.sort();
    println!(
        "{name}\n    matches {total}; after a write: p50 {:.2?}, p95 {:.2?} ({writes} runs) | repeated: p50 {:.2?}, p95 {:.2?} ({measured} runs after {warm} warm-up)",
        percentile(&fresh, 0.5),
        percentile(&fresh, 0.95),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
    );
}

/// What one `saveProperty` costs (one transaction each, in process) on random people: a
/// projected property in two indexes, a projected one in none, and an undeclared one (EAV
/// only, no projection column).
async fn save_costs(ds: &Datastore, paging: resolve::Paging) {
    let edge = |text: &str| {
        let plan = resolve::resolve(
            &query::parse(text).expect("parses"),
            "Person",
            ds.schema().as_ref(),
            paging,
        )
        .expect("resolves");
        let store = ds.store.clone();
        async move { store.query(&plan, None).await.expect("runs").objects[0].id }
    };
    let (first, last) = (
        edge("order by objectId limit 1").await,
        edge("order by objectId desc limit 1").await,
    );
    let mut rng = Rng(0x0dd_ba11);
    for (property, what) in [
        ("age", "projected, in 2 indexes"),
        ("height", "projected, in no index"),
        ("nickname", "undeclared (EAV only)"),
    ] {
        let mut times = Vec::new();
        let saves = rounds().0 as u64 * 40;
        for i in 0..saves {
            let id = first + (rng.below((last - first + 1) as u64) as i64);
            let value = if property == "nickname" {
                json!(format!("n{i}"))
            } else if property == "height" {
                json!(format!("1,{}", 50 + i % 50))
            } else {
                json!(18 + i % 63)
            };
            let started = Instant::now();
            ds.save_property(id, property, value)
                .await
                .expect("the save succeeds");
            times.push(started.elapsed());
        }
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        times.sort();
        println!(
            "saveProperty {property} ({what}): mean {mean:.0?}, p50 {:.0?}, p99 {:.0?} ({saves} sequential, one transaction each)",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
