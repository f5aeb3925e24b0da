//! saveRelationship, dropRelationship, getChildren, getParents (API.md §6).

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn relationships_link_parents_and_children_and_update_strict() {
    let app = spawn_app().await;
    let customer = app.new_object("Person", json!({ "firstName": "C" })).await;
    let order = app.new_object("Order", json!({ "amount": 10 })).await;
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    let saved = app
        .post(
            "saveRelationship",
            json!({ "parentObjectId": customer["objectId"], "childObjectId": order["objectId"] }),
        )
        .await
        .ok();
    assert_eq!(
        saved,
        json!({ "parentObjectId": customer["objectId"], "childObjectId": order["objectId"], "strict": false })
    );
    let saved = app
        .post_form(
            "saveRelationship",
            &[
                ("parentObjectId", &customer["objectId"].to_string()),
                ("childObjectId", &order["objectId"].to_string()),
                ("strict", "true"),
            ],
        )
        .await
        .ok();
    assert_eq!(saved["strict"], true);
    app.relate(&customer, &city, false).await;

    let children = app
        .post("getChildren", json!({ "objectId": customer["objectId"] }))
        .await;
    assert_eq!(children.total(), 2);
    let children = children.ok();
    assert_eq!(children[0]["objectId"], order["objectId"]);
    assert_eq!(children[0]["strict"], true);
    assert_eq!(children[0]["amount"], "10.00");
    assert_eq!(children[1]["strict"], false);

    let orders = app
        .get(
            "getChildren",
            &[
                ("objectId", &customer["objectId"].to_string()),
                ("objectType", "Order"),
            ],
        )
        .await
        .ok();
    assert_eq!(orders.as_array().unwrap().len(), 1);

    let parents = app
        .post("getParents", json!({ "objectId": order["objectId"] }))
        .await
        .ok();
    assert_eq!(parents[0]["objectId"], customer["objectId"]);
    assert_eq!(parents[0]["strict"], true);
}

#[tokio::test]
async fn drop_relationship_says_whether_there_was_one() {
    let app = spawn_app().await;
    let a = app.new_object("Person", json!({})).await;
    let b = app.new_object("Order", json!({})).await;
    app.relate(&a, &b, true).await;
    let body = json!({ "parentObjectId": a["objectId"], "childObjectId": b["objectId"] });
    assert_eq!(
        app.post("dropRelationship", body.clone()).await.ok(),
        json!({ "dropped": true })
    );
    assert_eq!(
        app.post("dropRelationship", body).await.ok(),
        json!({ "dropped": false })
    );
    let children = app
        .post("getChildren", json!({ "objectId": a["objectId"] }))
        .await
        .ok();
    assert_eq!(children, json!([]));
}

