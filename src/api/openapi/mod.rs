//! The OpenAPI 3.1 document (`GET {basePath}/openapi.json`) and its Swagger UI
//! (`GET {basePath}/docs/`), both served from the binary (the UI is vendored: no CDN).
//!
//! The document is generated: utoipa builds it from the `#[utoipa::path]` of each handler and
//! the request and answer types of [`schemas`]; [`document`] then adds what follows from the
//! code's own tables, so it cannot be written twice: the server (`--base-path`), a GET twin
//! of every read endpoint ([`super::endpoints`]) with the parameters in the query string,
//! the form body of every POST, the examples of every request, and the error answers of each
//! endpoint with their statuses from [`crate::error::status`].
//! [`postman`] turns the document into the Postman collection in `postman/`.

pub mod postman;
pub mod schemas;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_swagger_ui::Config;

use super::{
    admin, aggregate, batch, endpoints, events, files, lists, objects, relationships, system,
    transfer, Access,
};
use crate::error::{status, ApiError, ErrorCode};
use crate::tenancy::SYSTEM_HEADER;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "datastore",
        description = "An EAV object store. Every endpoint is `{basePath}/{endpointName}` \
            for the default app and `{basePath}/apps/{app}/{endpointName}` for app `{app}` \
            (see the servers); the header `X-Datastore-System: LIVE|STAGING|TEST` picks the \
            system (default LIVE), each (app, system) with its own database. \
            Write endpoints take POST only; read endpoints take GET (parameters in the query \
            string) and POST. A POST sends its parameters as a JSON object body, as a form \
            body, or in the query string, with the same names; in a form or query string a \
            list is comma-separated and a map is JSON text. An unknown parameter is \
            `400 UNKNOWN_PARAMETER`. List endpoints set `X-Total-Count` (not with `count=false`) \
            and, when there is a next page, `X-Next-After` and a relative `Link: <...>; rel=\"next\"` \
            (cursor paging: pass it back as `after`). Errors answer \
            `{\"error\":{\"code\",\"message\",\"details\"}}` (docs/ERRORS.md)."
    ),
    paths(
        objects::new_object,
        objects::get_object,
        objects::save_property,
        objects::save_properties,
        relationships::save_relationship,
        relationships::get_children,
        relationships::get_parents,
        relationships::drop_relationship,
        lists::get_object_list_table,
        lists::get_object_list_by_filter,
        aggregate::get_aggregate,
        system::get_config,
        system::get_list,
        files::upload::upload_file,
        files::download::get_file,
        objects::change_object_type,
        objects::drop_object,
        system::health,
        transfer::export_data,
        transfer::copy_system,
        admin::validate::validate_config,
        admin::types::get_object_types,
        batch::batch,
        events::get_history,
        events::events,
    ),
    components(schemas(schemas::ErrorBody, schemas::ErrorDetail))
)]
struct ApiDoc;

/// The codes an endpoint answers besides those of every endpoint with parameters.
fn endpoint_codes(name: &str) -> &'static [ErrorCode] {
    use ErrorCode::*;
    match name {
        "newObject" => &[InvalidValue, UnknownObjectType, UnknownProperty],
        "getObject" => &[ObjectNotFound],
        "saveProperty" | "saveProperties" => {
            &[ObjectNotFound, InvalidValue, UnknownProperty, Conflict]
        }
        "changeObjectType" => &[
            ObjectNotFound,
            UnknownObjectType,
            ReferencedByLookup,
            Conflict,
        ],
        "dropObject" => &[ObjectNotFound, StrictChildrenExist, ReferencedByLookup],
        "saveRelationship" | "dropRelationship" => &[ObjectNotFound, InvalidRelationship],
        "getChildren" | "getParents" => &[ObjectNotFound, UnknownObjectType],
        "getObjectListTable" => &[
            ObjectNotFound,
            UnknownObjectType,
            UnknownProperty,
            InvalidValue,
            CursorExpired,
        ],
        "getObjectListByFilter" => &[
            QuerySyntax,
            UnknownObjectType,
            UnknownProperty,
            InvalidValue,
            CursorExpired,
        ],
        "getAggregate" => &[QuerySyntax, UnknownObjectType, UnknownProperty],
        "getList" => &[UnknownList],
        "copySystem" => &[Conflict],
        "batch" => &[
            ObjectNotFound,
            InvalidValue,
            UnknownObjectType,
            UnknownProperty,
            InvalidRelationship,
            InvalidReference,
            StrictChildrenExist,
            ReferencedByLookup,
            Conflict,
        ],
        "uploadFile" => &[
            ObjectNotFound,
            InvalidValue,
            UnknownProperty,
            Conflict,
            TooLarge,
        ],
        "getFile" => &[
            ObjectNotFound,
            FileNotFound,
            UnknownProperty,
            RangeNotSatisfiable,
        ],
        _ => &[],
    }
}

