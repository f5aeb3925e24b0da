//! `getAggregate` (API.md §12): counts, sums, averages, minima and maxima of the objects of
//! one type, grouped by properties, as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};

use super::lists::{format_of, Format};
use super::openapi::schemas;
use super::State;
use crate::error::ApiError;
use crate::service::aggregate::AggregateRequest;

/// Groups of one type's objects with their aggregates (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getAggregate",
    tag = "lists",
    request_body(content((schemas::AggregateRequest = "application/json"), (schemas::AggregateRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "One object per group: its keys (with `NAME@display` for Lookup and List keys) and each aggregate under its spec (`count`, `avg:age`); or (`format=csv`) CSV with a header row.", content((Vec<serde_json::Value> = "application/json"), (String = "text/csv"))))
)]
pub async fn get_aggregate(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let object_type = p.required_string("objectType");
    let query = p.string("query");
    let group_by = p.list("groupBy");
    let aggregates = p.list("aggregates");
    let order_by = p.list("orderBy");
    let limit = p.count("limit");
    let format = p.string("format");
    p.finish()?;
    let format = format_of(format?)?;
    let request = AggregateRequest {
        object_type: object_type?,
        query: query?,
        group_by: group_by?,
        aggregates: aggregates?,
        order_by: order_by?,
        limit: limit?,
    };
    let answer = datastore.aggregate(request).await?;
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(answer.json()),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(answer.csv().map_err(ApiError::internal)?),
    })
}
