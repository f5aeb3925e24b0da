//! Who is calling and what they may do (API.md §3), decided before any handler runs.
//!
//! Two middlewares, one decision each:
//!
//! - [`authenticate`] wraps the whole app: every path but `/health` needs a valid key
//!   (`Authorization: Bearer KEY` or `X-Api-Key: KEY`) once any active key exists. It puts
//!   the [`Caller`] into the request, or answers `401 UNAUTHENTICATED` (with
//!   `WWW-Authenticate: Bearer`), or `429` to an address that failed too often.
//! - [`authorize`] wraps each endpoint, which carries its [`Required`] role as resource data
//!   (registered once, in `api::configure`): a caller whose role is too low, or whose key
//!   belongs to another app, gets `403 FORBIDDEN`.
//!
//! Keys live in the database ([`crate::store::Store`]), so instances stay stateless: what
//! this process remembers (a verified key, whether any key exists) is kept at most
//! [`CACHE_TTL`], so a key created or revoked anywhere counts everywhere within it.
//! With no active key the service runs open, which [`Auth::start`] allows on a loopback
//! address only.

pub mod keys;
mod manage;
mod throttle;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use chrono::Utc;

use crate::error::{ApiError, ErrorCode};
use crate::store::{ApiKeyRecord, Store, StoreError};
use crate::tenancy::AppName;
pub use keys::Role;
pub use manage::{create_key, install_admin_key, KeyRequest};
use throttle::Throttle;

/// How long this process trusts what it read about keys.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// Keys remembered at most (a full cache is emptied: it is only a cache).
const CACHED_KEYS: usize = 10_000;

/// The app of a request outside `/apps/{app}/...`.
pub use crate::tenancy::DEFAULT_APP;

/// Why the service may not start as configured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "no API key exists, so the service would run open, which is allowed only on a \
         loopback address (127.0.0.1, ::1, localhost), not on {address}. Create a key with \
         `datastore keys create --role admin` or set DATASTORE_ADMIN_KEY, or listen on \
         127.0.0.1"
    )]
    OpenOnPublicAddress { address: String },
    #[error(
        "DATASTORE_ADMIN_KEY must be a key made by `datastore keys create` or at least {} \
         printable characters (e.g. `openssl rand -hex 32`)",
        keys::MIN_FOREIGN_KEY_LEN
    )]
    WeakAdminKey,
    #[error("cannot draw random bytes: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is calling, as [`authenticate`] found out.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// No key exists: the service runs open (loopback only).
    Open,
    Key {
        id: String,
        role: Role,
        /// The one app the key is for; `None` for every app.
        app: Option<String>,
    },
}

impl Caller {
    /// Whether this caller may call an endpoint needing `role` in `app`.
    pub fn check(&self, required: Role, app: &str) -> Result<(), ApiError> {
        match self {
            Caller::Open => Ok(()),
            Caller::Key { app: Some(own), .. } if !same_app(own, app) => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this API key is for app `{own}`, not `{app}`"),
            )),
            Caller::Key { role, .. } if *role < required => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this endpoint needs a key with role `{required}`; this one has `{role}`"),
            )
            .with_details(
                serde_json::json!({ "requiredRole": required.as_str(), "role": role.as_str() }),
            )),
            Caller::Key { .. } => Ok(()),
        }
    }
}

/// Whether a key's app and a request's app are one: app names ignore case
/// ([`AppName`]); a name that is not an app's matches nothing but itself.
fn same_app(own: &str, requested: &str) -> bool {
    match (AppName::parse(own), AppName::parse(requested)) {
        (Ok(own), Ok(requested)) => own == requested,
        _ => own == requested,
    }
}

/// The role an endpoint requires: resource data read by [`authorize`].
#[derive(Debug, Clone, Copy)]
pub struct Required(pub Role);

/// The process's view of the keys: the store, short-lived caches, the failure throttle.
pub struct Auth {
    store: Arc<dyn Store>,
    /// `/health` paths, which need no key.
    public: Vec<String>,
    /// The docs page's and the admin console's files, public like the pages
    /// (`{basePath}/docs/`, `{basePath}/admin/`): they hold no data.
    asset_prefixes: [String; 2],
    /// Whether running open is allowed (the service listens on loopback).
    open_allowed: bool,
    keys: Mutex<HashMap<String, (Instant, Option<ApiKeyRecord>)>>,
    any_key: Mutex<Option<(Instant, bool)>>,
    throttle: Throttle,
}

