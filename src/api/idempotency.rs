//! `Idempotency-Key` (API.md §12): a retried write answers the first answer instead of
//! writing twice.
//!
//! The record lives in the request's own database (every instance sharing it sees it):
//! the first request claims the key under a token of its own in a transaction of its own,
//! runs, then stores its answer (a 5xx or 429 lets the key go, so that a retry runs
//! again). A retry with the same key and the same request answers the stored answer with
//! `Idempotent-Replayed: true`; one that arrives while the first still runs waits for it
//! (up to [`WAIT_FOR_FIRST`], then `409 IDEMPOTENCY_KEY_IN_USE`); the same key with another
//! request is `422 IDEMPOTENCY_KEY_REUSED`. Keys are per API key (two callers' keys never
//! meet) and kept for a day ([`crate::service::history::IDEMPOTENCY_KEEP`]).
//!
//! One key never writes twice: the write itself marks the claim committed, in its own
//! transaction and only while the claim is still its token's
//! ([`crate::store::changes::claiming`]). A claim whose write never committed (its process
//! stopped) is taken over after [`STALE`]; if that first request was only slow, its write
//! then rolls back. A committed claim is never taken over: if its process stopped between
//! the commit and storing the answer, a retry learns that the write happened
//! (`409 IDEMPOTENCY_ANSWER_LOST`) rather than writing again.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ApiState;
use crate::error::{ApiError, ErrorCode};
use crate::store::changes::{claiming, IdempotencyClaim};
use crate::store::Claim;

pub const HEADER: &str = "Idempotency-Key";

/// A claim older than this whose request never stored an answer is taken over.
pub const STALE: Duration = Duration::from_secs(120);

/// How long a retry waits for the first request with its key to finish.
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);

/// The first and the longest pause between looks at a claim another request holds.
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

/// Longest key accepted.
const MAX_KEY: usize = 128;

fn refuse(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

/// The middleware of every write endpoint but uploads.
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            let e = ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{HEADER} must be 1 to {MAX_KEY} printable ASCII characters"),
            )
            .with_details(json!({ "header": HEADER }));
            return Ok(refuse(req, e));
        }
    };
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(refuse(req, ApiError::internal("the API state is missing")));
    };
    let datastore = match state.tenant(req.request()).await {
        Ok(d) => d,
        Err(e) => return Ok(refuse(req, e)),
    };
    // The body, whole (it is limited as every body is), for the hash and the handler.
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            let e = ApiError::new(ErrorCode::InvalidParameter, "the body could not be read");
            return Ok(refuse(req, e));
        };
        if body.len() + chunk.len() > state.body_limit {
            let e = ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {} bytes", state.body_limit),
            );
            return Ok(refuse(req, e));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut hash = Sha256::new();
    for part in [
        req.method().as_str().as_bytes(),
        req.path().as_bytes(),
        req.query_string().as_bytes(),
        req.headers()
            .get(crate::tenancy::SYSTEM_HEADER)
            .map_or(&b""[..], HeaderValue::as_bytes),
        req.headers()
            .get(CONTENT_TYPE)
            .map_or(&b""[..], HeaderValue::as_bytes),
        &body,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let hash: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let caller = match req.extensions().get::<crate::auth::Caller>() {
        Some(crate::auth::Caller::Key { id, .. }) => id.clone(),
        _ => "-".into(),
    };
    let stored_key = format!("{caller}:{key}");
    let store = datastore.store.clone();
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return Ok(refuse(req, e)),
    };
    let waited = tokio::time::Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let stale = chrono::Utc::now() - chrono::Duration::from_std(STALE).unwrap_or_default();
        let claim = match store
            .claim_idempotency(&stored_key, &hash, &token, stale)
            .await
        {
            Ok(c) => c,
            Err(e) => return Ok(refuse(req, e.into())),
        };
        match decide(claim, &hash, &key, waited.elapsed() >= WAIT_FOR_FIRST) {
            Step::Run => break,
            Step::Replay(stored) => return Ok(req.into_response(replay(&stored))),
            Step::Refuse(e) => return Ok(refuse(req, e)),
            Step::Wait => {
                // Each look is a (small) write: back off while the first request runs.
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
    req.set_payload(actix_web::dev::Payload::from(body));
    let claim = IdempotencyClaim {
        key: stored_key.clone(),
        token: token.clone(),
    };
    let response = match claiming(claim, next.call(req)).await {
        Ok(r) => r,
        Err(e) => {
            let _ = store.finish_idempotency(&stored_key, &token, None).await;
            return Err(e);
        }
    };
    let status = response.status();
    let (http_req, http_res) = response.into_parts();
    let content_type = http_res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let (head, body) = http_res.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(b) => b,
        Err(_) => {
            let _ = store.finish_idempotency(&stored_key, &token, None).await;
            let e = ApiError::internal("a response body could not be read");
            return Ok(ServiceResponse::new(http_req, e.error_response()));
        }
    };
    let keep = !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS);
    let stored = keep.then(|| {
        json!({
            "status": status.as_u16(),
            "contentType": content_type,
            "body": String::from_utf8_lossy(&bytes),
        })
        .to_string()
    });
    if let Err(e) = store.finish_idempotency(&stored_key, &token, stored).await {
        tracing::warn!(error = %e, "cannot store an idempotent answer");
    }
    let rebuilt = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(http_req, rebuilt))
}

