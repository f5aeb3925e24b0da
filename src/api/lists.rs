//! Lists: getObjectListTable (API.md §7) and getObjectListByFilter (the query language,
//! §8), as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::State;
use crate::error::{ApiError, ErrorCode};
use crate::service::{render_object, CsvTable, FilterRequest, TableRequest};
use crate::store::Page;

/// The answer format of list endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Csv,
}

pub(super) fn format_of(value: Option<String>) -> Result<Format, ApiError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("format `{other}` is not `json` or `csv`"),
        )
        .with_details(json!({ "parameter": "format" }))),
    }
}

/// A page as the client asked for it, with `X-Total-Count`.
pub(super) fn page_response(
    page: &Page,
    columns: Option<&[String]>,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    response.insert_header(("X-Total-Count", page.total.to_string()));
    Ok(match format {
        Format::Json => response.json(page.objects.iter().map(render_object).collect::<Vec<_>>()),
        Format::Csv => response
            .content_type("text/csv; charset=utf-8")
            .body(CsvTable::render(&page.objects, columns).map_err(ApiError::internal)?),
    })
}

pub async fn get_object_list_table(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let object_type = p.required_string("objectType");
    let properties = p.list("properties");
    let parent = p.integer("parentObjectId");
    let filter = p.map("filter");
    let order_by = p.list("orderBy");
    let offset = p.count("offset");
    let limit = p.count("limit");
    let format = p.string("format");
    p.finish()?;
    let format = format_of(format?)?;
    let request = TableRequest {
        object_type: object_type?,
        properties: properties?,
        parent_object_id: parent?,
        filter: filter?,
        order_by: order_by?,
        offset: offset?,
        limit: limit?,
    };
    let (page, columns) = state.datastore.list_table(request).await?;
    page_response(&page, columns.as_deref(), format)
}

pub async fn get_object_list_by_filter(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let object_type = p.required_string("objectType");
    let query = p.string("query");
    let properties = p.list("properties");
    let offset = p.count("offset");
    let limit = p.count("limit");
    let format = p.string("format");
    p.finish()?;
    let format = format_of(format?)?;
    let request = FilterRequest {
        object_type: object_type?,
        query: query?.unwrap_or_default(),
        properties: properties?,
        offset: offset?,
        limit: limit?,
    };
    let (page, columns) = state.datastore.list_by_filter(request).await?;
    page_response(&page, columns.as_deref(), format)
}
