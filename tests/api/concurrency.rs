//! Parallel clients: object numbers stay distinct, one property stays one row, and
//! dropObject racing saveRelationship ends as if one of them had gone first.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_creating_ten_objects_each_get_eighty_distinct_numbers() {
    let app = Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for client in 0..8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..10 {
                let object = app
                    .new_object("Person", json!({ "firstName": format!("c{client}-{i}") }))
                    .await;
                numbers.push(object["objectNumber"].as_str().unwrap().to_owned());
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 80);
    assert_eq!(distinct.len(), 80, "numbers must not repeat");
    let expected: HashSet<String> = (1001..1081).map(|n| format!("P-{n:07}")).collect();
    assert_eq!(distinct, expected.iter().collect(), "no gaps either");
    assert_eq!(app.count("Person").await, 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_saving_one_property_leave_one_value_and_see_no_error() {
    let app = Arc::new(spawn_app().await);
    let person = app.new_object("Person", json!({})).await;
    let id = person["objectId"].clone();
    let mut tasks = Vec::new();
    for client in 0..8 {
        let app = app.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let answer = app
                    .post("saveProperty", json!({ "objectId": id, "propertyName": "age", "propertyValue": client * 100 + i }))
                    .await;
                assert_eq!(answer.status, 200, "{}", answer.body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let object = app.get_object(&id).await.ok();
    let age = object["age"].as_i64().unwrap();
    assert!(
        (0..800).contains(&age) && age % 100 == 9,
        "the last write of some client wins: {age}"
    );
    let matching = app
        .post(
            "getObjectListTable",
            json!({ "objectType": "Person", "filter": { "age": age } }),
        )
        .await;
    assert_eq!(matching.total(), 1);
}

/// What dropObject drops in one race against saveRelationship(strict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Race {
    /// The parent; the child's type is not listed, so a strict child blocks it.
    Parent,
    /// The parent, listing the child's type: a child related in time goes with it.
    ParentAndChildren,
    /// The child.
    Child,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_object_racing_save_relationship_ends_as_one_of_them_went_first_and_never_fails() {
    let app = Arc::new(spawn_app().await);
    let races = [Race::Parent, Race::ParentAndChildren, Race::Child];
    let mut pairs = Vec::new();
    for i in 0..36 {
        let parent = app.new_object("Folder", json!({})).await["objectId"].clone();
        let child = app.new_object("Note", json!({})).await["objectId"].clone();
        pairs.push((races[i % races.len()], parent, child));
    }
    // Every pair races at once: its two requests are sent together, and all pairs overlap.
    let mut tasks = Vec::new();
    for (i, (race, parent, child)) in pairs.iter().cloned().enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let save = app.post(
                "saveRelationship",
                json!({ "parentObjectId": parent, "childObjectId": child, "strict": true }),
            );
            let drop = match race {
                Race::Parent => json!({ "objectId": parent }),
                Race::ParentAndChildren => {
                    json!({ "objectId": parent, "childObjectTypes": ["Note"] })
                }
                Race::Child => json!({ "objectId": child }),
            };
            let drop = app.post("dropObject", drop);
            if i % 2 == 0 {
                tokio::join!(save, drop)
            } else {
                let (drop, save) = tokio::join!(drop, save);
                (save, drop)
            }
        }));
    }
    let mut outcomes = std::collections::BTreeMap::new();
    for ((race, parent, child), task) in pairs.iter().zip(tasks) {
        let (save, drop) = task.await.unwrap();
        let answers = format!(
            "{race:?} {parent}->{child}: saveRelationship {} {}, dropObject {} {}",
            save.status, save.body, drop.status, drop.body
        );
        assert!(
            !save.status.is_server_error() && !drop.status.is_server_error(),
            "{answers}"
        );
        let exists = |id: &serde_json::Value| {
            let app = app.clone();
            let id = id.clone();
            async move { app.get_object(&id).await.status.is_success() }
        };
        let children = app.post("getChildren", json!({ "objectId": parent })).await;
        let parents = app.post("getParents", json!({ "objectId": child })).await;
        let (parent_exists, child_exists) = (exists(parent).await, exists(child).await);
        let saved_first = save.status == 200;
        match (race, saved_first) {
            // The relationship came first: the strict child blocks the drop.
            (Race::Parent, true) => {
                drop.fails(409, "STRICT_CHILDREN_EXIST");
                assert!(parent_exists && child_exists, "{answers}");
                let children = children.ok();
                assert_eq!(children.as_array().map(Vec::len), Some(1), "{answers}");
                assert_eq!(children[0]["objectId"], *child, "{answers}");
                assert_eq!(children[0]["strict"], true, "{answers}");
            }
            // The relationship came first: the listed child goes with its parent.
            (Race::ParentAndChildren, true) => {
                assert_eq!(drop.status, 200, "{answers}");
                assert_eq!(
                    drop.body["deletedObjectIds"],
                    json!([parent, child]),
                    "{answers}"
                );
                assert!(!parent_exists && !child_exists, "{answers}");
            }
            // The relationship came first and went with the dropped child.
            (Race::Child, true) => {
                assert_eq!(drop.status, 200, "{answers}");
                assert_eq!(drop.body["deletedObjectIds"], json!([child]), "{answers}");
                assert!(parent_exists && !child_exists, "{answers}");
                assert_eq!(children.total(), 0, "{answers}");
            }
            // The drop came first: the relationship finds its object gone.
            (_, false) => {
                let details = save.fails(404, "OBJECT_NOT_FOUND");
                let dropped = if *race == Race::Child { child } else { parent };
                assert_eq!(details["objectId"], *dropped, "{answers}");
                assert_eq!(drop.status, 200, "{answers}");
                assert_eq!(drop.body["deletedObjectIds"], json!([dropped]), "{answers}");
                assert_eq!(parent_exists, *race == Race::Child, "{answers}");
                assert_eq!(child_exists, *race != Race::Child, "{answers}");
                let survivor = if parent_exists { &children } else { &parents };
                assert_eq!(survivor.total(), 0, "no relationship remains: {answers}");
            }
        }
        *outcomes
            .entry((format!("{race:?}"), saved_first))
            .or_insert(0) += 1;
    }
    eprintln!("outcomes (race, saved first) -> count: {outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_list_answer_counts_exactly_the_objects_it_pages_while_others_write() {
    let app = Arc::new(spawn_app().await);
    let folder = app.new_object("Folder", json!({})).await["objectId"].clone();
    // Writers: notes come (with a property, in the folder) and go, all the time.
    let mut writers = Vec::new();
    for w in 0..2 {
        let (app, folder) = (app.clone(), folder.clone());
        writers.push(tokio::spawn(async move {
            let mut notes = std::collections::VecDeque::new();
            for i in 0..60 {
                let note = app.new_object("Note", json!({ "n": w * 1000 + i })).await;
                app.post(
                    "saveRelationship",
                    json!({ "parentObjectId": folder, "childObjectId": note["objectId"] }),
                )
                .await
                .ok();
                notes.push_back(note["objectId"].clone());
                if notes.len() > 5 {
                    let id = notes.pop_front();
                    app.post("dropObject", json!({ "objectId": id })).await.ok();
                }
            }
        }));
    }
    // Readers: every answer must count what it pages, and page objects whole.
    let lists = [
        (
            "getChildren",
            json!({ "objectId": folder, "objectType": "Note" }),
        ),
        ("getObjectListTable", json!({ "objectType": "Note" })),
        (
            "getObjectListByFilter",
            json!({ "objectType": "Note", "query": "n != null" }),
        ),
    ];
    let mut reads = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        for (endpoint, body) in &lists {
            let answer = app.post(endpoint, body.clone()).await;
            let total = answer.total();
            let page = answer.ok();
            let page = page.as_array().expect("an array");
            assert_eq!(page.len() as u64, total, "{endpoint}: {page:?}");
            for object in page {
                assert!(
                    object.get("n").is_some(),
                    "{endpoint}: {object} without its properties"
                );
            }
            reads += 1;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(reads > 0);
}
