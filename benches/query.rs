//! The query-language benchmark of issue 4 (not a test: run it by hand, record the figures
//! in docs/BENCHMARKS.md).
//!
//! ```sh
//! cargo bench --bench query                          # 1,000,000 people (generated once)
//! DATASTORE_BENCH_PEOPLE=100000 cargo bench --bench query
//! ```
//!
//! The data generator writes through the real `Store` (conversion, lookup checks, numbering):
//! 100 cities, 10,000 companies (each with a Lookup to a city) and N people of 8 properties
//! each (firstName, lastName, age, height, birthDate, active, status, company). The database
//! is kept in `target/bench/` and reused while its size matches. Each query then runs 10
//! times to warm the cache and 50 times measured (repeated use: the count of matches is
//! remembered until a write), then 10 times each after a write (a fresh count); p50 and p95
//! of both are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datastore::dsconfig;
use datastore::query::{self, resolve};
use datastore::service::{ActiveConfig, Datastore};
use datastore::store::{self, NewObject, StoreOptions};
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
    let fresh = !path.exists();
    let url = format!("sqlite://{}", path.display());
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
    if fresh {
        eprintln!("generating {people} people into {} ...", path.display());
        generate(&ds, people).await;
    }
    println!("people: {people}; database: {}", path.display());
    for text in [
        "age > 30 and lastName == \"Doe\" order by age limit 50",
        "company.city.name == \"Berlin\" limit 50",
        "firstName == \"Emma\" and status == \"I\" order by birthDate DESC limit 20",
        "lastName startswith \"M\" and age < 20 limit 50",
    ] {
        let parsed = query::parse(text).expect("the query parses");
        let paging = resolve::Paging {
            offset: None,
            limit: None,
            max_results: 1000,
        };
        let plan = resolve::resolve(&parsed, "Person", ds.schema().as_ref(), paging)
            .expect("the query resolves");
        // Repeated (paging) use: the count of matches is remembered until the next write.
        let mut times = Vec::new();
        let mut total = 0;
        for round in 0..60 {
            let started = Instant::now();
            let page = store.query(&plan, None).await.expect("the query runs");
            if round >= 10 {
                times.push(started.elapsed());
            }
            total = page.total;
        }
        times.sort();
        // After a write every answer counts afresh: the cost of the first page of a query.
        let mut fresh = Vec::new();
        for _ in 0..10 {
            let tick = NewObject {
                object_type: "BenchTick".into(),
                properties: Vec::new(),
                config_version: ds.schema().version,
            };
            store.new_object(tick).await.expect("a write between runs");
            let started = Instant::now();
            store.query(&plan, None).await.expect("the query runs");
            fresh.push(started.elapsed());
        }
        fresh.sort();
        println!(
            "{text}\n    matches {total}; repeated: p50 {:.2?}, p95 {:.2?} (50 runs after 10 warm-up); \
             after a write: p50 {:.2?}, p95 {:.2?} (10 runs)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&fresh, 0.5),
            percentile(&fresh, 0.95)
        );
    }
}
