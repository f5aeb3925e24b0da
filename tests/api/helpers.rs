//! Spawning a real server per test: a fresh database, a random port, the sample DSConfig
//! (or one given), and a client that speaks the contract.

use std::path::Path;

use datastore::settings::Settings;
use datastore::startup::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The sample DSConfig shipped with the project (every property type, lists, lookups,
/// numbering).
pub const SAMPLE_DSCONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig");

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

/// A server on the sample DSConfig.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_, _| {}).await
}

/// A server on a DSConfig given as one TOML file.
pub async fn spawn_app_with_config(toml: &str) -> TestApp {
    spawn_with(|settings, dir| {
        let dsconfig = dir.join("dsconfig");
        std::fs::create_dir_all(&dsconfig).expect("create the DSConfig dir");
        std::fs::write(dsconfig.join("test.toml"), toml).expect("write the DSConfig");
        settings.dsconfig = dsconfig;
    })
    .await
}

/// A server on the sample DSConfig whose settings `adjust` may change; it gets the test's
/// temporary directory for files of its own.
pub async fn spawn_with(adjust: impl FnOnce(&mut Settings, &Path)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings::with_database(database_url(dir.path()));
    settings.listen = "127.0.0.1:0".into();
    settings.workers = Some(2);
    settings.dsconfig = SAMPLE_DSCONFIG.into();
    adjust(&mut settings, dir.path());
    let base_path = settings.normalized_base_path();
    let app = Application::build(settings)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}{}", app.port(), base_path);
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        handle,
        _dir: dir,
    }
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("datastore.db").display())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop the workers without waiting: the test is over.
        drop(handle.stop(false));
    }
}

/// An answer: status, headers, body parsed as JSON (or Null).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `error.code` of a failure body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn total(&self) -> u64 {
        self.headers
            .get("X-Total-Count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("an X-Total-Count header")
    }

    /// Asserts success and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {}",
            self.body
        );
        self.body
    }

    /// Asserts a failure with this status and code.
    #[track_caller]
    pub fn fails(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        &self.body["error"]["details"]
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

impl TestApp {
    pub fn url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.address)
    }

    /// POST with a JSON body.
    pub async fn post(&self, endpoint: &str, body: Value) -> Answer {
        let response = self
            .client
            .post(self.url(endpoint))
            .json(&body)
            .send()
            .await
            .expect("the request is sent");
        answer(response).await
    }

    /// POST with a form body.
    pub async fn post_form(&self, endpoint: &str, form: &[(&str, &str)]) -> Answer {
        let response = self
            .client
            .post(self.url(endpoint))
            .form(form)
            .send()
            .await
            .expect("the request is sent");
        answer(response).await
    }

    /// GET with a query string.
    pub async fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Answer {
        let response = self
            .client
            .get(self.url(endpoint))
            .query(query)
            .send()
            .await
            .expect("the request is sent");
        answer(response).await
    }

    /// Sends a raw request.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        answer(request.send().await.expect("the request is sent")).await
    }

    pub async fn new_object(&self, object_type: &str, properties: Value) -> Value {
        self.post(
            "newObject",
            json!({ "objectType": object_type, "properties": properties }),
        )
        .await
        .ok()
    }

    pub async fn get_object(&self, id: &Value) -> Answer {
        self.post("getObject", json!({ "objectId": id })).await
    }

    pub async fn relate(&self, parent: &Value, child: &Value, strict: bool) {
        self.post(
            "saveRelationship",
            json!({ "parentObjectId": parent["objectId"], "childObjectId": child["objectId"], "strict": strict }),
        )
        .await
        .ok();
    }

    /// How many objects of a type exist.
    pub async fn count(&self, object_type: &str) -> u64 {
        let answer = self
            .post(
                "getObjectListTable",
                json!({ "objectType": object_type, "limit": 0 }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.total()
    }
}
