//! Cursor paging (API.md §12): `after`, `X-Next-After`, `Link: <...>; rel="next"`,
//! `count=false`, on table views, queries, children, parents and history; a walk while
//! others write visits every object that existed throughout it exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, Answer, TestApp};

fn next_after(a: &Answer) -> Option<String> {
    a.headers
        .get("X-Next-After")
        .map(|v| v.to_str().unwrap().to_owned())
}

fn next_link(a: &Answer) -> Option<String> {
    a.headers.get("Link").map(|v| {
        let v = v.to_str().unwrap();
        assert!(v.ends_with(">; rel=\"next\""), "{v}");
        v.trim_start_matches('<')
            .trim_end_matches(">; rel=\"next\"")
            .to_owned()
    })
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .unwrap_or_else(|| panic!("an array: {body}"))
        .iter()
        .map(|o| o["objectId"].as_i64().unwrap())
        .collect()
}

/// Every page of `endpoint` with `params` (JSON body), following `X-Next-After`.
async fn walk(app: &TestApp, endpoint: &str, params: Value) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10_000 {
        let mut body = params.clone();
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let answer = app.post(endpoint, body.clone()).await;
        assert_eq!(answer.status, 200, "{endpoint} {body}: {}", answer.body);
        let token = next_after(&answer);
        assert_eq!(
            token.is_some(),
            next_link(&answer).is_some(),
            "X-Next-After and Link go together"
        );
        let page = ids(&answer.ok());
        if token.is_some() {
            assert!(!page.is_empty(), "a page with a next one is not empty");
        }
        out.extend(page);
        match token {
            Some(t) => after = Some(t),
            None => return out,
        }
    }
    panic!("the walk does not end");
}

/// The whole listing in one page (offset paging).
async fn listing(app: &TestApp, endpoint: &str, params: Value) -> Vec<i64> {
    let answer = app.post(endpoint, params).await;
    assert!(next_after(&answer).is_none(), "one page holds everything");
    ids(&answer.ok())
}

async fn items(app: &TestApp, object_type: &str, n: usize) -> Vec<i64> {
    let names = ["b", "A", "c", "a", "B", "d", "b"];
    let mut out = Vec::new();
    for i in 0..n {
        // Some lack each property; values repeat (ties by objectId).
        let mut props = json!({});
        if i % 4 != 1 {
            props["lastName"] = json!(names[i % names.len()]);
        }
        if i % 5 != 2 {
            props["age"] = json!((i * 7 % 11) as i64 - 3);
        }
        if i % 3 != 0 {
            props["birthDate"] = json!(format!("19{:02}-0{}-1{}", 50 + i % 9, 1 + i % 8, i % 9));
        }
        let o = app.new_object(object_type, props).await;
        out.push(o["objectId"].as_i64().unwrap());
    }
    out
}

#[tokio::test]
async fn a_walk_equals_the_offset_listing_in_every_order_with_missing_values_last() {
    let app = spawn_app().await;
    // Person has a projection (on the embedded store), Item is EAV only.
    for ty in ["Person", "Item"] {
        items(&app, ty, 23).await;
        for order in [
            None,
            Some("lastName"),
            Some("lastName DESC"),
            Some("age"),
            Some("age DESC"),
            Some("birthDate"),
            Some("birthDate DESC"),
            Some("lastName DESC,age"),
            Some("createdAt DESC"),
            Some("updatedAt"),
        ] {
            let mut params = json!({ "objectType": ty });
            if let Some(o) = order {
                params["orderBy"] = json!(o);
            }
            let all = listing(&app, "getObjectListTable", params.clone()).await;
            assert_eq!(all.len(), 23);
            for limit in [1, 4, 23] {
                let mut p = params.clone();
                p["limit"] = json!(limit);
                let walked = walk(&app, "getObjectListTable", p).await;
                assert_eq!(walked, all, "{ty} by {order:?}, {limit} a page");
            }
            // The missing values come last, as in the offset listing.
            if let Some(o) = order.filter(|o| !o.contains(',') && !o.contains("At")) {
                let name = o.split_whitespace().next().unwrap();
                let objects = app
                    .post(
                        "getObjectListTable",
                        json!({ "objectType": ty, "orderBy": o }),
                    )
                    .await
                    .ok();
                let missing: Vec<bool> = objects
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.get(name).is_none_or(Value::is_null))
                    .collect();
                let first_missing = missing
                    .iter()
                    .position(|m| *m)
                    .unwrap_or_else(|| panic!("{ty} {o}: {objects}"));
                assert!(missing[first_missing..].iter().all(|m| *m), "{ty} {o}");
            }
        }
        for query in [
            "age > -2",
            "age > -2 order by age desc",
            "lastName like \"b\" or age == 0 order by lastName, birthDate desc",
            "order by birthDate",
            "lastName == \"b\" order by age",
        ] {
            let params = json!({ "objectType": ty, "query": query });
            let all = listing(&app, "getObjectListByFilter", params.clone()).await;
            assert!(!all.is_empty(), "{query}");
            let mut p = params.clone();
            p["limit"] = json!(2);
            assert_eq!(
                walk(&app, "getObjectListByFilter", p).await,
                all,
                "{ty}: {query}"
            );
        }
    }
}

