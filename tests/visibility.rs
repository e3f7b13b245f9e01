//! List and count with visibility queries (§8.2, §8.3). §12.10: int64 counts are strings and a
//! zero count prints `{}`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// Four activities: three of type `a` (running, completed, terminated, started in that order)
/// and one of type `b` (running).
struct Fixture {
    a: String,
    b: String,
    running: String,
    completed: String,
    terminated: String,
    other: String,
    /// `scheduleTime` of `running`, the first one started.
    first_start: String,
}

async fn fixture(s: &Server) -> Fixture {
    let (a, b) = (unique("TypeA"), unique("TypeB"));
    let ids: Vec<String> = ["running", "completed", "terminated", "other"]
        .iter()
        .map(|n| unique(n))
        .collect();
    for (id, ty) in ids.iter().zip([&a, &a, &a, &b]) {
        s.start_activity(id, json!({"activityType": {"name": ty}}))
            .await;
    }
    assert_eq!(
        s.by_id(&ids[1], "complete", json!({"result": ["ok"]}))
            .await,
        ok(json!({}))
    );
    assert_eq!(
        s.by_id(&ids[2], "terminate", json!({"reason": "stop"}))
            .await,
        ok(json!({}))
    );
    let first_start = s.info(&ids[0]).await["scheduleTime"]
        .as_str()
        .unwrap()
        .to_owned();
    let f = Fixture {
        a,
        b,
        running: ids[0].clone(),
        completed: ids[1].clone(),
        terminated: ids[2].clone(),
        other: ids[3].clone(),
        first_start,
    };
    // Visibility may lag the executions a little.
    let all = format!("ActivityType = '{}' OR ActivityType = '{}'", f.a, f.b);
    let closed = format!(
        "ActivityType = '{}' AND ExecutionStatus IN ('Completed', 'Terminated')",
        f.a
    );
    eventually(Duration::from_secs(5), || async {
        (count(s, &all).await == ok(json!({"count": "4"}))
            && count(s, &closed).await == ok(json!({"count": "2"})))
        .then_some(())
    })
    .await;
    f
}

async fn count(s: &Server, query: &str) -> Reply {
    s.get_with("activity-count", &[("query", query)], None)
        .await
}

