//! Global types (API.md §9): a type declared `global = true` lives in one database per
//! system, shared by every app; its ids start at 2^50, and a Lookup from an app's type to
//! it is checked there and shows its display text.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with_config, TestApp};

const GLOBAL: &str = r#"
[types.Country]
global = true

[types.Country.properties]
name = "String"

[types.Currency]
global = true

[types.Currency.properties]
code = "String"

[types.City.properties]
name = "String"

[types.Customer.properties]
name = "String"
country = { type = "Lookup", objectType = "Country", display = "name" }
"#;

/// 2^50: the first id of a global database.
const GLOBAL_ID_BASE: i64 = 1 << 50;

fn id_of(object: &Value) -> i64 {
    object["objectId"].as_i64().expect("an integer objectId")
}

async fn spawn() -> TestApp {
    spawn_app_with_config(GLOBAL).await
}

#[tokio::test]
async fn a_global_type_seen_from_two_apps() {
    let app = spawn().await;
    let (alpha, beta) = (app.app_name("alpha"), app.app_name("beta"));
    let a = app.tenant(Some(&alpha), None);
    let b = app.tenant(Some(&beta), None);
    let default = app.tenant(None, None);

    let country = a.new_object("Country", json!({ "name": "NL" })).await;
    assert!(id_of(&country) >= GLOBAL_ID_BASE, "{country}");
    for (who, t) in [("beta", &b), ("default", &default)] {
        let seen = t.get_object(&country["objectId"]).await.ok();
        assert_eq!(seen["name"], "NL", "{who}");
        assert_eq!(seen["objectId"], country["objectId"], "{who}");
        assert_eq!(t.count("Country").await, 1, "{who}");
    }
    let listed = b
        .post("getObjectListTable", json!({ "objectType": "Country" }))
        .await
        .ok();
    assert_eq!(listed[0]["objectId"], country["objectId"], "{listed}");

    // Updated from another app: every app sees it.
    b.post(
        "saveProperty",
        json!({ "objectId": country["objectId"], "propertyName": "name", "propertyValue": "Netherlands" }),
    )
    .await
    .ok();
    assert_eq!(
        a.get_object(&country["objectId"]).await.ok()["name"],
        "Netherlands"
    );
    default
        .post(
            "saveProperties",
            json!({ "objectId": country["objectId"], "properties": { "name": "Nederland" } }),
        )
        .await
        .ok();
    assert_eq!(
        b.get_object(&country["objectId"]).await.ok()["name"],
        "Nederland"
    );
    let filtered = default
        .post(
            "getObjectListByFilter",
            json!({ "objectType": "Country", "query": "name == \"Nederland\"" }),
        )
        .await
        .ok();
    assert_eq!(filtered[0]["objectId"], country["objectId"], "{filtered}");

    // The apps' own objects stay theirs, with ids below 2^50.
    let city = a.new_object("City", json!({ "name": "Utrecht" })).await;
    assert!(id_of(&city) < GLOBAL_ID_BASE);
    assert_eq!(a.count("City").await, 1);
    assert_eq!(b.count("City").await, 0);
    assert_eq!(default.count("City").await, 0);

    // Dropped from one app: gone for all.
    let spare = b.new_object("Country", json!({ "name": "BE" })).await;
    assert_eq!(a.count("Country").await, 2);
    a.post("dropObject", json!({ "objectId": spare["objectId"] }))
        .await
        .ok();
    b.get_object(&spare["objectId"])
        .await
        .fails(404, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn staging_has_global_objects_of_its_own() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let live = app.tenant(Some(&alpha), None);
    let staging = app.tenant(Some(&alpha), Some("STAGING"));
    let other_staging = app.tenant(None, Some("STAGING"));
    let country = live.new_object("Country", json!({ "name": "NL" })).await;
    assert_eq!(staging.count("Country").await, 0);
    let staged = staging.new_object("Country", json!({ "name": "DE" })).await;
    assert!(id_of(&staged) >= GLOBAL_ID_BASE);
    assert_eq!(other_staging.count("Country").await, 1);
    assert_eq!(live.count("Country").await, 1);
    if staged["objectId"] != country["objectId"] {
        staging
            .get_object(&country["objectId"])
            .await
            .fails(404, "OBJECT_NOT_FOUND");
    }
}

#[tokio::test]
async fn a_lookup_to_a_global_object_is_checked_and_shows_its_text() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let default = app.tenant(None, None);
    let country = default.new_object("Country", json!({ "name": "NL" })).await;
    let customer = a
        .new_object(
            "Customer",
            json!({ "name": "Ann", "country": country["objectId"] }),
        )
        .await;
    assert_eq!(customer["country"], country["objectId"], "{customer}");
    assert_eq!(customer["country@display"], "NL", "{customer}");
    let read = a.get_object(&customer["objectId"]).await.ok();
    assert_eq!(read["country@display"], "NL");

    // Saved again on an existing object.
    let other = default.new_object("Country", json!({ "name": "FR" })).await;
    let saved = a
        .post(
            "saveProperties",
            json!({ "objectId": customer["objectId"], "properties": { "country": other["objectId"] } }),
        )
        .await
        .ok();
    assert_eq!(saved["country@display"], "FR", "{saved}");

    // Refused like any Lookup: a missing global id, a global object of another type, an
    // app object.
    let currency = a.new_object("Currency", json!({ "code": "EUR" })).await;
    let city = a.new_object("City", json!({ "name": "Utrecht" })).await;
    for target in [
        json!(GLOBAL_ID_BASE + 999_999),
        currency["objectId"].clone(),
        city["objectId"].clone(),
    ] {
        let answer = a
            .post(
                "newObject",
                json!({ "objectType": "Customer", "properties": { "country": target } }),
            )
            .await;
        answer.fails(400, "INVALID_VALUE");
        let answer = a
            .post(
                "saveProperty",
                json!({ "objectId": customer["objectId"], "propertyName": "country", "propertyValue": target }),
            )
            .await;
        answer.fails(400, "INVALID_VALUE");
    }
    assert_eq!(
        a.get_object(&customer["objectId"]).await.ok()["country@display"],
        "FR"
    );
}

