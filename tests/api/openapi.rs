//! The OpenAPI document, its Swagger UI and the Postman collection: the document is valid
//! OpenAPI 3.1, names every endpoint with exactly the parameters its handler takes, and the
//! collection's examples all succeed in order on a fresh database.

use std::collections::BTreeSet;

use datastore::api::endpoints;
use datastore::api::openapi::{document, postman};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_with, TestApp};

/// A small PNG (1x1), the file the multipart examples (uploadFile) send.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89,
];

/// A multipart body of text `fields` and, unless `file` is false, a PNG `file` field.
fn multipart(fields: &serde_json::Map<String, Value>, file: bool) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (key, value) in fields.iter().filter(|(k, _)| *k != "file") {
        form = form.text(key.clone(), datastore::api::openapi::form_value(value));
    }
    if file {
        let part = reqwest::multipart::Part::bytes(PNG.to_vec())
            .file_name("photo.png")
            .mime_str("image/png")
            .expect("a media type");
        form = form.part("file", part);
    }
    form
}

const COLLECTION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/postman/datastore.postman_collection.json"
);

async fn served_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    response.json().await.expect("the document is JSON")
}

/// Resolves a local `$ref` of the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} resolves")),
        None => value,
    }
}

/// Every `$ref` in the document points at something.
fn check_refs(doc: &Value, value: &Value) {
    match value {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                resolve(doc, value);
                assert!(r.starts_with("#/components/"), "{r}");
            }
            m.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

/// The parameter names of an operation: its body's properties, or its query parameters.
fn parameter_names(doc: &Value, operation: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for media in operation["requestBody"]["content"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let schema = resolve(doc, &media.1["schema"]);
        names.extend(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    // The shared `X-Datastore-System` header (a `$ref`) is not a parameter of the endpoint.
    for p in operation["parameters"].as_array().into_iter().flatten() {
        if p.get("$ref").is_some() {
            continue;
        }
        names.insert(p["name"].as_str().expect("a name").to_owned());
    }
    names
}

#[test]
fn the_document_is_openapi_3_1_with_responses_for_every_operation() {
    let doc = document("");
    assert!(doc["openapi"]
        .as_str()
        .expect("openapi")
        .starts_with("3.1."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    check_refs(&doc, &doc);
    let text = doc.to_string();
    assert!(
        !text.contains(r#""null""#),
        "no schema takes or answers null"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        let item = item.as_object().expect("a path item");
        assert!(!item.is_empty(), "{path} has operations");
        for (method, operation) in item {
            assert!(methods.contains(&method.as_str()), "{path}: {method}");
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id.to_owned()), "{id} is unique");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.contains_key("200"), "{path} {method} answers 200");
            for (status, response) in responses {
                assert!(status.parse::<u16>().is_ok(), "{path}: {status}");
                assert!(response["description"].is_string(), "{path} {status}");
            }
            if method == "get" {
                assert!(
                    operation.get("requestBody").is_none(),
                    "{path}: GET has no body"
                );
            }
            if status_of_errors(operation).contains(&400) {
                let example = &operation["responses"]["400"]["content"]["application/json"];
                assert!(
                    example["examples"]["UNKNOWN_PARAMETER"].is_object(),
                    "{path}"
                );
            }
        }
    }
}

fn status_of_errors(operation: &Value) -> Vec<u16> {
    operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(s, _)| s.parse().ok())
        .filter(|s| *s >= 400)
        .collect()
}

#[test]
fn every_endpoint_is_in_the_document_with_its_methods() {
    let doc = document("");
    let paths = doc["paths"].as_object().expect("paths");
    // `/health` and `/events` (a stream) take no parameters of the usual kind.
    let mut registered: BTreeSet<String> =
        BTreeSet::from(["/health".to_owned(), "/events".to_owned()]);
    for (name, access) in endpoints() {
        let path = format!("/{name}");
        let item = &paths
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is documented"));
        let post = &item["post"];
        assert!(post.is_object(), "{path} takes POST");
        assert_eq!(item.get("get").is_some(), access.takes_get(), "{path}: GET");
        let media: &[&str] = if post["requestBody"]["content"]["multipart/form-data"].is_object() {
            &["multipart/form-data"]
        } else {
            &["application/json", "application/x-www-form-urlencoded"]
        };
        for media in media {
            let content = &post["requestBody"]["content"][media];
            assert!(content["schema"].is_object(), "{path}: {media}");
            let examples = content["examples"].as_object().expect("examples");
            assert!(!examples.is_empty(), "{path} has an example");
        }
        let write_only = status_of_errors(post).contains(&405);
        assert_eq!(write_only, !access.takes_get(), "{path}: 405");
        registered.insert(path);
    }
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(documented, registered);
    for name in [
        "getChildren",
        "getParents",
        "getObjectListTable",
        "getObjectListByFilter",
    ] {
        let ok = &doc["paths"][format!("/{name}")]["post"]["responses"]["200"];
        assert!(
            ok["headers"]["X-Total-Count"].is_object(),
            "{name}: X-Total-Count"
        );
    }
    for name in ["getObjectListTable", "getObjectListByFilter"] {
        let ok = &doc["paths"][format!("/{name}")]["post"]["responses"]["200"];
        assert!(ok["content"]["text/csv"].is_object(), "{name}: CSV");
    }
}

#[tokio::test]
async fn documented_parameters_are_exactly_those_each_endpoint_accepts() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    for (name, access) in endpoints() {
        let item = &doc["paths"][format!("/{name}")];
        let documented = parameter_names(&doc, &item["post"]);
        if access.takes_get() {
            assert_eq!(
                parameter_names(&doc, &item["get"]),
                documented,
                "{name}: GET"
            );
        }
        let unknown = serde_json::json!({ "notAParameterOfAnyEndpoint": 1 });
        let answer = if item["post"]["requestBody"]["content"]["multipart/form-data"].is_object() {
            let form = multipart(unknown.as_object().expect("a map"), false);
            app.send(app.client.post(app.url(name)).multipart(form))
                .await
        } else {
            app.post(name, unknown).await
        };
        let details = answer.fails(400, "UNKNOWN_PARAMETER");
        let accepted: BTreeSet<String> = details["accepted"]
            .as_array()
            .expect("accepted")
            .iter()
            .map(|n| n.as_str().expect("a name").to_owned())
            .collect();
        assert_eq!(documented, accepted, "{name}");
        // So the document says no other parameter is taken (schemathesis sends them).
        for content in item["post"]["requestBody"]["content"]
            .as_object()
            .expect("a request body")
            .values()
        {
            let schema = resolve(&doc, &content["schema"]);
            assert_eq!(schema["additionalProperties"], false, "{name}: {schema}");
        }
    }
}

#[test]
fn the_postman_collection_is_generated_from_the_document() {
    let generated = postman::collection(&document(""));
    let text = serde_json::to_string_pretty(&generated).expect("JSON") + "\n";
    if std::env::var_os("DATASTORE_WRITE_POSTMAN").is_some() {
        std::fs::create_dir_all(std::path::Path::new(COLLECTION).parent().expect("a dir"))
            .expect("create postman/");
        std::fs::write(COLLECTION, &text).expect("write the collection");
    }
    let committed = std::fs::read_to_string(COLLECTION).expect("the committed collection");
    assert!(
        committed == text,
        "postman/datastore.postman_collection.json differs from the document; \
         rerun with DATASTORE_WRITE_POSTMAN=1 to regenerate it"
    );
}

fn collection() -> Value {
    let text = std::fs::read_to_string(COLLECTION).expect("the committed collection");
    serde_json::from_str(&text).expect("the collection is JSON")
}

#[test]
fn the_postman_collection_has_every_path_variables_and_status_tests() {
    let collection = collection();
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    assert_eq!(collection["info"]["version"], env!("CARGO_PKG_VERSION"));
    let variables: BTreeSet<&str> = collection["variable"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["key"].as_str())
        .collect();
    assert_eq!(variables, BTreeSet::from(["apiKey", "baseUrl"]));
    let items = collection["item"].as_array().expect("items");
    let mut covered = BTreeSet::new();
    let mut apps = 0;
    for item in items {
        let request = &item["request"];
        let raw = request["url"]["raw"].as_str().expect("a URL");
        let path = raw
            .strip_prefix("{{baseUrl}}")
            .expect("the URL uses baseUrl");
        let headers = request["header"].as_array().expect("headers");
        if path.starts_with("/apps/") {
            // The example of an app and a system (API.md §9), beside the documented paths.
            assert!(headers.iter().any(|h| h["key"] == "X-Datastore-System"));
            apps += 1;
        } else {
            covered.insert(path.to_owned());
        }
        assert!(headers
            .iter()
            .any(|h| h["key"] == "Authorization" && h["value"] == "Bearer {{apiKey}}"));
        if request["method"] == "POST" {
            assert!(
                request["body"]["raw"].is_string() || request["body"]["formdata"].is_array(),
                "{path} has a body"
            );
        }
        let script = item["event"][0]["script"]["exec"].to_string();
        assert!(script.contains("pm.test(") && script.contains("to.have.status(200)"));
    }
    let doc = document("");
    // Every path but the event stream, which never ends (Postman cannot run it).
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(_, item)| !datastore::api::openapi::postman::is_stream(&item["get"]))
        .map(|(path, _)| path.clone())
        .collect();
    assert_eq!(covered, documented);
    assert_eq!(apps, 1, "one example addresses an app and a system");
}