/// Every page of `endpoint`, at most `pages` of them (`None`: the walk did not end by then).
async fn bounded_walk(
    app: &TestApp,
    endpoint: &str,
    params: Value,
    pages: usize,
) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..pages {
        let mut body = params.clone();
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let answer = app.post(endpoint, body).await;
        let token = next_after(&answer);
        out.extend(ids(&answer.ok()));
        match token {
            Some(t) => after = Some(t),
            None => return Some(out),
        }
    }
    None
}

/// Text is sorted with its case folded; the seek value of a page's last row must fold as
/// that row's own value does, letters beyond ASCII too. (On Babelfish `LOWER` folded the
/// bound `Émile` to `émile` but the column's `Émile` not at all: a descending walk that
/// ended a page at `Émile` found it again forever, an ascending one skipped rows.)
#[tokio::test]
async fn a_walk_by_text_with_letters_beyond_ascii_visits_each_object_once() {
    let app = spawn_app().await;
    let names = [
        "Émile", "émile", "Zoë", "zoë", "Ann", "ann", "Ölaf", "ölaf", "Éa", "zed", "Émile", "ÉMILE",
    ];
    for ty in ["Person", "Item"] {
        for name in names {
            app.new_object(ty, json!({ "lastName": name })).await;
        }
        app.new_object(ty, json!({})).await;
        for (endpoint, order) in [
            ("getObjectListTable", json!({ "orderBy": "lastName" })),
            ("getObjectListTable", json!({ "orderBy": "lastName DESC" })),
            (
                "getObjectListTable",
                json!({ "orderBy": "lastName DESC,createdAt" }),
            ),
            (
                "getObjectListByFilter",
                json!({ "query": "order by lastName desc" }),
            ),
            (
                "getObjectListByFilter",
                json!({ "query": "order by lastName" }),
            ),
        ] {
            let mut params = order.clone();
            params["objectType"] = json!(ty);
            let all = listing(&app, endpoint, params.clone()).await;
            assert_eq!(all.len(), names.len() + 1);
            for limit in [1, 2, 3] {
                let mut p = params.clone();
                p["limit"] = json!(limit);
                let walked = bounded_walk(&app, endpoint, p, all.len() + 1).await;
                assert_eq!(
                    walked.as_ref(),
                    Some(&all),
                    "{ty} {endpoint} {order}, {limit} a page"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_last_page_has_no_next_and_count_false_counts_nothing() {
    let app = spawn_app().await;
    items(&app, "Item", 5).await;
    let first = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "limit": 3 }),
        )
        .await;
    assert_eq!(first.total(), 5);
    let token = next_after(&first).expect("a next page");
    let last = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "limit": 3, "after": token, "count": false }),
        )
        .await;
    assert!(last.headers.get("X-Total-Count").is_none());
    assert!(next_after(&last).is_none() && last.headers.get("Link").is_none());
    assert_eq!(ids(&last.ok()).len(), 2);
    // Exactly a page full: no next page either.
    let full = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "limit": 5 }),
        )
        .await;
    assert!(next_after(&full).is_none());
    for endpoint in ["getObjectListByFilter", "getObjectListTable"] {
        let a = app
            .get(
                endpoint,
                &[("objectType", "Item"), ("count", "false"), ("limit", "2")],
            )
            .await;
        assert!(a.headers.get("X-Total-Count").is_none(), "{endpoint}");
        assert!(next_after(&a).is_some());
    }
}

