//! A headless Chromium for the admin console's tests, driven through chromedriver with the
//! W3C WebDriver protocol: the dozen commands these tests use, over the suite's reqwest
//! client (a WebDriver crate such as fantoccini pulls in an ICU stack and changes the
//! features of syn and tokio, which rebuilds every dependency of the suite for a few HTTP
//! calls).
//!
//! [`Browser::start`] answers `None` where no browser can start (no `chromedriver` on the
//! PATH, or Chromium does not run): the test then prints `skipped: browser (why)` straight to
//! the terminal, past the test harness's output capture, and returns. With
//! `DATASTORE_REQUIRE_BROWSER=1` (CI sets it once it has installed the browser) it fails
//! instead, so a broken browser never passes silently. Every test saves screenshots into
//! `target/console-screenshots/`.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{free_port, TestApp};

/// Where the screenshots go.
pub const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/console-screenshots");

const WAIT: Duration = Duration::from_secs(15);

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How an element is found: a CSS selector, the text of a link, or an XPath.
#[derive(Clone, Copy)]
pub enum By<'a> {
    Css(&'a str),
    LinkText(&'a str),
    XPath(&'a str),
}

impl By<'_> {
    fn body(self) -> Value {
        match self {
            By::Css(v) => json!({ "using": "css selector", "value": v }),
            By::LinkText(v) => json!({ "using": "link text", "value": v }),
            By::XPath(v) => json!({ "using": "xpath", "value": v }),
        }
    }
    fn describe(self) -> String {
        match self {
            By::Css(v) | By::LinkText(v) | By::XPath(v) => v.to_owned(),
        }
    }
}

/// An element of the page (its WebDriver id).
pub struct Element(String);

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver: Child,
    test: String,
    /// `{address}/admin/`.
    pub console: String,
    shots: u32,
}

/// Says why the browser tests do not run, where a person sees it.
fn skipped(test: &str, why: &str) {
    if std::env::var("DATASTORE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{test}: the browser does not start ({why}) and DATASTORE_REQUIRE_BROWSER=1");
    }
    let mut terminal = std::io::stderr();
    let _ = writeln!(terminal, "skipped: browser: {test} ({why})");
}

/// One WebDriver command: its `value`, or the driver's error.
async fn command(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let ok = response.status().is_success();
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    if ok {
        Ok(answer["value"].clone())
    } else {
        Err(format!(
            "{}: {}",
            answer["value"]["error"], answer["value"]["message"]
        ))
    }
}

impl Browser {
    /// A browser window of 1280×900 on `app`'s console, or `None` (reported) without one.
    pub async fn start(test: &str, app: &TestApp) -> Option<Browser> {
        Browser::start_sized(test, app, 1280, 900).await
    }