/// What a request with an `Idempotency-Key` does after a look at its claim.
#[derive(Debug)]
enum Step {
    /// The key is its own: run.
    Run,
    /// Answer the first request's stored answer.
    Replay(String),
    Refuse(ApiError),
    /// The first request still runs: look again.
    Wait,
}

/// The step for `claim`, for a request whose body hashes to `hash`; `waited_enough` once
/// it has waited [`WAIT_FOR_FIRST`] for the first request.
fn decide(claim: Claim, hash: &str, key: &str, waited_enough: bool) -> Step {
    let refuse = |code, message: String| {
        Step::Refuse(ApiError::new(code, message).with_details(json!({ "header": HEADER })))
    };
    match claim {
        Claim::Claimed => Step::Run,
        Claim::Taken { body_hash, .. } if body_hash != hash => refuse(
            ErrorCode::IdempotencyKeyReused,
            format!("{HEADER} `{key}` was used with another request"),
        ),
        Claim::Taken {
            response: Some(stored),
            ..
        } => Step::Replay(stored),
        Claim::Taken {
            committed: true,
            stale: true,
            ..
        } if waited_enough => refuse(
            ErrorCode::IdempotencyAnswerLost,
            format!(
                "the first request with {HEADER} `{key}` wrote its changes, but its process \
                 stopped before it answered; it is not written again: read the current state"
            ),
        ),
        Claim::Taken { .. } if waited_enough => refuse(
            ErrorCode::IdempotencyKeyInUse,
            format!("a request with {HEADER} `{key}` is still running; try again"),
        ),
        Claim::Taken { .. } => Step::Wait,
    }
}

/// A claim's token: 128 random bits, hex.
fn new_token() -> Result<String, ApiError> {
    crate::auth::keys::random_hex(16)
        .map_err(|e| ApiError::internal(format!("no randomness for a claim: {e}")))
}

/// The stored first answer, again.
fn replay(stored: &str) -> HttpResponse {
    let v: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    let status = v["status"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type(v["contentType"].as_str().unwrap_or("application/json"))
        .body(v["body"].as_str().unwrap_or("").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(hash: &str, response: Option<&str>, committed: bool, stale: bool) -> Claim {
        Claim::Taken {
            body_hash: hash.into(),
            response: response.map(Into::into),
            committed,
            stale,
        }
    }

    fn code(step: Step) -> String {
        match step {
            Step::Refuse(e) => e.0.code.as_str().to_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn each_look_at_a_claim_has_its_step() {
        assert!(matches!(decide(Claim::Claimed, "h", "k", false), Step::Run));
        let reused = decide(taken("other", Some("a"), true, false), "h", "k", false);
        assert_eq!(code(reused), "IDEMPOTENCY_KEY_REUSED");
        let answered = decide(taken("h", Some("a"), true, true), "h", "k", false);
        assert!(matches!(answered, Step::Replay(a) if a == "a"));
        // Still running, or committed and about to answer: wait, then give up.
        for committed in [false, true] {
            let running = taken("h", None, committed, false);
            assert!(matches!(
                decide(running.clone(), "h", "k", false),
                Step::Wait
            ));
            assert_eq!(
                code(decide(running, "h", "k", true)),
                "IDEMPOTENCY_KEY_IN_USE"
            );
        }
        // Committed long ago without an answer: its process stopped after the commit (or
        // a request that ran for minutes is storing its answer: it gets its wait).
        let lost = taken("h", None, true, true);
        assert!(matches!(decide(lost.clone(), "h", "k", false), Step::Wait));
        assert_eq!(
            code(decide(lost, "h", "k", true)),
            "IDEMPOTENCY_ANSWER_LOST"
        );
    }
}