#[tokio::test]
async fn objects_never_cross_between_an_app_and_the_global_database() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let country = a.new_object("Country", json!({ "name": "NL" })).await;
    let city = a.new_object("City", json!({ "name": "Utrecht" })).await;
    a.post(
        "changeObjectType",
        json!({ "objectId": country["objectId"], "objectType": "City" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    a.post(
        "changeObjectType",
        json!({ "objectId": city["objectId"], "objectType": "Country" }),
    )
    .await
    .fails(400, "INVALID_PARAMETER");
    // Within the global database a global type may become another global type.
    let changed = a
        .post(
            "changeObjectType",
            json!({ "objectId": country["objectId"], "objectType": "Currency" }),
        )
        .await
        .ok();
    assert_eq!(changed["objectType"], "Currency");

    for (parent, child) in [(&city, &country), (&country, &city)] {
        a.post(
            "saveRelationship",
            json!({ "parentObjectId": parent["objectId"], "childObjectId": child["objectId"] }),
        )
        .await
        .fails(400, "INVALID_RELATIONSHIP");
    }
    // Two global objects may be related, and their children read from any app.
    let other = a.new_object("Country", json!({ "name": "BE" })).await;
    a.post(
        "saveRelationship",
        json!({ "parentObjectId": country["objectId"], "childObjectId": other["objectId"] }),
    )
    .await
    .ok();
    let children = app
        .tenant(None, None)
        .post("getChildren", json!({ "objectId": country["objectId"] }))
        .await
        .ok();
    assert_eq!(children[0]["objectId"], other["objectId"], "{children}");
}

#[tokio::test]
async fn app_lookups_follow_a_global_objects_displayed_property() {
    let app = spawn().await;
    let (alpha, beta) = (app.app_name("alpha"), app.app_name("beta"));
    let a = app.tenant(Some(&alpha), None);
    let b = app.tenant(Some(&beta), None);
    let default = app.tenant(None, None);
    let staging = app.tenant(Some(&alpha), Some("STAGING"));
    let country = b.new_object("Country", json!({ "name": "NL" })).await;
    let in_alpha = a
        .new_object("Customer", json!({ "country": country["objectId"] }))
        .await;
    let in_default = default
        .new_object("Customer", json!({ "country": country["objectId"] }))
        .await;
    let other = a.new_object("Country", json!({ "name": "FR" })).await;
    let elsewhere = a
        .new_object("Customer", json!({ "country": other["objectId"] }))
        .await;
    // Another system: its own global objects, untouched.
    let staged = staging.new_object("Country", json!({ "name": "NL" })).await;
    let in_staging = staging
        .new_object("Customer", json!({ "country": staged["objectId"] }))
        .await;

    // An app with data in STAGING only: the fan-out in LIVE must not create its database.
    let gamma = app.app_name("gamma");
    app.tenant(Some(&gamma), Some("STAGING"))
        .new_object("City", json!({ "name": "Oslo" }))
        .await;
    let gamma_live = datastore::tenancy::database_url(
        &app.database,
        &datastore::tenancy::Owner::App(gamma.parse().unwrap()),
        datastore::tenancy::System::Live,
    )
    .unwrap();

    b.post(
        "saveProperty",
        json!({ "objectId": country["objectId"], "propertyName": "name", "propertyValue": "Netherlands" }),
    )
    .await
    .ok();
    assert!(!datastore::store::database_exists(&gamma_live)
        .await
        .unwrap());
    for (who, t, customer) in [("alpha", &a, &in_alpha), ("default", &default, &in_default)] {
        let read = t.get_object(&customer["objectId"]).await.ok();
        assert_eq!(read["country@display"], "Netherlands", "{who}: {read}");
    }
    let read = a.get_object(&elsewhere["objectId"]).await.ok();
    assert_eq!(read["country@display"], "FR");
    let read = staging.get_object(&in_staging["objectId"]).await.ok();
    assert_eq!(read["country@display"], "NL");

    // Removed: the Lookups show no text.
    a.post(
        "saveProperties",
        json!({ "objectId": country["objectId"], "properties": { "name": null } }),
    )
    .await
    .ok();
    let read = a.get_object(&in_alpha["objectId"]).await.ok();
    assert!(read.get("country@display").is_none(), "{read}");
}

#[tokio::test]
async fn a_query_path_goes_through_a_lookup_to_a_global_type() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let nl = a.new_object("Country", json!({ "name": "NL" })).await;
    let fr = a.new_object("Country", json!({ "name": "FR" })).await;
    let ann = a
        .new_object(
            "Customer",
            json!({ "name": "Ann", "country": nl["objectId"] }),
        )
        .await;
    let bob = a
        .new_object(
            "Customer",
            json!({ "name": "Bob", "country": fr["objectId"] }),
        )
        .await;
    a.new_object("Customer", json!({ "name": "Cid" })).await;
    let query = |q: &str| json!({ "objectType": "Customer", "query": q, "properties": "name" });
    let names = |body: &Value| -> Vec<String> {
        body.as_array()
            .expect("a list")
            .iter()
            .map(|o| o["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let found = a
        .post("getObjectListByFilter", query("country.name == \"NL\""))
        .await
        .ok();
    assert_eq!(names(&found), ["Ann"], "{found}");
    assert_eq!(found[0]["objectId"], ann["objectId"]);
    let found = a
        .post("getObjectListByFilter", query("country.name != \"NL\""))
        .await
        .ok();
    assert_eq!(names(&found), ["Bob", "Cid"], "{found}");
    let found = a
        .post(
            "getObjectListByFilter",
            query("country.name == \"DE\" or name == \"Bob\""),
        )
        .await
        .ok();
    assert_eq!(names(&found), ["Bob"], "{found}");
    assert_eq!(found[0]["objectId"], bob["objectId"]);
    let found = a
        .post("getObjectListByFilter", query("country.name == \"DE\""))
        .await
        .ok();
    assert_eq!(names(&found), Vec::<String>::new(), "{found}");
    // Only a path's first step may cross into a global type (found by review: a later
    // step found nothing, and its negation everything).
    for q in [
        "parents.Customer.country.name == \"NL\"",
        "parents.Customer.country.name != \"NL\"",
    ] {
        let answer = a
            .post(
                "getObjectListByFilter",
                json!({ "objectType": "City", "query": q }),
            )
            .await;
        let details = answer.fails(400, "INVALID_PARAMETER");
        assert_eq!(details["propertyName"], "country", "{q}");
    }
}

/// Found by review: an import could give an app's objects ids from 2^50, where calls by id
/// reach the global database.
#[tokio::test]
async fn an_import_cannot_give_an_apps_objects_global_ids() {
    let app = spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let lines = [
        json!({"record":"header","format":"datastore-export","formatVersion":1,"app":"default","system":"LIVE","exportedAt":"2026-11-30T00:00:00.000Z","source":"sqlite"}),
        json!({"record":"object","objectId": GLOBAL_ID_BASE + 1,"objectType":"City","createdAt":"2026-11-30T00:00:00.000Z","updatedAt":"2026-11-30T00:00:00.000Z","properties":[]}),
        json!({"record":"end","objects":1,"properties":0,"relationships":0,"numbering":0,"files":0,"fileChunks":0}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let out = crate::helpers::datastore_command()
        .args(["import", "--input", file.to_str().unwrap()])
        .args(["--database", &app.database])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert_eq!(app.count("City").await, 0);
}

/// Found by review: a key scoped to one app could rename or drop the global objects every
/// app points at. It may read them and point Lookups at them, never write them.
#[tokio::test]
async fn an_app_scoped_key_reads_global_objects_but_never_writes_them() {
    use datastore::auth::Role;
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    // Created while the service is open (no key yet): the deployment's reference data.
    let nl = app
        .tenant(Some(&alpha), None)
        .new_object("Country", json!({ "name": "NL" }))
        .await;
    let (scoped, _) = app.create_key(Role::Write, Some(&alpha), None).await;
    let (everywhere, _) = app.create_key(Role::Write, None, None).await;
    // The service notices the first key within a second (it was open until now).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let a = app.tenant(Some(&alpha), None).with_key(&scoped);
    assert_eq!(a.get_object(&nl["objectId"]).await.ok()["name"], "NL");
    let customer = a
        .new_object(
            "Customer",
            json!({ "name": "Ann", "country": nl["objectId"] }),
        )
        .await;
    assert_eq!(customer["country@display"], "NL", "{customer}");
    a.post(
        "newObject",
        json!({ "objectType": "Country", "properties": { "name": "FR" } }),
    )
    .await
    .fails(403, "FORBIDDEN");
    a.post(
        "saveProperty",
        json!({ "objectId": nl["objectId"], "propertyName": "name", "propertyValue": "pwned" }),
    )
    .await
    .fails(403, "FORBIDDEN");
    a.post("dropObject", json!({ "objectId": nl["objectId"] }))
        .await
        .fails(403, "FORBIDDEN");
    assert_eq!(a.get_object(&nl["objectId"]).await.ok()["name"], "NL");
    // A key for every app may.
    let all = app.tenant(Some(&alpha), None).with_key(&everywhere);
    all.post(
        "saveProperty",
        json!({ "objectId": nl["objectId"], "propertyName": "name", "propertyValue": "Nederland" }),
    )
    .await
    .ok();
    assert_eq!(
        a.get_object(&nl["objectId"]).await.ok()["name"],
        "Nederland"
    );
}

/// A global object an app's Lookup points at cannot be dropped (nor change its type), from
/// any app: `409 REFERENCED_BY_LOOKUP` naming the app's object; once the Lookup is gone it can.
#[tokio::test]
async fn a_global_object_an_app_points_at_is_not_dropped() {
    let app = spawn().await;
    let (alpha, beta) = (app.app_name("alpha"), app.app_name("beta"));
    let a = app.tenant(Some(&alpha), None);
    let b = app.tenant(Some(&beta), None);
    let default = app.tenant(None, None);
    let nl = default.new_object("Country", json!({ "name": "NL" })).await;
    let customer = a
        .new_object("Customer", json!({ "country": nl["objectId"] }))
        .await;
    for t in [&a, &b, &default] {
        let answer = t
            .post("dropObject", json!({ "objectId": nl["objectId"] }))
            .await;
        let details = answer.fails(409, "REFERENCED_BY_LOOKUP");
        assert_eq!(
            details["objectIds"],
            json!([customer["objectId"]]),
            "{details}"
        );
        t.post(
            "changeObjectType",
            json!({ "objectId": nl["objectId"], "objectType": "Currency" }),
        )
        .await
        .fails(409, "REFERENCED_BY_LOOKUP");
    }
    assert_eq!(b.get_object(&nl["objectId"]).await.ok()["name"], "NL");

    // A global child dropped with it counts too.
    let be = default.new_object("Country", json!({ "name": "BE" })).await;
    b.post(
        "saveRelationship",
        json!({ "parentObjectId": be["objectId"], "childObjectId": nl["objectId"] }),
    )
    .await
    .ok();
    b.post(
        "dropObject",
        json!({ "objectId": be["objectId"], "childObjectTypes": ["Country"] }),
    )
    .await
    .fails(409, "REFERENCED_BY_LOOKUP");
    assert_eq!(default.count("Country").await, 2);

    // Once the Lookup is gone, the drop goes through.
    a.post(
        "saveProperties",
        json!({ "objectId": customer["objectId"], "properties": { "country": null } }),
    )
    .await
    .ok();
    let dropped = b
        .post(
            "dropObject",
            json!({ "objectId": be["objectId"], "childObjectTypes": ["Country"] }),
        )
        .await
        .ok();
    assert_eq!(
        dropped["deletedObjectIds"].as_array().unwrap().len(),
        2,
        "{dropped}"
    );
    a.get_object(&nl["objectId"])
        .await
        .fails(404, "OBJECT_NOT_FOUND");
}

/// An app saving a Lookup to a global object while another instance drops it: either the
/// drop is refused, or it wins and the save is refused; never a Lookup to a dropped
/// object. Two service instances on one database (their own memory and connections).
#[tokio::test]
async fn saving_a_lookup_to_a_global_object_races_its_drop_safely() {
    let app = spawn().await;
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::write(config_dir.path().join("test.toml"), GLOBAL).unwrap();
    let dsconfig = config_dir.path().to_path_buf();
    let peer = app
        .spawn_peer(move |settings, _| settings.dsconfig = dsconfig)
        .await;
    let alpha = app.app_name("alpha");
    let here = app.tenant(Some(&alpha), None);
    let there = peer.tenant(Some(&alpha), None);
    let customer = here.new_object("Customer", json!({ "name": "Ann" })).await;
    let (mut refused, mut dropped) = (0, 0);
    for round in 0..12 {
        let country = here
            .new_object("Country", json!({ "name": format!("C{round}") }))
            .await;
        let saves = async {
            for i in 0..6 {
                let value = if i % 2 == 0 {
                    country["objectId"].clone()
                } else {
                    Value::Null
                };
                let answer = there
                    .post(
                        "saveProperty",
                        json!({ "objectId": customer["objectId"], "propertyName": "country", "propertyValue": value }),
                    )
                    .await;
                assert!(
                    answer.status == 200 || answer.code() == "INVALID_VALUE",
                    "{}",
                    answer.body
                );
            }
        };
        let drop = async {
            tokio::time::sleep(std::time::Duration::from_millis(round * 3)).await;
            here.post("dropObject", json!({ "objectId": country["objectId"] }))
                .await
        };
        let ((), answer) = tokio::join!(saves, drop);
        let read = here.get_object(&customer["objectId"]).await.ok();
        if answer.status == 200 {
            dropped += 1;
            assert_ne!(
                read["country"], country["objectId"],
                "round {round}: {read}"
            );
        } else {
            answer.fails(409, "REFERENCED_BY_LOOKUP");
            refused += 1;
            here.get_object(&country["objectId"]).await.ok();
        }
        // Whatever the Lookup points at exists.
        if let Some(target) = read.get("country").filter(|v| !v.is_null()) {
            here.get_object(target).await.ok();
        }
    }
    eprintln!("drops: {dropped} done, {refused} refused");
}

const CHAIN: &str = r#"
[types.Region]
global = true

[types.Region.properties]
name = "String"

[types.Country]
global = true

[types.Country.properties]
name = "String"
code = "String"
region = { type = "Lookup", objectType = "Region", display = "name" }

[types.Customer.properties]
name = "String"
country = { type = "Lookup", objectType = "Country", display = "region" }
"#;

/// A global Region renamed: the global Country showing it follows, and so do the app
/// Customers showing their Country's region, in every app (past the first link).
#[tokio::test]
async fn display_texts_follow_a_chain_of_global_types_into_the_apps() {
    let app = spawn_app_with_config(CHAIN).await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let default = app.tenant(None, None);
    let europe = default
        .new_object("Region", json!({ "name": "Europe" }))
        .await;
    let nl = default
        .new_object(
            "Country",
            json!({ "name": "NL", "region": europe["objectId"] }),
        )
        .await;
    assert_eq!(nl["region@display"], "Europe", "{nl}");
    let ann = a
        .new_object(
            "Customer",
            json!({ "name": "Ann", "country": nl["objectId"] }),
        )
        .await;
    let bob = default
        .new_object(
            "Customer",
            json!({ "name": "Bob", "country": nl["objectId"] }),
        )
        .await;
    assert_eq!(ann["country@display"], "Europe", "{ann}");

    default
        .post(
            "saveProperty",
            json!({ "objectId": europe["objectId"], "propertyName": "name", "propertyValue": "Europa" }),
        )
        .await
        .ok();
    assert_eq!(
        a.get_object(&nl["objectId"]).await.ok()["region@display"],
        "Europa"
    );
    for (who, t, customer) in [("alpha", &a, &ann), ("default", &default, &bob)] {
        let read = t.get_object(&customer["objectId"]).await.ok();
        assert_eq!(read["country@display"], "Europa", "{who}: {read}");
    }
}

/// A new DSConfig changes what app Lookups to a global type display: the app's display
/// refresh reads the targets in the global database (it used to empty the texts).
#[tokio::test]
async fn a_dsconfig_change_of_a_global_lookups_display_rewrites_the_apps_texts() {
    let app = spawn_app_with_config(CHAIN).await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let default = app.tenant(None, None);
    let europe = default
        .new_object("Region", json!({ "name": "Europe" }))
        .await;
    let nl = default
        .new_object(
            "Country",
            json!({ "name": "Netherlands", "code": "NL", "region": europe["objectId"] }),
        )
        .await;
    let ann = a
        .new_object("Customer", json!({ "country": nl["objectId"] }))
        .await;
    let bob = default
        .new_object("Customer", json!({ "country": nl["objectId"] }))
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chain.toml"),
        CHAIN.replace(
            r#"objectType = "Country", display = "region""#,
            r#"objectType = "Country", display = "code""#,
        ),
    )
    .unwrap();
    app.cli(&["dsconfig", "apply", dir.path().to_str().unwrap()]);
    // The CLI rewrites the default app's before it exits; an open app follows within
    // moments (its DSConfig is handed on, its refresh runs in the background).
    let read = default.get_object(&bob["objectId"]).await.ok();
    assert_eq!(read["country@display"], "NL", "{read}");
    let followed = crate::helpers::eventually(10, || async {
        a.get_object(&ann["objectId"]).await.ok()["country@display"] == "NL"
    })
    .await;
    assert!(followed, "{}", a.get_object(&ann["objectId"]).await.ok());
}

/// `global` cannot change on a type that has objects (they would be stranded in the other
/// database): refused by `dsconfig validate`, `dsconfig apply` and at `serve` start,
/// naming the type. On a type without objects it changes.
#[tokio::test]
async fn global_cannot_change_on_a_type_that_has_objects() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    app.tenant(Some(&alpha), Some("TEST"))
        .new_object("City", json!({ "name": "Utrecht" }))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |toml: String| std::fs::write(dir.path().join("test.toml"), toml).unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let refused = |args: &[&str]| {
        let out = crate::helpers::datastore_command()
            .args(args)
            .args(["--database", &app.database])
            .output()
            .expect("the binary runs");
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // City (objects in app alpha's TEST database) would become global.
    write(GLOBAL.replace(
        "[types.City.properties]",
        "[types.City]\nglobal = true\n\n[types.City.properties]",
    ));
    for command in ["validate", "apply"] {
        let stderr = refused(&["dsconfig", command, &path]);
        assert!(stderr.contains("`City`"), "{command}: {stderr}");
    }
    // Country (objects in the global database) would stop being global.
    app.tenant(None, None)
        .new_object("Country", json!({ "name": "NL" }))
        .await;
    write(GLOBAL.replacen("[types.Country]\nglobal = true\n", "", 1));
    let stderr = refused(&["dsconfig", "apply", &path]);
    assert!(stderr.contains("`Country`"), "{stderr}");
    // `serve` stops before it listens (killed if it ever ran: the test then fails).
    let mut serve = crate::helpers::datastore_command()
        .args(["serve", "--listen", "127.0.0.1:0", "--dsconfig", &path])
        .args(["--database", &app.database])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = serve.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = serve.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.is_some_and(|s| !s.success()),
        "serve started: {stderr}"
    );
    assert!(stderr.contains("`Country`"), "{stderr}");
    // Currency has no objects: it may stop being global.
    write(GLOBAL.replacen("[types.Currency]\nglobal = true\n", "", 1));
    app.cli(&["dsconfig", "validate", &path]);
    app.cli(&["dsconfig", "apply", &path]);
    // The running service takes the new DSConfig within a poll.
    let seen = crate::helpers::eventually(10, || async {
        let config = app.post("getConfig", json!({})).await.ok();
        config["types"]["Currency"].is_object() && config["types"]["Currency"]["global"] != true
    })
    .await;
    assert!(seen, "{}", app.post("getConfig", json!({})).await.ok());
    let currency = app.new_object("Currency", json!({ "code": "EUR" })).await;
    assert!(id_of(&currency) < GLOBAL_ID_BASE, "{currency}");
}

/// `!=` and `== null` through a path into a global type, with more than 500 global objects
/// on both sides of the test (the old expansion failed past 500).
#[tokio::test]
async fn negated_paths_into_a_global_type_answer_at_any_size() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let a = app.tenant(Some(&alpha), None);
    let mut countries = Vec::new();
    for i in 0..1203 {
        let name = match i % 3 {
            0 => Some("NL".to_owned()),
            1 => Some(format!("C{i}")),
            _ => None,
        };
        let properties = match name {
            Some(n) => json!({ "name": n }),
            None => json!({}),
        };
        countries.push(
            a.post(
                "newObject",
                json!({ "objectType": "Country", "properties": properties }),
            )
            .await
            .ok(),
        );
    }
    // Customers: one per kind of country, and one without.
    let names = ["Nl", "Other", "Unnamed"];
    for (i, name) in names.iter().enumerate() {
        a.new_object(
            "Customer",
            json!({ "name": name, "country": countries[1200 + i]["objectId"] }),
        )
        .await;
    }
    a.new_object("Customer", json!({ "name": "None" })).await;
    let found = |q: &'static str| {
        let a = &a;
        async move {
            let body = a
                .post(
                    "getObjectListByFilter",
                    json!({ "objectType": "Customer", "query": q, "properties": "name" }),
                )
                .await
                .ok();
            let mut names: Vec<String> = body
                .as_array()
                .expect("a list")
                .iter()
                .map(|o| o["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(found("country.name == \"NL\"").await, ["Nl"]);
    assert_eq!(
        found("country.name != \"NL\"").await,
        ["None", "Other", "Unnamed"]
    );
    assert_eq!(found("country.name == null").await, ["None", "Unnamed"]);
    assert_eq!(found("country.name != null").await, ["Nl", "Other"]);
    assert_eq!(found("country == null").await, ["None"]);
    assert_eq!(found("country != null").await, ["Nl", "Other", "Unnamed"]);
    assert_eq!(
        found("country.name != \"NL\" and country != null").await,
        ["Other", "Unnamed"]
    );
}

/// Reads never create a system's global database: a read of a global type in a system
/// without one answers as empty; the first write creates it.
#[tokio::test]
async fn reads_never_create_a_systems_global_database() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let test = app.tenant(Some(&alpha), Some("TEST"));
    // The app's database exists (a write), the global one does not.
    test.new_object("City", json!({ "name": "Oslo" })).await;
    let global_url = datastore::tenancy::database_url(
        &app.database,
        &datastore::tenancy::Owner::Global,
        datastore::tenancy::System::Test,
    )
    .unwrap();
    for t in [&test, &app.tenant(None, Some("TEST"))] {
        assert_eq!(t.count("Country").await, 0);
        let listed = t
            .post(
                "getObjectListByFilter",
                json!({ "objectType": "Customer", "query": "country.name == \"NL\"" }),
            )
            .await
            .ok();
        assert_eq!(listed, json!([]));
        t.get_object(&json!(GLOBAL_ID_BASE + 1))
            .await
            .fails(404, "OBJECT_NOT_FOUND");
        t.post("dropObject", json!({ "objectId": GLOBAL_ID_BASE + 1 }))
            .await
            .fails(404, "OBJECT_NOT_FOUND");
        t.post(
            "newObject",
            json!({ "objectType": "Customer", "properties": { "country": GLOBAL_ID_BASE + 1 } }),
        )
        .await
        .fails(400, "INVALID_VALUE");
    }
    assert!(!datastore::store::database_exists(&global_url)
        .await
        .unwrap());
    test.new_object("Country", json!({ "name": "NO" })).await;
    assert!(datastore::store::database_exists(&global_url)
        .await
        .unwrap());
    assert_eq!(test.count("Country").await, 1);
}

/// copySystem and import keep the ids of global objects in app Lookups; they must mean
/// objects of the target system's global database, or nothing is written (409 / an error
/// naming them). Moving the global database first (`export --global`, `import --global`)
/// makes the app's copy go through.
#[tokio::test]
async fn copies_and_imports_need_the_global_objects_their_lookups_point_at() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let live = app.tenant(Some(&alpha), None);
    let staging = app.tenant(Some(&alpha), Some("STAGING"));
    let nl = live.new_object("Country", json!({ "name": "NL" })).await;
    let ann = live
        .new_object(
            "Customer",
            json!({ "name": "Ann", "country": nl["objectId"] }),
        )
        .await;
    let kept = staging.new_object("City", json!({ "name": "Kept" })).await;

    // STAGING has no global database: refused, STAGING unchanged.
    let copy = json!({ "fromSystem": "LIVE", "toSystem": "STAGING" });
    let answer = live.post("copySystem", copy.clone()).await;
    answer.fails(409, "CONFLICT");
    assert!(
        answer
            .body
            .to_string()
            .contains(&nl["objectId"].to_string()),
        "{}",
        answer.body
    );
    staging.get_object(&kept["objectId"]).await.ok();
    assert_eq!(staging.count("Customer").await, 0);

    // The same by export and import.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (app_file, global_file) = (file("alpha.jsonl"), file("global.jsonl"));
    app.cli(&["export", "--app", &alpha, "--output", &app_file]);
    let out = crate::helpers::datastore_command()
        .args([
            "import",
            "--app",
            &alpha,
            "--system",
            "STAGING",
            "--replace",
        ])
        .args(["--input", &app_file, "--database", &app.database])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&nl["objectId"].to_string()), "{stderr}");
    assert_eq!(staging.count("Customer").await, 0);

    // A global export does not go into an app, nor an app's into a global database.
    app.cli(&["export", "--global", "--output", &global_file]);
    let text = std::fs::read_to_string(&global_file).unwrap();
    assert!(
        text.lines().next().unwrap().contains("\"global\":true"),
        "{text}"
    );
    for (args, input) in [
        (
            vec!["--app", alpha.as_str(), "--system", "STAGING"],
            &global_file,
        ),
        (vec!["--global", "--system", "STAGING"], &app_file),
    ] {
        let out = crate::helpers::datastore_command()
            .arg("import")
            .args(&args)
            .args(["--input", input, "--database", &app.database])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
    }

    // The global database first, then the app.
    app.cli(&[
        "import",
        "--global",
        "--system",
        "STAGING",
        "--input",
        &global_file,
    ]);
    assert_eq!(staging.count("Country").await, 1);
    staging.get_object(&nl["objectId"]).await.ok();
    live.post("copySystem", copy).await.ok();
    let copied = staging.get_object(&ann["objectId"]).await.ok();
    assert_eq!(copied["country@display"], "NL", "{copied}");

    // Exported again, the global database's file holds the same records.
    let again = file("again.jsonl");
    app.cli(&[
        "export", "--global", "--system", "STAGING", "--output", &again,
    ]);
    let records = |path: &str| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(records(&again), records(&global_file));
}

