//! Data movement over HTTP (API.md §9, docs/EXPORT.md): exportData streams the export of
//! the served system as JSON Lines; copySystem replaces one system's data with another's.
//! Both need an admin key.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;

use super::openapi::schemas;
use super::{json, ApiState, State};
use crate::error::{ApiError, ErrorCode};
use crate::service::ServiceError;
use crate::store::Store;
use crate::tenancy::{AppName, System};
use crate::transfer::{self, Progress, TransferError};

/// Bytes buffered between the export and the socket.
const STREAM_BUFFER: usize = 256 * 1024;

impl From<TransferError> for ApiError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Store(e) => e.into(),
            TransferError::Invalid(message) => ApiError::new(ErrorCode::Conflict, message),
            TransferError::Io(e) => ApiError::internal(e),
        }
    }
}

/// The export of the served system as `application/x-ndjson`, streamed page by page
/// (`GET` or `POST`; admin). A stream that fails half-way ends without its end record.
#[utoipa::path(
    post,
    path = "/exportData",
    tag = "data movement",
    request_body(content((schemas::ExportDataRequest = "application/json"), (schemas::ExportDataRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "JSON Lines: a header, the objects, relationships and numbering rows, an end record (docs/EXPORT.md).", content_type = "application/x-ndjson", body = String))
)]
pub async fn export_data(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    state.params(&req, body).await?.finish()?;
    let (app, system) = (super::request_app(&req)?, super::request_system(&req)?);
    let store = state.tenant(&req).await?.store.clone();
    let file_name = format!("datastore-{}-{}.jsonl", app.key(), system);
    // The export starts when the body is first read, right after the headers; a HEAD's body
    // is never read (`ops::observe`), so it exports nothing.
    let body = futures_util::stream::once(async move {
        let (writer, reader) = tokio::io::duplex(STREAM_BUFFER);
        actix_web::rt::spawn(async move {
            let exported = transfer::export_to(
                store.as_ref(),
                Some(&app),
                system,
                writer,
                &Progress::hidden(),
            )
            .await;
            match exported {
                Ok(counts) => tracing::info!(objects = counts.objects, "exportData done"),
                Err(e) => tracing::warn!(error = %e, "exportData stopped before its end"),
            }
        });
        tokio_util::io::ReaderStream::new(reader)
    })
    .flatten();
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body))
}

/// Replaces the data of `toSystem` with that of `fromSystem` (`POST`; admin), all or
/// nothing; answers what was copied.
#[utoipa::path(
    post,
    path = "/copySystem",
    tag = "data movement",
    request_body(content((schemas::CopySystemRequest = "application/json"), (schemas::CopySystemRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "What the target holds now.", body = schemas::CopySystemAnswer))
)]
pub async fn copy_system(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let from = p.required_string("fromSystem");
    let to = p.required_string("toSystem");
    p.finish()?;
    let system = |name: &str, text: String| {
        System::parse(&text).map_err(|m| {
            ApiError::new(ErrorCode::InvalidParameter, format!("{name}: {m}"))
                .with_details(json!({ "parameter": name }))
        })
    };
    let (from, to) = (system("fromSystem", from?)?, system("toSystem", to?)?);
    if from == to {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("fromSystem and toSystem are the same system ({from})"),
        ));
    }
    let app = super::request_app(&req)?;
    let source = system_store(&state, &app, from).await?;
    let target = system_store(&state, &app, to).await?;
    // The app's Lookups to global objects must find them in the target system's.
    let global = state
        .tenants
        .global(to)
        .existing()
        .await
        .map_err(crate::service::ServiceError::from)?;
    let refs = transfer::GlobalRefs::In(global.as_ref().map(|g| g.store.as_ref()));
    let counts = transfer::copy(source.as_ref(), target.as_ref(), refs).await?;
    Ok(json(json!({
        "fromSystem": from.as_str(),
        "toSystem": to.as_str(),
        "objects": counts.objects,
        "properties": counts.properties,
        "relationships": counts.relationships,
        "numbering": counts.numbering,
        "files": counts.files,
    })))
}

/// The store of `app`'s `system`, from the registry (opened on first use).
async fn system_store(
    state: &ApiState,
    app: &AppName,
    system: System,
) -> Result<std::sync::Arc<dyn Store>, ApiError> {
    let datastore = (state.tenants.get(app, system).await).map_err(ServiceError::from)?;
    Ok(datastore.store.clone())
}