#[tokio::test]
async fn a_self_relationship_is_invalid_and_unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let a = app.new_object("Person", json!({})).await;
    app.post(
        "saveRelationship",
        json!({ "parentObjectId": a["objectId"], "childObjectId": a["objectId"] }),
    )
    .await
    .fails(400, "INVALID_RELATIONSHIP");
    let details = app
        .post(
            "saveRelationship",
            json!({ "parentObjectId": a["objectId"], "childObjectId": 99999 }),
        )
        .await
        .fails(404, "OBJECT_NOT_FOUND")
        .clone();
    assert_eq!(details["objectId"], 99999);
    app.post(
        "dropRelationship",
        json!({ "parentObjectId": 99998, "childObjectId": a["objectId"] }),
    )
    .await
    .fails(404, "OBJECT_NOT_FOUND");
    app.post("getChildren", json!({ "objectId": 99997 }))
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    app.post("getParents", json!({ "objectId": 99997 }))
        .await
        .fails(404, "OBJECT_NOT_FOUND");
    app.post(
        "saveRelationship",
        json!({ "parentObjectId": a["objectId"], "childObjectId": 1, "strict": "sometimes" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
}

/// Ids of a list answer, in order.
fn ids(answer: &Value) -> Vec<Value> {
    answer
        .as_array()
        .expect("an array")
        .iter()
        .map(|o| o["objectId"].clone())
        .collect()
}

#[tokio::test]
async fn related_reads_page_by_offset_and_limit_and_count_before_paging() {
    let app = spawn_app().await;
    let customer = app.new_object("Person", json!({ "firstName": "C" })).await;
    let mut orders = Vec::new();
    for amount in 1..=5 {
        let order = app.new_object("Order", json!({ "amount": amount })).await;
        app.relate(&customer, &order, amount % 2 == 0).await;
        orders.push(order["objectId"].clone());
    }
    let city = app.new_object("City", json!({ "name": "Berlin" })).await;
    app.relate(&customer, &city, false).await;

    let page = app
        .post(
            "getChildren",
            json!({ "objectId": customer["objectId"], "offset": 1, "limit": 2 }),
        )
        .await;
    assert_eq!(page.total(), 6);
    let page = page.ok();
    assert_eq!(ids(&page), orders[1..3]);
    assert_eq!(
        page[0]["amount"], "2.00",
        "related objects come with properties"
    );
    assert_eq!(page[0]["strict"], true);
    assert_eq!(page[1]["strict"], false);

    let typed = app
        .get(
            "getChildren",
            &[
                ("objectId", &customer["objectId"].to_string()),
                ("objectType", "Order"),
                ("offset", "3"),
            ],
        )
        .await;
    assert_eq!(typed.total(), 5);
    assert_eq!(ids(&typed.ok()), orders[3..]);

    for (offset, limit) in [(6, 10), (100, 1), (0, 0)] {
        let empty = app
            .post(
                "getChildren",
                json!({ "objectId": customer["objectId"], "offset": offset, "limit": limit }),
            )
            .await;
        assert_eq!(empty.total(), 6);
        assert_eq!(empty.ok(), json!([]));
    }

    let order = json!({ "objectId": orders[0] });
    let mut customers = vec![customer["objectId"].clone()];
    for _ in 0..2 {
        let other = app.new_object("Person", json!({})).await;
        app.relate(&other, &order, false).await;
        customers.push(other["objectId"].clone());
    }
    let parents = app
        .post_form(
            "getParents",
            &[
                ("objectId", &orders[0].to_string()),
                ("offset", "1"),
                ("limit", "1"),
            ],
        )
        .await;
    assert_eq!(parents.total(), 3);
    assert_eq!(ids(&parents.ok()), customers[1..2]);
}

#[tokio::test]
async fn the_limit_of_related_reads_defaults_to_and_is_capped_by_the_setting() {
    let app = crate::helpers::spawn_with(|s, _| s.max_results = 2).await;
    let parent = app.new_object("Person", json!({})).await;
    let child = app.new_object("Order", json!({})).await;
    for _ in 0..3 {
        let other = app.new_object("Order", json!({})).await;
        app.relate(&parent, &other, false).await;
        let other_parent = app.new_object("Person", json!({})).await;
        app.relate(&other_parent, &child, false).await;
    }
    for body in [
        json!({ "objectId": parent["objectId"] }),
        json!({ "objectId": parent["objectId"], "limit": 50 }),
    ] {
        let answer = app.post("getChildren", body).await;
        assert_eq!(answer.total(), 3);
        assert_eq!(answer.ok().as_array().unwrap().len(), 2);
    }
    let answer = app
        .post(
            "getParents",
            json!({ "objectId": child["objectId"], "limit": 3 }),
        )
        .await;
    assert_eq!(answer.total(), 3);
    assert_eq!(answer.ok().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_bad_offset_or_limit_of_a_related_read_is_invalid_and_changes_nothing() {
    let app = spawn_app().await;
    let parent = app.new_object("Person", json!({})).await;
    let child = app.new_object("Order", json!({})).await;
    app.relate(&parent, &child, true).await;
    for endpoint in ["getChildren", "getParents"] {
        for (name, value) in [
            ("offset", json!(-1)),
            ("limit", json!(-5)),
            ("limit", json!("ten")),
            ("offset", json!(1.5)),
            ("limit", json!(true)),
        ] {
            let mut body = json!({ "objectId": parent["objectId"] });
            body[name] = value.clone();
            let details = app
                .post(endpoint, body)
                .await
                .fails(400, "INVALID_PARAMETER")
                .clone();
            assert_eq!(details["parameter"], name, "{endpoint} {name}={value}");
        }
    }
    let children = app
        .post("getChildren", json!({ "objectId": parent["objectId"] }))
        .await;
    assert_eq!(children.total(), 1);
    assert_eq!(children.ok()[0]["strict"], true);
}
