//! The client: typed round trips through a worker, handles, and the server's errors.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use waymark_sdk::api::Code;
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityExecutionStatus, ActivityOptions, Client,
    ClientOptions, FailureKind, PendingActivityState, WorkerOptions,
};

use crate::support::{Server, start_worker, unique};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    items: Vec<String>,
    note: Option<String>,
}

fn options(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue).start_to_close_timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn inputs_and_results_of_every_shape_round_trip_typed() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("shapes");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("Unit", |_: ActivityContext, (): ()| async {
            Ok::<_, ActivityError>(())
        })
        .unwrap();
        w.register_activity("One", |_: ActivityContext, s: String| async move {
            Ok::<_, ActivityError>(s.to_uppercase())
        })
        .unwrap();
        w.register_activity(
            "Three",
            |_: ActivityContext, (n, s, b): (i64, String, bool)| async move {
                Ok::<_, ActivityError>((format!("{s}{n}{b}"), n * 2))
            },
        )
        .unwrap();
        w.register_activity("Struct", |_: ActivityContext, mut o: Order| async move {
            o.items.push("added".into());
            o.note = None;
            Ok::<_, ActivityError>(o)
        })
        .unwrap();
        w.register_activity("Sum", |_: ActivityContext, v: Vec<u32>| async move {
            Ok::<_, ActivityError>(v.iter().sum::<u32>())
        })
        .unwrap();
        w.register_activity("IsNone", |_: ActivityContext, o: Option<String>| async move { Ok::<_, ActivityError>(o.is_none()) }).unwrap();
    });

    let unit: () = client
        .start_activity("Unit", (), options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(unit, ());
    let one: String = client
        .start_activity("One", "hello", options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(one, "HELLO");
    let three: (String, i64) = client
        .start_activity("Three", (21, "x", true), options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(three, ("x21true".to_string(), 42));
    let order = Order {
        id: 7,
        items: vec!["a".into()],
        note: Some("n".into()),
    };
    let back: Order = client
        .start_activity("Struct", &order, options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(
        back,
        Order {
            id: 7,
            items: vec!["a".into(), "added".into()],
            note: None
        }
    );
    let sum: u32 = client
        .start_activity("Sum", vec![1, 2, 3], options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(sum, 6);
    let empty: u32 = client
        .start_activity("Sum", Vec::<u32>::new(), options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(empty, 0);
    let none: bool = client
        .start_activity("IsNone", None::<String>, options(&queue))
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert!(none);

    // The tuple went over the wire as three payloads, as any other worker expects it.
    let handle = client
        .start_activity("Three", (1, "y", false), options(&queue))
        .await
        .unwrap();
    let _: (String, i64) = handle.result().await.unwrap();
    let described: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/namespaces/default/activities/{}?includeInput=true",
        server.url,
        handle.id()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(described["input"], serde_json::json!([1, "y", false]));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_result_of_the_wrong_type_is_a_payload_error_naming_the_type() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("types");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("One", |_: ActivityContext, s: String| async move {
            Ok::<_, ActivityError>(s)
        })
        .unwrap();
    });
    let err = client
        .start_activity("One", "x", options(&queue))
        .await
        .unwrap()
        .result::<u64>()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not decode activity result [\"x\"] as u64"),
        "{err}"
    );

    // An input the activity cannot read fails the attempt for good, naming the type.
    let handle = client
        .start_activity("One", 42, options(&queue))
        .await
        .unwrap();
    let failure = handle.result::<String>().await.unwrap_err();
    let failure = failure.activity_failure().expect("an activity failure");
    assert_eq!(failure.error_type(), Some("InvalidActivityInput"));
    assert!(failure.is_non_retryable());
    assert!(
        failure.message().contains("alloc::string::String"),
        "{}",
        failure.message()
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_handle_describes_cancels_and_terminates() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("no-worker");

    let handle = client
        .start_activity("T", "x", options(&queue).id(unique("described")))
        .await
        .unwrap();
    let d = handle.describe().await.unwrap();
    assert_eq!(
        (d.status(), d.run_state(), d.attempt()),
        (
            ActivityExecutionStatus::Running,
            PendingActivityState::Scheduled,
            1
        )
    );
    assert_eq!(Some(d.run_id()), handle.run_id());

    // Not started: cancelled at once. Cancelling again from the same handle is a no-op.
    handle.cancel_with_reason("changed my mind").await.unwrap();
    handle.cancel_with_reason("changed my mind").await.unwrap();
    let failure = handle.result::<String>().await.unwrap_err();
    let failure = failure.activity_failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::Cancelled);
    assert_eq!(
        failure.details::<String>().unwrap().as_deref(),
        Some("changed my mind")
    );

    let other = client
        .start_activity("T", (), options(&queue))
        .await
        .unwrap();
    other
        .terminate_with_reason("no longer needed")
        .await
        .unwrap();
    other
        .terminate_with_reason("no longer needed")
        .await
        .unwrap();
    let failure = other.result::<()>().await.unwrap_err();
    let failure = failure.activity_failure().unwrap();
    assert_eq!(
        (failure.kind(), failure.message()),
        (FailureKind::Terminated, "no longer needed")
    );
    assert_eq!(
        other.describe().await.unwrap().status(),
        ActivityExecutionStatus::Terminated
    );

    // A handle from the id alone reaches the latest run.
    let by_id = client.activity_handle(handle.id(), None);
    assert_eq!(
        by_id.describe().await.unwrap().status(),
        ActivityExecutionStatus::Canceled
    );
}

#[tokio::test]
async fn the_servers_errors_keep_their_code_and_message() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("errors");
    let id = unique("dup");
    client
        .start_activity("T", (), options(&queue).id(&id))
        .await
        .unwrap();
    let err = client
        .start_activity("T", (), options(&queue).id(&id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::AlreadyExists), "{err}");
    assert!(
        err.to_string()
            .contains("activity execution already started"),
        "{err}"
    );

    let err = client
        .start_activity("T", (), ActivityOptions::new(&queue))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert!(
        err.to_string()
            .contains("a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set"),
        "{err}"
    );

    let err = Client::connect(
        &server.url,
        ClientOptions::default().namespace("nonexistent-ns"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(
        err.to_string()
            .contains("Namespace nonexistent-ns is not found."),
        "{err}"
    );

    let err = Client::connect("http://127.0.0.1:1", ClientOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn an_api_key_is_sent_as_a_bearer_token() {
    // The dev server does not check keys; this shows a keyed client works against it.
    let server = Server::start().await;
    let client = Client::connect(&server.url, ClientOptions::default().api_key("secret"))
        .await
        .unwrap();
    let queue = unique("keyed");
    let handle = client
        .start_activity("T", (), options(&queue))
        .await
        .unwrap();
    handle.terminate().await.unwrap();
}
