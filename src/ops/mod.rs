//! Running the service in production: metrics, request ids, limits, CORS, security headers,
//! and who the client is behind a proxy.
//!
//! Layout:
//! - `settings.rs`: the flags (`--max-concurrent-requests`, `--rate-limit`, `--cors-origins`,
//!   `--trusted-proxies`).
//! - `proxy.rs`: the client's address and scheme, from `X-Forwarded-*` of trusted proxies.
//! - `limits.rs`: the bound on requests in flight and the token bucket per client.
//! - `metrics.rs`: the Prometheus registry behind `GET {basePath}/metrics`.
//!
//! Two middlewares wrap the app (outermost first): [`observe`] (request id and span, log
//! line, metrics, security headers, the contract's error shape on every error), then CORS,
//! then [`limit`] (503 / 429), so refusals are counted, logged and carry CORS headers.

pub mod access_log;
pub mod limits;
pub mod metrics;
pub mod proxy;
pub mod request_scope;
pub mod settings;

/// What the ops modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::{Arc, Mutex};

    /// A writer for a test subscriber that keeps what `tracing-subscriber` writes.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        /// Everything written so far.
        pub(crate) fn bytes(&self) -> Vec<u8> {
            self.0.lock().unwrap().clone()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};

use crate::api::ApiState;
use crate::error::{ApiError, ErrorCode};
use limits::{ConcurrencyLimit, RateLimiter};
use metrics::Metrics;
use proxy::{Client, TrustedProxies};
use request_scope::RequestScope;
pub use settings::OpsSettings;

/// The request id header, read and answered.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
const REQUEST_ID_MAX: usize = 128;

/// The strict policy of JSON (and other non-HTML) answers. HTML pages set their own.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// What the middlewares share, across every worker.
pub struct Ops {
    pub metrics: Metrics,
    concurrency: Option<ConcurrencyLimit>,
    rate: Option<RateLimiter>,
    proxies: TrustedProxies,
    ids: IdGenerator,
    /// The paths never refused by the limits (see [`UNLIMITED`]).
    unlimited: Vec<String>,
}

impl Ops {
    /// `base_path` as served (empty, or e.g. `/datastore`).
    pub fn new(settings: &OpsSettings, base_path: &str) -> Result<Ops, prometheus::Error> {
        Ok(Ops {
            unlimited: UNLIMITED
                .iter()
                .map(|path| path.replace("{base}", base_path))
                .collect(),
            metrics: Metrics::new()?,
            concurrency: (settings.max_concurrent_requests > 0)
                .then(|| ConcurrencyLimit::new(settings.max_concurrent_requests)),
            rate: settings.rate_limit.filter(|r| *r > 0).map(RateLimiter::new),
            proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
            ids: IdGenerator::default(),
        })
    }
}

/// The CORS middleware of `--cors-origins` (only wrapped when some are given).
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-api-key"),
            // The system of an app (API.md §9): a form in a browser picks STAGING too.
            HeaderName::from_static("x-datastore-system"),
            REQUEST_ID,
        ])
        .expose_headers([HeaderName::from_static("x-total-count"), REQUEST_ID])
        .max_age(3600);
    for origin in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
        cors = cors.allowed_origin(origin.trim_end_matches('/'));
    }
    cors
}

/// Unique, unguessable-enough request ids: a per-process random key over a counter.
#[derive(Default)]
struct IdGenerator {
    key: std::collections::hash_map::RandomState,
    next: AtomicU64,
}

impl IdGenerator {
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}", self.key.hash_one(n))
    }
}

/// A client's request id, if sane: 1 to 128 visible ASCII characters.
fn given_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.as_bytes();
    let sane = !value.is_empty()
        && value.len() <= REQUEST_ID_MAX
        && value.iter().all(|b| (0x21..=0x7e).contains(b));
    sane.then(|| String::from_utf8_lossy(value).into_owned())
}

/// The name of the endpoint a resource serves: its metric label and the `endpoint` of its
/// request span. Resource data, so a routed request finds it without walking the routes
/// again (as `match_name` does).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint(pub &'static str);

