//! uploadFile: a `multipart/form-data` body streamed into the database.
//!
//! An upload never holds the file in memory: the `file` field is cut into chunks of
//! [`CHUNK`] bytes as it arrives, each stored by a write of its own into a pending file,
//! which is linked to the property at the end (or deleted on any failure). The fields may
//! come in any order; when `objectId` and `propertyName` come before `file`, the target is
//! checked before any byte is stored. The size limit (`--max-upload`) is checked while
//! streaming; past it nothing more is stored, the rest of the body is read and dropped (up
//! to [`DRAIN`] more bytes) so that the client reads the 413 instead of a reset connection.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::openapi::schemas;
use super::super::params::Params;
use super::super::{json, State};
use crate::error::{ApiError, ErrorCode};
use crate::service::{Datastore, Uploaded};
use crate::store::{FileId, NewFile, Store};

pub const CHUNK: usize = 256 * 1024;

/// Room for the multipart framing and the text fields in a body whose file is at the limit.
const FRAMING: u64 = 64 * 1024;

/// Most bytes read and dropped after a refusal, so that the client reads the answer; a body
/// longer than that is cut off (the connection closes).
const DRAIN: u64 = 64 * 1024 * 1024;

/// Longest text field (`objectId`, `propertyName`).
const TEXT_LIMIT: usize = 4 * 1024;

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("the file is larger than {limit} bytes (--max-upload)"),
    )
    .with_details(json!({ "maxBytes": limit }))
}

fn invalid_body(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidParameter,
        format!("the multipart body could not be read: {e}"),
    )
}

/// A field, never polled again once it ended or failed (the parser does not allow it).
struct Part {
    field: Field,
    done: bool,
}

impl Part {
    async fn next(&mut self) -> Option<Result<web::Bytes, actix_multipart::MultipartError>> {
        if self.done {
            return None;
        }
        let item = self.field.next().await;
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

/// Counts the body's bytes as the multipart parser takes them.
struct Counted {
    read: Rc<Cell<u64>>,
    /// Past this many, reading stops.
    cap: u64,
}

impl Counted {
    fn over(&self) -> bool {
        self.read.get() > self.cap
    }
}

/// Stores a file in an Image or FileLink property (`POST`, `multipart/form-data`).
#[utoipa::path(
    post,
    path = "/uploadFile",
    tag = "files",
    request_body(content((schemas::UploadFileRequest = "multipart/form-data"))),
    responses((status = 200, description = "The object, its property set to the file.", body = schemas::Object))
)]
pub async fn upload_file(
    req: HttpRequest,
    payload: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let limit = state.max_upload;
    let cap = limit.saturating_add(FRAMING).saturating_add(DRAIN);
    let read = Rc::new(Cell::new(0u64));
    let counter = read.clone();
    let body = payload.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.set(counter.get() + bytes.len() as u64);
        }
    });
    let counted = Counted { read, cap };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refusals known before the body is read: the body is dropped unread when it is too
    // long to drain (the connection closes), read and dropped otherwise.
    let mut early = if declared.is_some_and(|n| n > limit.saturating_add(FRAMING)) {
        Some(too_large(limit))
    } else if !is_multipart(&req) {
        Some(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "uploadFile takes a multipart/form-data body with the fields objectId, \
             propertyName and file",
        ))
    } else {
        Params::from_query(&req).err()
    };
    // The app and system: a bad name or header is refused before anything is stored.
    let mut datastore = None;
    if early.is_none() {
        match state.tenant(&req).await {
            Ok(d) => datastore = Some(d),
            Err(e) => early = Some(e),
        }
    }
    let Some(datastore) = datastore.filter(|_| early.is_none()) else {
        let error = early.unwrap_or_else(|| ApiError::internal("no datastore"));
        // (actix answers `Expect: 100-continue` itself, at once: the body comes anyway.)
        if declared.is_none_or(|n| n <= cap) {
            drain(Box::pin(body), &counted).await;
        }
        return Err(error);
    };
    let mut multipart = Multipart::new(req.headers(), body);
    let mut params = Params::from_query(&req)?;
    let mut failure: Option<ApiError> = None;
    let mut uploaded: Option<Uploaded> = None;
    let mut pending: Option<FileId> = None;
    let mut file_fields = 0;
    // The database the bytes go to: the object's (an object of a global type has its files
    // in the global database), known when `objectId` comes before `file`.
    let mut holder = datastore.clone();
    while let Some(field) = multipart.next().await {
        if counted.over() {
            break;
        }
        let mut field = match field {
            Ok(field) => Part { field, done: false },
            Err(e) => {
                failure.get_or_insert(invalid_body(e));
                break;
            }
        };
        if failure.is_some() {
            drain_field(&mut field, &counted).await;
            continue;
        }
        let name = field.field.name().unwrap_or_default().to_owned();
        let result = if name == "file" {
            file_fields += 1;
            if file_fields > 1 {
                Err(ApiError::new(
                    ErrorCode::InvalidParameter,
                    "parameter `file` is given more than once",
                )
                .with_details(json!({ "parameter": "file" })))
            } else {
                let routed = match params.peek_integer("objectId") {
                    Some(id) => datastore.holder_of(id).await.map_err(ApiError::from),
                    None => Ok(datastore.clone()),
                };
                match routed {
                    Ok(h) => {
                        holder = h;
                        store_file(&holder, limit, &params, &mut field, &mut pending)
                            .await
                            .map(|u| uploaded = Some(u))
                    }
                    Err(e) => Err(e),
                }
            }
        } else if FIELDS.contains(&name.as_str()) {
            match read_text(&mut field, &name).await {
                Ok(text) => params.add_text(&name, text),
                Err(e) => Err(e),
            }
        } else {
            // Refused without reading it: it may be a large file under a mistyped name.
            unknown_field(&name)
        };
        if let Err(e) = result {
            failure = Some(e);
            drain_field(&mut field, &counted).await;
        }
    }
    if counted.over() {
        failure.get_or_insert(too_large(limit));
    }
    let outcome = match failure {
        Some(e) => Err(e),
        None => link(&datastore, &holder, params, uploaded).await,
    };
    if outcome.is_err() {
        if let Some(file_id) = pending {
            if let Err(e) = holder.store.delete_file(file_id).await {
                tracing::warn!(file_id, error = %e, "cannot delete a failed upload's file");
            }
        }
    }
    outcome
}

