//! getFile: a file's bytes streamed back one stored chunk at a time, with `Range`, `ETag`,
//! `If-None-Match`, and a `Content-Disposition` that never lets a stored page run.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::Stream;
use serde_json::json;

use super::super::openapi::schemas;
use super::super::State;
use crate::error::{ApiError, ErrorCode};
use crate::store::{FileInfo, Store};

/// The bytes of a file property (`GET` or `POST`): `Range`, `ETag`, `If-None-Match`.
#[utoipa::path(
    post,
    path = "/getFile",
    tag = "files",
    request_body(content((schemas::GetFileRequest = "application/json"), (schemas::GetFileRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The file's bytes, with its content type.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The bytes of the one range asked for (`Range: bytes=a-b`), with `Content-Range`.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "`If-None-Match` names the file's ETag."),
    )
)]
pub async fn get_file(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let mut p = state.params(&req, body).await?;
    let id = p.required_integer("objectId");
    let property = p.required_string("propertyName");
    p.finish()?;
    let (id, property) = (id?, property?);
    // An object of a global type has its files in the global database.
    let datastore = state.tenant(&req).await?.holder_of(id).await?;
    let file = datastore.file(id, &property).await?;
    let etag = format!("\"{}\"", file.sha256.as_deref().unwrap_or_default());
    let headers = req.headers();
    if let Some(tags) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        let matches = tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
        if matches {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .finish());
        }
    }
    // Range applies to GET (RFC 9110 §14.2), and so to HEAD, which answers as GET would;
    // `If-Range` with another validator asks for the whole file.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        // HEAD answers what GET would, a 206's headers included.
        Some(text)
            if matches!(
                *req.method(),
                actix_web::http::Method::GET | actix_web::http::Method::HEAD
            ) && if_range_ok =>
        {
            parse_range(text, file.size)
        }
        _ => RangeAsk::Whole,
    };
    let (status, start, end) = match range {
        RangeAsk::Whole => (actix_web::http::StatusCode::OK, 0, file.size),
        RangeAsk::Part(a, b) => (actix_web::http::StatusCode::PARTIAL_CONTENT, a, b + 1),
        RangeAsk::Unsatisfiable => {
            let mut response = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!(
                    "the file has {} bytes; the range asks for none of them",
                    file.size
                ),
            )
            .with_details(json!({ "size": file.size }))
            .error_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", file.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, file.content_type.as_str()))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&file)))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // Whatever a stored file is, opened directly it runs no script on this origin (the
        // service's own CSP is only added to answers that are not HTML).
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    if status == actix_web::http::StatusCode::PARTIAL_CONTENT {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{}", end - 1, file.size),
        ));
    }
    let stream = chunks(datastore.store.clone(), file, start, end);
    Ok(response.body(actix_web::body::SizedStream::new(end - start, stream)))
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No range, several ranges, or one that does not parse: the whole file (200).
    Whole,
    /// Bytes `a..=b`, within the file (206).
    Part(u64, u64),
    /// A range outside the file (416).
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; several are answered with the whole).
fn parse_range(text: &str, size: u64) -> RangeAsk {
    // The unit compares without case (RFC 9110 §14.1).
    let text = text.trim();
    let spec = match text.get(..6) {
        Some(unit) if unit.eq_ignore_ascii_case("bytes=") => &text[6..],
        _ => return RangeAsk::Whole,
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        // Digits beyond u64 are "past any end": a start there is unsatisfiable, an end
        // or a suffix there means the whole rest.
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().unwrap_or(u64::MAX))
    };
    match (a.trim().is_empty(), number(a), number(b)) {
        // The last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(size.saturating_sub(n), size - 1)
            }
        }
        (false, Some(start), end) if b.trim().is_empty() || end.is_some() => {
            if start >= size {
                return RangeAsk::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => RangeAsk::Whole,
                Some(end) => RangeAsk::Part(start, end.min(size - 1)),
                None => RangeAsk::Part(start, size - 1),
            }
        }
        _ => RangeAsk::Whole,
    }
}

/// `inline` only for images a browser shows as pictures (never SVG, which runs script);
/// anything else is an `attachment`, so a stored page never runs on the API's origin.
fn disposition(file: &FileInfo) -> String {
    let ct = file.content_type.to_ascii_lowercase();
    let kind = if ct.starts_with("image/") && !ct.starts_with("image/svg") {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(&file.name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Bytes `start..end` of a file, read one chunk at a time.
fn chunks(
    store: std::sync::Arc<dyn Store>,
    file: FileInfo,
    start: u64,
    end: u64,
) -> impl Stream<Item = Result<web::Bytes, actix_web::Error>> {
    let chunk_size = u64::from(file.chunk_size.max(1));
    futures_util::stream::unfold(start, move |at| {
        let store = store.clone();
        async move {
            if at >= end {
                return None;
            }
            let seq = at / chunk_size;
            let read = match u32::try_from(seq) {
                Ok(seq) => store.file_chunk(file.file_id, seq).await,
                Err(_) => Ok(None),
            };
            let data = match read {
                Ok(Some(data)) => data,
                // Replaced or dropped meanwhile: the answer cannot be finished.
                Ok(None) => {
                    tracing::warn!(file_id = file.file_id, seq, "a file chunk is gone");
                    return Some((Err(actix_web::error::ErrorGone("file changed")), end));
                }
                Err(e) => {
                    tracing::error!(file_id = file.file_id, error = %e, "cannot read a file chunk");
                    return Some((Err(actix_web::error::ErrorInternalServerError("read")), end));
                }
            };
            let chunk_start = seq * chunk_size;
            let from = (at - chunk_start) as usize;
            let to = ((end - chunk_start) as usize).min(data.len());
            if from >= to {
                return Some((Err(actix_web::error::ErrorGone("file changed")), end));
            }
            let bytes = web::Bytes::copy_from_slice(&data[from..to]);
            Some((Ok(bytes), chunk_start + to as u64))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_range, RangeAsk};

    #[test]
    fn ranges_parse_in_their_three_forms_and_refuse_what_lies_outside() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsk::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), RangeAsk::Part(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeAsk::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsk::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=5-1", 100), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=x-1", 100), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=0-0", 0), RangeAsk::Unsatisfiable);
        // Numbers past u64 (found by review), and the unit in any case.
        let huge = "99999999999999999999999";
        assert_eq!(
            parse_range(&format!("bytes=0-{huge}"), 100),
            RangeAsk::Part(0, 99)
        );
        assert_eq!(
            parse_range(&format!("bytes={huge}-"), 100),
            RangeAsk::Unsatisfiable
        );
        assert_eq!(
            parse_range(&format!("bytes=-{huge}"), 100),
            RangeAsk::Part(0, 99)
        );
        assert_eq!(parse_range("BYTES=0-1", 100), RangeAsk::Part(0, 1));
    }
}