/// Sends every request of the collection in order, as Postman's runner would.
async fn run_collection(app: &TestApp) {
    let collection = collection();
    let items = collection["item"].as_array().expect("items");
    // At least one request per endpoint: an empty collection must not pass.
    assert!(
        items.len() >= datastore::api::endpoints().len(),
        "{} requests",
        items.len()
    );
    for item in items {
        let request = &item["request"];
        let url = request["url"]["raw"]
            .as_str()
            .expect("a URL")
            .replace("{{baseUrl}}", &app.address)
            // The test's own app (on SQL Server, its databases are dropped with the test's).
            .replace("/apps/shop/", &format!("/apps/{}/", app.app_name("shop")));
        let mut builder = match request["method"].as_str() {
            Some("POST") => app.client.post(&url),
            _ => app.client.get(&url),
        };
        for h in request["header"].as_array().expect("headers") {
            let value = h["value"]
                .as_str()
                .expect("a value")
                .replace("{{apiKey}}", "");
            builder = builder.header(h["key"].as_str().expect("a key"), value.trim());
        }
        if let Some(body) = request["body"]["raw"].as_str() {
            builder = builder.body(body.to_owned());
        }
        if let Some(fields) = request["body"]["formdata"].as_array() {
            // The file field's file is the user's pick: here, a small PNG.
            let texts: serde_json::Map<String, Value> = fields
                .iter()
                .filter(|f| f["type"] == "text")
                .map(|f| {
                    (
                        f["key"].as_str().expect("a key").to_owned(),
                        f["value"].clone(),
                    )
                })
                .collect();
            let file = fields.iter().any(|f| f["type"] == "file");
            builder = builder.multipart(multipart(&texts, file));
        }
        let response = builder.send().await.expect("the request is sent");
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert_eq!(status, 200, "{}: {text}", item["name"]);
    }
}

