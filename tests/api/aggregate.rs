//! getAggregate (API.md §12): every aggregate against figures computed here from the data
//! the test wrote (pseudo-random, with missing properties), grouped by List, Lookup, Switch
//! and unconfigured properties, filtered, ordered, limited, as CSV, and its errors.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with_config, TestApp};

const CONFIG: &str = r#"
[[lists.Status]]
code = "A"
value = "Active"

[[lists.Status]]
code = "I"
value = "Inactive"

[[lists.Status]]
code = "P"
value = "Pending"

[types.Region.properties]
name = "String"

[types.Sale.properties]
status = { type = "List", list = "Status" }
region = { type = "Lookup", objectType = "Region", display = "name" }
quantity = "Integer"
amount = "Currency"
weight = "Number"
day = "Date"
at = "Datetime"
paid = "Switch"
note = "String"
tags = "JsonArray"
opens = "Time"
"#;

/// One sale as written; `None`: the property is left out.
#[derive(Debug, Clone)]
struct Sale {
    status: Option<&'static str>,
    region: Option<usize>,
    quantity: Option<i64>,
    /// Cents.
    amount: Option<i64>,
    weight: Option<f64>,
    day: Option<u32>,
    paid: Option<bool>,
    note: Option<String>,
    /// Not in the DSConfig (open schema): stored as String.
    channel: Option<&'static str>,
}

/// A small deterministic generator (the data must be the same on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    /// `Some` three times in four.
    fn maybe<T>(&mut self, value: T) -> Option<T> {
        (self.next(4) != 0).then_some(value)
    }
}

fn sales(n: usize) -> Vec<Sale> {
    let mut r = Lcg(20261130);
    (0..n)
        .map(|_| Sale {
            status: {
                let s = ["A", "I", "P"][r.next(3) as usize];
                r.maybe(s)
            },
            region: {
                let i = r.next(3) as usize;
                r.maybe(i)
            },
            quantity: {
                let q = r.next(41) as i64 - 10;
                r.maybe(q)
            },
            amount: {
                let a = r.next(100_000) as i64;
                r.maybe(a)
            },
            weight: {
                let w = r.next(1000) as f64 / 8.0;
                r.maybe(w)
            },
            day: {
                let d = 1 + r.next(28) as u32;
                r.maybe(d)
            },
            paid: {
                let p = r.next(2) == 1;
                r.maybe(p)
            },
            note: {
                let t = ["apple", "Banana", "cherry", "apple"][r.next(4) as usize].to_owned();
                r.maybe(t)
            },
            channel: {
                let c = ["web", "shop"][r.next(2) as usize];
                r.maybe(c)
            },
        })
        .collect()
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn day(d: u32) -> String {
    format!("2026-03-{d:02}")
}

impl Sale {
    fn json(&self, regions: &[i64]) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("status", self.status.map(|s| json!(s)));
        put("region", self.region.map(|i| json!(regions[i])));
        put("quantity", self.quantity.map(|q| json!(q)));
        put("amount", self.amount.map(|a| json!(cents(a))));
        put("weight", self.weight.map(|w| json!(w)));
        put("day", self.day.map(|d| json!(day(d))));
        put("paid", self.paid.map(|p| json!(p)));
        put("note", self.note.as_ref().map(|n| json!(n)));
        put("channel", self.channel.map(|c| json!(c)));
        Value::Object(m)
    }
}

const REGIONS: [&str; 3] = ["North", "South", "East"];

/// The app and its regions' ids.
async fn world(n: usize) -> (TestApp, Vec<Sale>, Vec<i64>) {
    let app = spawn_app_with_config(CONFIG).await;
    let mut regions = Vec::new();
    for name in REGIONS {
        let o = app.new_object("Region", json!({ "name": name })).await;
        regions.push(o["objectId"].as_i64().unwrap());
    }
    let all = sales(n);
    // One batch: fast on either backend.
    let operations: Vec<Value> = all
        .iter()
        .map(|s| json!({ "op": "newObject", "params": { "objectType": "Sale", "properties": s.json(&regions) } }))
        .collect();
    app.post("batch", json!({ "operations": operations }))
        .await
        .ok();
    (app, all, regions)
}

