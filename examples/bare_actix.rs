//! The HTTP ceiling of this machine for `scripts/bench.sh`'s `GET /health` row: actix-web
//! with nothing but a route that answers the same body, the same worker count (one per
//! core) and no logging, metrics or middleware (docs/BENCHMARKS.md, issue 9).
//!
//!     cargo run --release --example bare_actix -- 127.0.0.1:7399
//!     wrk -t2 -c64 -d10s http://127.0.0.1:7399/health

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7399".to_owned());
    HttpServer::new(|| {
        App::new().route(
            "/health",
            web::get().to(|| async {
                let mut answer = HttpResponse::Ok();
                answer.content_type("application/json");
                if std::env::var_os("BARE_HEADERS").is_some() {
                    // The security headers and request id `serve` adds to every answer.
                    answer
                        .insert_header((
                            "content-security-policy",
                            "default-src 'none'; frame-ancestors 'none'",
                        ))
                        .insert_header(("x-content-type-options", "nosniff"))
                        .insert_header(("referrer-policy", "no-referrer"))
                        .insert_header(("x-frame-options", "DENY"))
                        .insert_header(("x-request-id", "678ffd5f640dbd7a"));
                }
                answer.body(r#"{"status":"ok"}"#)
            }),
        )
    })
    .bind(listen)?
    .run()
    .await
}
