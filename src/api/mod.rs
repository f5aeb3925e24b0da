//! The HTTP layer: one file per endpoint family, each handler thin.
//!
//! A handler collects its parameters ([`params::Params`]), refuses unknown ones, calls the
//! [`Datastore`] of the request's app and system ([`ApiState::tenant`]) and answers JSON
//! (or CSV). Every endpoint is `{basePath}/{endpointName}` (app `default`) and
//! `{basePath}/apps/{app}/{endpointName}`; write endpoints take POST, read endpoints GET and
//! POST (API.md §2, §9). `health`, `metrics` and the OpenAPI document are not per app.

mod admin;
mod aggregate;
mod batch;
mod events;
mod files;
mod idempotency;
mod lists;
mod objects;
pub mod openapi;
mod paging;
pub mod params;
mod relationships;
mod system;
mod transfer;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{ApiError, ErrorCode};
use crate::ops::Endpoint;
use crate::service::{Datastore, ServiceError, Tenants};
use crate::tenancy::{AppName, System, SYSTEM_HEADER};
use params::Params;

/// What every handler shares.
pub struct ApiState {
    /// The (app, system) databases; the default app's LIVE one is `tenants.central()`.
    pub tenants: Arc<Tenants>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Largest file `uploadFile` stores, in bytes.
    pub max_upload: u64,
}

impl ApiState {
    async fn params(&self, req: &HttpRequest, body: web::Payload) -> Result<Params, ApiError> {
        Params::extract(req, body, self.body_limit).await
    }

    /// The default app's LIVE datastore (health, metrics).
    pub fn central(&self) -> &Datastore {
        self.tenants.central()
    }

    /// The datastore of the request's app (`/apps/{app}/...`, else `default`) and system
    /// (`X-Datastore-System`, else LIVE), opened on first use (API.md §9). Only endpoints
    /// that need the write role or more create a database: a read of a pair that has none
    /// answers as from an empty database ([`Tenants::empty`]), so a read key cannot fill a
    /// server with empty databases.
    pub async fn tenant(&self, req: &HttpRequest) -> Result<Arc<Datastore>, ApiError> {
        let app = request_app(req)?;
        let system = request_system(req)?;
        let required = req
            .app_data::<crate::auth::Required>()
            .map_or(crate::auth::Role::Admin, |r| r.0);
        if required >= crate::auth::Role::Write {
            let datastore = (self.tenants.get(&app, system).await).map_err(ServiceError::from)?;
            let scoped = matches!(
                actix_web::HttpMessage::extensions(req).get::<crate::auth::Caller>(),
                Some(crate::auth::Caller::Key { app: Some(_), .. })
            );
            return Ok(if scoped {
                Arc::new(datastore.without_global_writes())
            } else {
                datastore
            });
        }
        let found = (self.tenants.find(&app, system).await).map_err(ServiceError::from)?;
        match found {
            Some(datastore) => Ok(datastore),
            None => Ok((self.tenants.empty(system).await).map_err(ServiceError::from)?),
        }
    }
}

/// The app a request addresses: a valid name or `400 INVALID_PARAMETER`.
fn request_app(req: &HttpRequest) -> Result<AppName, ApiError> {
    match req.match_info().get("app") {
        None => Ok(AppName::default_app()),
        Some(name) => AppName::parse(name).map_err(|message| {
            ApiError::new(ErrorCode::InvalidParameter, message)
                .with_details(serde_json::json!({ "app": name }))
        }),
    }
}

/// The system a request addresses: `X-Datastore-System` once, LIVE without it.
fn request_system(req: &HttpRequest) -> Result<System, ApiError> {
    let refused = |message: String| {
        ApiError::new(ErrorCode::InvalidParameter, message)
            .with_details(serde_json::json!({ "header": SYSTEM_HEADER }))
    };
    let mut values = req.headers().get_all(SYSTEM_HEADER);
    let Some(value) = values.next() else {
        return Ok(System::Live);
    };
    if values.next().is_some() {
        return Err(refused(format!("{SYSTEM_HEADER} is given more than once")));
    }
    let text = value
        .to_str()
        .map_err(|_| refused(format!("{SYSTEM_HEADER} is not LIVE, STAGING or TEST")))?;
    System::parse(text).map_err(refused)
}

