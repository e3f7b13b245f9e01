//! The web UI (issue 15) in a real headless Chromium: what a person sees on each page of a
//! server with real executions, live, and what a click does. Screenshots land in
//! `target/ui-screenshots/`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::auth::{bootstrap_key, create, secured};
use crate::support::browser::Browser;
use crate::support::workflow::*;
use crate::support::*;

/// What "live" means here: a change shows without a reload within this.
const LIVE: Duration = Duration::from_secs(1);

/// The UI is served by the frontend, the same router in both deployments: its start-dev run
/// covers it.
fn covered_by_start_dev() -> bool {
    if distributed() {
        skip("the frontend's router serves the UI alike in both deployments");
        return true;
    }
    false
}

#[tokio::test]
async fn the_root_redirects_to_the_ui_and_deep_links_serve_the_page() {
    let s = Server::start_in_memory().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = http.get(format!("{}/", s.origin())).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(root.headers()["location"], "/ui/");
    for path in [
        "/ui/",
        "/ui/namespaces/default/workflows/order-1/run-2",
        "/ui/namespaces/x/task-queues/q",
    ] {
        let page = http
            .get(format!("{}{path}", s.origin()))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
        assert!(
            page.text().await.unwrap().contains("/ui/assets/app.js"),
            "{path}"
        );
    }
    let script = http
        .get(format!("{}/ui/assets/app.js", s.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );

    let off = Server::start_with_env(&[("WAYMARK_UI", "off")]).await;
    let url = format!("{}/ui/", off.origin());
    let (status, body) = off.send(Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_started_workflow_appears_in_the_list_live_and_its_detail_follows_it() {
    if covered_by_start_dev() {
        return;
    }
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let s = Server::start_in_memory().await;
    browser
        .goto(&format!("{}/ui/namespaces/default/workflows", s.origin()))
        .await;
    browser
        .wait_for_text("No workflows match.", Duration::from_secs(10))
        .await;
    browser.eval("window.notReloaded = true").await;

    let (id, queue, activity_queue) = (unique("order"), unique("wq"), unique("aq"));
    s.start_workflow(&id, &queue, json!({"workflowType": {"name": "Order"}}))
        .await;
    let shown = browser.wait_for_text(&id, Duration::from_secs(5)).await;
    assert!(shown <= LIVE, "the workflow took {shown:?} to appear");
    assert_eq!(
        browser.eval("return window.notReloaded").await,
        true,
        "the page reloaded"
    );
    let text = browser.text().await;
    assert!(text.contains("RUNNING") && text.contains("Order"), "{text}");
    browser.screenshot("workflows-1280").await;

    s.run_first_task(
        &queue,
        json!([schedule_activity("charge", &activity_queue, json!({}))]),
    )
    .await;
    browser
        .goto(&format!(
            "{}/ui/namespaces/default/workflows/{id}",
            s.origin()
        ))
        .await;
    browser
        .wait_for_text("ACTIVITY_TASK_SCHEDULED", Duration::from_secs(10))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Pending activities") && text.contains("SimpleActivity"),
        "{text}"
    );
    // Pause the activity from the UI, then unpause it: each confirmed, each shown.
    let activity_state = || async {
        let described = s.describe_workflow(&id).await;
        described["pendingActivities"][0]["state"].clone()
    };
    browser.click_button("Pause").await;
    assert_eq!(browser.accept_dialog().await, "Pause activity charge?");
    browser
        .wait_for_text("paused from the web UI", Duration::from_secs(5))
        .await;
    assert_eq!(activity_state().await, "PENDING_ACTIVITY_STATE_PAUSED");
    browser.screenshot("workflow-paused-activity-1280").await;
    browser.click_button("Unpause").await;
    browser.accept_dialog().await;
    eventually(Duration::from_secs(5), || async {
        (activity_state().await == "PENDING_ACTIVITY_STATE_SCHEDULED").then_some(())
    })
    .await;

    browser.eval("window.notReloaded = true").await;
    // A failed attempt writes no event; the timeline shows it and the retry's backoff.
    let task = s.poll_task(&activity_queue).await;
    s.fail(&task, app_failure("card declined", "Declined"))
        .await;
    let titles = "return [...document.querySelectorAll('svg.gantt title')].map(t => t.textContent).join('|')";
    eventually(Duration::from_secs(5), || async {
        let shown = browser.eval(titles).await;
        let shown = shown.as_str().unwrap_or_default();
        (shown.contains("attempts 1–1 failed: card declined")
            && shown.contains("retry backoff before attempt 2"))
        .then_some(())
    })
    .await;
    browser.screenshot("workflow-retry-1280").await;
    let task = s.poll_task(&activity_queue).await;
    s.complete(&task, json!(["charged"])).await;
    let shown = browser
        .wait_for_text("ACTIVITY_TASK_COMPLETED", Duration::from_secs(5))
        .await;
    assert!(shown <= LIVE, "the completion took {shown:?} to appear");
    assert_eq!(
        browser.eval("return window.notReloaded").await,
        true,
        "the page reloaded"
    );
    browser.screenshot("workflow-1280").await;

    // A query from the UI goes to the workflow worker, and its answer is shown.
    browser.click_button("Query").await;
    assert_eq!(browser.answer_prompt("state").await, "Query type");
    browser.answer_prompt("").await;
    // The workflow task scheduled by the completion goes first; the query comes after it.
    let mut query_task = s.poll_workflow_task(&queue).await;
    if query_task["query"].is_null() {
        s.complete_workflow_task(&query_task, json!([])).await;
        query_task = s.poll_workflow_task(&queue).await;
    }
    assert_eq!(query_task["query"]["queryType"], "state");
    let answer = json!({"taskToken": query_task["taskToken"],
        "completedType": "QUERY_RESULT_TYPE_ANSWERED", "queryResult": [{"paid": true}]});
    let (status, body) = s.post("workflow-tasks/query-complete", answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    browser
        .wait_for_text("\"paid\": true", Duration::from_secs(5))
        .await;

    // Cancel from the UI: confirmed, then recorded.
    browser.click_button("Cancel").await;
    let asked = browser.accept_dialog().await;
    assert!(asked.contains(&id), "{asked}");
    eventually(Duration::from_secs(5), || async {
        let types = event_types(&s.history(&id).await);
        types.iter().any(|t| t == "WECR").then_some(())
    })
    .await;
    browser
        .wait_for_text(
            "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
            Duration::from_secs(5),
        )
        .await;
}

#[tokio::test]
async fn a_task_queue_page_shows_a_waiting_poller_and_a_backlog() {
    if covered_by_start_dev() {
        return;
    }
    let Some(browser) = Browser::start(390, 844).await else {
        return;
    };
    let s = Server::start_in_memory().await;
    let queue = unique("tq");
    // One activity waits in the backlog while a workflow worker waits on the same queue.
    s.start_activity(&queue, json!({"taskQueue": {"name": queue}}))
        .await;
    let poller = s.poll_workflow(&queue, "20S");
    let page = async {
        // The list of queues used lately links to it.
        browser
            .goto(&format!("{}/ui/namespaces/default/task-queues", s.origin()))
            .await;
        browser.wait_for_text(&queue, Duration::from_secs(10)).await;
        browser
            .goto(&format!(
                "{}/ui/namespaces/default/task-queues/{queue}",
                s.origin()
            ))
            .await;
        browser
            .wait_for_text(WORKFLOW_WORKER, Duration::from_secs(10))
            .await;
        eventually(Duration::from_secs(10), || async {
            let text = browser.text().await;
            // The activity row: its backlog of 1.
            text.lines()
                .any(|l| l.starts_with("activity\t1"))
                .then_some(())
        })
        .await;
        browser.screenshot("task-queue-390").await;
        // Readable at 390 px: the page is no wider than the window (a wide table scrolls in
        // its own box).
        let widths = browser
            .eval("return [window.innerWidth, document.documentElement.scrollWidth]")
            .await;
        assert_eq!(widths[0], 390, "{widths}");
        assert_eq!(
            widths[1], 390,
            "the page is wider than the window: {widths}"
        );
        // Start a workflow to end the poll.
        s.start_workflow(&unique("wf"), &queue, json!({})).await;
    };
    let (_, ()) = tokio::join!(poller, page);
}

#[tokio::test]
async fn an_activity_page_shows_its_heartbeat_live_and_the_overview_counts() {
    if covered_by_start_dev() {
        return;
    }
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let s = Server::start_in_memory().await;
    let id = unique("act");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;
    browser
        .goto(&format!(
            "{}/ui/namespaces/default/activities/{id}",
            s.origin()
        ))
        .await;
    browser
        .wait_for_text("STARTED", Duration::from_secs(10))
        .await;
    s.heartbeat(&task, json!([{"step": 7}])).await;
    let shown = browser
        .wait_for_text("\"step\": 7", Duration::from_secs(5))
        .await;
    assert!(shown <= LIVE, "the heartbeat took {shown:?} to appear");
    browser.screenshot("activity-1280").await;
    s.start_activity(&format!("{id}-2"), json!({})).await;
    s.complete(&task, json!(["done"])).await;

    browser
        .goto(&format!("{}/ui/namespaces/default", s.origin()))
        .await;
    browser
        .wait_for_text("Standalone activities", Duration::from_secs(10))
        .await;
    eventually(Duration::from_secs(5), || async {
        let text = browser.text().await;
        (text.contains("1\nRunning")
            && text.contains("1\nCompleted")
            && text.contains("1 completed"))
        .then_some(())
    })
    .await;
    let text = browser.text().await;
    assert!(text.contains("1 attempts started"), "{text}");
    browser.screenshot("overview-1280").await;
}

#[tokio::test]
async fn with_keys_the_ui_asks_for_one_and_a_reader_sees_no_buttons() {
    if covered_by_start_dev() {
        return;
    }
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let admin_key = bootstrap_key();
    let (s, admin) = secured().await;
    let reader = create(&admin, "default", "reader").await;
    let id = unique("wf");
    s.at("/api/v1/namespaces/default")
        .with_key(&admin_key)
        .start_workflow(&id, &unique("q"), json!({}))
        .await;

    browser
        .goto(&format!(
            "{}/ui/namespaces/default/workflows/{id}",
            s.origin()
        ))
        .await;
    browser
        .wait_for_text("The server needs an API key", Duration::from_secs(10))
        .await;
    browser.type_into("#key-form input", &reader).await;
    browser.click_button("Use key").await;
    browser
        .wait_for_text("WORKFLOW_EXECUTION_STARTED", Duration::from_secs(10))
        .await;
    assert!(browser.shows_button("Query").await, "a reader may query");
    for write in ["Signal", "Cancel", "Terminate"] {
        assert!(
            !browser.shows_button(write).await,
            "a reader sees no {write} button"
        );
    }
    browser.screenshot("reader-1280").await;

    // The admin key shows them.
    browser.click_button("Key").await;
    browser.type_into("#key-form input", &admin_key).await;
    browser.click_button("Use key").await;
    // The reader's page showed the same text: wait for the admin's buttons instead.
    eventually(Duration::from_secs(10), || async {
        browser.shows_button("Cancel").await.then_some(())
    })
    .await;
}