#[tokio::test]
async fn the_link_is_relative_keeps_every_parameter_and_works_behind_a_base_path() {
    let app = spawn_with(|s, _| s.base_path = "/datastore/".into()).await;
    items(&app, "Item", 7).await;
    let all = listing(
        &app,
        "getObjectListTable",
        json!({ "objectType": "Item", "orderBy": "age DESC", "properties": "age,lastName" }),
    )
    .await;
    // JSON body first, then the links as a client follows them (GET, resolved against
    // the URL of the request).
    let mut url = reqwest::Url::parse(&app.url("getObjectListTable")).unwrap();
    let first = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "orderBy": "age DESC", "properties": ["age", "lastName"], "limit": 2 }),
        )
        .await;
    let mut link = next_link(&first).expect("a link");
    assert!(link.starts_with("getObjectListTable?"), "{link}");
    let mut got = ids(&first.ok());
    loop {
        url = url.join(&link).unwrap();
        assert!(url.path().starts_with("/datastore/"), "{url}");
        let page = app.send(app.client.get(url.clone())).await;
        let next = next_link(&page);
        let body = page.ok();
        for o in body.as_array().unwrap() {
            assert!(o.get("birthDate").is_none(), "the columns are kept: {o}");
        }
        got.extend(ids(&body));
        match next {
            Some(l) => link = l,
            None => break,
        }
    }
    assert_eq!(got, all);
    // CSV pages too, with the format kept by the link.
    let csv = app
        .get(
            "getObjectListTable",
            &[("objectType", "Item"), ("format", "csv"), ("limit", "3")],
        )
        .await;
    let link = next_link(&csv).expect("a link");
    assert!(link.contains("format=csv"), "{link}");
    let text = csv.body.as_str().unwrap().to_owned();
    assert_eq!(text.lines().count(), 4, "{text}");
    let url = reqwest::Url::parse(&app.url("getObjectListTable"))
        .unwrap()
        .join(&link)
        .unwrap();
    let second = app.send(app.client.get(url)).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.as_str().unwrap().lines().count(), 4);
}

#[tokio::test]
async fn bad_tokens_are_refused_and_nothing_else_is_answered() {
    let app = spawn_app().await;
    items(&app, "Item", 6).await;
    let first = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "orderBy": "age", "limit": 2 }),
        )
        .await;
    let token = next_after(&first).unwrap();
    let mut edited: Vec<char> = token.chars().collect();
    let mid = edited.len() / 2;
    edited[mid] = if edited[mid] == 'A' { 'B' } else { 'A' };
    let edited: String = edited.into_iter().collect();
    let bad = |after: &str, order: &str| json!({ "objectType": "Item", "orderBy": order, "limit": 2, "after": after });
    for (endpoint, body) in [
        ("getObjectListTable", bad("nonsense!", "age")),
        ("getObjectListTable", bad("eyJ2IjoxfQ", "age")),
        ("getObjectListTable", bad(&edited, "age")),
        ("getObjectListTable", bad(&token, "age DESC")),
        ("getObjectListTable", bad(&token, "lastName")),
        (
            "getObjectListTable",
            json!({ "objectType": "Person", "orderBy": "age", "after": token }),
        ),
        (
            "getObjectListByFilter",
            json!({ "objectType": "Item", "query": "order by age", "after": token }),
        ),
        (
            "getObjectListTable",
            json!({ "objectType": "Item", "orderBy": "age", "after": token, "offset": 2 }),
        ),
        (
            "getObjectListByFilter",
            json!({ "objectType": "Item", "query": "order by age offset 2", "after": token }),
        ),
        (
            "getChildren",
            json!({ "objectId": ids(&app.post("getObjectListTable", json!({"objectType": "Item"})).await.ok())[0], "after": token }),
        ),
    ] {
        let answer = app.post(endpoint, body.clone()).await;
        let details = answer.fails(400, "INVALID_PARAMETER");
        assert_eq!(details["parameter"], "after", "{endpoint} {body}");
    }
    // The token itself still works.
    let ok = app.post("getObjectListTable", bad(&token, "age")).await;
    assert_eq!(ids(&ok.ok()).len(), 2);
}