type State = web::Data<ApiState>;

/// Which methods an endpoint takes, and the role it needs (API.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// POST only; role `write`.
    Write,
    /// GET and POST; role `read`.
    Read,
    /// GET and POST; role `admin`.
    AdminRead,
    /// POST only; role `admin`.
    AdminWrite,
}

impl Access {
    fn role(self) -> crate::auth::Role {
        match self {
            Access::Write => crate::auth::Role::Write,
            Access::Read => crate::auth::Role::Read,
            Access::AdminRead | Access::AdminWrite => crate::auth::Role::Admin,
        }
    }

    /// True when the endpoint takes GET besides POST.
    pub fn takes_get(self) -> bool {
        matches!(self, Access::Read | Access::AdminRead)
    }
}

/// Every `{basePath}/{endpointName}` endpoint that takes parameters: name, methods, handler.
/// `configure` registers them and [`endpoints`] lists them (for the OpenAPI document and its
/// tests), from this one list.
macro_rules! each_endpoint {
    ($m:ident) => {
        $m!("newObject", Access::Write, objects::new_object);
        $m!("getObject", Access::Read, objects::get_object);
        $m!("saveProperty", Access::Write, objects::save_property);
        $m!("saveProperties", Access::Write, objects::save_properties);
        $m!(
            "changeObjectType",
            Access::Write,
            objects::change_object_type
        );
        $m!("dropObject", Access::Write, objects::drop_object);
        $m!(
            "saveRelationship",
            Access::Write,
            relationships::save_relationship
        );
        $m!(
            "dropRelationship",
            Access::Write,
            relationships::drop_relationship
        );
        $m!("getChildren", Access::Read, relationships::get_children);
        $m!("getParents", Access::Read, relationships::get_parents);
        $m!("batch", Access::Write, batch::batch);
        $m!("getHistory", Access::Read, events::get_history);
        $m!(
            "getObjectListTable",
            Access::Read,
            lists::get_object_list_table
        );
        $m!(
            "getObjectListByFilter",
            Access::Read,
            lists::get_object_list_by_filter
        );
        $m!("getAggregate", Access::Read, aggregate::get_aggregate);
        $m!("uploadFile", Access::Write, files::upload::upload_file);
        $m!("getFile", Access::Read, files::download::get_file);
        $m!("getConfig", Access::Read, system::get_config);
        $m!("getList", Access::Read, system::get_list);
        $m!(
            "getObjectTypes",
            Access::Read,
            admin::types::get_object_types
        );
        $m!("exportData", Access::AdminRead, transfer::export_data);
        $m!("copySystem", Access::AdminWrite, transfer::copy_system);
        $m!(
            "validateConfig",
            Access::AdminRead,
            admin::validate::validate_config
        );
    };
}

/// The endpoints `configure` registers with parameters, in registration order (`health`,
/// which takes none and GET only, is not among them).
pub fn endpoints() -> Vec<(&'static str, Access)> {
    let mut all = Vec::new();
    macro_rules! list {
        ($name:literal, $access:expr, $handler:path) => {
            all.push(($name, $access))
        };
    }
    each_endpoint!(list);
    all
}