async fn list(s: &Server, params: &[(&str, &str)]) -> Value {
    let (status, body) = s.get_with("activities", params, None).await;
    assert_eq!(status, 200, "list {params:?}: {body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["executions"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["activityId"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

// §12.10: a zero count prints `{}`.
#[tokio::test]
async fn a_query_that_matches_nothing_counts_and_lists_as_an_empty_object() {
    let s = Server::start().await;
    let query = format!("ActivityType = '{}'", unique("Nothing"));
    assert_eq!(count(&s, &query).await, ok(json!({})));
    assert_eq!(list(&s, &[("query", &query)]).await, json!({}));
}

// §12.10: int64 counts are strings.
#[tokio::test]
async fn list_and_count_filter_with_visibility_queries() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let (a, b) = (&f.a, &f.b);
    let cases = [
        (
            format!("ActivityType = '{a}' AND ExecutionStatus = 'Running'"),
            sorted(&[&f.running]),
        ),
        (
            format!("ActivityType = '{a}' AND ExecutionStatus = 'Completed'"),
            sorted(&[&f.completed]),
        ),
        (
            format!("ActivityType = '{a}' OR ActivityType = '{b}'"),
            sorted(&[&f.running, &f.completed, &f.terminated, &f.other]),
        ),
        (
            format!(
                "(ActivityType = '{a}' OR ActivityType = '{b}') AND ExecutionStatus = 'Running'"
            ),
            sorted(&[&f.running, &f.other]),
        ),
        (
            format!("ActivityType = '{a}' AND StartTime > '{}'", f.first_start),
            sorted(&[&f.completed, &f.terminated]),
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(
            ids(&list(&s, &[("query", &query)]).await),
            expected,
            "list {query}"
        );
        assert_eq!(
            count(&s, &query).await,
            ok(json!({"count": expected.len().to_string()})),
            "count {query}"
        );
    }

    let page = list(&s, &[("query", &format!("ActivityId = '{}'", f.running))]).await;
    let entry = &page["executions"][0];
    assert_eq!(entry["activityType"], json!({"name": a}));
    assert_eq!(entry["status"], "ACTIVITY_EXECUTION_STATUS_RUNNING");
    assert_eq!(entry["taskQueue"], json!(f.running));
    assert_eq!(entry["runId"], s.describe(&f.running).await["runId"]);
    assert_eq!(
        entry.get("runState"),
        None,
        "list entries carry no runState: {entry}"
    );
}

#[tokio::test]
async fn count_groups_by_execution_status() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let (status, mut body) = count(
        &s,
        &format!("ActivityType = '{}' GROUP BY ExecutionStatus", f.a),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["groups"]
        .as_array_mut()
        .expect("groups")
        .sort_by_key(|g| g["groupValues"].to_string());
    let group = |status: &str| json!({"groupValues": [status], "count": "1"});
    assert_eq!(
        body,
        json!({"count": "3", "groups": [group("Completed"), group("Running"), group("Terminated")]})
    );
}

#[tokio::test]
async fn list_pages_with_page_size_and_next_page_token() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let query = format!("ActivityType = '{}'", f.a);
    let first = list(&s, &[("query", &query), ("pageSize", "2")]).await;
    assert_eq!(ids(&first).len(), 2, "{first}");
    let token = first["nextPageToken"].as_str().expect("a next page token");
    let second = list(
        &s,
        &[
            ("query", &query),
            ("pageSize", "2"),
            ("nextPageToken", token),
        ],
    )
    .await;
    assert_eq!(ids(&second).len(), 1, "{second}");
    assert_eq!(
        second.get("nextPageToken"),
        None,
        "the last page has no token: {second}"
    );

    let mut all = [ids(&first), ids(&second)].concat();
    all.sort();
    assert_eq!(all, sorted(&[&f.running, &f.completed, &f.terminated]));
}

#[tokio::test]
async fn a_bad_query_is_an_invalid_argument() {
    let s = Server::start().await;
    let cases = [
        (
            "Bogus = 'x'",
            "invalid query: invalid search attribute: Bogus",
        ),
        (
            "ActivityType = 'x' ORDER BY StartTime",
            "invalid query: operation is not supported: 'ORDER BY' clause",
        ),
    ];
    for (query, message) in cases {
        assert_eq!(
            count(&s, query).await,
            error(400, 3, message),
            "count {query}"
        );
        let listed = s.get_with("activities", &[("query", query)], None).await;
        assert_eq!(listed, error(400, 3, message), "list {query}");
    }
    let (status, body) = count(&s, "ActivityType = ").await;
    assert_eq!(
        (status.as_u16(), body["code"].clone()),
        (400, json!(3)),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid query")),
        "{body}"
    );
    let grouped = s
        .get_with("activities", &[("query", "GROUP BY ExecutionStatus")], None)
        .await;
    assert_eq!(
        (grouped.0.as_u16(), grouped.1["code"].clone()),
        (400, json!(3)),
        "GROUP BY in a list: {grouped:?}"
    );
}

/// Waymark's `Attempt` attribute: an activity's attempt, a workflow's highest pending one; the
/// web UI's "Retrying" view is `ExecutionStatus='Running' AND Attempt > 1`.
#[tokio::test]
async fn attempt_finds_what_is_retrying_among_activities_and_workflows() {
    use crate::support::workflow::*;
    let s = Server::start_in_memory().await;
    let retrying = "ExecutionStatus='Running' AND Attempt > 1";
    let policy = json!({"retryPolicy": {"initialInterval": "60s"}});

    // A standalone activity whose first attempt failed waits for its second.
    let (id, calm) = (unique("flaky"), unique("calm"));
    s.start_activity(&id, policy.clone()).await;
    s.start_activity(&calm, json!({})).await;
    let task = s.poll_task(&id).await;
    s.fail(&task, app_failure("boom", "Flaky")).await;
    let listed = list(&s, &[("query", retrying)]).await;
    let ids: Vec<&str> = listed["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["activityId"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()], "{listed}");

    // A workflow whose activity is in its second attempt; another whose activity is in its first.
    let (flaky, steady) = (unique("wf"), unique("wf"));
    for wid in [&flaky, &steady] {
        let (queue, activity_queue) = (format!("{wid}-q"), format!("{wid}-aq"));
        s.start_workflow(wid, &queue, json!({})).await;
        s.run_first_task(
            &queue,
            json!([schedule_activity("a", &activity_queue, policy.clone())]),
        )
        .await;
        if wid == &flaky {
            let task = s.poll_task(&activity_queue).await;
            s.fail(&task, app_failure("boom", "Flaky")).await;
        }
    }
    let (status, answer) = s.get_with("workflows", &[("query", retrying)], None).await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<&str> = answer["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["execution"]["workflowId"].as_str())
        .collect();
    assert_eq!(ids, [flaky.as_str()], "{answer}");
    let (_, bad) = s
        .get_with("workflows", &[("query", "Attempt > 'many'")], None)
        .await;
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or("")
            .contains("invalid integer value 'many' for Attempt"),
        "{bad}"
    );
}
