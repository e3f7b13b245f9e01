//! Micro-benchmark of one activity's full lifecycle of transactions, as history commits them:
//! create (with its dispatch in the outbox), update to started (with a start-to-close timer),
//! update to completed (clearing its timers). On SQLite in memory (start-dev's store), and on
//! PostgreSQL when `WAYMARK_TEST_DATABASE_URL` (default: the local one) answers, in a schema of
//! its own that is dropped after. `cargo bench -p waymark-store`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sea_orm::ConnectionTrait;
use waymark_store::{ACTIVITY_TASK, ActivityRecord, Effects, NewDispatch, NewTimer, Store};

const T0: i64 = 1_800_000_000_000_000_000;

/// About the size of a real activity's JSON state (a started activity with a small input).
fn state(phase: &str) -> String {
    format!(r#"{{"phase":"{phase}","padding":"{}"}}"#, "x".repeat(1100))
}

fn record(n: u64) -> ActivityRecord {
    ActivityRecord {
        namespace: "default".into(),
        activity_id: format!("bench-{n}"),
        run_id: format!("run-{n}"),
        activity_type: "Bench".into(),
        task_queue: "bench-queue".into(),
        status: "Running".into(),
        request_id: format!("rq-{n}"),
        schedule_time_ns: T0,
        close_time_ns: None,
        execution_time_ns: T0,
        dispatch_at_ns: Some(T0),
        attempt: 1,
        state: state("scheduled"),
        version: 1,
    }
}

/// The three transactions of start → record started → complete.
async fn lifecycle(store: &Store, n: u64) {
    let mut rec = record(n);
    let dispatch = NewDispatch {
        task_queue: rec.task_queue.clone(),
        kind: ACTIVITY_TASK,
        scheduled_event_id: 0,
        attempt: 1,
        priority: Default::default(),
    };
    let created = Effects {
        dispatches: vec![dispatch],
        ..Default::default()
    };
    store
        .create_activity(&rec, None, &created)
        .await
        .expect("create");

    rec.dispatch_at_ns = None;
    rec.state = state("started");
    rec.version = 2;
    let timer = NewTimer {
        kind: "start_to_close".into(),
        attempt: 1,
        due_ns: T0 + 60_000_000_000,
    };
    store
        .update_activity(
            &rec,
            1,
            &Effects {
                timers: vec![timer],
                ..Default::default()
            },
        )
        .await
        .expect("start");

    rec.status = "Completed".into();
    rec.close_time_ns = Some(T0 + 1_000_000);
    rec.state = state("completed");
    rec.version = 3;
    store
        .update_activity(
            &rec,
            2,
            &Effects {
                clear_timers: true,
                ..Default::default()
            },
        )
        .await
        .expect("complete");
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &Store) {
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("activity_lifecycle");
    // A PostgreSQL lifecycle takes milliseconds: give its 100 samples the time they need.
    g.measurement_time(Duration::from_secs(10));
    g.bench_function(name, |b| {
        b.to_async(rt)
            .iter(|| lifecycle(store, next.fetch_add(1, Ordering::Relaxed)))
    });
    g.finish();
}

fn postgres_url() -> String {
    std::env::var("WAYMARK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let sqlite = rt.block_on(async {
        let store = Store::connect("sqlite::memory:", None)
            .await
            .expect("sqlite");
        store.migrate().await.expect("migrate");
        store
    });
    bench_store(c, "sqlite_memory", &rt, &sqlite);

    let schema = format!("bench_{}", std::process::id());
    let postgres = rt.block_on(async {
        let store = Store::connect(&postgres_url(), Some(&schema)).await.ok()?;
        store.migrate().await.expect("migrate");
        Some(store)
    });
    match postgres {
        Some(store) => {
            bench_store(c, "postgres", &rt, &store);
            rt.block_on(async {
                store.close().await.expect("close");
                let db = sea_orm::Database::connect(postgres_url())
                    .await
                    .expect("postgres");
                db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .await
                    .expect("drop schema");
            });
        }
        None => eprintln!(
            "note: PostgreSQL at {} is unreachable; benchmarked SQLite only",
            postgres_url()
        ),
    }
}

criterion_group!(lifecycle_benches, benches);
criterion_main!(lifecycle_benches);
