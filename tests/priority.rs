//! Issue 16: a task queue dispatches every task of a higher priority level before any of a lower
//! one (1 first, 5 last; 3 when none is given), first in first out within a level; a workflow's
//! activities inherit its priority unless they set their own.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::workflow::*;
use crate::support::*;

fn at(priority: i32) -> Value {
    json!({"taskQueue": {"name": "prio"}, "priority": {"priorityKey": priority}})
}

#[tokio::test]
async fn fifty_low_priority_tasks_then_five_high_ones_the_next_five_polls_get_the_high_ones() {
    let s = Server::start().await;
    let queue = unique("prio");
    let on_queue = |priority: i32| {
        let mut extra = at(priority);
        extra["taskQueue"]["name"] = json!(queue);
        extra
    };
    for i in 0..50 {
        s.start_activity(&format!("low-{i}"), on_queue(5)).await;
    }
    for i in 0..5 {
        s.start_activity(&format!("high-{i}"), on_queue(1)).await;
    }
    let described =
        format!("task-queues/{queue}?taskQueueType=TASK_QUEUE_TYPE_ACTIVITY&reportStats=true");
    let (status, body) = s.get(&described).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stats"]["approximateBacklogCount"], "55", "{body}");
    let by_key = &body["statsByPriorityKey"];
    assert_eq!(
        (
            &by_key["1"]["approximateBacklogCount"],
            &by_key["5"]["approximateBacklogCount"]
        ),
        (&json!("5"), &json!("50")),
        "{body}"
    );

    let mut taken = Vec::new();
    for _ in 0..5 {
        let task = s.poll_task(&queue).await;
        assert_eq!(task["priority"], json!({"priorityKey": 1}), "{task}");
        taken.push(task["activityId"].as_str().unwrap().to_owned());
    }
    assert_eq!(taken, ["high-0", "high-1", "high-2", "high-3", "high-4"]);
    assert_eq!(s.poll_task(&queue).await["activityId"], "low-0");
}

#[tokio::test]
async fn a_workflows_activities_inherit_its_priority_unless_they_set_their_own() {
    let s = Server::start().await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_activity(&unique("default"), json!({"taskQueue": {"name": aq}}))
        .await;
    s.start_workflow(&wid, &queue, json!({"priority": {"priorityKey": 1}}))
        .await;
    let own = json!({"priority": {"priorityKey": 5}});
    s.run_first_task(
        &queue,
        json!([
            schedule_activity("own", &aq, own),
            schedule_activity("inherits", &aq, json!({})),
        ]),
    )
    .await;
    let tasks = [
        s.poll_task(&aq).await,
        s.poll_task(&aq).await,
        s.poll_task(&aq).await,
    ];
    let order: Vec<Value> = tasks.iter().map(|t| t["activityId"].clone()).collect();
    // A workflow activity's poll answer shows its effective priority.
    assert_eq!(tasks[0]["priority"], json!({"priorityKey": 1}));
    assert_eq!(tasks[2]["priority"], json!({"priorityKey": 5}));
    assert_eq!(
        order[0], "inherits",
        "the workflow's level 1 goes first: {order:?}"
    );
    assert!(
        order[1].as_str().unwrap().starts_with("default-"),
        "{order:?}"
    );
    assert_eq!(order[2], "own", "its own level 5 goes last: {order:?}");
}
