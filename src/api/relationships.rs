//! Parent/child links: saveRelationship, dropRelationship, getChildren, getParents
//! (API.md §6).

use actix_web::{web, HttpRequest, HttpResponse};

use super::{json, State};
use crate::error::ApiError;
use crate::service::RelatedRequest;
use crate::store::Direction;

pub async fn save_relationship(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let parent = p.required_integer("parentObjectId");
    let child = p.required_integer("childObjectId");
    let strict = p.boolean("strict");
    p.finish()?;
    let saved = state
        .datastore
        .save_relationship(parent?, child?, strict?.unwrap_or(false))
        .await?;
    Ok(json(saved))
}

pub async fn drop_relationship(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let parent = p.required_integer("parentObjectId");
    let child = p.required_integer("childObjectId");
    p.finish()?;
    Ok(json(
        state.datastore.drop_relationship(parent?, child?).await?,
    ))
}

async fn related(
    req: HttpRequest,
    body: web::Payload,
    state: State,
    direction: Direction,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let object_type = p.string("objectType");
    let offset = p.count("offset");
    let limit = p.count("limit");
    p.finish()?;
    let request = RelatedRequest {
        object_id: id?,
        direction,
        object_type: object_type?.filter(|t| !t.is_empty()),
        offset: offset?,
        limit: limit?,
    };
    let (objects, total) = state.datastore.related(request).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(objects))
}

pub async fn get_children(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    related(req, body, state, Direction::Children).await
}

pub async fn get_parents(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    related(req, body, state, Direction::Parents).await
}
