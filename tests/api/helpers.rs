//! Spawning a real server per test: a fresh database, a random port, the sample DSConfig
//! (or one given), and a client that speaks the contract.
//!
//! The database is SQLite in the test's temporary directory, or, when
//! `DATASTORE_TEST_MSSQL_URL` names a SQL Server, a database of its own on that server
//! (`dstest_<run>_<n>`, created by the service on start, dropped when the test ends).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// The `--database` the server runs on (another server may share it).
    pub database: String,
    handle: actix_web::dev::ServerHandle,
    /// The SQL Server database of this test, dropped with it.
    pub mssql_database: Option<String>,
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
    let (database, mssql_database) = match mssql_url() {
        Some(url) => {
            let name = mssql_database_name(&url).await;
            let database = datastore::store::mssql::database_url_with(&url, &name)
                .expect("DATASTORE_TEST_MSSQL_URL is a SQL Server connection string");
            (database, Some(name))
        }
        None => (database_url(dir.path()), None),
    };
    let mut settings = Settings::with_database(database);
    settings.listen = "127.0.0.1:0".into();
    settings.workers = Some(2);
    settings.dsconfig = SAMPLE_DSCONFIG.into();
    adjust(&mut settings, dir.path());
    start(settings, dir, mssql_database).await
}

async fn start(
    settings: Settings,
    dir: tempfile::TempDir,
    mssql_database: Option<String>,
) -> TestApp {
    let base_path = settings.normalized_base_path();
    let database = settings.database.clone();
    let app = Application::build(settings)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}{}", app.port(), base_path);
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client(),
        database,
        handle,
        mssql_database,
        _dir: dir,
    }
}

/// The `datastore` binary, without the `DATASTORE_*` variables of the test run (a test's
/// SQL Server URL, say): every setting it gets is on its command line.
pub fn datastore_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_datastore"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DATASTORE_")) {
        cmd.env_remove(key);
    }
    cmd
}

/// A port free on loopback right now (for a server process of its own).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A client that never reuses a connection the server may be closing: idle connections are
/// dropped well before the server's keep-alive (5 s) ends them, which matters when a test
/// pauses between requests (a CLI run on a busy machine).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("datastore.db").display())
}

