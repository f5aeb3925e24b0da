//! Parent/child links: saveRelationship, dropRelationship, getChildren, getParents
//! (API.md §6).

use actix_web::{web, HttpRequest, HttpResponse};

use super::openapi::schemas;
use super::paging;
use super::{json, State};
use crate::error::ApiError;
use crate::service::RelatedRequest;
use crate::store::Direction;

/// Links a parent and a child (`POST` only).
#[utoipa::path(
    post,
    path = "/saveRelationship",
    tag = "relationships",
    request_body(content((schemas::SaveRelationshipRequest = "application/json"), (schemas::SaveRelationshipRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The relationship.", body = schemas::Relationship))
)]
pub async fn save_relationship(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let parent = p.required_integer("parentObjectId");
    let child = p.required_integer("childObjectId");
    let strict = p.boolean("strict");
    p.finish()?;
    let saved = datastore
        .save_relationship(parent?, child?, strict?.unwrap_or(false))
        .await?;
    Ok(json(saved))
}

/// Unlinks a parent and a child (`POST` only).
#[utoipa::path(
    post,
    path = "/dropRelationship",
    tag = "relationships",
    request_body(content((schemas::DropRelationshipRequest = "application/json"), (schemas::DropRelationshipRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Whether there was one.", body = schemas::RelationshipDropped))
)]
pub async fn drop_relationship(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let parent = p.required_integer("parentObjectId");
    let child = p.required_integer("childObjectId");
    p.finish()?;
    Ok(json(datastore.drop_relationship(parent?, child?).await?))
}

async fn related(
    req: HttpRequest,
    body: web::Payload,
    state: State,
    direction: Direction,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let given = p.as_text();
    let id = p.required_integer("objectId");
    let object_type = p.string("objectType");
    let offset = p.count("offset");
    let limit = p.count("limit");
    let after = p.string("after");
    let count = p.boolean("count");
    p.finish()?;
    let request = RelatedRequest {
        object_id: id?,
        direction,
        object_type: object_type?.filter(|t| !t.is_empty()),
        offset: offset?,
        limit: limit?,
        after: after?.filter(|a| !a.is_empty()),
        count: count?,
    };
    let listed = datastore.related(request).await?;
    let mut response = HttpResponse::Ok();
    paging::headers(
        &mut response,
        &req,
        &given,
        listed.total,
        listed.next.as_deref(),
    );
    Ok(response.json(listed.objects))
}

/// The children of an object, a page at a time (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getChildren",
    tag = "relationships",
    request_body(content((schemas::RelatedRequest = "application/json"), (schemas::RelatedRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The children by objectId, each with `strict`.", headers(("X-Total-Count" = u64, description = "The matches before offset and limit (not with `count=false`)."), ("X-Next-After" = String, description = "The `after` of the next page, when there is one."), ("Link" = String, description = "`<ENDPOINT?...&after=...>; rel=\"next\"`: the next page, relative, with the request's parameters.")), content((Vec<schemas::Object> = "application/json"))))
)]
pub async fn get_children(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    related(req, body, state, Direction::Children).await
}

/// The parents of an object, a page at a time (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getParents",
    tag = "relationships",
    request_body(content((schemas::RelatedRequest = "application/json"), (schemas::RelatedRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The parents by objectId, each with `strict`.", headers(("X-Total-Count" = u64, description = "The matches before offset and limit (not with `count=false`)."), ("X-Next-After" = String, description = "The `after` of the next page, when there is one."), ("Link" = String, description = "`<ENDPOINT?...&after=...>; rel=\"next\"`: the next page, relative, with the request's parameters.")), content((Vec<schemas::Object> = "application/json"))))
)]
pub async fn get_parents(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    related(req, body, state, Direction::Parents).await
}
