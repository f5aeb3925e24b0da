//! API keys and roles (API.md §3): every refusal, keys created and revoked while the
//! service runs, the CLI, open mode, DATASTORE_ADMIN_KEY and the failure throttle.

use datastore::auth::Role;
use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_with, TestApp};

/// Waits until the service has seen that keys exist (its cache lives one second).
async fn enforced(app: &TestApp) {
    let refused = eventually(10, || async {
        app.get("getConfig", &[]).await.status.as_u16() == 401
    })
    .await;
    assert!(refused, "requests without a key are still served");
}

/// An app with an admin key in force; returns the key.
async fn app_with_admin_key() -> (TestApp, String) {
    let app = spawn_app().await;
    let (admin, _) = app.create_key(Role::Admin, None, None).await;
    enforced(&app).await;
    (app, admin)
}

#[tokio::test]
async fn without_a_valid_key_every_endpoint_is_unauthenticated() {
    let (app, admin) = app_with_admin_key().await;
    let (_, id) = app.create_key(Role::Read, None, None).await;
    let missing = app.get("getConfig", &[]).await;
    missing.fails(401, "UNAUTHENTICATED");
    assert!(missing.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let wrong_secret = format!("dsk_{id}_{}", "0".repeat(64));
    let unknown = format!("dsk_0123456789abcdef_{}", "1".repeat(64));
    for bad in [
        "garbage",
        "dsk_123",
        unknown.as_str(),
        wrong_secret.as_str(),
    ] {
        app.with_key(bad)
            .get("getConfig", &[])
            .await
            .fails(401, "UNAUTHENTICATED");
        app.with_api_key_header(bad)
            .post("newObject", json!({ "objectType": "Person" }))
            .await
            .fails(401, "UNAUTHENTICATED");
    }
    // Another scheme than Bearer is no key either.
    let basic = app
        .send(
            app.client
                .get(app.url("getConfig"))
                .header("Authorization", format!("Basic {admin}")),
        )
        .await;
    basic.fails(401, "UNAUTHENTICATED");
    // The same key works in either header.
    app.with_key(&admin).get("getConfig", &[]).await.ok();
    app.with_api_key_header(&admin)
        .get("getConfig", &[])
        .await
        .ok();
}

#[tokio::test]
async fn health_needs_no_key() {
    let (app, _) = app_with_admin_key().await;
    let health = app
        .send(
            app.client
                .get(app.address.replace("/datastore", "") + "/health"),
        )
        .await;
    assert_eq!(health.body["status"], "ok");
}

#[tokio::test]
async fn a_role_too_low_is_forbidden() {
    let (app, _) = app_with_admin_key().await;
    let (read, _) = app.create_key(Role::Read, None, None).await;
    let (write, _) = app.create_key(Role::Write, None, None).await;
    let created = app
        .with_key(&write)
        .post("newObject", json!({ "objectType": "Person" }))
        .await
        .ok();
    let id = created["objectId"].clone();
    let read_it = app
        .with_key(&read)
        .post("getObject", json!({ "objectId": id }))
        .await
        .ok();
    assert_eq!(read_it["objectId"], id);
    for (endpoint, body) in [
        ("newObject", json!({ "objectType": "Person" })),
        (
            "saveProperty",
            json!({ "objectId": id, "propertyName": "firstName", "propertyValue": "A" }),
        ),
        ("dropObject", json!({ "objectId": id })),
    ] {
        let refused = app.with_key(&read).post(endpoint, body).await;
        let details = refused.fails(403, "FORBIDDEN");
        assert_eq!(details["requiredRole"], "write");
    }
    app.get_object(&id).await.fails(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_expired_key_is_unauthenticated() {
    let (app, _) = app_with_admin_key().await;
    let (expired, _) = app.create_key(Role::Admin, None, Some(0)).await;
    let answer = app.with_key(&expired).get("getConfig", &[]).await;
    answer.fails(401, "UNAUTHENTICATED");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn a_key_revoked_while_the_service_runs_stops_working_within_seconds() {
    let (app, _) = app_with_admin_key().await;
    let (key, id) = app.create_key(Role::Write, None, None).await;
    app.with_key(&key).get("getConfig", &[]).await.ok();
    assert!(app
        .store()
        .await
        .revoke_api_key(&id, chrono::Utc::now())
        .await
        .unwrap());
    let stopped = eventually(5, || async {
        app.with_key(&key)
            .get("getConfig", &[])
            .await
            .status
            .as_u16()
            == 401
    })
    .await;
    assert!(stopped, "a revoked key still works after 5 s");
    let answer = app.with_key(&key).get("getConfig", &[]).await;
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn a_key_for_another_app_is_forbidden() {
    let (app, _) = app_with_admin_key().await;
    let (other, _) = app.create_key(Role::Admin, Some("other"), None).await;
    let (default, _) = app.create_key(Role::Read, Some("default"), None).await;
    app.with_key(&other)
        .get("getConfig", &[])
        .await
        .fails(403, "FORBIDDEN");
    app.with_key(&default).get("getConfig", &[]).await.ok();
}

#[tokio::test]
async fn the_database_holds_no_key_in_clear() {
    let (app, admin) = app_with_admin_key().await;
    let secret = admin.rsplit('_').next().unwrap().to_owned();
    for key in app.store().await.api_keys().await.unwrap() {
        let row = format!("{key:?}");
        assert!(!row.contains(&secret) && !row.contains(&admin), "{row}");
    }
    if let Some(path) = app.database.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret), "{file} holds the key");
        }
    }
}

#[tokio::test]
async fn keys_create_prints_a_working_key_and_keys_list_never_shows_it() {
    let app = spawn_app().await;
    let out = app.cli(&["keys", "create", "--role", "read", "--name", "ci"]);
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("dsk_"), "{key}");
    enforced(&app).await;
    app.with_key(&key).get("getConfig", &[]).await.ok();
    let secret = key.rsplit('_').next().unwrap();
    let list = app.cli(&["keys", "list"]);
    let listing = String::from_utf8(list.stdout).unwrap();
    assert!(
        listing.contains("ci") && listing.contains("read"),
        "{listing}"
    );
    assert!(!listing.contains(secret), "{listing}");
    // Revoking the last key would open the service again (loopback): keep another one.
    app.cli(&["keys", "create", "--role", "admin"]);
    let id = key.split('_').nth(1).unwrap();
    app.cli(&["keys", "revoke", id]);
    let stopped = eventually(5, || async {
        app.with_key(&key)
            .get("getConfig", &[])
            .await
            .status
            .as_u16()
            == 401
    })
    .await;
    assert!(stopped, "the revoked key still works");
}

