//! The service itself: health, the active DSConfig and its lists.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{json, State};
use crate::error::{ApiError, ErrorCode};

/// `{"status":"ok"}` once the database answers; 503 otherwise.
pub async fn health(state: State) -> Result<HttpResponse, ApiError> {
    match state.datastore.store.health().await {
        Ok(()) => Ok(json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the database does not answer",
            ))
        }
    }
}

pub async fn get_config(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    state.params(&req, body).await?.finish()?;
    let schema = state.datastore.schema();
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

pub async fn get_list(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let name = p.required_string("listName");
    p.finish()?;
    Ok(json(state.datastore.schema().list_items(&name?)?))
}