/// Registers every endpoint under `base_path` (empty, or e.g. `/datastore`), each also
/// under `{base_path}/apps/{app}` (API.md §9).
pub fn configure(base_path: &str) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |cfg| {
        // Routes are tried in order: the health check (asked often, by load balancers)
        // first, the endpoints before the patterns of apps and files.
        let mut scope = web::scope(base_path).service(
            web::resource("/health")
                .name("health")
                .app_data(Endpoint("health"))
                .route(get().to(system::health))
                .default_service(only("GET, HEAD")),
        );
        scope = register_endpoints(scope);
        scope = scope.service(events_resource("/apps/{app}/events"));
        scope = scope.service(register_endpoints(web::scope("/apps/{app}")));
        scope = scope.service(events_resource("/events"));
        scope = openapi::register(scope, base_path);
        scope = admin::register(scope);
        scope = scope.service(
            web::resource("/metrics")
                .name("metrics")
                .app_data(Endpoint("metrics"))
                .route(get().to(crate::ops::metrics_endpoint))
                .default_service(only("GET, HEAD"))
                // No role registered: an admin key (metrics cover every app).
                .wrap(actix_web::middleware::from_fn(crate::auth::authorize)),
        );
        if !base_path.is_empty() {
            cfg.service(
                web::resource("/health")
                    .app_data(Endpoint("/health"))
                    .route(get().to(system::health)),
            );
        }
        cfg.service(scope);
        cfg.default_service(web::to(not_found));
    }
}

/// Every endpoint of [`each_endpoint!`] in `scope`, with its methods and role.
fn register_endpoints(mut scope: actix_web::Scope) -> actix_web::Scope {
    macro_rules! endpoint {
        ($name:literal, $access:expr, $handler:path) => {{
            // One name for both forms: the metrics count per endpoint, never per app.
            // A method it does not take: 405 with the methods it does (RFC 9110 `Allow`).
            let allow = if $access.takes_get() {
                "GET, HEAD, POST"
            } else {
                "POST"
            };
            let resource = web::resource(concat!("/", $name))
                .name($name)
                .app_data(Endpoint($name))
                .route(web::post().to($handler))
                .default_service(only(allow));
            let resource = if $access.takes_get() {
                resource.route(get().to($handler))
            } else {
                resource
            };
            // A retried write with an `Idempotency-Key` answers the first answer (uploads
            // excepted: their bodies are not held whole).
            let resource = resource.wrap(actix_web::middleware::Condition::new(
                $access == Access::Write && $name != "uploadFile",
                actix_web::middleware::from_fn(idempotency::idempotent),
            ));
            // The role travels with the endpoint; `auth::authorize` checks it (before the
            // idempotency record: the last wrapped runs first).
            let resource = resource
                .app_data(crate::auth::Required($access.role()))
                .wrap(actix_web::middleware::from_fn(crate::auth::authorize));
            scope = scope.service(resource);
        }};
    }
    each_endpoint!(endpoint);
    scope
}

/// `GET /events` (read role): its query takes a repeated `objectType`, so it is not among
/// the endpoints of [`each_endpoint!`].
fn events_resource(path: &str) -> impl actix_web::dev::HttpServiceFactory {
    web::resource(path)
        .name("events")
        .app_data(Endpoint("events"))
        .route(get().to(events::events))
        .default_service(only("GET, HEAD"))
        .app_data(crate::auth::Required(crate::auth::Role::Read))
        .wrap(actix_web::middleware::from_fn(crate::auth::authorize))
}

/// A route for GET and HEAD: every endpoint that takes GET answers HEAD with the same status
/// and headers (RFC 9110 §9.3.2; load balancers, IIS/ARR health probes and `curl -I` send
/// it). The handler runs as for GET; actix-http writes the headers of its answer, the
/// `Content-Length` of a sized body included, and never its body. A streamed body is not
/// run at all on HEAD (`ops::observe` gives it a body that yields nothing).
pub(crate) fn get() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// The answer to any other method of a resource that takes `allow` (e.g. `"GET, HEAD, POST"`).
fn only(allow: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| method_not_allowed(req, allow))
}

async fn method_not_allowed(req: HttpRequest, allow: &'static str) -> HttpResponse {
    let error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}; it takes {allow}",
            req.method(),
            req.path()
        ),
    );
    let mut response = actix_web::ResponseError::error_response(&error);
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    response
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("there is no endpoint {}", req.path()),
    ))
}

fn json(value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(value)
}