/// The figures of one group, computed here.
#[derive(Debug, Default, Clone)]
struct Expected {
    count: i64,
    quantities: Vec<i64>,
    amounts: Vec<i64>,
    weights: Vec<f64>,
    days: Vec<u32>,
    notes: Vec<String>,
    regions: BTreeSet<usize>,
}

impl Expected {
    fn add(&mut self, s: &Sale) {
        self.count += 1;
        self.quantities.extend(s.quantity);
        self.amounts.extend(s.amount);
        self.weights.extend(s.weight);
        self.days.extend(s.day);
        self.notes.extend(s.note.clone());
        self.regions.extend(s.region);
    }
}

fn assert_close(got: &Value, want: Option<f64>, what: &str) {
    match want {
        None => assert_eq!(got, &Value::Null, "{what}"),
        Some(w) => {
            let g = got
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: {got} is a number"));
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{what}: {g} != {w}"
            );
        }
    }
}

/// Checks every measure of `MEASURES` in `row` against `e`.
fn check_measures(row: &Value, e: &Expected, what: &str) {
    assert_eq!(row["count"], json!(e.count), "{what} count");
    let sum_q: Option<i64> = (!e.quantities.is_empty()).then(|| e.quantities.iter().sum());
    assert_eq!(row["sum:quantity"], json!(sum_q), "{what} sum:quantity");
    let avg_q = (!e.quantities.is_empty())
        .then(|| e.quantities.iter().sum::<i64>() as f64 / e.quantities.len() as f64);
    assert_close(&row["avg:quantity"], avg_q, &format!("{what} avg:quantity"));
    let sum_a = (!e.amounts.is_empty()).then(|| cents(e.amounts.iter().sum()));
    assert_eq!(row["sum:amount"], json!(sum_a), "{what} sum:amount");
    let sum_w = (!e.weights.is_empty()).then(|| e.weights.iter().sum::<f64>());
    assert_close(&row["sum:weight"], sum_w, &format!("{what} sum:weight"));
    let avg_w = sum_w.map(|s| s / e.weights.len() as f64);
    assert_close(&row["avg:weight"], avg_w, &format!("{what} avg:weight"));
    let min_d = e.days.iter().min().map(|d| day(*d));
    let max_d = e.days.iter().max().map(|d| day(*d));
    assert_eq!(row["min:day"], json!(min_d), "{what} min:day");
    assert_eq!(row["max:day"], json!(max_d), "{what} max:day");
    let min_q = e.quantities.iter().min();
    assert_eq!(row["min:quantity"], json!(min_q), "{what} min:quantity");
    let max_n = e.notes.iter().max();
    assert_eq!(row["max:note"], json!(max_n), "{what} max:note");
    let distinct = e.regions.len() as i64;
    assert_eq!(
        row["countDistinct:region"],
        json!(distinct),
        "{what} countDistinct:region"
    );
    let distinct_notes = e.notes.iter().collect::<BTreeSet<_>>().len() as i64;
    assert_eq!(
        row["countDistinct:note"],
        json!(distinct_notes),
        "{what} countDistinct:note"
    );
}

const MEASURES: [&str; 12] = [
    "count",
    "sum:quantity",
    "avg:quantity",
    "sum:amount",
    "sum:weight",
    "avg:weight",
    "min:day",
    "max:day",
    "min:quantity",
    "max:note",
    "countDistinct:region",
    "countDistinct:note",
];