#[tokio::test]
async fn open_mode_refuses_a_public_listen_address() {
    let app = spawn_app().await;
    // With no key the test server itself runs open on loopback.
    app.get("getConfig", &[]).await.ok();
    let out = crate::helpers::datastore_command()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--database",
            &app.database,
        ])
        .args(["--dsconfig", crate::helpers::SAMPLE_DSCONFIG])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success(), "serve started open on 0.0.0.0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("loopback") && stderr.contains("DATASTORE_ADMIN_KEY"),
        "{stderr}"
    );
}

#[tokio::test]
async fn datastore_admin_key_is_installed_once_and_works() {
    let admin = "an-admin-key-for-containers-0123456789abcdef";
    let app = spawn_with(|s, _| s.admin_key = Some(admin.into())).await;
    app.get("getConfig", &[])
        .await
        .fails(401, "UNAUTHENTICATED");
    app.with_key(admin)
        .post("newObject", json!({ "objectType": "Person" }))
        .await
        .ok();
    // A second instance with the same key starts and stores nothing new.
    let peer = app
        .spawn_peer(|s, _| s.admin_key = Some(admin.into()))
        .await;
    peer.with_key(admin).get("getConfig", &[]).await.ok();
    let keys = app.store().await.api_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].role, "admin");
}