/// A write that holds the global references lock runs on a task of its own; who acts (the
/// key for the change log) goes with it.
#[tokio::test]
async fn a_lookup_to_a_global_object_is_logged_as_the_key_that_saved_it() {
    let app = spawn().await;
    let (key, key_id) = app
        .create_key(datastore::auth::Role::Write, None, None)
        .await;
    let keyed = app.with_key(&key);
    let country = keyed
        .post(
            "newObject",
            json!({ "objectType": "Country", "properties": { "name": "NL" } }),
        )
        .await
        .ok();
    let customer = keyed
        .post(
            "newObject",
            json!({ "objectType": "Customer", "properties": { "country": country["objectId"] } }),
        )
        .await
        .ok();
    let history = keyed
        .post("getHistory", json!({ "objectId": customer["objectId"] }))
        .await
        .ok();
    assert_eq!(history[0]["keyId"], key_id.as_str(), "{history}");
}

/// A write of a global object lands in the global database, not in the database that holds
/// the request's `Idempotency-Key` claim: it is done once, and its retry answers the first
/// answer (it was refused with 409 before its claim could be marked there).
#[tokio::test]
async fn a_global_write_with_an_idempotency_key_is_done_once() {
    let app = spawn().await;
    let alpha = app.app_name("alpha");
    let url = |endpoint: &str| app.url(&format!("apps/{alpha}/{endpoint}"));
    let send = |endpoint: &str, key: &str, body: Value| {
        app.client
            .post(url(endpoint))
            .header("Idempotency-Key", key)
            .json(&body)
    };
    let body = json!({ "objectType": "Country", "properties": { "name": "NL" } });
    let first = app.send(send("newObject", "g-1", body.clone())).await.ok();
    let again = app.send(send("newObject", "g-1", body)).await;
    assert_eq!(again.headers["Idempotent-Replayed"], "true");
    assert_eq!(again.ok(), first);
    let save = json!({ "objectId": first["objectId"], "properties": { "name": "FR" } });
    let saved = app
        .send(send("saveProperties", "g-2", save.clone()))
        .await
        .ok();
    assert_eq!(saved["name"], "FR");
    assert_eq!(
        app.send(send("saveProperties", "g-2", save)).await.ok(),
        saved
    );
    let countries = app
        .tenant(Some(&alpha), None)
        .post("getObjectListByFilter", json!({ "objectType": "Country" }))
        .await
        .ok();
    assert_eq!(countries.as_array().unwrap().len(), 1, "{countries}");
}