#[tokio::test]
async fn groups_by_a_list_carry_its_display_and_every_aggregate_matches_the_data() {
    let (app, all, _) = world(80).await;
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": ["status"], "aggregates": MEASURES }),
        )
        .await
        .ok();
    let rows = rows.as_array().unwrap();
    let mut groups: BTreeMap<Option<&str>, Expected> = BTreeMap::new();
    for s in &all {
        groups.entry(s.status).or_default().add(s);
    }
    // Default order: the keys ascending, the objects without a status last.
    let mut keys: Vec<Option<&str>> = groups.keys().filter(|k| k.is_some()).cloned().collect();
    if groups.contains_key(&None) {
        keys.push(None);
    }
    let got: Vec<Value> = rows.iter().map(|r| r["status"].clone()).collect();
    assert_eq!(got, keys.iter().map(|k| json!(k)).collect::<Vec<_>>());
    for (row, key) in rows.iter().zip(&keys) {
        let display = match key {
            Some("A") => json!("Active"),
            Some("I") => json!("Inactive"),
            Some("P") => json!("Pending"),
            _ => Value::Null,
        };
        assert_eq!(row["status@display"], display, "display of {key:?}");
        check_measures(row, &groups[key], &format!("status {key:?}"));
        assert_eq!(
            row.as_object().unwrap().len(),
            2 + MEASURES.len(),
            "the keys, the display and the measures: {row}"
        );
    }

    // No groupBy: one row, the totals.
    let totals = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "aggregates": MEASURES }),
        )
        .await
        .ok();
    let mut every = Expected::default();
    all.iter().for_each(|s| every.add(s));
    assert_eq!(totals.as_array().unwrap().len(), 1);
    check_measures(&totals[0], &every, "totals");

    // Nothing matches: one row of zeros and nulls.
    let none = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "query": "quantity > 1000", "aggregates": MEASURES }),
        )
        .await
        .ok();
    check_measures(&none[0], &Expected::default(), "nothing");
    // ... and grouped, no group at all.
    let none = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "query": "quantity > 1000", "groupBy": "status", "aggregates": "count" }),
        )
        .await
        .ok();
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn groups_by_a_lookup_and_a_switch_filtered_by_a_query() {
    let (app, all, regions) = world(90).await;
    let query = "quantity >= 0 and (note == \"apple\" or day > \"10-03-2026\")";
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "query": query, "groupBy": ["region", "paid"], "aggregates": MEASURES }),
        )
        .await
        .ok();
    let matches = |s: &Sale| {
        s.quantity.is_some_and(|q| q >= 0)
            && (s.note.as_deref() == Some("apple") || s.day.is_some_and(|d| d > 10))
    };
    // Regions by id (a Lookup groups by value), then paid false < true, nulls last.
    let mut groups: BTreeMap<(Option<i64>, Option<bool>), Expected> = BTreeMap::new();
    for s in all.iter().filter(|s| matches(s)) {
        groups
            .entry((s.region.map(|i| regions[i]), s.paid))
            .or_default()
            .add(s);
    }
    let last = |k: &(Option<i64>, Option<bool>)| (k.0.is_none(), k.0, k.1.is_none(), k.1);
    let mut keys: Vec<(Option<i64>, Option<bool>)> = groups.keys().cloned().collect();
    keys.sort_by_key(last);
    let rows = rows.as_array().unwrap();
    let got: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| (r["region"].clone(), r["paid"].clone()))
        .collect();
    let want: Vec<(Value, Value)> = keys.iter().map(|(r, p)| (json!(r), json!(p))).collect();
    assert_eq!(got, want);
    for (row, key) in rows.iter().zip(&keys) {
        let display = key
            .0
            .map(|id| json!(REGIONS[regions.iter().position(|r| *r == id).unwrap()]))
            .unwrap_or(Value::Null);
        assert_eq!(row["region@display"], display);
        assert!(row.get("paid@display").is_none(), "a Switch has no display");
        check_measures(row, &groups[key], &format!("{key:?}"));
    }

    // An unconfigured property (open schema) groups by its text.
    let rows = app
        .get(
            "getAggregate",
            &[
                ("objectType", "Sale"),
                ("groupBy", "channel"),
                ("aggregates", "count,sum:quantity"),
            ],
        )
        .await
        .ok();
    let count = |c: Option<&str>| all.iter().filter(|s| s.channel == c).count() as i64;
    let sum = |c: Option<&str>| {
        let q: Vec<i64> = all
            .iter()
            .filter(|s| s.channel == c)
            .filter_map(|s| s.quantity)
            .collect();
        (!q.is_empty()).then(|| q.iter().sum::<i64>())
    };
    assert_eq!(
        rows,
        json!([
            { "channel": "shop", "count": count(Some("shop")), "sum:quantity": sum(Some("shop")) },
            { "channel": "web", "count": count(Some("web")), "sum:quantity": sum(Some("web")) },
            { "channel": null, "count": count(None), "sum:quantity": sum(None) },
        ])
    );
}

