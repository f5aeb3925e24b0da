//! The HTTP layer: one file per endpoint family, each handler thin.
//!
//! A handler collects its parameters ([`params::Params`]), refuses unknown ones, calls the
//! [`Datastore`] and answers JSON (or CSV). Every endpoint is `{basePath}/{endpointName}`;
//! write endpoints take POST, read endpoints GET and POST (API.md §2).

mod lists;
mod objects;
pub mod params;
mod relationships;
mod system;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{ApiError, ErrorCode};
use crate::service::Datastore;
use params::Params;

/// What every handler shares.
pub struct ApiState {
    pub datastore: Datastore,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl ApiState {
    async fn params(&self, req: &HttpRequest, body: web::Payload) -> Result<Params, ApiError> {
        Params::extract(req, body, self.body_limit).await
    }
}

type State = web::Data<ApiState>;

/// Which methods an endpoint takes, and the role it needs (API.md §3).
#[derive(Clone, Copy)]
enum Access {
    /// POST only; role `write`.
    Write,
    /// GET and POST; role `read`.
    Read,
}

impl Access {
    fn role(self) -> crate::auth::Role {
        match self {
            Access::Write => crate::auth::Role::Write,
            Access::Read => crate::auth::Role::Read,
        }
    }
}

/// Registers every endpoint under `base_path` (empty, or e.g. `/datastore`).
pub fn configure(base_path: &str) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |cfg| {
        let mut scope = web::scope(base_path);
        macro_rules! endpoint {
            ($name:literal, $access:expr, $handler:path) => {{
                let resource = web::resource(concat!("/", $name))
                    .name($name)
                    .route(web::post().to($handler))
                    .default_service(web::to(method_not_allowed));
                let resource = match $access {
                    Access::Read => resource.route(web::get().to($handler)),
                    Access::Write => resource,
                };
                // The role travels with the endpoint; `auth::authorize` checks it.
                let resource = resource
                    .app_data(crate::auth::Required($access.role()))
                    .wrap(actix_web::middleware::from_fn(crate::auth::authorize));
                scope = scope.service(resource);
            }};
        }
        endpoint!("newObject", Access::Write, objects::new_object);
        endpoint!("getObject", Access::Read, objects::get_object);
        endpoint!("saveProperty", Access::Write, objects::save_property);
        endpoint!("saveProperties", Access::Write, objects::save_properties);
        endpoint!(
            "changeObjectType",
            Access::Write,
            objects::change_object_type
        );
        endpoint!("dropObject", Access::Write, objects::drop_object);
        endpoint!(
            "saveRelationship",
            Access::Write,
            relationships::save_relationship
        );
        endpoint!(
            "dropRelationship",
            Access::Write,
            relationships::drop_relationship
        );
        endpoint!("getChildren", Access::Read, relationships::get_children);
        endpoint!("getParents", Access::Read, relationships::get_parents);
        endpoint!(
            "getObjectListTable",
            Access::Read,
            lists::get_object_list_table
        );
        endpoint!(
            "getObjectListByFilter",
            Access::Read,
            lists::get_object_list_by_filter
        );
        endpoint!("getConfig", Access::Read, system::get_config);
        endpoint!("getList", Access::Read, system::get_list);
        scope = scope.service(
            web::resource("/health")
                .name("health")
                .route(web::get().to(system::health))
                .default_service(web::to(method_not_allowed)),
        );
        scope = scope.service(
            web::resource("/metrics")
                .name("metrics")
                .route(web::get().to(crate::ops::metrics_endpoint))
                .default_service(web::to(method_not_allowed)),
        );
        cfg.service(scope);
        if !base_path.is_empty() {
            cfg.route("/health", web::get().to(system::health));
        }
        cfg.default_service(web::to(not_found));
    }
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
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