    pub async fn start_sized(
        test: &str,
        app: &TestApp,
        width: u32,
        height: u32,
    ) -> Option<Browser> {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            // The browser's local time is UTC, so Datetime inputs read alike everywhere.
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut driver = match driver {
            Ok(d) => d,
            Err(e) => {
                skipped(test, &format!("`{driver_bin}` does not run: {e}"));
                return None;
            }
        };
        let ready = crate::helpers::eventually(10, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        if !ready {
            let _ = driver.kill();
            skipped(test, "chromedriver does not listen");
            return None;
        }
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"), "--force-device-scale-factor=1",
                "--lang=en-US",
            ],
        });
        for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
            if std::path::Path::new(binary).exists() {
                options["binary"] = json!(binary);
                break;
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options,
        }}});
        let url = format!("http://127.0.0.1:{port}/session");
        let session = command(&http, reqwest::Method::POST, &url, Some(capabilities)).await;
        let id = match session.as_ref().map(|v| v["sessionId"].as_str()) {
            Ok(Some(id)) => id.to_owned(),
            _ => {
                let _ = driver.kill();
                let _ = driver.wait();
                skipped(test, &format!("Chromium does not start: {session:?}"));
                return None;
            }
        };
        Some(Browser {
            http,
            session: format!("{url}/{id}"),
            driver,
            test: test.to_owned(),
            console: format!("{}/admin/", app.address),
            shots: 0,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        command(&self.http, reqwest::Method::POST, &url, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        command(&self.http, reqwest::Method::GET, &url, None).await
    }

    /// Opens the console at `fragment` (`""` for its first page, `"#/t/Person"`, ...).
    pub async fn open(&self, fragment: &str) {
        let url = format!("{}{fragment}", self.console);
        self.post("/url", json!({ "url": url }))
            .await
            .expect("the console opens");
    }

    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await.expect("a reload");
    }

    pub async fn current_url(&self) -> String {
        let url = self.get("/url").await.expect("the URL");
        url.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body) with `args`; its return value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
            .unwrap_or_else(|e| panic!("{}: the script fails: {e}", self.test))
    }

    /// Opens the console and signs in with `key`.
    pub async fn sign_in(&mut self, key: &str) {
        self.open("").await;
        self.type_into("#key", key).await;
        self.click("form button[type=submit]").await;
        self.wait_for("header.top nav").await;
    }

    /// The element `by` finds, once there is one (at most [`WAIT`]).
    pub async fn find(&self, by: By<'_>) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.post("/element", by.body()).await;
            if let Some(id) = found.as_ref().ok().and_then(|v| v[ELEMENT].as_str()) {
                return Element(id.to_owned());
            }
            if tokio::time::Instant::now() >= deadline {
                self.failure_shot().await;
                panic!(
                    "{}: no `{}` within {WAIT:?}: {found:?}",
                    self.test,
                    by.describe()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.find(By::Css(css)).await
    }

    /// Waits until `css` exists and its text contains `text`; returns its text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let script =
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;";
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self
                .post("/execute/sync", json!({ "script": script, "args": [css] }))
                .await;
            if let Some(found) = now
                .as_ref()
                .ok()
                .and_then(Value::as_str)
                .filter(|t| t.contains(text))
            {
                return found.to_owned();
            }
            if tokio::time::Instant::now() >= deadline {
                self.failure_shot().await;
                panic!(
                    "{}: `{css}` never said `{text}`; it says {now:?}",
                    self.test
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the script (an expression) is true.
    pub async fn wait_until(&self, what: &str, expression: &str) {
        let script = format!("return !!({expression});");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self
                .post("/execute/sync", json!({ "script": script, "args": [] }))
                .await;
            if now == Ok(json!(true)) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.failure_shot().await;
                panic!("{}: never {what} (`{expression}`): {now:?}", self.test);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click_on(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.post(&path, json!({}))
            .await
            .unwrap_or_else(|e| panic!("{}: a click fails: {e}", self.test));
    }

    pub async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        self.click_on(&element).await;
    }

    /// Sends key strokes to an element (`\u{E007}` is Enter); a path for a file input.
    pub async fn keys(&self, element: &Element, text: &str) {
        let path = format!("/element/{}/value", element.0);
        self.post(&path, json!({ "text": text }))
            .await
            .unwrap_or_else(|e| panic!("{}: typing fails: {e}", self.test));
    }

    /// Presses and releases each key of `keys` on whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let strokes: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({ "type": "keyDown", "value": c.to_string() }),
                    json!({ "type": "keyUp", "value": c.to_string() }),
                ]
            })
            .collect();
        let actions =
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": strokes }] });
        self.post("/actions", actions)
            .await
            .unwrap_or_else(|e| panic!("{}: key presses fail: {e}", self.test));
    }

    /// Types into a field as a person does (key events), after emptying it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        let path = format!("/element/{}/clear", field.0);
        self.post(&path, json!({}))
            .await
            .expect("the field empties");
        self.keys(&field, text).await;
    }

    /// Sets a field's value as a date/time picker or a select does, with its input and
    /// change events (typing into a date picker depends on the browser's locale).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.wait_for(css).await;
        let script = "const [css, value] = arguments; const el = document.querySelector(css);
            const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype
              : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
            Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
            el.dispatchEvent(new Event('input', { bubbles: true }));
            el.dispatchEvent(new Event('change', { bubbles: true }));";
        self.execute(script, vec![json!(css), json!(value)]).await;
    }

    /// Saves a screenshot as `target/console-screenshots/{test}-{n}-{step}.png`.
    pub async fn screenshot(&mut self, step: &str) {
        self.shots += 1;
        let name = format!("{}-{:02}-{step}.png", self.test, self.shots);
        assert!(self.save(&name).await, "{}: no screenshot", self.test);
    }

    async fn failure_shot(&self) {
        self.save(&format!("{}-failed.png", self.test)).await;
    }

    async fn save(&self, name: &str) -> bool {
        let Ok(Value::String(png)) = self.get("/screenshot").await else {
            return false;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(png) else {
            return false;
        };
        let _ = std::fs::create_dir_all(SCREENSHOTS);
        std::fs::write(format!("{SCREENSHOTS}/{name}"), bytes).is_ok()
    }

    /// Ends the session and the driver.
    pub async fn close(self) {
        let _ = command(&self.http, reqwest::Method::DELETE, &self.session, None).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver ends its browser with it (also when a test fails).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
