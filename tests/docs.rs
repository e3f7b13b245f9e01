//! The API's documentation: the OpenAPI document at `/api/v1/openapi.json`, and the Swagger UI
//! page at `/docs` rendered in headless Chromium (its endpoint list, and a screenshot).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Operations the rendered page must list.
const OPERATIONS: [&str; 4] = [
    "/api/v1/namespaces/{namespace}/activities/{activityId}",
    "/api/v1/namespaces/{namespace}/activity-tasks/poll",
    "/api/v1/namespaces/{namespace}/workflows/{workflowId}/history",
    "/api/v1/namespaces/{namespace}/workflows/{workflowId}/activities/{activityId}/heartbeat",
];

#[tokio::test]
async fn the_openapi_document_is_served_under_api_v1() {
    let s = Server::start_in_memory().await;
    let url = format!("http://{}/api/v1/openapi.json", s.authority());
    let (status, doc) = s.send(Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Waymark");
    for path in OPERATIONS {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
}

/// Chromium, or `None` where it is not installed (see `tool_installed`).
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    tool_installed(CHROMIUM, path.exists(), "apt-get install -y chromium").then_some(path)
}

/// Runs headless Chromium on `url` with `args`; its stdout.
async fn headless(chromium: &Path, profile: &Path, url: &str, args: &[&str]) -> String {
    let run = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("chromium finishes within 60 s")
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_docs_page_lists_the_endpoints_in_a_browser() {
    if distributed() {
        skip("the same router serves the page in both deployments: the start-dev run covers it");
        return;
    }
    let Some(chromium) = chromium() else { return };
    let s = Server::start_in_memory().await;
    let url = format!("http://{}/docs", s.authority());
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("docs"));
    std::fs::create_dir_all(&scratch).expect("scratch dir");

    let dom = headless(chromium, &scratch.join("profile"), &url, &["--dump-dom"]).await;
    for path in OPERATIONS {
        assert!(
            dom.contains(path),
            "the rendered page does not list {path}:\n{dom}"
        );
    }

    // Kept under target/ to look at: target/tmp/docs.png.
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs.png");
    let _ = std::fs::remove_file(&screenshot);
    let arg = format!("--screenshot={}", screenshot.display());
    headless(
        chromium,
        &scratch.join("profile"),
        &url,
        &[&arg, "--window-size=1280,2000"],
    )
    .await;
    let png = std::fs::read(&screenshot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        screenshot.display()
    );
    let size = png.len();
    // A blank 1280x2000 PNG is a few kB; the rendered endpoint list is hundreds.
    assert!(
        size > 50_000,
        "{} is {size} bytes: the page did not render",
        screenshot.display()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