#[tokio::test]
async fn order_by_an_aggregate_or_a_key_limit_and_csv() {
    let (app, all, _) = world(60).await;
    // The two notes with the most sales; ties by the note.
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": "note", "aggregates": ["count", "max:day"],
                    "orderBy": ["count DESC"], "limit": 2 }),
        )
        .await
        .ok();
    let mut counts: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for s in &all {
        *counts.entry(s.note.clone()).or_default() += 1;
    }
    let mut ranked: Vec<(Option<String>, i64)> = counts.into_iter().collect();
    // Count descending, then the key as lists sort it: case folded, null last.
    ranked.sort_by_key(|(k, c)| {
        (
            -c,
            k.is_none(),
            k.as_ref().map(|k| k.to_lowercase()),
            k.clone(),
        )
    });
    let got: Vec<(Value, Value)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["note"].clone(), r["count"].clone()))
        .collect();
    let want: Vec<(Value, Value)> = ranked[..2]
        .iter()
        .map(|(k, c)| (json!(k), json!(c)))
        .collect();
    assert_eq!(got, want);

    // A text key sorts case-insensitively, as lists do: apple, Banana, cherry, (none).
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": "note", "aggregates": "count", "orderBy": "note desc" }),
        )
        .await
        .ok();
    let notes: Vec<Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["note"].clone())
        .collect();
    assert_eq!(
        notes,
        vec![
            json!("cherry"),
            json!("Banana"),
            json!("apple"),
            Value::Null
        ]
    );

    // By a measure ascending, a null measure last: the groups without any quantity.
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": "status", "aggregates": ["sum:quantity"],
                    "orderBy": "sum:quantity" }),
        )
        .await
        .ok();
    let sums: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["sum:quantity"].as_i64())
        .collect();
    let mut sorted = sums.clone();
    sorted.sort();
    assert_eq!(sums, sorted);

    // CSV: a header row, the display column after its key, then one row per group.
    let answer = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": "status", "aggregates": ["count", "sum:amount", "min:day"], "format": "csv" }),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = answer.body.as_str().unwrap().to_owned();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("status,status@display,count,sum:amount,min:day")
    );
    let active: Vec<&Sale> = all.iter().filter(|s| s.status == Some("A")).collect();
    let sum: i64 = active.iter().filter_map(|s| s.amount).sum();
    let min = active.iter().filter_map(|s| s.day).min().unwrap();
    assert_eq!(
        lines.next(),
        Some(format!("A,Active,{},{},{}", active.len(), cents(sum), day(min)).as_str())
    );
    let rows: Vec<&str> = text.lines().collect();
    let groups: BTreeSet<Option<&str>> = all.iter().map(|s| s.status).collect();
    assert_eq!(rows.len(), 1 + groups.len());
    assert!(
        rows.last().unwrap().starts_with(",,"),
        "the group without a status: empty key and display"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_contract_codes() {
    let (app, _, _) = world(5).await;
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({ "objectType": "Sale" }),
            400,
            "MISSING_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": [] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "" }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["median:quantity"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["sum"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["count:quantity"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["count", "count"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["sum:note"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["avg:day"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["min:tags"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": ["max:createdAt"] }),
            400,
            "INVALID_PARAMETER",
            Some("aggregates"),
        ),
        (
            json!({ "objectType": "Sale", "groupBy": "createdAt", "aggregates": "count" }),
            400,
            "INVALID_PARAMETER",
            Some("groupBy"),
        ),
        (
            json!({ "objectType": "Sale", "groupBy": "tags", "aggregates": "count" }),
            400,
            "INVALID_PARAMETER",
            Some("groupBy"),
        ),
        (
            json!({ "objectType": "Sale", "groupBy": ["status", "status"], "aggregates": "count" }),
            400,
            "INVALID_PARAMETER",
            Some("groupBy"),
        ),
        (
            json!({ "objectType": "Sale", "groupBy": "status", "aggregates": "count", "orderBy": "quantity" }),
            400,
            "INVALID_PARAMETER",
            Some("orderBy"),
        ),
        (
            json!({ "objectType": "Sale", "groupBy": "status", "aggregates": "count", "orderBy": "count sideways" }),
            400,
            "INVALID_PARAMETER",
            Some("orderBy"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "query": "quantity > 1 order by quantity" }),
            400,
            "INVALID_PARAMETER",
            Some("query"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "query": "quantity > 1 limit 5" }),
            400,
            "INVALID_PARAMETER",
            Some("query"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "query": "quantity >" }),
            400,
            "QUERY_SYNTAX",
            None,
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "format": "xml" }),
            400,
            "INVALID_PARAMETER",
            Some("format"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "limit": -1 }),
            400,
            "INVALID_PARAMETER",
            Some("limit"),
        ),
        (
            json!({ "objectType": "Sale", "aggregates": "count", "having": "x" }),
            400,
            "UNKNOWN_PARAMETER",
            None,
        ),
        (
            json!({ "aggregates": "count" }),
            400,
            "MISSING_PARAMETER",
            Some("objectType"),
        ),
    ];
    for (body, status, code, parameter) in cases {
        let answer = app.post("getAggregate", body.clone()).await;
        let details = answer.fails(status, code);
        if let Some(p) = parameter {
            assert_eq!(details["parameter"], json!(p), "{body}: {details}");
        }
    }

    // A strict schema: unknown properties anywhere are UNKNOWN_PROPERTY.
    let strict = spawn_app_with_config(&format!("schemaMode = \"strict\"\n{CONFIG}")).await;
    for body in [
        json!({ "objectType": "Sale", "groupBy": "channel", "aggregates": "count" }),
        json!({ "objectType": "Sale", "aggregates": ["sum:nope"] }),
        json!({ "objectType": "Sale", "aggregates": "count", "query": "nope == 1" }),
    ] {
        strict
            .post("getAggregate", body)
            .await
            .fails(400, "UNKNOWN_PROPERTY");
    }
    strict
        .post(
            "getAggregate",
            json!({ "objectType": "Nope", "aggregates": "count" }),
        )
        .await
        .fails(400, "UNKNOWN_OBJECT_TYPE");
}

