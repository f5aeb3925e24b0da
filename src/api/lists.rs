//! Lists: getObjectListTable (API.md §7) and getObjectListByFilter (the query language,
//! §8), as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::openapi::schemas;
use super::paging;
use super::params::Params;
use super::State;
use crate::error::{ApiError, ErrorCode};
use crate::service::{CsvTable, Datastore, FilterRequest, Listed, ObjectJson, TableRequest};

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

/// A page as the client asked for it, with `X-Total-Count` (unless `count=false`) and,
/// when there is a next page, `X-Next-After` and `Link`. A CSV header follows the request
/// (`properties`, or the type's properties), never the page.
async fn page_response(
    req: &HttpRequest,
    given: &[(String, String)],
    datastore: &Datastore,
    listed: &Listed,
    object_type: &str,
    properties: Option<&[String]>,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let page = &listed.page;
    let mut response = HttpResponse::Ok();
    let counted = !given.iter().any(|(n, v)| n == "count" && is_false(v));
    paging::headers(
        &mut response,
        req,
        given,
        counted.then_some(page.total),
        listed.next.as_deref(),
    );
    Ok(match format {
        Format::Json => response.json(page.objects.iter().map(ObjectJson).collect::<Vec<_>>()),
        Format::Csv => {
            let columns = datastore.csv_columns(object_type, properties).await?;
            let csv = CsvTable::render(&page.objects, &columns).map_err(ApiError::internal)?;
            response.content_type("text/csv; charset=utf-8").body(csv)
        }
    })
}

/// `count=false` as the text of a parameter.
pub(super) fn is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no" | "off"
    )
}

/// The parameters both list endpoints take besides their own, collected before
/// [`Params::finish`] so that a typo is reported first.
struct ListParams {
    properties: Result<Option<Vec<String>>, ApiError>,
    offset: Result<Option<u64>, ApiError>,
    limit: Result<Option<u64>, ApiError>,
    format: Result<Option<String>, ApiError>,
    after: Result<Option<String>, ApiError>,
    count: Result<Option<bool>, ApiError>,
}

impl ListParams {
    fn take(p: &mut Params) -> ListParams {
        ListParams {
            properties: p.list("properties"),
            offset: p.count("offset"),
            limit: p.count("limit"),
            format: p.string("format"),
            after: p.string("after"),
            count: p.boolean("count"),
        }
    }
}

/// A table view of one type (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getObjectListTable",
    tag = "lists",
    request_body(content((schemas::ObjectListTableRequest = "application/json"), (schemas::ObjectListTableRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The page, as JSON or (`format=csv`) CSV with a header row.", headers(("X-Total-Count" = u64, description = "The matches before offset and limit (not with `count=false`)."), ("X-Next-After" = String, description = "The `after` of the next page, when there is one."), ("Link" = String, description = "`<ENDPOINT?...&after=...>; rel=\"next\"`: the next page, relative, with the request's parameters.")), content((Vec<schemas::Object> = "application/json"), (String = "text/csv"))))
)]
pub async fn get_object_list_table(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let given = p.as_text();
    let object_type = p.required_string("objectType");
    let parent = p.integer("parentObjectId");
    let filter = p.map("filter");
    let order_by = p.list("orderBy");
    let list = ListParams::take(&mut p);
    p.finish()?;
    let format = format_of(list.format?)?;
    let properties = list.properties?;
    let object_type = object_type?;
    let request = TableRequest {
        object_type: object_type.clone(),
        properties: properties.clone(),
        parent_object_id: parent?,
        filter: filter?,
        order_by: order_by?,
        offset: list.offset?,
        limit: list.limit?,
        after: list.after?.filter(|a| !a.is_empty()),
        count: list.count?,
    };
    let listed = datastore.list_table(request).await?;
    page_response(
        &req,
        &given,
        &datastore,
        &listed,
        &object_type,
        properties.as_deref(),
        format,
    )
    .await
}

/// Objects of one type matching a query (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getObjectListByFilter",
    tag = "lists",
    request_body(content((schemas::ObjectListByFilterRequest = "application/json"), (schemas::ObjectListByFilterRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The page, as JSON or (`format=csv`) CSV with a header row.", headers(("X-Total-Count" = u64, description = "The matches before offset and limit (not with `count=false`)."), ("X-Next-After" = String, description = "The `after` of the next page, when there is one."), ("Link" = String, description = "`<ENDPOINT?...&after=...>; rel=\"next\"`: the next page, relative, with the request's parameters.")), content((Vec<schemas::Object> = "application/json"), (String = "text/csv"))))
)]
pub async fn get_object_list_by_filter(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let given = p.as_text();
    let object_type = p.required_string("objectType");
    let query = p.string("query");
    let list = ListParams::take(&mut p);
    p.finish()?;
    let format = format_of(list.format?)?;
    let properties = list.properties?;
    let object_type = object_type?;
    let request = FilterRequest {
        object_type: object_type.clone(),
        query: query?.unwrap_or_default(),
        properties: properties.clone(),
        offset: list.offset?,
        limit: list.limit?,
        after: list.after?.filter(|a| !a.is_empty()),
        count: list.count?,
    };
    let listed = datastore.list_by_filter(request).await?;
    page_response(
        &req,
        &given,
        &datastore,
        &listed,
        &object_type,
        properties.as_deref(),
        format,
    )
    .await
}