/// The SQL Server to run on, if any.
pub fn mssql_url() -> Option<String> {
    std::env::var("DATASTORE_TEST_MSSQL_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

const TEST_DATABASE_PREFIX: &str = "dstest_";

/// What the databases of tests' apps start with (an app name has no `_`).
const TEST_APP_PREFIX: &str = "dstest";

/// Test databases older than this are leftovers of runs that did not clean up.
const LEFTOVER_AGE: Duration = Duration::from_secs(15 * 60);

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh database name for this run; the first call drops leftovers of older runs.
pub async fn mssql_database_name(url: &str) -> String {
    static RUN: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let run = RUN
        .get_or_init(|| async {
            drop_leftovers(url).await;
            format!("{}_{}", unix_seconds(), std::process::id())
        })
        .await;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{TEST_DATABASE_PREFIX}{run}_{n}")
}

/// True when the test run that created a database is over: long ago, or (where the
/// process table can be read) its process is gone.
fn is_leftover(name: &str) -> bool {
    // `dstest_<time>_<pid>_<n>`, or an app's `dstestx<time>x<pid>x<n>a<app>...`.
    let mut parts = name[TEST_DATABASE_PREFIX.len()..].split(['_', 'x']);
    let created = parts.next().and_then(|s| s.parse::<u64>().ok());
    let pid = parts.next().and_then(|s| s.parse::<u32>().ok());
    let old = created.is_some_and(|t| t < unix_seconds().saturating_sub(LEFTOVER_AGE.as_secs()));
    let gone = cfg!(target_os = "linux")
        && pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
    old || gone
}

/// Drops the test databases of runs that are over.
async fn drop_leftovers(url: &str) {
    use datastore::store::mssql::{databases_with_prefix, drop_database};
    let names = databases_with_prefix(url, TEST_APP_PREFIX)
        .await
        .expect("the SQL Server of DATASTORE_TEST_MSSQL_URL answers");
    for name in names {
        if name.len() > TEST_DATABASE_PREFIX.len() && is_leftover(&name) {
            if let Err(e) = drop_database(url, &name, Duration::from_secs(2)).await {
                eprintln!("cannot drop the leftover test database {name}: {e}");
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop the workers without waiting: the test is over.
        drop(handle.stop(false));
        // The server's connections close once its workers stop; the drop waits for them
        // on a thread of its own (Drop cannot await).
        if let (Some(url), Some(name)) = (mssql_url(), self.mssql_database.take()) {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime to drop the test database");
                let dropped = runtime.block_on(datastore::store::mssql::drop_database(
                    &url,
                    &name,
                    Duration::from_secs(30),
                ));
                if let Err(e) = dropped {
                    eprintln!("cannot drop the test database {name}: {e}");
                }
                // The default app's other systems, and the databases of the test's apps
                // (see `TestApp::app_name`).
                let prefix = app_prefix(&name);
                let mut others = vec![format!("{name}STAGING"), format!("{name}TEST")];
                // The global databases of its systems.
                others
                    .extend(["", "STAGING", "TEST"].map(|system| format!("{name}Global{system}")));
                let apps = runtime.block_on(datastore::store::mssql::databases_with_prefix(
                    &url, &prefix,
                ));
                others.extend(apps.unwrap_or_default());
                for app in others {
                    let dropped = runtime.block_on(datastore::store::mssql::drop_database(
                        &url,
                        &app,
                        Duration::from_secs(30),
                    ));
                    if let Err(e) = dropped {
                        eprintln!("cannot drop the test app database {app}: {e}");
                    }
                }
            });
        }
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
    /// A second instance of the service on this one's database (its own memory, its own
    /// connections), as a load balancer would run it; `adjust` may change its settings.
    pub async fn spawn_peer(&self, adjust: impl FnOnce(&mut Settings, &Path)) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = Settings::with_database(self.database.clone());
        settings.listen = "127.0.0.1:0".into();
        settings.workers = Some(2);
        settings.dsconfig = SAMPLE_DSCONFIG.into();
        adjust(&mut settings, dir.path());
        // The database belongs to the first instance: the peer does not drop it.
        start(settings, dir, None).await
    }

    /// Runs the `datastore` binary on this server's database: a second process.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = datastore_command()
            .args(args)
            .args(["--database", &self.database])
            .output()
            .expect("the binary runs");
        assert!(
            out.status.success(),
            "datastore {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts `datastore serve` on this server's database in a process of its own.
    pub fn serve_process(&self) -> ServeProcess {
        StartingServe::spawn(&self.database).listening()
    }

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
        self.tenant(None, None)
            .new_object(object_type, properties)
            .await
    }

    pub async fn get_object(&self, id: &Value) -> Answer {
        self.tenant(None, None).get_object(id).await
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
        self.tenant(None, None).count(object_type).await
    }
}

/// The start of the names of a test's apps on SQL Server, from its database's name
/// (`dstest_1_2_3` → `dstestx1x2x3a`): their databases are dropped with the test's.
fn app_prefix(database: &str) -> String {
    format!("{}a", database.replace('_', "x"))
}

impl TestApp {
    /// An app name of this test: `base` on SQLite (its files are in the test's directory);
    /// on SQL Server, prefixed so that the app's databases are the test's to drop.
    pub fn app_name(&self, base: &str) -> String {
        match &self.mssql_database {
            Some(database) => format!("{}{base}", app_prefix(database)),
            None => base.to_owned(),
        }
    }

    /// A client of `app` (`/apps/{app}/...`; `None`: the plain paths) in `system` (`None`:
    /// no header).
    pub fn tenant<'a>(&'a self, app: Option<&str>, system: Option<&str>) -> Tenant<'a> {
        Tenant {
            test: self,
            prefix: app.map_or_else(String::new, |a| format!("apps/{a}/")),
            system: system.map(str::to_owned),
            key: None,
        }
    }
}

/// A client of one app and system (API.md §9).
pub struct Tenant<'a> {
    test: &'a TestApp,
    prefix: String,
    system: Option<String>,
    key: Option<String>,
}

impl Tenant<'_> {
    /// The same, sending `key` as `Authorization: Bearer KEY`.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub async fn post(&self, endpoint: &str, body: Value) -> Answer {
        let mut request = self
            .test
            .client
            .post(self.test.url(&format!("{}{endpoint}", self.prefix)))
            .json(&body);
        if let Some(system) = &self.system {
            request = request.header("X-Datastore-System", system);
        }
        if let Some(key) = &self.key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        self.test.send(request).await
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

