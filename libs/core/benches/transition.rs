//! Micro-benchmarks of the activity machine's hot path: one activity's life (start → record
//! started → complete) as history applies it, and the JSON round trip of its state that every
//! transition pays to load and store it. `cargo bench -p waymark-core`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use waymark_api::{Payload, Payloads, StartActivityExecutionRequest, Timestamp};
use waymark_core::activity::{Activity, Caller, Command, NewRun, Transition};
use waymark_core::options::validate_start;

const T0: i64 = 1_800_000_000_000_000_000;

/// The request `waymark bench activities` sends.
fn request() -> StartActivityExecutionRequest {
    serde_json::from_str(
        r#"{"activityType":{"name":"Bench"},"taskQueue":{"name":"bench-queue"},"input":["x"],"startToCloseTimeout":"60s"}"#,
    )
    .expect("start request")
}

fn start(req: StartActivityExecutionRequest, now: Timestamp) -> Transition {
    let options = validate_start(
        "bench-1",
        &req,
        waymark_core::limits::DEFAULT_MAX_PAYLOAD_BYTES,
    )
    .expect("valid request");
    let run = NewRun {
        namespace: "default",
        activity_id: "bench-1",
        run_id: "run-1".into(),
        request_id: "rq-1".into(),
    };
    Activity::start(run, req, options, now)
}

fn record_started(a: Activity, now: Timestamp) -> Transition {
    let command = Command::RecordStarted {
        attempt: a.attempt,
        identity: "bench-worker".into(),
        request_id: "poll-1".into(),
    };
    a.apply(command, now).expect("record started")
}

fn complete(a: Activity, now: Timestamp) -> Transition {
    let result = Some(Payloads(vec![Payload::Json("done".into())]));
    let command = Command::Complete {
        caller: Caller::Token {
            attempt: a.attempt,
            stamp: a.stamp,
        },
        result,
        identity: "bench-worker".into(),
    };
    a.apply(command, now).expect("complete")
}

fn transitions(c: &mut Criterion) {
    let now = Timestamp::from_nanos(T0);
    let later = Timestamp::from_nanos(T0 + 1_000_000);
    let scheduled = start(request(), now).activity;
    let started = record_started(scheduled.clone(), later).activity;

    let mut g = c.benchmark_group("activity");
    g.bench_function("start", |b| {
        b.iter_batched(
            request,
            |req| start(req, black_box(now)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("record_started", |b| {
        b.iter_batched(
            || scheduled.clone(),
            |a| record_started(a, black_box(later)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("complete", |b| {
        b.iter_batched(
            || started.clone(),
            |a| complete(a, black_box(later)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("lifecycle", |b| {
        b.iter_batched(
            request,
            |req| {
                let a = start(req, black_box(now)).activity;
                let a = record_started(a, later).activity;
                complete(a, later)
            },
            BatchSize::SmallInput,
        )
    });
    // History loads the state from JSON and stores it back as JSON on every transition.
    let json = serde_json::to_string(&started).expect("serialize");
    g.bench_function("state_json_round_trip", |b| {
        b.iter(|| {
            let a: Activity = serde_json::from_str(black_box(&json)).expect("deserialize");
            serde_json::to_string(&a).expect("serialize")
        })
    });
    g.finish();
}

criterion_group!(benches, transitions);
criterion_main!(benches);