#[tokio::test]
async fn children_parents_and_history_walk() {
    let app = spawn_app().await;
    let parent = app.new_object("Item", json!({ "n": 0 })).await;
    let mut children = Vec::new();
    for i in 0..7 {
        let c = app
            .new_object(if i % 2 == 0 { "Item" } else { "Other" }, json!({ "n": i }))
            .await;
        app.relate(&parent, &c, false).await;
        children.push(c["objectId"].as_i64().unwrap());
    }
    let pid = parent["objectId"].as_i64().unwrap();
    let all = listing(&app, "getChildren", json!({ "objectId": pid })).await;
    assert_eq!(all, children);
    assert_eq!(
        walk(&app, "getChildren", json!({ "objectId": pid, "limit": 2 })).await,
        all
    );
    let typed: Vec<i64> = children.iter().step_by(2).copied().collect();
    assert_eq!(
        walk(
            &app,
            "getChildren",
            json!({ "objectId": pid, "limit": 1, "objectType": "Item", "count": false })
        )
        .await,
        typed
    );
    // A child with several parents.
    let child = children[0];
    let mut parents = vec![pid];
    for _ in 0..4 {
        let p = app.new_object("Item", json!({})).await;
        app.relate(&p, &json!({ "objectId": child }), false).await;
        parents.push(p["objectId"].as_i64().unwrap());
    }
    assert_eq!(
        walk(&app, "getParents", json!({ "objectId": child, "limit": 2 })).await,
        parents
    );
    // History: the changes of one object, oldest first.
    for i in 1..=6 {
        app.post(
            "saveProperty",
            json!({ "objectId": pid, "propertyName": "n", "propertyValue": i }),
        )
        .await
        .ok();
    }
    let whole = app
        .post("getHistory", json!({ "objectId": pid }))
        .await
        .ok();
    let change_ids = |b: &Value| -> Vec<i64> {
        b.as_array()
            .unwrap()
            .iter()
            .map(|c| c["changeId"].as_i64().unwrap())
            .collect()
    };
    let expected = change_ids(&whole);
    assert!(expected.len() >= 7, "{whole}");
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({ "objectId": pid, "limit": 3 });
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let page = app.post("getHistory", body).await;
        let next = next_after(&page);
        assert_eq!(next.is_some(), next_link(&page).is_some());
        got.extend(change_ids(&page.ok()));
        match next {
            Some(t) => after = Some(t),
            None => break,
        }
    }
    assert_eq!(got, expected);
    // A changeId still works as `after`; another object's token does not.
    let tail = app
        .post(
            "getHistory",
            json!({ "objectId": pid, "after": expected[2] }),
        )
        .await
        .ok();
    assert_eq!(change_ids(&tail), expected[3..]);
    let token = next_after(
        &app.post("getHistory", json!({ "objectId": pid, "limit": 1 }))
            .await,
    )
    .unwrap();
    app.post("getHistory", json!({ "objectId": child, "after": token }))
        .await
        .fails(400, "INVALID_PARAMETER");
}

/// A walk by `order` over `object_type` while another task creates, drops and changes the
/// sort property of objects: each object that existed throughout is visited exactly once.
/// With `query`, the walk is a getObjectListByFilter of that query (its order by `order`).
async fn walk_while_writing(
    app: &TestApp,
    object_type: &str,
    order: &str,
    property: &str,
    query: Option<&str>,
) {
    let mut initial = Vec::new();
    for i in 0..60 {
        let props = if i % 7 == 3 {
            json!({})
        } else {
            json!({ property: (i * 37 % 23) as i64 })
        };
        let o = app.new_object(object_type, props).await;
        initial.push(o["objectId"].as_i64().unwrap());
    }
    let dropped: BTreeSet<i64> = initial.iter().skip(5).step_by(9).copied().collect();
    let stop = Arc::new(AtomicBool::new(false));
    // Rounds the writer finished: the walk waits for one between its pages.
    let finished = Arc::new(AtomicU64::new(0));
    let writer = {
        let finished = finished.clone();
        let client = app.client.clone();
        let url = |e: &str| app.url(e);
        let (save, new, drop) = (url("saveProperty"), url("newObject"), url("dropObject"));
        let initial = initial.clone();
        let dropped = dropped.clone();
        let stop = stop.clone();
        let object_type = object_type.to_owned();
        let property = property.to_owned();
        tokio::spawn(async move {
            let mut round = 0u64;
            let mut to_drop: Vec<i64> = dropped.into_iter().collect();
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                // Move objects from one end of the order to the other and back.
                let id = initial[(round as usize * 13) % initial.len()];
                let value = if round.is_multiple_of(2) {
                    -1000 - round as i64
                } else {
                    1000 + round as i64
                };
                let _ = client
                    .post(&save)
                    .json(&json!({ "objectId": id, "propertyName": property, "propertyValue": value }))
                    .send()
                    .await;
                if round.is_multiple_of(3) {
                    let _ = client
                        .post(&new)
                        .json(&json!({ "objectType": object_type, "properties": { property.clone(): (round % 30) as i64 } }))
                        .send()
                        .await;
                }
                if round.is_multiple_of(4) {
                    if let Some(id) = to_drop.pop() {
                        let _ = client
                            .post(&drop)
                            .json(&json!({ "objectId": id }))
                            .send()
                            .await;
                    }
                }
                finished.store(round, Ordering::Release);
                tokio::task::yield_now().await;
            }
            round
        })
    };
    // The walk lets the writer finish a round between its pages (however slow the
    // database; a fixed pause let a loaded TDS server finish fewer rounds than pages).
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let (endpoint, mut body) = match query {
            Some(q) => (
                "getObjectListByFilter",
                json!({ "objectType": object_type, "query": format!("{q} order by {order}"), "limit": 3 }),
            ),
            None => (
                "getObjectListTable",
                json!({ "objectType": object_type, "orderBy": order, "limit": 3 }),
            ),
        };
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let page = app.post(endpoint, body).await;
        let next = next_after(&page);
        for id in ids(&page.ok()) {
            *seen.entry(id).or_default() += 1;
        }
        pages += 1;
        let seen_rounds = finished.load(Ordering::Acquire);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while finished.load(Ordering::Acquire) == seen_rounds
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        match next {
            Some(t) => after = Some(t),
            None => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.await.unwrap();
    assert!(
        rounds > 10,
        "the writer wrote during the walk ({rounds} rounds, {pages} pages)"
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "visited more than once: {twice:?}");
    for (i, id) in initial.iter().enumerate() {
        // A query matches only objects with the property (the others may gain it).
        let matched_throughout = query.is_none() || i % 7 != 3;
        if !dropped.contains(id) && matched_throughout {
            assert_eq!(
                seen.get(id),
                Some(&1),
                "{object_type} {id} existed throughout the walk by {order} and was not visited"
            );
        }
    }
}

