//! `GET /events` (API.md §12): the change log as Server-Sent Events, and `getHistory`.
//!
//! Each client gets a task that reads the log after the last id it sent whenever the log's
//! head moves past it: one watcher per database reads the head at once after a write of
//! this process and every [`crate::service::heads::POLL`] otherwise (writes of other instances sharing the
//! database; [`crate::service::heads`]), so a change reaches every instance's clients
//! within a second and idle clients cost no query at all. Ids commit in order on both
//! backends, so
//! reading after the last id seen misses nothing. The task hands events to the response
//! through a bounded channel: a client that does not read them fast enough is dropped
//! (it reconnects with `Last-Event-ID` and misses nothing while the log holds its
//! changes), so a slow client never grows the server's memory. A `Last-Event-ID` older
//! than what retention has deleted answers an explicit `reset` event.
//!
//! For proxies (IIS/ARR included): a comment at once on connect, another every
//! [`KEEP_ALIVE`], no compression (`Content-Encoding: identity`), no buffering
//! (`X-Accel-Buffering: no`, `Cache-Control: no-cache, no-transform`); docs/DEPLOYMENT.md.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::openapi::schemas;
use super::State;
use crate::error::{ApiError, ErrorCode};
use crate::model::{is_valid_name, ObjectId};
use crate::service::history::render_change_head;
use crate::service::Datastore;
use crate::store::ChangeFilter;

/// A comment line this often keeps proxies from closing an idle stream (ARR: 120 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Events waiting for a client at most; beyond, the client is dropped.
pub const CLIENT_BUFFER: usize = 256;

/// Changes one read of the log takes.
const PAGE: u32 = 200;

/// An object's changes, oldest first, a page at a time (`GET` or `POST`).
#[utoipa::path(
    post,
    path = "/getHistory",
    tag = "changes",
    request_body(content((schemas::HistoryRequest = "application/json"), (schemas::HistoryRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The changes after `after`, oldest first.", headers(("X-Next-After" = String, description = "The `after` of the next page, when there is one."), ("Link" = String, description = "`<getHistory?...&after=...>; rel=\"next\"`: the next page, relative.")), content((Vec<schemas::Change> = "application/json"))))
)]
pub async fn get_history(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let datastore = state.tenant(&req).await?;
    let mut p = state.params(&req, body).await?;
    let given = p.as_text();
    let id = p.required_integer("objectId");
    let after = p.value("after").map(|v| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    let limit = p.count("limit");
    p.finish()?;
    let (changes, next) = datastore.history(id?, after, limit?).await?;
    let mut response = actix_web::HttpResponse::Ok();
    super::paging::headers(&mut response, &req, &given, None, next.as_deref());
    Ok(response.json(changes))
}

fn invalid(parameter: &str, message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, message)
        .with_details(json!({ "parameter": parameter }))
}

/// The filter of `objectType` (repeatable, or comma-separated) and `objectId`.
fn filter_of(req: &HttpRequest) -> Result<ChangeFilter, ApiError> {
    let mut filter = ChangeFilter::default();
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "objectType" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !is_valid_name(t) {
                        return Err(invalid(
                            "objectType",
                            format!("`{t}` is not an object type name"),
                        ));
                    }
                    filter.object_types.push(t.to_owned());
                }
            }
            "objectId" => {
                if filter.object_id.is_some() {
                    return Err(invalid(
                        "objectId",
                        "parameter `objectId` is given twice".into(),
                    ));
                }
                let id: ObjectId = value.parse().map_err(|_| {
                    invalid("objectId", "parameter `objectId` must be an integer".into())
                })?;
                filter.object_id = Some(id);
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    format!("`{other}` is not a parameter of events"),
                )
                .with_details(
                    json!({ "parameters": [other], "accepted": ["objectType", "objectId"] }),
                ))
            }
        }
    }
    Ok(filter)
}

/// The change after which a resumed stream goes on (`Last-Event-ID`).
fn resume_of(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(id) if id >= 0 => Ok(Some(id)),
        _ => Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "Last-Event-ID must be the id of an event this stream sent",
        )
        .with_details(json!({ "header": "Last-Event-ID" }))),
    }
}

/// Live changes as Server-Sent Events (`GET`).
#[utoipa::path(
    get,
    path = "/events",
    tag = "changes",
    params(
        ("objectType" = Option<Vec<String>>, Query, description = "Only changes of these types (repeatable, or comma-separated)."),
        ("objectId" = Option<i64>, Query, description = "Only changes of this object."),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this change.")
    ),
    responses((status = 200, description = "`text/event-stream`: `id:` the changeId, `event:` the operation, `data:` the change without values; `event: reset` when `Last-Event-ID` is older than the log; a comment line every 15 s.", content_type = "text/event-stream", body = String))
)]
pub async fn events(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let filter = filter_of(&req)?;
    let resume = resume_of(&req)?;
    let datastore = state.tenant(&req).await?;
    // Where the stream starts is read before it is answered: a change committed once the
    // client sees the stream open is one it gets.
    let start = match resume {
        Some(id) => id,
        None => datastore.changes_since(i64::MAX, &filter, 1).await?.head,
    };
    // The reader starts when the body is first read, right after the headers; a HEAD's
    // body is never read (`ops::observe`), so it starts nothing.
    let body = futures_util::stream::once(async move {
        let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_BUFFER);
        // The first bytes go out at once: proxies and clients see the stream open.
        let _ = tx.try_send(Bytes::from_static(b": connected\nretry: 1000\n\n"));
        actix_web::rt::spawn(pump(datastore, filter, start, tx));
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
        })
    })
    .flatten();
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache, no-transform"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header(("Content-Encoding", "identity"))
        .streaming(body))
}

/// Hands one event to the client; false when the client is gone or too slow (dropped).
fn send(tx: &mpsc::Sender<Bytes>, text: String) -> bool {
    match tx.try_send(Bytes::from(text)) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::info!("an event stream's client reads too slowly: dropped");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Reads the log for one client until it goes away.
async fn pump(
    datastore: Arc<Datastore>,
    filter: ChangeFilter,
    start: i64,
    tx: mpsc::Sender<Bytes>,
) {
    let mut head = datastore.watch_head();
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let mut last = start;
    loop {
        let page = match datastore.changes_since(last, &filter, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "an event stream cannot read the change log");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = tx.closed() => return,
                }
            }
        };
        if last < page.pruned_through {
            // Retention deleted changes this client has not seen: say so, never a gap.
            let data = json!({ "prunedThrough": page.pruned_through, "head": page.head });
            let text = format!("id: {}\nevent: reset\ndata: {data}\n\n", page.head);
            if !send(&tx, text) {
                return;
            }
            last = page.head.max(page.pruned_through);
            continue;
        }
        for change in &page.changes {
            let data = render_change_head(change);
            let text = format!(
                "id: {}\nevent: {}\ndata: {data}\n\n",
                change.change_id, change.operation
            );
            if !send(&tx, text) {
                return;
            }
        }
        last = last.max(page.through);
        if page.through < page.head {
            continue; // more to read at once
        }
        // Sleeps until the log moves past what this client has read.
        while *head.borrow_and_update() <= last {
            tokio::select! {
                changed = head.changed() => {
                    if changed.is_err() {
                        head = datastore.watch_head();
                    }
                }
                _ = keep_alive.tick() => {
                    if !send(&tx, ": keep-alive\n\n".into()) {
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    }
}