#[tokio::test]
async fn a_too_short_datastore_admin_key_stops_the_start() {
    let mut settings = datastore::settings::Settings::with_database("sqlite://unused.db");
    settings.admin_key = Some("short".into());
    let dir = tempfile::tempdir().unwrap();
    settings.database = format!("sqlite://{}", dir.path().join("d.db").display());
    settings.listen = "127.0.0.1:0".into();
    settings.dsconfig = crate::helpers::SAMPLE_DSCONFIG.into();
    let error = datastore::startup::Application::build(settings)
        .await
        .err()
        .expect("the start is refused");
    assert!(error.to_string().contains("DATASTORE_ADMIN_KEY"), "{error}");
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_refused_for_a_while() {
    let (app, admin) = app_with_admin_key().await;
    let unknown = format!("dsk_0123456789abcdef_{}", "1".repeat(64));
    for _ in 0..10 {
        app.with_key(&unknown)
            .get("getConfig", &[])
            .await
            .fails(401, "UNAUTHENTICATED");
    }
    // A valid key still gets in: only failures are throttled.
    app.with_key(&admin).get("getConfig", &[]).await.ok();
    let refused = app.with_key(&unknown).get("getConfig", &[]).await;
    refused.fails(429, "TOO_MANY_REQUESTS");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The rest of the minute, not the generic one second of a busy answer.
    assert!((30..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn with_a_key_the_service_may_listen_publicly_and_never_runs_open_there() {
    let admin = "an-admin-key-for-a-public-listener-0123456789";
    let app = spawn_with(|s, _| {
        s.admin_key = Some(admin.into());
        s.listen = "0.0.0.0:0".into();
    })
    .await;
    app.with_key(admin).get("getConfig", &[]).await.ok();
    let keys = app.store().await.api_keys().await.unwrap();
    let store = app.store().await;
    assert!(store
        .revoke_api_key(&keys[0].id, chrono::Utc::now())
        .await
        .unwrap());
    // No active key left: on this address the service refuses instead of opening.
    let closed = eventually(5, || async {
        app.get("getConfig", &[]).await.status.as_u16() == 401
    })
    .await;
    assert!(closed, "the service opened on a public address");
}

#[tokio::test]
async fn the_api_description_is_public_and_metrics_need_a_key() {
    let (app, admin) = app_with_admin_key().await;
    assert_eq!(app.get("openapi.json", &[]).await.status.as_u16(), 200);
    let docs = app.send(app.client.get(app.url("docs/"))).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert_eq!(app.get("metrics", &[]).await.status.as_u16(), 401);
    let (read, _) = app.create_key(Role::Read, None, None).await;
    let low = app.with_key(&read).get("metrics", &[]).await;
    low.fails(403, "FORBIDDEN");
    let scraped = app
        .send(app.client.get(app.url("metrics")).bearer_auth(&admin))
        .await;
    assert_eq!(scraped.status.as_u16(), 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_throttle_counts_each_client_on_its_own() {
    let app = spawn_with(|s, _| {
        // Behind proxies the service never runs open: it needs a key from the start.
        s.admin_key = Some("an-admin-key-for-a-service-behind-a-proxy-0123".into());
        s.ops.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let unknown = format!("dsk_0123456789abcdef_{}", "1".repeat(64));
    let attempt = |client: &'static str| {
        app.client
            .get(app.url("getConfig"))
            .bearer_auth(&unknown)
            .header("X-Forwarded-For", client)
    };
    for _ in 0..10 {
        app.send(attempt("203.0.113.7"))
            .await
            .fails(401, "UNAUTHENTICATED");
    }
    app.send(attempt("203.0.113.7"))
        .await
        .fails(429, "TOO_MANY_REQUESTS");
    // Another client behind the same proxy is not punished for the first one's failures.
    app.send(attempt("198.51.100.9"))
        .await
        .fails(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn once_keys_were_used_revoking_the_last_one_never_opens_the_service() {
    let app = spawn_app().await;
    let (admin, id) = app.create_key(Role::Admin, None, None).await;
    enforced(&app).await;
    app.with_key(&admin).get("getConfig", &[]).await.ok();
    app.cli(&["keys", "revoke", &id]);
    // After the cache's second, still refused: a revoked key still counts as "keys exist".
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.get("getConfig", &[])
        .await
        .fails(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn open_mode_serves_no_forwarded_request_and_no_service_behind_proxies() {
    let app = spawn_app().await;
    // Open on loopback for a person on this machine...
    app.get("getConfig", &[]).await.ok();
    // ... but not for what a proxy forwards from elsewhere.
    let forwarded = app
        .send(
            app.client
                .get(app.url("getConfig"))
                .header("X-Forwarded-For", "198.51.100.9"),
        )
        .await;
    forwarded.fails(401, "UNAUTHENTICATED");
    // A service configured behind proxies never runs open at all.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let mut settings = datastore::settings::Settings::with_database(url);
    settings.listen = "127.0.0.1:0".into();
    settings.dsconfig = crate::helpers::SAMPLE_DSCONFIG.into();
    settings.ops.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let started = datastore::startup::Application::build(settings).await;
    assert!(
        started.is_err(),
        "a service behind proxies must not start open"
    );
}