/// Every code `name` can answer, in the order of the status table.
fn error_codes(name: &str, access: Access, has_required: bool) -> Vec<ErrorCode> {
    use ErrorCode::*;
    let mut codes = vec![UnknownParameter, InvalidParameter];
    if has_required {
        codes.push(MissingParameter);
    }
    codes.extend_from_slice(endpoint_codes(name));
    // An app's database that exists but is not the datastore's (docs/SQLSERVER.md).
    if !codes.contains(&Conflict) {
        codes.push(Conflict);
    }
    if !access.takes_get() {
        codes.push(MethodNotAllowed);
    }
    // Writes take an `Idempotency-Key` (uploads excepted).
    if access == Access::Write && name != "uploadFile" {
        codes.extend([
            IdempotencyKeyReused,
            IdempotencyKeyInUse,
            IdempotencyAnswerLost,
        ]);
    }
    // Keys (API.md §3): once one exists, a missing or bad key, a role too low, or too many
    // failed keys from one address; and the per-client rate limit.
    codes.extend([Unauthenticated, Forbidden, TooManyRequests]);
    codes.extend([PayloadTooLarge, UnsupportedMediaType, Unavailable, Internal]);
    codes
}

/// The error answers of `codes`, one per status, each code with an example.
fn error_responses(codes: &[ErrorCode]) -> Map<String, Value> {
    let mut by_status: Vec<(u16, Vec<ErrorCode>)> = Vec::new();
    for &code in codes {
        let s = status(code).as_u16();
        match by_status.iter_mut().find(|(st, _)| *st == s) {
            Some((_, list)) => list.push(code),
            None => by_status.push((s, vec![code])),
        }
    }
    by_status.sort_by_key(|(s, _)| *s);
    let mut responses = Map::new();
    for (s, list) in by_status {
        let names: Vec<&str> = list.iter().map(|c| c.as_str()).collect();
        let examples: Map<String, Value> = list
            .iter()
            .map(|c| {
                let body = ApiError::new(*c, "a sentence for people").body();
                (c.as_str().to_owned(), json!({ "value": body }))
            })
            .collect();
        let mut response = json!({
            "description": names.join(", "),
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/ErrorBody" },
                "examples": examples,
            }},
        });
        if list.contains(&ErrorCode::Unavailable) {
            response["headers"] = json!({ "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": { "type": "integer" },
            }});
        }
        responses.insert(s.to_string(), response);
    }
    responses
}