/// The fields uploadFile takes, in the order `UNKNOWN_PARAMETER` lists them.
const FIELDS: [&str; 3] = ["objectId", "propertyName", "file"];

/// `UNKNOWN_PARAMETER` for a field uploadFile does not take.
fn unknown_field(name: &str) -> Result<(), ApiError> {
    let mut params = Params::default();
    params.add_text(name, String::new())?;
    for accepted in FIELDS {
        params.accept(accepted);
    }
    params.finish()
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Links the stored file once every field is in.
async fn link(
    datastore: &Arc<Datastore>,
    holder: &Arc<Datastore>,
    mut params: Params,
    uploaded: Option<Uploaded>,
) -> Result<HttpResponse, ApiError> {
    let id = params.required_integer(FIELDS[0]);
    let property = params.required_string(FIELDS[1]);
    params.accept(FIELDS[2]);
    params.finish()?;
    let (id, property) = (id?, property?);
    let Some(uploaded) = uploaded else {
        return Err(ApiError::new(
            ErrorCode::MissingParameter,
            "parameter `file` (a file field) is required",
        )
        .with_details(json!({ "parameter": "file" })));
    };
    if !Arc::ptr_eq(&datastore.holder_of(id).await?, holder) {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "for an object of a global type, give `objectId` before `file`: its file is \
             stored in the global database",
        )
        .with_details(json!({ "parameter": "objectId" })));
    }
    let object = holder.link_file(id, &property, &uploaded).await?;
    Ok(json(object))
}

/// A text field, at most [`TEXT_LIMIT`] bytes of UTF-8.
async fn read_text(field: &mut Part, name: &str) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(invalid_body)?;
        if text.len() + chunk.len() > TEXT_LIMIT {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("parameter `{name}` is longer than {TEXT_LIMIT} bytes"),
            )
            .with_details(json!({ "parameter": name })));
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("parameter `{name}` is not UTF-8 text"),
        )
        .with_details(json!({ "parameter": name }))
    })
}

/// The file's name as stored: no directories, no control characters, at most 255
/// characters; `file` when none is given.
fn file_name(field: &Field) -> String {
    let given = field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .unwrap_or_default();
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".into()
    } else {
        clean.to_owned()
    }
}

/// Streams the `file` field into a pending file, chunk by chunk, hashing as it goes.
async fn store_file(
    datastore: &Datastore,
    limit: u64,
    params: &Params,
    field: &mut Part,
    pending: &mut Option<FileId>,
) -> Result<Uploaded, ApiError> {
    let content_type = field
        .field
        .content_type()
        .map(|m| m.essence_str().to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".into());
    if content_type.len() > 127 {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "the file's Content-Type is longer than 127 characters",
        )
        .with_details(json!({ "parameter": "file" })));
    }
    let name = file_name(&field.field);
    // The target, when its fields came first: refused before any byte is stored.
    if let (Some(id), Some(property)) = (
        params.peek_integer("objectId"),
        params.peek_text("propertyName"),
    ) {
        datastore
            .check_file_target(id, &property, Some(&content_type))
            .await?;
    }
    let store: &dyn Store = datastore.store.as_ref();
    let file_id = store
        .create_file(&NewFile {
            name: name.clone(),
            content_type: content_type.clone(),
            chunk_size: CHUNK as u32,
        })
        .await?;
    *pending = Some(file_id);
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    let mut seq: u32 = 0;
    let mut buffer = web::BytesMut::with_capacity(CHUNK);
    while let Some(bytes) = field.next().await {
        let bytes = bytes.map_err(invalid_body)?;
        size += bytes.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        hash.update(&bytes);
        buffer.extend_from_slice(&bytes);
        while buffer.len() >= CHUNK {
            let chunk = buffer.split_to(CHUNK);
            store.write_file_chunk(file_id, seq, chunk.to_vec()).await?;
            seq += 1;
        }
    }
    if !buffer.is_empty() {
        store
            .write_file_chunk(file_id, seq, buffer.to_vec())
            .await?;
    }
    Ok(Uploaded {
        file_id,
        name,
        content_type,
        size,
        sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// Reads and drops the rest of a field, within the body's cap.
async fn drain_field(field: &mut Part, counted: &Counted) {
    while let Some(chunk) = field.next().await {
        if chunk.is_err() || counted.over() {
            break;
        }
    }
}

/// Reads and drops a body, within its cap.
async fn drain<S, T, E>(mut body: std::pin::Pin<Box<S>>, counted: &Counted)
where
    S: Stream<Item = Result<T, E>>,
{
    while let Some(chunk) = body.next().await {
        if chunk.is_err() || counted.over() {
            break;
        }
    }
}