/// The metric label of a routed request: its endpoint's name, never the raw path. Resources
/// without [`Endpoint`] data (the console's files, the API description) are found by their
/// registered name or pattern.
fn endpoint_of(req: &actix_web::HttpRequest) -> std::borrow::Cow<'static, str> {
    if let Some(endpoint) = req.app_data::<Endpoint>() {
        return endpoint.0.into();
    }
    req.match_name()
        .map(str::to_owned)
        .or_else(|| req.match_pattern())
        .unwrap_or_else(|| metrics::UNMATCHED.to_owned())
        .into()
}

/// The request id and span, the log line, metrics, security headers and error shape of
/// every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(ops) = req.app_data::<web::Data<Ops>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let started = Instant::now();
    // Not `connection_info()`: it believes `X-Forwarded-*` from anyone.
    let https = req.app_config().secure();
    let peer = req.peer_addr().map(|a| a.ip());
    let client = ops.proxies.client(peer, https, req.headers());
    req.extensions_mut().insert(client);
    let request_id = given_request_id(&req).unwrap_or_else(|| ops.ids.next());
    // The endpoint is known once the request is routed (inside `next`): the span gets it
    // then, from the answered request's resource data. The span itself is made when first
    // used (`request_scope`).
    let path = req.path().to_owned();
    let scope = RequestScope::new(request_id, req.method().clone(), client.addr, client.https);
    let in_flight = ops.metrics.in_flight().clone();
    in_flight.inc();
    let result = scope.run(next.call(req)).await;
    in_flight.dec();
    let response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            // An error no service turned into an answer (the request is gone with it):
            // counted and logged, then answered by the server. Handlers' and extractors'
            // errors are answers; only a middleware's own failure comes here, so its
            // endpoint is not known.
            let endpoint = metrics::UNMATCHED;
            scope.set_endpoint(endpoint.into());
            let status = e.as_response_error().status_code().as_u16();
            ops.metrics.observe(endpoint, status, started.elapsed());
            scope
                .span()
                .in_scope(|| tracing::warn!(%path, status, error = %e, "request"));
            return Err(e);
        }
    };
    let endpoint = endpoint_of(response.request());
    scope.set_endpoint(endpoint.clone());
    let mut response = scope.run(contract_error_shape(response)).await;
    let status = response.status().as_u16();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(scope.request_id()) {
        headers.insert(REQUEST_ID, value);
    }
    security_headers(headers);
    let response = head_without_body(response);
    let elapsed = started.elapsed();
    ops.metrics.observe(&endpoint, status, elapsed);
    // A `RUST_LOG` directive on the request span's fields (`[request{endpoint=…}]=info`)
    // enables the line only inside a matching span: asked there when spans are eager.
    let enabled = if scope.eager() {
        scope.span().in_scope(access_log::enabled)
    } else {
        access_log::enabled()
    };
    if enabled {
        let line = access_log::RequestLine {
            request_id: scope.request_id(),
            method: scope.method(),
            client: scope.client(),
            https: scope.https(),
            endpoint: &endpoint,
            path: &path,
            status,
            ms: elapsed.as_millis() as u64,
        };
        if !access_log::write(&line) {
            scope.span().in_scope(|| access_log::event(&line));
        }
    }
    Ok(response)
}

/// The span around a request: lines logged while it is handled carry its fields; its
/// `endpoint` is recorded once the request is routed.
fn request_span(
    request_id: &str,
    method: &str,
    client: Option<std::net::IpAddr>,
    https: bool,
) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        client = tracing::field::display(OptionalAddr(client)),
        scheme = if https { "https" } else { "http" },
        endpoint = tracing::field::Empty,
    )
}

/// The answer to HEAD: GET's status and headers, and a body that reports GET's size (so
/// `Content-Length`, or chunked transfer for a stream, is what GET would send) but yields
/// nothing, so a file is not read and a stream not held open only for actix-http to drop
/// their bytes (it never writes a body on HEAD). A streamed answer that has work to do
/// starts it when its body is first read (`exportData`, `/events`), so HEAD starts none.
fn head_without_body(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    if response.request().method() != actix_web::http::Method::HEAD {
        return response;
    }
    response.map_body(|_, body| BoxBody::new(HeadBody(body.size())))
}

