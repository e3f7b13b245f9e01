//! The web UI at `/ui/`: a page, a script and a stylesheet compiled into the binary (no Node
//! toolchain, nothing fetched from elsewhere). The script reads and steers the server through
//! the public API, so it can do exactly what the user's key may; these files are open to all.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/app.css");

/// Everything the page loads comes from this server; no inline script or style runs.
const POLICY: &str =
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'";

/// `/` redirects to `/ui/`; every `/ui/...` path is the page (its script reads the path: deep
/// links), but the assets.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/ui/") }))
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(page))
        .route("/ui/{*path}", get(page))
        .route(
            "/ui/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/ui/assets/app.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
}

/// The assets change only with the binary: cached, but checked again on each load.
async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