/// A value as a form or a query string carries it: lists comma-separated, maps JSON text.
pub fn form_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn form_example(example: &Value) -> Value {
    match example {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(form_value(v))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Takes `null` out of every schema: no parameter takes it (a parameter is left out
/// instead) and no answer carries it (absent values are absent attributes).
fn without_null(value: &mut Value) {
    match value {
        Value::Object(m) => {
            if let Some(Value::Array(types)) = m.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    m.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(choices)) = m.get_mut("oneOf") {
                choices.retain(|c| c.get("type").is_none_or(|t| t != "null"));
                if choices.len() == 1 {
                    let only = choices.remove(0);
                    m.remove("oneOf");
                    if let Value::Object(only) = only {
                        m.extend(only);
                    }
                }
            }
            m.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}

/// `request` as a form or a query string carries it: every parameter as text.
fn text_schema(request: &Value) -> Value {
    let properties: Map<String, Value> = request["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let mut text = json!({ "type": "string" });
            if let Some(description) = schema.get("description") {
                text["description"] = description.clone();
            }
            (name.clone(), text)
        })
        .collect();
    json!({
        "type": "object",
        "required": request.get("required").cloned().unwrap_or_else(|| json!([])),
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The document, for a service under `base_path` (empty, or e.g. `/datastore`).
pub fn document(base_path: &str) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let server = if base_path.is_empty() { "/" } else { base_path };
    // Apps and systems (API.md §9): every endpoint is also under `/apps/{app}`, and the
    // system is a header; said once here rather than on a second copy of every path.
    doc["servers"] = json!([
        { "url": server, "description": "this service: the default app" },
        {
            "url": format!("{base_path}/apps/{{app}}"),
            "description": "this service: app `{app}`, with its own databases",
            "variables": { "app": {
                "default": "default",
                "description": "An app name: a letter, then letters and digits, at most 64 \
                    in all, not ending in STAGING or TEST, not a reserved name (master, \
                    model, msdb, tempdb, global, resource); case-insensitive. Another name \
                    is `400 INVALID_PARAMETER`.",
            }},
        },
    ]);
    doc["components"]["parameters"] = json!({ "System": {
        "name": SYSTEM_HEADER,
        "in": "header",
        "required": false,
        "description": "The app's system: LIVE (the default), STAGING or TEST, each with its \
            own database. Another value, or the header twice, is `400 INVALID_PARAMETER`.",
        "schema": { "type": "string", "enum": ["LIVE", "STAGING", "TEST"], "default": "LIVE" },
    }});
    let system = json!({ "$ref": "#/components/parameters/System" });
    // API keys (API.md §3): as a bearer token or in `X-Api-Key`. The empty requirement
    // says the service may also run open (no key exists yet, on loopback only).
    doc["components"]["securitySchemes"] = json!({
        "bearerKey": { "type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer dsk_...`" },
        "apiKeyHeader": { "type": "apiKey", "in": "header", "name": "X-Api-Key" }
    });
    doc["security"] = json!([{ "bearerKey": [] }, { "apiKeyHeader": [] }, {}]);
    without_null(&mut doc["components"]);
    without_null(&mut doc["paths"]);
    // A parameter an endpoint does not take is refused (`400 UNKNOWN_PARAMETER`).
    if let Some(all) = doc["components"]["schemas"].as_object_mut() {
        for (name, schema) in all.iter_mut() {
            if name.ends_with("Request") {
                schema["additionalProperties"] = json!(false);
            }
        }
    }
    let schemas = doc["components"]["schemas"].clone();
    if let Some(object) = doc["components"]["schemas"].get_mut("Object") {
        // Besides its system fields, an object carries one attribute per property.
        object["additionalProperties"] = json!(true);
    }
    for (name, access) in endpoints() {
        let Some(item) = doc["paths"].get_mut(format!("/{name}")) else {
            continue; // the completeness test names it
        };
        let Some(post) = item.get_mut("post") else {
            continue;
        };
        post["operationId"] = json!(name);
        if let Some(multipart) = post["requestBody"]["content"].get_mut("multipart/form-data") {
            // uploadFile: its body is the one way its parameters come (and the file).
            let body_ref = multipart["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            let request = &schemas[&body_ref];
            let examples: Map<String, Value> = (request["examples"].as_array().into_iter())
                .flatten()
                .enumerate()
                .map(|(i, e)| (format!("{name}{}", i + 1), json!({ "value": e })))
                .collect();
            multipart["examples"] = Value::Object(examples);
            multipart["encoding"] = json!({ "file": { "contentType": "*/*" } });
            post["requestBody"]["required"] = json!(true);
            if let Some(responses) = post["responses"].as_object_mut() {
                responses.extend(error_responses(&error_codes(name, access, true)));
            }
            continue;
        }
        let body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        let request = &schemas[&body_ref];
        let required: Vec<&str> = request["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let examples: Vec<Value> = request["examples"].as_array().cloned().unwrap_or_default();
        let named = |f: &dyn Fn(&Value) -> Value| -> Map<String, Value> {
            examples
                .iter()
                .enumerate()
                .map(|(i, e)| (format!("{name}{}", i + 1), json!({ "value": f(e) })))
                .collect()
        };
        let content = &mut post["requestBody"]["content"];
        content["application/json"]["examples"] = Value::Object(named(&|e| e.clone()));
        let form = &mut content["application/x-www-form-urlencoded"];
        form["schema"] = text_schema(request);
        form["examples"] = Value::Object(named(&form_example));
        post["requestBody"]["required"] = json!(false);
        let responses = post["responses"].as_object_mut();
        if let Some(responses) = responses {
            responses.extend(error_responses(&error_codes(
                name,
                access,
                !required.is_empty(),
            )));
        }
        if access.takes_get() {
            let mut get = post.clone();
            if let Some(get) = get.as_object_mut() {
                get.remove("requestBody");
                get.insert("operationId".into(), json!(format!("{name}Get")));
                let parameters: Vec<Value> = request["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(param, schema)| {
                        let mut p = json!({
                            "name": param,
                            "in": "query",
                            "required": required.contains(&param.as_str()),
                            "description": schema.get("description").cloned()
                                .unwrap_or_else(|| json!(param)),
                            "schema": { "type": "string" },
                        });
                        if let Some(e) = examples.first().and_then(|e| e.get(param)) {
                            p["example"] = json!(form_value(e));
                        }
                        p
                    })
                    .collect();
                get.insert("parameters".into(), Value::Array(parameters));
                if let Some(Value::Array(p)) = get.get_mut("parameters") {
                    p.push(system.clone());
                }
            }
            item["get"] = get;
        }
        if let Some(post) = item.get_mut("post") {
            post["parameters"] = json!([system.clone()]);
        }
    }
    if let Some(health) = doc["paths"]["/health"].get_mut("get") {
        health["operationId"] = json!("health");
        if let Some(responses) = health["responses"].as_object_mut() {
            responses.extend(error_responses(&[ErrorCode::Unavailable]));
        }
    }
    doc
}

/// The document as served, computed once.
struct Document(String);

/// Adds `/openapi.json` and `/docs/` to the scope of `base_path`.
pub(super) fn register(scope: actix_web::Scope, base_path: &str) -> actix_web::Scope {
    let text = serde_json::to_string_pretty(&document(base_path)).unwrap_or_default();
    // Relative to `{basePath}/docs/`, so it works behind any prefix.
    let config = Arc::new(Config::new(["../openapi.json"]));
    scope
        .service(
            web::resource("/openapi.json")
                .app_data(web::Data::new(Document(text)))
                .route(super::get().to(openapi_json))
                .default_service(super::only("GET, HEAD")),
        )
        .service(
            web::resource("/docs")
                .route(super::get().to(docs_redirect))
                .default_service(super::only("GET, HEAD")),
        )
        .service(
            web::resource("/docs/{file:.*}")
                .app_data(web::Data::new(config))
                .route(super::get().to(docs_file))
                .default_service(super::only("GET, HEAD")),
        )
}

async fn openapi_json(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

/// `/docs` → `docs/`: the page's own files are relative to it.
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "docs/"))
        .finish()
}

async fn docs_file(
    file: web::Path<String>,
    config: web::Data<Arc<Config<'static>>>,
) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    match utoipa_swagger_ui::serve(&file, config.get_ref().clone()) {
        Ok(Some(found)) => {
            let mut response = HttpResponse::Ok();
            if found.gzpipped {
                response.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            Ok(response
                .content_type(found.content_type)
                .body(found.bytes.into_owned()))
        }
        Ok(None) => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("there is no file `{file}` in the docs"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}