#[tokio::test]
async fn a_walk_while_another_task_writes_visits_each_object_once() {
    let app = spawn_app().await;
    walk_while_writing(&app, "Item", "score", "score", None).await;
    walk_while_writing(&app, "Item2", "score DESC", "score", None).await;
    // A projected type (on the embedded store) sorted by an Integer.
    walk_while_writing(&app, "Person", "age", "age", None).await;
    // updatedAt moves with every write.
    walk_while_writing(&app, "Item3", "updatedAt", "score", None).await;
}

#[tokio::test]
async fn a_query_walk_while_another_task_writes_visits_each_object_once() {
    let app = spawn_app().await;
    // The sort key is also the query's test (sorted on its joined row).
    walk_while_writing(&app, "Item", "score DESC", "score", Some("score > -100000")).await;
    walk_while_writing(&app, "Person", "age", "age", Some("age > -100000")).await;
}

#[tokio::test]
async fn a_walk_whose_start_the_log_no_longer_holds_is_refused_not_gapped() {
    let app = spawn_app().await;
    items(&app, "Item", 5).await;
    let first = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "orderBy": "age", "limit": 2 }),
        )
        .await;
    let token = next_after(&first).unwrap();
    // An order by objectId needs no history: its walk goes on whatever is pruned.
    let by_id = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "limit": 2 }),
        )
        .await;
    let by_id = next_after(&by_id).unwrap();
    let id = ids(&first.ok())[0];
    app.post(
        "saveProperty",
        json!({ "objectId": id, "propertyName": "age", "propertyValue": 99 }),
    )
    .await
    .ok();
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let store = app.store().await;
    while store.prune_changes(tomorrow, 500).await.unwrap() > 0 {}
    let answer = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Item", "orderBy": "age", "limit": 2, "after": token }),
        )
        .await;
    assert_eq!(answer.fails(410, "CURSOR_EXPIRED")["parameter"], "after");
    app.post(
        "getObjectListTable",
        json!({ "objectType": "Item", "limit": 2, "after": by_id }),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_walk_goes_on_at_another_instance_of_the_same_database() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(|_, _| {}).await;
    items(&app, "Item", 9).await;
    let params = json!({ "objectType": "Item", "orderBy": "lastName DESC", "limit": 2 });
    let all = listing(
        &app,
        "getObjectListTable",
        json!({ "objectType": "Item", "orderBy": "lastName DESC" }),
    )
    .await;
    // Pages alternate between the instances: the token is all a walk needs.
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    for turn in 0.. {
        let mut body = params.clone();
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let at = if turn % 2 == 0 { &app } else { &peer };
        let page = at.post("getObjectListTable", body).await;
        let next = next_after(&page);
        got.extend(ids(&page.ok()));
        match next {
            Some(t) => after = Some(t),
            None => break,
        }
    }
    assert_eq!(got, all);
}
