//! Objects and their properties: newObject, getObject, saveProperty, saveProperties,
//! changeObjectType, dropObject (API.md §5).

use actix_web::{web, HttpRequest, HttpResponse};

use super::{json, State};
use crate::error::ApiError;

pub async fn new_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let object_type = p.required_string("objectType");
    let properties = p.map("properties");
    p.finish()?;
    let object = state
        .datastore
        .new_object(&object_type?, properties?)
        .await?;
    Ok(json(object))
}

pub async fn get_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    p.finish()?;
    Ok(json(state.datastore.get_object(id?).await?))
}

pub async fn save_property(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let name = p.required_string("propertyName");
    let value = p.required_value("propertyValue");
    p.finish()?;
    Ok(json(
        state.datastore.save_property(id?, &name?, value?).await?,
    ))
}

pub async fn save_properties(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
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
    Ok(json(
        state.datastore.save_properties(id?, properties?).await?,
    ))
}

pub async fn change_object_type(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let object_type = p.required_string("objectType");
    p.finish()?;
    Ok(json(
        state
            .datastore
            .change_object_type(id?, &object_type?)
            .await?,
    ))
}

pub async fn drop_object(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let child_types = p.list("childObjectTypes");
    p.finish()?;
    let dropped = state
        .datastore
        .drop_object(id?, child_types?.unwrap_or_default())
        .await?;
    Ok(json(dropped))
}