impl Auth {
    /// Installs `DATASTORE_ADMIN_KEY` (if given) and refuses to run open on an address
    /// other than loopback.
    pub async fn start(
        store: Arc<dyn Store>,
        admin_key: Option<&str>,
        listening: SocketAddr,
        base_path: &str,
        behind_proxies: bool,
    ) -> Result<Auth, SetupError> {
        if let Some(key) = admin_key.filter(|k| !k.is_empty()) {
            install_admin_key(store.as_ref(), key).await?;
        }
        // Open only for a person on this machine: never behind a proxy (IIS forwards the
        // world to a loopback port), and never again once keys are in use.
        let open_allowed = listening.ip().is_loopback() && !behind_proxies;
        if !store.any_api_key().await? {
            if !open_allowed {
                return Err(SetupError::OpenOnPublicAddress {
                    address: listening.to_string(),
                });
            }
            tracing::warn!(
                address = %listening,
                "no API key exists: the service runs OPEN (no authentication) on loopback; \
                 create one with `datastore keys create --role admin`"
            );
        }
        // What is public: the health check, the API's own description (the OpenAPI
        // document and its docs page) and the admin console's files: they hold no data.
        let mut public = vec!["/health".to_owned()];
        for path in [
            "/health",
            "/openapi.json",
            "/docs",
            "/docs/",
            "/admin",
            "/admin/",
        ] {
            public.push(format!("{base_path}{path}"));
        }
        Ok(Auth {
            store,
            public,
            asset_prefixes: [format!("{base_path}/docs/"), format!("{base_path}/admin/")],
            open_allowed,
            keys: Mutex::new(HashMap::new()),
            any_key: Mutex::new(None),
            throttle: Throttle::default(),
        })
    }

    /// Whether some key is active, as read at most [`CACHE_TTL`] ago.
    async fn any_key(&self) -> Result<bool, StoreError> {
        let cached = *self.any_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, any)) = cached.filter(|(at, _)| at.elapsed() < CACHE_TTL) {
            return Ok(any);
        }
        let any = self.store.any_api_key().await?;
        *self.any_key.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), any));
        Ok(any)
    }

    /// One key's row, as read at most [`CACHE_TTL`] ago.
    async fn key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        {
            let cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, record)) = cache.get(id) {
                if at.elapsed() < CACHE_TTL {
                    return Ok(record.clone());
                }
            }
        }
        let record = self.store.api_key(id).await?;
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_KEYS {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHED_KEYS {
                cache.clear();
            }
        }
        cache.insert(id.to_owned(), (Instant::now(), record.clone()));
        Ok(record)
    }

    /// Who is calling, or why they may not.
    async fn identify(&self, req: &ServiceRequest) -> Result<Caller, ApiError> {
        // The client as found through trusted proxies (`ops::observe` runs first), else the
        // TCP peer: behind IIS the peer is the proxy, and one throttle for everyone.
        let address = req
            .extensions()
            .get::<crate::ops::proxy::Client>()
            .and_then(|c| c.addr)
            .or_else(|| req.peer_addr().map(|a| a.ip()));
        if !self.any_key().await? {
            // A forwarded request comes from elsewhere, whatever the listen address says.
            let forwarded = ["x-forwarded-for", "forwarded"]
                .iter()
                .any(|h| req.headers().contains_key(*h));
            if self.open_allowed && !forwarded {
                return Ok(Caller::Open);
            }
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "no API key exists: create one with `datastore keys create` or set \
                 DATASTORE_ADMIN_KEY",
            ));
        }
        let Some(text) = presented(req) else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "an API key is required: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`",
            ));
        };
        let Some(key) = keys::parse(&text) else {
            return Err(self.failed(address, None, "malformed"));
        };
        let logged_id = key.generated.then_some(key.id.as_str());
        let Some(record) = self.key(&key.id).await? else {
            return Err(self.failed(address, logged_id, "unknown"));
        };
        if !keys::verify(&key.secret, &record.salt, &record.hash) {
            return Err(self.failed(address, logged_id, "wrong secret"));
        }
        if record.revoked.is_some() {
            return Err(self.failed(address, Some(&record.id), "revoked"));
        }
        if record.expires.is_some_and(|e| e <= Utc::now()) {
            return Err(self.failed(address, Some(&record.id), "expired"));
        }
        let role = record.role.parse().map_err(ApiError::internal)?;
        Ok(Caller::Key {
            id: record.id,
            role,
            app: record.app,
        })
    }

    /// Logs a failed attempt (never the key), counts it against the address, and says
    /// as little as possible to the client.
    fn failed(&self, address: Option<IpAddr>, key_id: Option<&str>, reason: &str) -> ApiError {
        tracing::warn!(
            client = %address.map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
            key_id = key_id.unwrap_or("-"),
            reason,
            "API key refused"
        );
        // Only failures are throttled: a valid key always gets in, so ten bad keys from a
        // shared address (a proxy, a NAT) never lock its other clients out.
        if let Some(a) = address.map(crate::ops::proxy::client_network) {
            if let Some(wait) = self.throttle.blocked(a) {
                return too_many(wait);
            }
            self.throttle.failed(a);
        }
        let message = match reason {
            // Only a caller holding the real secret learns these.
            "revoked" => "this API key has been revoked",
            "expired" => "this API key has expired",
            _ => "the API key is not valid",
        };
        ApiError::new(ErrorCode::Unauthenticated, message)
    }
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRequests,
        "too many failed API key attempts from this address; try again later",
    )
    .with_details(serde_json::json!({ "retryAfterSeconds": wait.as_secs().max(1) }))
}