/// A body of a given size that yields no bytes (see [`head_without_body`]).
struct HeadBody(actix_web::body::BodySize);

impl MessageBody for HeadBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        self.0
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

/// Security headers every answer carries unless its handler chose its own; the strict CSP
/// only on non-HTML answers (an HTML page sets the policy it needs).
fn security_headers(headers: &mut header::HeaderMap) {
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(starts_with_html);
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    if !html {
        set(header::CONTENT_SECURITY_POLICY, CSP);
    }
}

/// True when a media type is `text/html` (any case, any parameters), read without copying.
fn starts_with_html(media_type: &str) -> bool {
    media_type
        .get(..9)
        .is_some_and(|start| start.eq_ignore_ascii_case("text/html"))
}

/// Error answers not in the contract's JSON shape (the framework's own, CORS refusals)
/// rewritten into `{"error":{"code","message"}}`, keeping status and headers.
async fn contract_error_shape(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if status.as_u16() < 400 {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let shaped = content_type
        .as_deref()
        .is_some_and(|t| t.contains("json") || t.starts_with("text/html"));
    if shaped {
        return response;
    }
    let (req, res) = response.into_parts();
    let (head, body) = res.into_parts();
    let text = actix_web::body::to_bytes_limited(body, 1024)
        .await
        .ok()
        .and_then(|r| r.ok())
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let code = code_of(status);
    let message = match (code, text) {
        (ErrorCode::Internal, _) | (_, None) => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned(),
        (_, Some(text)) => text.trim().to_owned(),
    };
    let mut rewritten = ApiError::new(code, message).error_response();
    rewritten.head_mut().status = status;
    for (name, value) in head.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, rewritten)
}

/// The contract code nearest to a status the framework chose.
fn code_of(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::TooManyRequests,
        503 => ErrorCode::Unavailable,
        400..=499 => ErrorCode::InvalidParameter,
        _ => ErrorCode::Internal,
    }
}

/// Paths never refused by the limits: cheap, and what load balancers and scrapers must
/// reach under load (`/health` is the root's, besides the base path's). Matched on the path
/// before routing, exactly as the routes match them.
const UNLIMITED: [&str; 3] = ["{base}/health", "{base}/metrics", "/health"];

/// A client address for a span: nothing when unknown.
struct OptionalAddr(Option<std::net::IpAddr>);

impl std::fmt::Display for OptionalAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => Ok(()),
        }
    }
}

/// The bound on requests in flight (503) and the rate limit per client (429).
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(ops) = req.app_data::<web::Data<Ops>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    if ops.unlimited.iter().any(|path| path == req.path()) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    if let Some(rate) = &ops.rate {
        let addr = req.extensions().get::<Client>().and_then(|c| c.addr);
        let key = rate.key(req.headers(), addr);
        if let Err(wait) = rate.check(key) {
            let secs = limits::retry_after_secs(wait);
            tracing::warn!(retry_after = secs, "rate limit reached");
            let mut response = ApiError::new(
                ErrorCode::TooManyRequests,
                format!("too many requests from this client; try again in {secs} s"),
            )
            .error_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(req.into_response(response));
        }
    }
    let _permit = match &ops.concurrency {
        Some(limit) => match limit.try_enter() {
            Some(permit) => Some(permit),
            None => {
                tracing::warn!("too many requests in flight");
                let response = ApiError::new(
                    ErrorCode::Unavailable,
                    "the service is handling too many requests; try again",
                )
                .error_response();
                return Ok(req.into_response(response));
            }
        },
        None => None,
    };
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

/// `GET {basePath}/metrics`: Prometheus text.
pub async fn metrics_endpoint(
    ops: web::Data<Ops>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    ops.metrics.set_apps_open(state.tenants.open_count());
    let text = ops
        .metrics
        .render(state.central().store.pool_stats())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