/// A client that sends an API key with every request (API.md §3).
pub struct Keyed<'a> {
    app: &'a TestApp,
    header: (&'static str, String),
}

impl Keyed<'_> {
    pub async fn post(&self, endpoint: &str, body: Value) -> Answer {
        let (name, value) = &self.header;
        self.app
            .send(
                self.app
                    .client
                    .post(self.app.url(endpoint))
                    .header(*name, value)
                    .json(&body),
            )
            .await
    }

    pub async fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Answer {
        let (name, value) = &self.header;
        self.app
            .send(
                self.app
                    .client
                    .get(self.app.url(endpoint))
                    .header(*name, value)
                    .query(query),
            )
            .await
    }
}

impl TestApp {
    /// A client sending `key` as `Authorization: Bearer KEY`.
    pub fn with_key(&self, key: &str) -> Keyed<'_> {
        Keyed {
            app: self,
            header: ("Authorization", format!("Bearer {key}")),
        }
    }

    /// A client sending `key` as `X-Api-Key: KEY`.
    pub fn with_api_key_header(&self, key: &str) -> Keyed<'_> {
        Keyed {
            app: self,
            header: ("X-Api-Key", key.to_owned()),
        }
    }

    /// A store of its own on this server's database (as another process would open it).
    pub async fn store(&self) -> std::sync::Arc<dyn datastore::store::Store> {
        let options = datastore::store::StoreOptions {
            pool_size: 2,
            migrate: false,
        };
        datastore::store::open(&self.database, &options)
            .await
            .expect("the store opens")
    }

    /// Creates a key in the database; returns its text and id.
    pub async fn create_key(
        &self,
        role: datastore::auth::Role,
        app: Option<&str>,
        expires_days: Option<u32>,
    ) -> (String, String) {
        let request = datastore::auth::KeyRequest {
            role,
            app: app.map(str::to_owned),
            name: "test".into(),
            expires_days,
        };
        let (text, record) = datastore::auth::create_key(self.store().await.as_ref(), &request)
            .await
            .expect("the key is created");
        (text, record.id)
    }
}

/// A client of a server that is not this test's own (a second process).
pub struct TestAppClient {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestAppClient {
    pub async fn post(&self, endpoint: &str, body: Value) -> Answer {
        let response = self
            .client
            .post(format!("{}/{endpoint}", self.address))
            .json(&body)
            .send()
            .await
            .expect("the request is sent");
        answer(response).await
    }
}

/// `datastore serve` in a process of its own; stopped when dropped.
/// `datastore serve` started in a process of its own, not yet known to be listening: start
/// several before waiting for any, to have them start at the same moment.
pub struct StartingServe {
    /// Taken by [`StartingServe::listening`]; killed on drop while still here.
    child: Option<std::process::Child>,
    port: u16,
}

impl StartingServe {
    /// Starts `datastore serve` on `database` (a URL) with the sample DSConfig.
    pub fn spawn(database: &str) -> StartingServe {
        let port = free_port();
        let child = datastore_command()
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", database])
            .args(["--dsconfig", SAMPLE_DSCONFIG])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        StartingServe {
            child: Some(child),
            port,
        }
    }

    /// Waits until the process says it is listening; panics with what it printed if it
    /// exits first.
    pub fn listening(mut self) -> ServeProcess {
        use std::io::{BufRead, BufReader};
        let mut child = self.child.take().expect("not waited for yet");
        let stderr = child.stderr.take().expect("its stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut before = Vec::new();
        let listening = lines.by_ref().map_while(Result::ok).any(|l| {
            let found = l.contains("listening");
            before.push(l);
            found
        });
        if !listening {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the serve process never said it was listening; it printed:\n{}",
                before.join("\n")
            );
        }
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        ServeProcess {
            child,
            app: TestAppClient {
                address: format!("http://127.0.0.1:{}", self.port),
                client: client(),
            },
        }
    }
}

impl Drop for StartingServe {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct ServeProcess {
    child: std::process::Child,
    pub app: TestAppClient,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks `check` again until it holds (at most `seconds`): for what another process makes
/// true within a few seconds (a poll), never to wait for readiness.
pub async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