#[tokio::test]
async fn datetimes_times_currency_keys_and_limits() {
    let app = spawn_app_with_config(CONFIG).await;
    for (at, opens, amount, paid) in [
        ("2026-03-01T10:00:00Z", "08:30", "12.5", true),
        ("2026-02-27T23:59:59.250Z", "07:15:30", "0.0001", true),
        ("2026-03-05T00:00:00+02:00", "09:00", "12.50", false),
    ] {
        app.new_object(
            "Sale",
            json!({ "at": at, "opens": opens, "amount": amount, "paid": paid }),
        )
        .await;
    }
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "aggregates": ["min:at", "max:at", "min:opens", "max:opens", "sum:amount", "max:amount", "min:paid", "max:paid"] }),
        )
        .await
        .ok();
    assert_eq!(
        rows,
        json!([{
            "min:at": "2026-02-27T23:59:59.250Z", "max:at": "2026-03-04T22:00:00Z",
            "min:opens": "07:15:30", "max:opens": "09:00:00",
            "sum:amount": "25.0001", "max:amount": "12.50",
            "min:paid": false, "max:paid": true,
        }])
    );
    // A Currency key is the Currency value; a Switch key a boolean.
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "groupBy": ["amount", "paid"], "aggregates": "count" }),
        )
        .await
        .ok();
    assert_eq!(
        rows,
        json!([
            { "amount": "0.0001", "paid": true, "count": 1 },
            { "amount": "12.50", "paid": false, "count": 1 },
            { "amount": "12.50", "paid": true, "count": 1 },
        ])
    );
    // Limits: none, one, and more than there are.
    for (limit, groups) in [(0, 0), (1, 1), (10, 2)] {
        let rows = app
            .post(
                "getAggregate",
                json!({ "objectType": "Sale", "groupBy": "paid", "aggregates": "count", "limit": limit }),
            )
            .await
            .ok();
        assert_eq!(rows.as_array().unwrap().len(), groups, "limit {limit}");
    }
    let rows = app
        .post(
            "getAggregate",
            json!({ "objectType": "Sale", "aggregates": "count", "limit": 0 }),
        )
        .await
        .ok();
    assert_eq!(
        rows,
        json!([]),
        "limit 0 answers no row, not even the totals"
    );
}