/// The key a request carries: `Authorization: Bearer KEY`, else `X-Api-Key: KEY`.
fn presented(req: &ServiceRequest) -> Option<String> {
    presented_in(req.headers())
}

/// The id of the key these headers carry, read as authentication reads it (whatever other
/// header or spelling comes along): what the rate limit counts per key.
pub fn presented_key_id(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    presented_in(headers)
        .and_then(|text| keys::parse(&text))
        .map(|k| k.id)
}

fn presented_in(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, rest) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim().to_owned())
            .filter(|k| !k.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|k| !k.is_empty())
}

/// The answer to a refused request, with the headers its status calls for.
fn refuse<B>(req: ServiceRequest, error: ApiError) -> ServiceResponse<EitherBody<B>> {
    let mut response = error.error_response();
    let headers = response.headers_mut();
    match error.code() {
        ErrorCode::Unauthenticated => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"datastore\""),
            );
        }
        ErrorCode::TooManyRequests => {
            let seconds = error
                .0
                .details
                .as_ref()
                .and_then(|d| d["retryAfterSeconds"].as_u64());
            if let Some(v) = seconds.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                headers.insert(RETRY_AFTER, v);
            }
        }
        _ => {}
    }
    req.into_response(response).map_into_right_body()
}

/// Decides who the caller is (see the module docs); `/health` passes untouched.
pub async fn authenticate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(auth) = req.app_data::<web::Data<Auth>>().cloned() else {
        return Ok(refuse(req, ApiError::internal("the Auth state is missing")));
    };
    let asset = auth.asset_prefixes.iter().any(|prefix| {
        req.path()
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| !rest.is_empty() && !rest.contains("..") && !rest.contains('%'))
    });
    if asset || auth.public.iter().any(|p| p == req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    match auth.identify(&req).await {
        Ok(caller) => {
            // The acting key's id goes with every write of the request (the change log).
            let key_id = match &caller {
                Caller::Key { id, .. } => Some(id.clone()),
                Caller::Open => None,
            };
            req.extensions_mut().insert(caller);
            let response = crate::store::changes::acting(key_id, next.call(req)).await?;
            Ok(response.map_into_left_body())
        }
        Err(error) => Ok(refuse(req, error)),
    }
}

/// Checks the caller against the endpoint's [`Required`] role and the request's app. An
/// endpoint without a declared role requires `admin`; a request [`authenticate`] did not
/// see is refused.
pub async fn authorize<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let required = req.app_data::<Required>().map_or(Role::Admin, |r| r.0);
    let app = req
        .match_info()
        .get("app")
        .unwrap_or(DEFAULT_APP)
        .to_owned();
    let caller = req.extensions().get::<Caller>().cloned();
    let checked = match caller {
        Some(caller) => caller.check(required, &app),
        None => Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "the request was not authenticated",
        )),
    };
    match checked {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(error) => Ok(refuse(req, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role, app: Option<&str>) -> Caller {
        Caller::Key {
            id: "k".into(),
            role,
            app: app.map(str::to_owned),
        }
    }

    #[test]
    fn each_role_includes_the_ones_below_it_and_no_more() {
        for (role, allowed) in [
            (Role::Read, vec![Role::Read]),
            (Role::Write, vec![Role::Read, Role::Write]),
            (Role::Admin, vec![Role::Read, Role::Write, Role::Admin]),
        ] {
            for required in [Role::Read, Role::Write, Role::Admin] {
                let checked = key(role, None).check(required, DEFAULT_APP);
                assert_eq!(
                    checked.is_ok(),
                    allowed.contains(&required),
                    "{role} {required}"
                );
            }
        }
        assert!(Caller::Open.check(Role::Admin, DEFAULT_APP).is_ok());
    }

    #[test]
    fn an_app_key_is_only_for_its_app() {
        let caller = key(Role::Admin, Some("sales"));
        assert!(caller.check(Role::Read, "sales").is_ok());
        let refused = caller.check(Role::Read, DEFAULT_APP).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Forbidden);
        assert!(caller.check(Role::Read, "Sales").is_ok());
        assert!(key(Role::Admin, Some("default"))
            .check(Role::Read, "DEFAULT")
            .is_ok());
    }
}
