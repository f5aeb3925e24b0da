//! `getObjectTypes` (read): the object types that have objects, whether the DSConfig declares
//! them or not. The console's types page lists these beside the declared ones, so a type
//! that exists only in the data (open schema, or one a DSConfig no longer declares) is found.
//!
//! Each type costs one seek of the `(ObjectType, ObjectId)` index: the objects themselves are
//! never scanned, so the answer is as fast at a million objects as at ten. Counts are not
//! part of the answer; a client asks for each type's count (`getObjectListTable` with
//! `limit=1`, `X-Total-Count`) when it needs it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{json, State};
use crate::error::ApiError;

/// `getObjectTypes` takes no parameters.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({})))]
pub struct GetObjectTypesRequest {}

/// The object types that have at least one object, in order (`GET` or `POST`; read).
#[utoipa::path(
    post,
    path = "/getObjectTypes",
    tag = "configuration",
    request_body(content((GetObjectTypesRequest = "application/json"), (GetObjectTypesRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The names of the types that have at least one object, sorted; at most `--max-results`. Types the DSConfig declares but without objects are not among them (`getConfig` lists those).", body = Vec<String>, example = json!(["Company", "Person"])))
)]
pub async fn get_object_types(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let p = state.params(&req, body).await?;
    p.finish()?;
    let limit = u32::try_from(datastore.schema().max_limit).unwrap_or(u32::MAX);
    let types = datastore.store.object_types(limit).await?;
    Ok(json(types))
}
