//! The Postman collection (v2.1) of the OpenAPI document: one request per example of every
//! operation, in the document's order, which works as a sequence on a fresh database with the
//! sample DSConfig. A test regenerates it and compares it with `postman/`, so the committed
//! collection cannot drift from the document.

use serde_json::{json, Value};

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// The collection of `document` (from [`super::document`] with an empty base path).
pub fn collection(document: &Value) -> Value {
    let mut items = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        let name = path.trim_start_matches('/');
        let segments: Vec<&str> = name.split('/').collect();
        let url = json!({
            "raw": format!("{{{{baseUrl}}}}{path}"),
            "host": ["{{baseUrl}}"],
            "path": segments,
        });
        let (method, operation) = match (item.get("post"), item.get("get")) {
            (Some(post), _) => ("POST", post),
            (None, Some(get)) => ("GET", get),
            (None, None) => continue,
        };
        if is_stream(operation) {
            // `GET /events` never ends: a collection run would wait for it forever.
            continue;
        }
        if let Some(multipart) = operation["requestBody"]["content"].get("multipart/form-data") {
            items.push(multipart_item(name, operation, multipart, &url));
            continue;
        }
        let examples = operation["requestBody"]["content"]["application/json"]["examples"]
            .as_object()
            .map(|e| e.values().map(|e| Some(e["value"].clone())).collect())
            .unwrap_or_else(|| vec![None]);
        let summary = operation["summary"].as_str().unwrap_or(name);
        for (i, body) in examples.iter().enumerate() {
            let title = if examples.len() > 1 {
                format!("{name} ({})", i + 1)
            } else {
                name.to_owned()
            };
            let mut header = vec![json!({
                "key": "Authorization", "value": "Bearer {{apiKey}}", "type": "text",
            })];
            let mut request = json!({ "method": method, "description": summary, "url": url });
            if let Some(body) = body {
                header.push(json!({
                    "key": "Content-Type", "value": "application/json", "type": "text",
                }));
                request["body"] = json!({
                    "mode": "raw",
                    "raw": serde_json::to_string_pretty(body).unwrap_or_default(),
                    "options": { "raw": { "language": "json" } },
                });
            }
            request["header"] = Value::Array(header);
            items.push(test_item(&title, request));
        }
    }
    // One request to an app and a system (API.md §9): the first newObject example in app
    // `shop`, STAGING.
    let example = document["paths"]["/newObject"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"]
        .as_object()
        .and_then(|e| e.values().next())
        .map(|e| e["value"].clone());
    if let Some(body) = example {
        let title = "newObject in app shop, system STAGING";
        items.push(test_item(
            title,
            json!({
                "method": "POST",
                "description": "Any endpoint under /apps/{app}/ addresses that app; the \
                    X-Datastore-System header picks its system (LIVE, STAGING or TEST).",
                "url": {
                    "raw": "{{baseUrl}}/apps/shop/newObject",
                    "host": ["{{baseUrl}}"],
                    "path": ["apps", "shop", "newObject"],
                },
                "header": [
                    { "key": "Authorization", "value": "Bearer {{apiKey}}", "type": "text" },
                    { "key": "X-Datastore-System", "value": "STAGING", "type": "text" },
                    { "key": "Content-Type", "value": "application/json", "type": "text" },
                ],
                "body": {
                    "mode": "raw",
                    "raw": serde_json::to_string_pretty(&body).unwrap_or_default(),
                    "options": { "raw": { "language": "json" } },
                },
            }),
        ));
    }
    json!({
        "info": {
            "name": document["info"]["title"],
            "description": "Every endpoint of the datastore, one example each, generated from \
                its OpenAPI document (GET /openapi.json). Set `baseUrl` to the service with its \
                base path (e.g. http://localhost:8080/datastore) and `apiKey` to an API key \
                (empty while the service runs without keys). Run in order on a fresh database: \
                the examples create Acme (object 1) and John (object 2) first.",
            "version": document["info"]["version"],
            "schema": SCHEMA,
        },
        "variable": [
            { "key": "baseUrl", "value": "http://localhost:8080", "type": "string" },
            { "key": "apiKey", "value": "", "type": "string" },
        ],
        "item": items,
    })
}

/// One request of the collection, with its test that it answers 200.
fn test_item(title: &str, request: Value) -> Value {
    json!({
        "name": title,
        "request": request,
        "event": [{
            "listen": "test",
            "script": {
                "type": "text/javascript",
                "exec": [
                    format!("pm.test(\"{title} answers 200\", function () {{"),
                    "    pm.response.to.have.status(200);",
                    "});",
                ],
            },
        }],
    })
}

/// A multipart request (uploadFile): its first example's text fields, and a file field
/// whose file the user picks (`src`).
fn multipart_item(name: &str, operation: &Value, multipart: &Value, url: &Value) -> Value {
    let example = multipart["examples"]
        .as_object()
        .and_then(|e| e.values().next())
        .map(|e| e["value"].clone())
        .unwrap_or_default();
    let fields: Vec<Value> = (example.as_object().into_iter())
        .flatten()
        .map(|(key, value)| {
            if key == "file" {
                json!({ "key": key, "type": "file", "src": "photo.png",
                        "description": "pick a file (an image for an Image property)" })
            } else {
                json!({ "key": key, "value": super::form_value(value), "type": "text" })
            }
        })
        .collect();
    let request = json!({
        "method": "POST",
        "description": operation["summary"].as_str().unwrap_or(name),
        "url": url,
        "header": [{ "key": "Authorization", "value": "Bearer {{apiKey}}", "type": "text" }],
        "body": { "mode": "formdata", "formdata": fields },
    });
    test_item(name, request)
}

/// True for an operation that answers a Server-Sent Events stream.
pub fn is_stream(operation: &Value) -> bool {
    operation["responses"]["200"]["content"]
        .get("text/event-stream")
        .is_some()
}
