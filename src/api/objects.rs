//! Objects and their properties: newObject, getObject, saveProperty, saveProperties,
//! changeObjectType, dropObject (API.md §5).

use actix_web::{web, HttpRequest, HttpResponse};

use super::openapi::schemas;
use super::{json, State};
use crate::error::ApiError;

/// Creates an object (`POST` only).
#[utoipa::path(
    post,
    path = "/newObject",
    tag = "objects",
    request_body(content((schemas::NewObjectRequest = "application/json"), (schemas::NewObjectRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The new object.", body = schemas::Object))
)]
pub async fn new_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let object_type = p.required_string("objectType");
    let properties = p.map("properties");
    p.finish()?;
    let object = datastore.new_object(&object_type?, properties?).await?;
    Ok(json(object))
}

/// One object by id (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getObject",
    tag = "objects",
    request_body(content((schemas::GetObjectRequest = "application/json"), (schemas::GetObjectRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The object.", body = schemas::Object))
)]
pub async fn get_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    p.finish()?;
    let record = datastore.get_object_record(id?).await?;
    Ok(json(crate::service::ObjectJson(&record)))
}

/// Saves one property (`POST` only).
#[utoipa::path(
    post,
    path = "/saveProperty",
    tag = "objects",
    request_body(content((schemas::SavePropertyRequest = "application/json"), (schemas::SavePropertyRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The columns as stored.", body = schemas::SavedProperty))
)]
pub async fn save_property(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let name = p.required_string("propertyName");
    let value = p.required_value("propertyValue");
    p.finish()?;
    Ok(json(datastore.save_property(id?, &name?, value?).await?))
}

/// Saves several properties, all or nothing (`POST` only).
#[utoipa::path(
    post,
    path = "/saveProperties",
    tag = "objects",
    request_body(content((schemas::SavePropertiesRequest = "application/json"), (schemas::SavePropertiesRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The object.", body = schemas::Object))
)]
pub async fn save_properties(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let properties = p.map("properties").and_then(|m| {
        m.ok_or_else(|| {
            ApiError::new(
                crate::error::ErrorCode::MissingParameter,
                "parameter `properties` is required",
            )
            .with_details(serde_json::json!({ "parameter": "properties" }))
        })
    });
    p.finish()?;
    Ok(json(datastore.save_properties(id?, properties?).await?))
}

/// Changes an object's type, e.g. to archive it (`POST` only).
#[utoipa::path(
    post,
    path = "/changeObjectType",
    tag = "objects",
    request_body(content((schemas::ChangeObjectTypeRequest = "application/json"), (schemas::ChangeObjectTypeRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The object under its new type.", body = schemas::Object))
)]
pub async fn change_object_type(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let object_type = p.required_string("objectType");
    p.finish()?;
    Ok(json(
        datastore.change_object_type(id?, &object_type?).await?,
    ))
}

/// Deletes an object and its children of the listed types (`POST` only).
#[utoipa::path(
    post,
    path = "/dropObject",
    tag = "objects",
    request_body(content((schemas::DropObjectRequest = "application/json"), (schemas::DropObjectRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The ids deleted.", body = schemas::Dropped))
)]
pub async fn drop_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let child_types = p.list("childObjectTypes");
    p.finish()?;
    let dropped = datastore
        .drop_object(id?, child_types?.unwrap_or_default())
        .await?;
    Ok(json(dropped))
}