#[tokio::test]
async fn every_postman_example_succeeds_in_order_on_a_fresh_database() {
    let app = spawn_app().await;
    run_collection(&app).await;
}

#[tokio::test]
async fn every_form_example_succeeds_in_order_on_a_fresh_database() {
    let app = spawn_app().await;
    let doc = document("");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(post) = item.get("post") else {
            continue;
        };
        if let Some(multipart_body) = post["requestBody"]["content"].get("multipart/form-data") {
            for (name, example) in multipart_body["examples"].as_object().expect("examples") {
                let fields = example["value"].as_object().expect("fields");
                let response = app
                    .client
                    .post(format!("{}{path}", app.address))
                    .multipart(multipart(fields, true))
                    .send()
                    .await
                    .expect("the multipart body is sent");
                let status = response.status();
                let text = response.text().await.expect("a body");
                assert_eq!(status, 200, "{name}: {text}");
            }
            continue;
        }
        let form = &post["requestBody"]["content"]["application/x-www-form-urlencoded"];
        for (name, example) in form["examples"].as_object().expect("form examples") {
            let fields = example["value"].as_object().expect("a form");
            assert!(fields.values().all(Value::is_string), "{name}: text only");
            let response = app
                .client
                .post(format!("{}{path}", app.address))
                .form(fields)
                .send()
                .await
                .expect("the form is sent");
            let status = response.status();
            let text = response.text().await.expect("a body");
            assert_eq!(status, 200, "{name}: {text}");
        }
    }
}

async fn check_docs(app: &TestApp, base_path: &str) {
    let doc = served_document(app).await;
    let server = if base_path.is_empty() { "/" } else { base_path };
    assert_eq!(doc["servers"][0]["url"], server);
    let page = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .expect("GET /docs");
    assert_eq!(page.status(), 200);
    assert_eq!(page.url().path(), format!("{base_path}/docs/"));
    let content_type = page.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.expect("the page");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "nothing from a CDN");
    let initializer = app
        .client
        .get(format!("{}/docs/swagger-initializer.js", app.address))
        .send()
        .await
        .expect("the initializer");
    assert_eq!(initializer.status(), 200);
    let script = initializer.text().await.expect("the script");
    assert!(script.contains("../openapi.json"), "{script}");
    for file in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let response = app
            .client
            .get(format!("{}/docs/{file}", app.address))
            .send()
            .await
            .expect("a file of the page");
        assert_eq!(response.status(), 200, "{file}");
    }
}

#[tokio::test]
async fn docs_and_document_are_served_without_a_base_path() {
    let app = spawn_app().await;
    check_docs(&app, "").await;
}

#[tokio::test]
async fn docs_document_and_examples_work_under_a_base_path() {
    let app = spawn_with(|settings, _| settings.base_path = "/datastore".into()).await;
    check_docs(&app, "/datastore").await;
    run_collection(&app).await;
}

#[test]
fn the_document_names_the_api_key_schemes_and_their_refusals() {
    let doc = document("");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerKey"]["scheme"], "bearer");
    assert_eq!(schemes["apiKeyHeader"]["name"], "X-Api-Key");
    for (name, _) in endpoints() {
        let responses = &doc["paths"][format!("/{name}")]["post"]["responses"];
        for status in ["401", "403", "429"] {
            assert!(responses.get(status).is_some(), "{name} lacks {status}");
        }
    }
}
