//! The worker continues the trace of each task it runs: what it reports about the attempt
//! carries the `traceparent` the task came with.

use std::time::Duration;

use waymark_sdk::{ActivityContext, ActivityError, ActivityOptions, WorkerOptions};

use crate::otlp::Collector;
use crate::support::{Server, eventually, start_worker, unique};

async fn noop(_: ActivityContext, _: ()) -> Result<(), ActivityError> {
    Ok(())
}

#[tokio::test]
async fn the_completion_of_an_attempt_joins_the_trace_of_its_task() {
    let collector = Collector::start().await;
    let server = Server::start_with_env(&collector.env()).await;
    let client = server.client().await;
    let queue = unique("traced");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("Noop", noop).unwrap();
    });
    let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(10));
    let handle = client.start_activity("Noop", (), options).await.unwrap();
    handle.result::<()>().await.unwrap();
    worker.stop().await.unwrap();

    // The completion is found in the task's trace, under the span of the task's queue wait.
    let (wait, completion) = eventually(Duration::from_secs(10), || {
        let wait = collector
            .spans()
            .into_iter()
            .find(|s| s.name == "queue wait");
        let found = wait.and_then(|wait| {
            let mut in_trace = collector.trace(&wait.trace_id).into_iter();
            let completion = in_trace.find(|s| s.name.ends_with("/activity-complete"));
            completion.map(|c| (wait, c))
        });
        std::future::ready(found)
    })
    .await;
    assert_eq!(completion.parent_span_id, wait.span_id);
    assert_eq!(completion.service, "waymark", "start-dev's service name");
}
