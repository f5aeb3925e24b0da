//! saveRelationship, dropRelationship, getChildren, getParents (API.md §6).

use serde_json::json;

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
