//! The admin console (API.md §13): a browser UI served by the binary at
//! `{basePath}/admin/`, and the endpoints only it needed (`validateConfig`,
//! `getObjectTypes`).
//!
//! The console's files (`assets/admin/`: HTML, CSS, ES modules, and Preact + htm vendored
//! with their licences) are embedded at build time with `include_dir`: nothing is fetched at
//! run time and no Node toolchain builds them. Every URL the console uses is relative (API
//! calls go to `../{endpoint}`, app `x` to `../apps/x/{endpoint}`), so it works under any
//! `--base-path`, IIS applications included. The console's state lives in the URL's
//! fragment, so a view can be bookmarked and shared. The files need no key (they hold no
//! data); every API call the console makes sends the key the person signed in with.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and connections
//! from the service itself only, no inline script or style, no frames; images also from
//! `blob:` (an uploaded image is fetched with the key, then shown from a blob URL).

pub mod types;
pub mod validate;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use include_dir::{include_dir, Dir};

use crate::error::{ApiError, ErrorCode};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets/admin");

/// The console's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob:; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds `/admin` (a redirect to `admin/`) and `/admin/{file}` to `scope` (the base path's).
pub(super) fn register(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .service(
            web::resource("/admin")
                .route(super::get().to(redirect))
                .default_service(super::only("GET, HEAD")),
        )
        .service(
            web::resource("/admin/{file:.*}")
                .route(super::get().to(file))
                .default_service(super::only("GET, HEAD")),
        )
}

/// `/admin` → `admin/`: relative, so it stays under the base path.
async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "admin/"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .finish()
}

async fn file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = match path.as_str() {
        "" => "index.html",
        other => other,
    };
    let found = ASSETS
        .get_file(name)
        .filter(|_| !name.split('/').any(|part| part.is_empty() || part == ".."));
    let Some(found) = found else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("the admin console has no file `{name}`"),
        ));
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type(name))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Revalidated on every load: an upgraded binary's console is used at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(found.contents()))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
        out.extend(dir.files());
        for sub in dir.dirs() {
            files(sub, out);
        }
    }

    #[test]
    fn every_console_module_is_served_as_javascript() {
        let mut all = Vec::new();
        files(&ASSETS, &mut all);
        for file in all {
            let name = file.path().to_string_lossy();
            if name.ends_with(".mjs") || name.ends_with(".js") {
                assert!(content_type(&name).starts_with("text/javascript"), "{name}");
            }
        }
        assert!(ASSETS.get_file("index.html").is_some());
    }
}
