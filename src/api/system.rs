//! The service itself: health, the active DSConfig and its lists.

use actix_web::{web, HttpRequest, HttpResponse};

use super::openapi::schemas;
use super::{json, State};
use crate::error::{ApiError, ErrorCode};

/// `{"status":"ok"}` once the database answers; 503 otherwise (`GET` only; also at `/health`
/// under a base path).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "The database answers.", body = schemas::Health))
)]
pub async fn health(state: State) -> Result<HttpResponse, ApiError> {
    match state.central().store.health().await {
        // The body `json(json!({ "status": "ok" }))` would write, without building it.
        Ok(()) => Ok(HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(r#"{"status":"ok"}"#)),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the database does not answer",
            ))
        }
    }
}

/// The active DSConfig (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getConfig",
    tag = "configuration",
    request_body(content((schemas::GetConfigRequest = "application/json"), (schemas::GetConfigRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The active DSConfig as JSON, with its `version`.", body = Object))
)]
pub async fn get_config(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    state.params(&req, body).await?.finish()?;
    let schema = datastore.schema();
    // The version first, then the DSConfig as stored.
    let mut answer = serde_json::Map::new();
    answer.insert("version".into(), schema.version.into());
    if let serde_json::Value::Object(config) =
        serde_json::to_value(&schema.config).map_err(ApiError::internal)?
    {
        answer.extend(config);
    }
    Ok(json(answer))
}

/// The items of a configured list (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getList",
    tag = "configuration",
    request_body(content((schemas::GetListRequest = "application/json"), (schemas::GetListRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The items in declared order.", body = Vec<schemas::ListItem>))
)]
pub async fn get_list(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let name = p.required_string("listName");
    p.finish()?;
    Ok(json(datastore.schema().list_items(&name?)?))
}
