//! The store's contract, run against SQLite (in memory and in a file) and PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::ConnectionTrait;
use waymark_core::options::TaskPriority;
use waymark_core::visibility::{Attr, CmpOp, Expr, Value};
use waymark_store::{
    ACTIVITY_TASK, ActivityMinute, ActivityRecord, ApiKeyRecord, Effects, NamespaceRecord,
    NewDispatch, NewTimer, OutboxEntry, PageCursor, Store, StoreError, WORKFLOW_TASK,
    WorkflowRecord,
};

// ---------------------------------------------------------------------------------------------
// Harness: every contract test runs once per backend, each on a database of its own.

/// A name no other test (or test process) uses.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn postgres_url() -> String {
    std::env::var("WAYMARK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

struct TestDb {
    store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    Files(PathBuf),
    Schema(String),
}

impl TestDb {
    async fn sqlite_memory() -> TestDb {
        TestDb {
            store: migrated("sqlite::memory:", None).await,
            cleanup: Cleanup::Nothing,
        }
    }

    async fn sqlite_file() -> TestDb {
        let path = std::env::temp_dir().join(format!("waymark-store-{}.db", unique()));
        let store = migrated(&format!("sqlite://{}", path.display()), None).await;
        TestDb {
            store,
            cleanup: Cleanup::Files(path),
        }
    }

    /// None (after a note) when PostgreSQL is unreachable, unless running in CI.
    async fn postgres() -> Option<TestDb> {
        let schema = format!("t_{}", unique());
        match Store::connect(&postgres_url(), Some(&schema)).await {
            Ok(store) => {
                store.migrate().await.unwrap();
                Some(TestDb {
                    store,
                    cleanup: Cleanup::Schema(schema),
                })
            }
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at {} is unreachable: {e}", postgres_url())
            }
            Err(e) => {
                eprintln!(
                    "note: skipping the PostgreSQL half, {} is unreachable: {e}",
                    postgres_url()
                );
                None
            }
        }
    }

    async fn finish(self) {
        self.store.close().await.unwrap();
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Files(path) => remove_sqlite_files(&path),
            Cleanup::Schema(schema) => {
                let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
                db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .await
                    .unwrap();
                db.close().await.unwrap();
            }
        }
    }
}

async fn migrated(url: &str, schema: Option<&str>) -> Store {
    let store = Store::connect(url, schema).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// `contract!(name, ...)` runs `async fn name(&Store)` as `name::sqlite_memory`,
/// `name::sqlite_file` and `name::postgres`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite_memory() {
                let db = super::TestDb::sqlite_memory().await;
                super::$name(&db.store).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn sqlite_file() {
                let db = super::TestDb::sqlite_file().await;
                super::$name(&db.store).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = super::TestDb::postgres().await {
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            }
        }
    )*};
}

contract!(
    migrating_again_changes_nothing,
    namespaces_are_unique_and_listed_by_name,
    api_keys_are_created_listed_disabled_touched_and_deleted,
    meta_keeps_the_first_value,
    a_created_run_becomes_the_latest_run,
    create_conflicts_when_the_previous_run_is_stale,
    a_reused_run_id_already_exists_and_claims_nothing,
    exactly_one_of_two_racing_creates_wins,
    an_update_with_a_stale_version_conflicts_and_applies_nothing,
    racing_updates_of_a_run_commit_one_and_leave_other_runs_alone,
    a_transition_failing_halfway_leaves_nothing_and_the_others_land_on_retry,
    effects_write_timers_and_outbox_rows_of_the_run,
    clear_timers_deletes_only_the_runs_timers,
    due_timers_come_earliest_first_up_to_the_limit,
    claimed_timers_go_to_one_claimant_until_the_lease_ends,
    workflow_runs_append_events_atomically_and_list,
    dispatchable_activities_are_waiting_runs_past_their_time,
    list_pages_are_stable_without_duplicates_or_gaps,
    filters_select_runs_by_each_attribute,
    counts_follow_the_filter_and_group_by_status,
    retention_deletes_runs_closed_before_the_cutoff_in_bounded_batches,
    activity_minutes_add_up_and_keep_the_longest_wait,
);

// ---------------------------------------------------------------------------------------------
// Builders

const NS: &str = "default";

fn run(activity_id: &str, run_id: &str, schedule_time_ns: i64) -> ActivityRecord {
    ActivityRecord {
        namespace: NS.to_owned(),
        activity_id: activity_id.to_owned(),
        run_id: run_id.to_owned(),
        activity_type: "Work".to_owned(),
        task_queue: "queue".to_owned(),
        status: "Running".to_owned(),
        request_id: format!("req-{run_id}"),
        schedule_time_ns,
        close_time_ns: None,
        execution_time_ns: schedule_time_ns,
        dispatch_at_ns: Some(schedule_time_ns),
        attempt: 1,
        state: r#"{"phase":"scheduled"}"#.to_owned(),
        version: 1,
    }
}

fn timer(kind: &str, due_ns: i64) -> NewTimer {
    NewTimer {
        kind: kind.to_owned(),
        attempt: 1,
        due_ns,
    }
}

fn dispatch(task_queue: &str, attempt: i32) -> NewDispatch {
    NewDispatch {
        task_queue: task_queue.to_owned(),
        kind: ACTIVITY_TASK,
        scheduled_event_id: 0,
        attempt,
        priority: TaskPriority {
            level: 2,
            fairness_key: "tenant-a".into(),
            fairness_weight: 2.5,
        },
    }
}

fn none() -> Effects {
    Effects::default()
}

async fn create(store: &Store, rec: &ActivityRecord) {
    store.create_activity(rec, None, &none()).await.unwrap();
}

/// (kind, due) of the run's timers among all due ones, earliest first.
async fn timers_of(store: &Store, run_id: &str) -> Vec<(String, i64)> {
    let all = store.due_timers(i64::MAX, 1000).await.unwrap();
    all.into_iter()
        .filter(|t| t.run_id == run_id)
        .map(|t| (t.kind, t.due_ns))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Contract

async fn migrating_again_changes_nothing(store: &Store) {
    create(store, &run("a", "r1", 1)).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store.get_activity_by_run("r1").await.unwrap(),
        Some(run("a", "r1", 1))
    );
}

async fn api_keys_are_created_listed_disabled_touched_and_deleted(store: &Store) {
    let key = |id: &str, namespace: &str, role: &str, created: i64| ApiKeyRecord {
        id: id.to_owned(),
        hash: format!("hash-{id}"),
        namespace: namespace.to_owned(),
        role: role.to_owned(),
        description: "d".to_owned(),
        expire_time_ns: 1_000,
        disabled: false,
        last_used_ns: None,
        create_time_ns: created,
    };
    assert!(!store.has_system_admin_key(0).await.unwrap());
    store
        .create_api_key(&key("k1", "a", "worker", 1))
        .await
        .unwrap();
    store
        .create_api_key(&key("k2", "b", "reader", 2))
        .await
        .unwrap();
    store
        .create_api_key(&key("k3", "", "system:admin", 3))
        .await
        .unwrap();
    assert!(matches!(
        store.create_api_key(&key("k1", "c", "admin", 4)).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(
        store.get_api_key("k1").await.unwrap(),
        Some(key("k1", "a", "worker", 1))
    );
    let ids = |keys: Vec<ApiKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_api_keys(None).await.unwrap()),
        ["k1", "k2", "k3"]
    );
    assert_eq!(ids(store.list_api_keys(Some("b")).await.unwrap()), ["k2"]);

    assert!(store.has_system_admin_key(999).await.unwrap());
    assert!(!store.has_system_admin_key(1_000).await.unwrap(), "expired");
    assert!(store.set_api_key_disabled("k3", true).await.unwrap());
    assert!(!store.has_system_admin_key(0).await.unwrap(), "disabled");
    assert!(store.get_api_key("k3").await.unwrap().unwrap().disabled);
    assert!(store.set_api_key_disabled("k3", false).await.unwrap());
    assert!(!store.set_api_key_disabled("nope", true).await.unwrap());

    store.touch_api_key("k1", 100, 50).await.unwrap();
    store.touch_api_key("k1", 120, 60).await.unwrap();
    let used = || async { store.get_api_key("k1").await.unwrap().unwrap().last_used_ns };
    assert_eq!(used().await, Some(100), "a recent use is not written again");
    store.touch_api_key("k1", 300, 200).await.unwrap();
    assert_eq!(used().await, Some(300));

    assert!(store.delete_api_key("k1").await.unwrap());
    assert!(!store.delete_api_key("k1").await.unwrap());
    assert_eq!(store.get_api_key("k1").await.unwrap(), None);
}

async fn namespaces_are_unique_and_listed_by_name(store: &Store) {
    let ns = |name: &str| NamespaceRecord {
        name: name.to_owned(),
        id: format!("id-{name}"),
        description: "d".to_owned(),
        owner_email: "o@example.com".to_owned(),
        retention_secs: 86_400,
        data: "{}".to_owned(),
        created_ns: 7,
    };
    store.create_namespace(&ns("zeta")).await.unwrap();
    store.create_namespace(&ns("alpha")).await.unwrap();
    let mut dup = ns("zeta");
    dup.id = "other".to_owned();
    assert!(matches!(
        store.create_namespace(&dup).await,
        Err(StoreError::AlreadyExists)
    ));

    assert_eq!(store.get_namespace("zeta").await.unwrap(), Some(ns("zeta")));
    assert_eq!(store.get_namespace("nope").await.unwrap(), None);
    assert_eq!(
        store.list_namespaces().await.unwrap(),
        vec![ns("alpha"), ns("zeta")]
    );
}

async fn meta_keeps_the_first_value(store: &Store) {
    assert_eq!(
        store.get_or_init_meta("signing-key", "k1").await.unwrap(),
        "k1"
    );
    assert_eq!(
        store.get_or_init_meta("signing-key", "k2").await.unwrap(),
        "k1"
    );
    let (a, b) = tokio::join!(
        store.get_or_init_meta("other", "x"),
        store.get_or_init_meta("other", "y")
    );
    assert_eq!(a.unwrap(), b.unwrap());
}

async fn a_created_run_becomes_the_latest_run(store: &Store) {
    assert_eq!(store.latest_activity(NS, "a").await.unwrap(), None);
    let first = run("a", "r1", 10);
    create(store, &first).await;
    assert_eq!(
        store.latest_activity(NS, "a").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.get_activity(NS, "a", "r1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_activity("other", "a", "r1").await.unwrap(), None);
    assert_eq!(store.get_activity(NS, "b", "r1").await.unwrap(), None);

    let second = run("a", "r2", 20);
    store
        .create_activity(&second, Some("r1"), &none())
        .await
        .unwrap();
    assert_eq!(
        store.latest_activity(NS, "a").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.get_activity(NS, "a", "r1").await.unwrap(),
        Some(first)
    );
    assert_eq!(store.get_activity_by_run("r2").await.unwrap(), Some(second));
    assert_eq!(store.latest_activity("other", "a").await.unwrap(), None);
}

async fn create_conflicts_when_the_previous_run_is_stale(store: &Store) {
    create(store, &run("a", "r1", 10)).await;
    store
        .create_activity(&run("a", "r2", 20), Some("r1"), &none())
        .await
        .unwrap();

    let effects = Effects {
        timers: vec![timer("s2c", 5)],
        dispatches: vec![dispatch("queue", 1)],
        ..none()
    };
    for previous in [None, Some("r1"), Some("nope")] {
        let res = store
            .create_activity(&run("a", "r3", 30), previous, &effects)
            .await;
        assert!(
            matches!(res, Err(StoreError::Conflict)),
            "previous {previous:?}: {res:?}"
        );
    }
    assert_eq!(store.get_activity_by_run("r3").await.unwrap(), None);
    assert_eq!(
        store
            .latest_activity(NS, "a")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "r2"
    );
    assert!(store.pending_outbox(10).await.unwrap().is_empty());
    assert_eq!(store.next_timer_due().await.unwrap(), None);
}

async fn a_reused_run_id_already_exists_and_claims_nothing(store: &Store) {
    create(store, &run("a", "r1", 10)).await;
    let res = store
        .create_activity(&run("b", "r1", 20), None, &none())
        .await;
    assert!(matches!(res, Err(StoreError::AlreadyExists)), "{res:?}");
    assert_eq!(store.latest_activity(NS, "b").await.unwrap(), None);
    assert_eq!(
        store.get_activity_by_run("r1").await.unwrap(),
        Some(run("a", "r1", 10))
    );
}

async fn exactly_one_of_two_racing_creates_wins(store: &Store) {
    let effects = Effects {
        dispatches: vec![dispatch("queue", 1)],
        ..none()
    };
    let (one, two) = (run("a", "r1", 10), run("a", "r2", 10));
    let (a, b) = tokio::join!(
        store.create_activity(&one, None, &effects),
        store.create_activity(&two, None, &effects)
    );
    let winner = match (a, b) {
        (Ok(_), Err(StoreError::Conflict)) => "r1",
        (Err(StoreError::Conflict), Ok(_)) => "r2",
        other => panic!("expected one winner, got {other:?}"),
    };
    assert_eq!(
        store
            .latest_activity(NS, "a")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        winner
    );
    let loser = if winner == "r1" { "r2" } else { "r1" };
    assert_eq!(store.get_activity_by_run(loser).await.unwrap(), None);
    let outbox = store.pending_outbox(10).await.unwrap();
    assert_eq!(
        outbox.iter().map(|o| o.run_id.as_str()).collect::<Vec<_>>(),
        [winner]
    );
}

/// Concurrent transitions (on SQLite, committed in groups): of the updates racing over one
/// version of a run exactly one commits, the losers write nothing, and the updates of other
/// runs committed alongside all land.
async fn racing_updates_of_a_run_commit_one_and_leave_other_runs_alone(store: &Store) {
    store
        .create_activity(&run("contested", "c1", 10), None, &none())
        .await
        .unwrap();
    create_bystanders(store).await;
    let mut raced = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        raced.spawn(async move {
            let mut next = run("contested", "c1", 10);
            next.version = 2;
            next.state = format!(r#"{{"by":{i}}}"#);
            let effects = Effects {
                dispatches: vec![dispatch("queue", i)],
                ..none()
            };
            (i, store.update_activity(&next, 1, &effects).await)
        });
    }
    let others = update_bystanders(store, false);
    let (raced, others) = tokio::join!(raced.join_all(), others.join_all());
    let winners: Vec<i32> = raced
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{raced:?}");
    for (_, r) in raced.iter().filter(|(_, r)| r.is_err()) {
        assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    }
    let kept = store.get_activity_by_run("c1").await.unwrap().unwrap();
    assert_eq!(kept.state, format!(r#"{{"by":{}}}"#, winners[0]));
    let outbox = store.pending_outbox(100).await.unwrap();
    let written: Vec<i32> = outbox.iter().map(|e| e.attempt).collect();
    assert_eq!(written, winners, "only the winner's dispatch is written");
    assert!(others.iter().all(Result::is_ok), "{others:?}");
    assert_bystanders_updated(store).await;
}

/// A transition that fails after its first write (a reused run id: the latest-run slot is
/// claimed, then the run's insert fails) leaves nothing behind, while the transitions committed
/// at the same time (on SQLite, in its group) land, at once or when retried after a Conflict.
async fn a_transition_failing_halfway_leaves_nothing_and_the_others_land_on_retry(store: &Store) {
    create(store, &run("a", "r1", 10)).await;
    create_bystanders(store).await;
    let others = update_bystanders(store, true);
    let (reused_run, effects) = (run("b", "r1", 20), none());
    let reused = store.create_activity(&reused_run, None, &effects);
    let (reused, others) = tokio::join!(reused, others.join_all());
    assert!(
        matches!(reused, Err(StoreError::AlreadyExists)),
        "{reused:?}"
    );
    assert_eq!(store.latest_activity(NS, "b").await.unwrap(), None);
    assert!(others.iter().all(Result::is_ok), "{others:?}");
    assert_bystanders_updated(store).await;
}

/// Runs `other0..8` (run ids `o0..8`), for transitions committed beside the ones under test.
async fn create_bystanders(store: &Store) {
    for r in 0..8 {
        create(store, &run(&format!("other{r}"), &format!("o{r}"), 10)).await;
    }
}

/// Updates every bystander to version 2, concurrently; `retry_conflicts`: as a caller does
/// after a lost race.
fn update_bystanders(
    store: &Store,
    retry_conflicts: bool,
) -> tokio::task::JoinSet<Result<Vec<OutboxEntry>, StoreError>> {
    let mut updates = tokio::task::JoinSet::new();
    for r in 0..8 {
        let store = store.clone();
        updates.spawn(async move {
            let mut next = run(&format!("other{r}"), &format!("o{r}"), 10);
            next.version = 2;
            loop {
                match store.update_activity(&next, 1, &none()).await {
                    Err(StoreError::Conflict) if retry_conflicts => continue,
                    done => return done,
                }
            }
        });
    }
    updates
}

async fn assert_bystanders_updated(store: &Store) {
    for r in 0..8 {
        let other = store.get_activity_by_run(&format!("o{r}")).await.unwrap();
        assert_eq!(other.map(|o| o.version), Some(2));
    }
}

async fn an_update_with_a_stale_version_conflicts_and_applies_nothing(store: &Store) {
    let created = Effects {
        timers: vec![timer("s2c", 100)],
        ..none()
    };
    store
        .create_activity(&run("a", "r1", 10), None, &created)
        .await
        .unwrap();
    let timer_id = store.due_timers(i64::MAX, 10).await.unwrap()[0].id;

    let mut v2 = run("a", "r1", 10);
    v2.version = 2;
    v2.status = "Completed".to_owned();
    v2.close_time_ns = Some(50);
    v2.dispatch_at_ns = None;
    v2.state = r#"{"phase":"done"}"#.to_owned();
    store.update_activity(&v2, 1, &none()).await.unwrap();
    assert_eq!(
        store.get_activity_by_run("r1").await.unwrap(),
        Some(v2.clone())
    );

    let mut stale = v2.clone();
    stale.version = 3;
    stale.state = r#"{"phase":"stale"}"#.to_owned();
    let effects = Effects {
        timers: vec![timer("hb", 1)],
        dispatches: vec![dispatch("queue", 2)],
        fired_timer: Some(timer_id),
        clear_timers: true,
        ..none()
    };
    let res = store.update_activity(&stale, 1, &effects).await;
    assert!(matches!(res, Err(StoreError::Conflict)), "{res:?}");
    assert_eq!(store.get_activity_by_run("r1").await.unwrap(), Some(v2));
    assert_eq!(timers_of(store, "r1").await, [("s2c".to_owned(), 100)]);
    assert!(store.pending_outbox(10).await.unwrap().is_empty());

    let mut missing = stale.clone();
    missing.run_id = "nope".to_owned();
    assert!(matches!(
        store.update_activity(&missing, 1, &none()).await,
        Err(StoreError::Conflict)
    ));
}

async fn effects_write_timers_and_outbox_rows_of_the_run(store: &Store) {
    let effects = Effects {
        timers: vec![timer("s2c", 100), timer("s2s", 50)],
        dispatches: vec![dispatch("queue", 1)],
        now_ns: 5,
        ..none()
    };
    let first = store
        .create_activity(&run("a", "r1", 10), None, &effects)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let expected = |id, task_queue: &str, attempt, created_ns| OutboxEntry {
        id,
        namespace: NS.to_owned(),
        task_queue: task_queue.to_owned(),
        run_id: "r1".to_owned(),
        kind: ACTIVITY_TASK.to_owned(),
        scheduled_event_id: 0,
        attempt,
        created_ns,
        priority: 2,
        fairness_key: "tenant-a".into(),
        fairness_weight: 2.5,
    };
    assert_eq!(first[0], expected(first[0].id, "queue", 1, 5));

    let timers = store.due_timers(i64::MAX, 10).await.unwrap();
    assert_eq!(
        timers
            .iter()
            .map(|t| (t.kind.as_str(), t.due_ns))
            .collect::<Vec<_>>(),
        [("s2s", 50), ("s2c", 100)]
    );
    assert!(
        timers
            .iter()
            .all(|t| t.namespace == NS && t.run_id == "r1" && t.attempt == 1)
    );

    let mut v2 = run("a", "r1", 10);
    v2.version = 2;
    let effects = Effects {
        timers: vec![timer("hb", 70)],
        dispatches: vec![dispatch("queue", 2), dispatch("other", 2)],
        fired_timer: Some(timers[0].id),
        clear_timers: false,
        now_ns: 7,
        quiet: false,
    };
    let second = store.update_activity(&v2, 1, &effects).await.unwrap();
    assert_eq!(second.len(), 2);
    assert!(first[0].id < second[0].id && second[0].id < second[1].id);
    assert_eq!(
        second,
        [
            expected(second[0].id, "queue", 2, 7),
            expected(second[1].id, "other", 2, 7)
        ]
    );
    assert_eq!(
        timers_of(store, "r1").await,
        [("hb".to_owned(), 70), ("s2c".to_owned(), 100)]
    );

    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(store.pending_outbox(10).await.unwrap(), all);
    assert_eq!(store.pending_outbox(1).await.unwrap(), all[..1]);
    assert_eq!(store.outbox_stats().await.unwrap(), (3, Some(5)));
    store.delete_outbox(&[all[0].id, all[2].id]).await.unwrap();
    store.delete_outbox(&[]).await.unwrap();
    assert_eq!(store.pending_outbox(10).await.unwrap(), [all[1].clone()]);
    assert_eq!(store.outbox_stats().await.unwrap(), (1, Some(7)));
    store.delete_outbox(&[all[1].id]).await.unwrap();
    assert_eq!(store.outbox_stats().await.unwrap(), (0, None));
}

async fn clear_timers_deletes_only_the_runs_timers(store: &Store) {
    let effects = Effects {
        timers: vec![timer("s2c", 100), timer("hb", 60)],
        ..none()
    };
    store
        .create_activity(&run("a", "r1", 10), None, &effects)
        .await
        .unwrap();
    store
        .create_activity(&run("b", "r2", 10), None, &effects)
        .await
        .unwrap();

    let mut closed = run("a", "r1", 10);
    closed.version = 2;
    let fired = store.due_timers(60, 1).await.unwrap()[0].id;
    let effects = Effects {
        timers: vec![timer("retention", 500)],
        fired_timer: Some(fired),
        clear_timers: true,
        ..none()
    };
    store.update_activity(&closed, 1, &effects).await.unwrap();
    assert_eq!(
        timers_of(store, "r1").await,
        [("retention".to_owned(), 500)]
    );
    assert_eq!(timers_of(store, "r2").await.len(), 2);

    let stale = store
        .due_timers(i64::MAX, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.run_id == "r2")
        .unwrap();
    store.delete_timer(stale.id).await.unwrap();
    store.delete_timer(stale.id).await.unwrap();
    assert_eq!(timers_of(store, "r2").await.len(), 1);
}

async fn due_timers_come_earliest_first_up_to_the_limit(store: &Store) {
    assert_eq!(store.next_timer_due().await.unwrap(), None);
    assert!(store.due_timers(i64::MAX, 10).await.unwrap().is_empty());
    let effects = Effects {
        timers: [30, 10, 20, 40].map(|due| timer("t", due)).to_vec(),
        ..none()
    };
    store
        .create_activity(&run("a", "r1", 10), None, &effects)
        .await
        .unwrap();

    let due = |now, limit| async move {
        store
            .due_timers(now, limit)
            .await
            .unwrap()
            .iter()
            .map(|t| t.due_ns)
            .collect::<Vec<_>>()
    };
    assert_eq!(due(25, 10).await, [10, 20]);
    assert_eq!(due(20, 10).await, [10, 20]);
    assert_eq!(due(100, 3).await, [10, 20, 30]);
    assert_eq!(due(5, 10).await, Vec::<i64>::new());
    assert_eq!(store.next_timer_due().await.unwrap(), Some(10));

    for t in store.due_timers(i64::MAX, 10).await.unwrap() {
        store.delete_timer(t.id).await.unwrap();
    }
    assert_eq!(store.next_timer_due().await.unwrap(), None);
}

async fn claimed_timers_go_to_one_claimant_until_the_lease_ends(store: &Store) {
    let effects = Effects {
        timers: (1..=40).map(|due| timer("t", due)).collect(),
        ..none()
    };
    store
        .create_activity(&run("a", "r1", 10), None, &effects)
        .await
        .unwrap();
    // Two instances claiming at once never both get a timer.
    let (a, b) = tokio::join!(
        store.claim_due_timers(100, 1_000, 25),
        store.claim_due_timers(100, 1_000, 25)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|t| t.id).collect();
    assert_eq!(ids.len(), 40, "every due timer was claimed once");
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert!(
        store
            .claim_due_timers(500, 1_000, 100)
            .await
            .unwrap()
            .is_empty(),
        "held during the lease"
    );
    let reclaimed = store.claim_due_timers(1_101, 1_000, 100).await.unwrap();
    assert_eq!(
        reclaimed.len(),
        40,
        "a dead claimant's timers come back after the lease"
    );
    assert!(
        reclaimed.windows(2).all(|w| w[0].due_ns <= w[1].due_ns),
        "earliest first"
    );
}

fn workflow(id: &str, run_id: &str, start_time_ns: i64) -> WorkflowRecord {
    WorkflowRecord {
        namespace: NS.to_owned(),
        workflow_id: id.to_owned(),
        run_id: run_id.to_owned(),
        workflow_type: "W".to_owned(),
        task_queue: "q".to_owned(),
        status: "Running".to_owned(),
        request_id: "rq".to_owned(),
        start_time_ns,
        close_time_ns: None,
        execution_time_ns: start_time_ns,
        attempt: 1,
        state: "{}".to_owned(),
        version: 1,
    }
}

async fn workflow_runs_append_events_atomically_and_list(store: &Store) {
    let task = NewDispatch {
        task_queue: "q".into(),
        kind: WORKFLOW_TASK,
        scheduled_event_id: 2,
        attempt: 1,
        priority: TaskPriority {
            level: 3,
            ..TaskPriority::default()
        },
    };
    let effects = Effects {
        dispatches: vec![task],
        ..none()
    };
    let events = [(1, "e1".to_owned()), (2, "e2".to_owned())];
    let outbox = store
        .create_workflow(&workflow("w", "r1", 10), None, &events, &effects)
        .await
        .unwrap();
    assert_eq!(
        (outbox[0].kind.as_str(), outbox[0].scheduled_event_id),
        (WORKFLOW_TASK, 2)
    );
    assert!(matches!(
        store
            .create_workflow(&workflow("w", "r2", 11), None, &[], &none())
            .await,
        Err(StoreError::Conflict)
    ));
    let mut next = workflow("w", "r1", 10);
    next.version = 2;
    next.status = "Completed".into();
    next.close_time_ns = Some(20);
    store
        .update_workflow(&next, 1, &[(3, "e3".to_owned())], &none())
        .await
        .unwrap();
    // A stale version appends nothing.
    assert!(matches!(
        store
            .update_workflow(&next, 1, &[(4, "e4".to_owned())], &none())
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.workflow_events("r1", 1, 100).await.unwrap(),
        ["e1", "e2", "e3"]
    );
    assert_eq!(store.workflow_events("r1", 2, 1).await.unwrap(), ["e2"]);
    assert_eq!(
        store
            .latest_workflow(NS, "w")
            .await
            .unwrap()
            .unwrap()
            .status,
        "Completed"
    );
    store
        .create_workflow(&workflow("w", "r2", 30), Some("r1"), &[], &none())
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_workflow(NS, "w")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "r2"
    );
    assert_eq!(store.running_workflows(10).await.unwrap().len(), 1);
    let q = waymark_core::visibility::parse_in(
        "WorkflowId = 'w' AND ExecutionStatus = 'Completed'",
        waymark_core::visibility::Scope::Workflows,
    )
    .unwrap();
    assert_eq!(
        store.count_workflows(NS, q.filter.as_ref()).await.unwrap(),
        1
    );
    let (page, cursor) = store.list_workflows(NS, None, 1, None).await.unwrap();
    assert_eq!((page[0].run_id.as_str(), cursor.is_some()), ("r2", true));
    let (page, cursor) = store
        .list_workflows(NS, None, 1, cursor.as_ref())
        .await
        .unwrap();
    assert_eq!((page[0].run_id.as_str(), cursor), ("r1", None));
}

async fn dispatchable_activities_are_waiting_runs_past_their_time(store: &Store) {
    let mut recs = vec![
        run("a", "ra", 10),
        run("b", "rb", 30),
        run("c", "rc", 5),
        run("d", "rd", 20),
    ];
    recs[2].dispatch_at_ns = None;
    recs[3].task_queue = "other".to_owned();
    recs[3].attempt = 3;
    for rec in &recs {
        create(store, rec).await;
    }
    let entry = |run_id: &str, task_queue: &str, attempt| OutboxEntry {
        id: 0,
        namespace: NS.to_owned(),
        task_queue: task_queue.to_owned(),
        run_id: run_id.to_owned(),
        kind: ACTIVITY_TASK.to_owned(),
        scheduled_event_id: 0,
        attempt,
        created_ns: 0,
        priority: 0,
        fairness_key: String::new(),
        fairness_weight: 0.0,
    };
    assert_eq!(
        store.dispatchable_activities(25, 10).await.unwrap(),
        [entry("ra", "queue", 1), entry("rd", "other", 3)]
    );
    assert_eq!(
        store.dispatchable_activities(25, 1).await.unwrap(),
        [entry("ra", "queue", 1)]
    );

    let mut started = recs[0].clone();
    started.dispatch_at_ns = None;
    started.version = 2;
    store.update_activity(&started, 1, &none()).await.unwrap();
    assert_eq!(
        store.dispatchable_activities(30, 10).await.unwrap(),
        [entry("rd", "other", 3), entry("rb", "queue", 1)]
    );
}

async fn list_pages_are_stable_without_duplicates_or_gaps(store: &Store) {
    // Three runs share each schedule time, so pages also split on the run id tie-break.
    let mut expected = Vec::new();
    for i in 0..25 {
        let rec = run(&format!("a{i}"), &format!("r{i:02}"), (i / 3) * 10);
        create(store, &rec).await;
        expected.push(rec);
    }
    let mut elsewhere = run("x", "rx", 5);
    elsewhere.namespace = "other".to_owned();
    create(store, &elsewhere).await;
    expected.sort_by(|a, b| (b.schedule_time_ns, &b.run_id).cmp(&(a.schedule_time_ns, &a.run_id)));

    for page_size in [1, 5, 7, 25, 100] {
        let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<PageCursor>, 0);
        loop {
            let (page, next) = store
                .list_activities(NS, None, page_size, cursor.as_ref())
                .await
                .unwrap();
            assert!(page.len() as u64 <= page_size && !page.is_empty());
            seen.extend(page);
            pages += 1;
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "page size {page_size}");
        assert_eq!(pages, 25_u64.div_ceil(page_size), "page size {page_size}");
    }
    let (page, next) = store
        .list_activities("empty", None, 10, None)
        .await
        .unwrap();
    assert!(page.is_empty() && next.is_none());
}

/// Four runs that differ in every attribute (returned), and one in another namespace.
async fn seed_filter_runs(store: &Store) -> Vec<ActivityRecord> {
    let mut seeded = Vec::new();
    let rows = [
        ("a1", "r1", "TypeA", "q1", "Running", 100, None, 100),
        ("a2", "r2", "TypeB", "q1", "Completed", 200, Some(250), 200),
        ("a3", "r3", "TypeA", "q2", "Failed", 300, Some(350), 310),
        ("a4", "r4", "TypeC", "q2", "Running", 400, None, 400),
    ];
    for (aid, rid, ty, queue, status, sched, close, exec) in rows {
        let mut rec = run(aid, rid, sched);
        rec.activity_type = ty.to_owned();
        rec.task_queue = queue.to_owned();
        rec.status = status.to_owned();
        rec.close_time_ns = close;
        rec.execution_time_ns = exec;
        rec.attempt = if aid == "a4" { 3 } else { 1 };
        create(store, &rec).await;
        seeded.push(rec);
    }
    let mut elsewhere = run("a1", "r9", 100);
    elsewhere.namespace = "other".to_owned();
    create(store, &elsewhere).await;
    seeded
}

/// What the core's in-memory evaluator sees of a run.
fn attr_of(rec: &ActivityRecord, attr: Attr) -> Option<Value> {
    Some(match attr {
        Attr::ActivityId => s(&rec.activity_id),
        Attr::RunId => s(&rec.run_id),
        Attr::ActivityType => s(&rec.activity_type),
        Attr::TaskQueue => s(&rec.task_queue),
        Attr::ExecutionStatus => s(&rec.status),
        Attr::StartTime => Value::Time(rec.schedule_time_ns),
        Attr::CloseTime => Value::Time(rec.close_time_ns?),
        Attr::ExecutionTime => Value::Time(rec.execution_time_ns),
        Attr::Attempt => Value::Int(i64::from(rec.attempt)),
    })
}

fn cmp(attr: Attr, op: CmpOp, value: Value) -> Expr {
    Expr::Cmp { attr, op, value }
}

fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}

fn parse(query: &str) -> Expr {
    waymark_core::visibility::parse(query)
        .unwrap()
        .filter
        .unwrap()
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::And(Box::new(a), Box::new(b))
}

fn or(a: Expr, b: Expr) -> Expr {
    Expr::Or(Box::new(a), Box::new(b))
}

async fn filters_select_runs_by_each_attribute(store: &Store) {
    use Attr::*;
    use CmpOp::*;
    let seeded = seed_filter_runs(store).await;
    let t = Value::Time;
    let cases: Vec<(Expr, &[&str])> = vec![
        (cmp(ActivityId, Eq, s("a2")), &["r2"]),
        (cmp(RunId, Ne, s("r2")), &["r1", "r3", "r4"]),
        (cmp(ActivityType, Eq, s("TypeA")), &["r1", "r3"]),
        (cmp(TaskQueue, Eq, s("q2")), &["r3", "r4"]),
        (cmp(ExecutionStatus, Eq, s("Running")), &["r1", "r4"]),
        (cmp(ActivityType, Lt, s("TypeB")), &["r1", "r3"]),
        (cmp(ActivityType, Ge, s("TypeB")), &["r2", "r4"]),
        (cmp(StartTime, Gt, t(200)), &["r3", "r4"]),
        (cmp(StartTime, Le, t(200)), &["r1", "r2"]),
        (cmp(CloseTime, Lt, t(300)), &["r2"]),
        (cmp(CloseTime, Ne, t(250)), &["r3"]),
        (cmp(ExecutionTime, Eq, t(310)), &["r3"]),
        (cmp(ExecutionTime, Ge, t(310)), &["r3", "r4"]),
        (cmp(Attempt, Gt, Value::Int(1)), &["r4"]),
        (cmp(Attempt, Eq, s("1")), &[]),
        (cmp(StartTime, Eq, s("100")), &[]),
        (
            and(
                cmp(ActivityType, Eq, s("TypeA")),
                cmp(ExecutionStatus, Eq, s("Running")),
            ),
            &["r1"],
        ),
        (
            or(
                cmp(ActivityType, Eq, s("TypeB")),
                cmp(TaskQueue, Eq, s("q2")),
            ),
            &["r2", "r3", "r4"],
        ),
        (
            and(
                or(
                    cmp(ActivityType, Eq, s("TypeA")),
                    cmp(ActivityType, Eq, s("TypeC")),
                ),
                or(
                    cmp(StartTime, Lt, t(150)),
                    cmp(ExecutionStatus, Eq, s("Failed")),
                ),
            ),
            &["r1", "r3"],
        ),
        (
            Expr::In {
                attr: ActivityType,
                values: vec![s("TypeA"), s("TypeC")],
                negated: false,
            },
            &["r1", "r3", "r4"],
        ),
        (
            Expr::In {
                attr: ExecutionStatus,
                values: vec![s("Running")],
                negated: true,
            },
            &["r2", "r3"],
        ),
        (
            Expr::In {
                attr: CloseTime,
                values: vec![t(250), t(1)],
                negated: false,
            },
            &["r2"],
        ),
        (
            Expr::In {
                attr: CloseTime,
                values: vec![t(250)],
                negated: true,
            },
            &["r3"],
        ),
        (
            Expr::In {
                attr: RunId,
                values: vec![],
                negated: false,
            },
            &[],
        ),
        (
            Expr::In {
                attr: CloseTime,
                values: vec![],
                negated: true,
            },
            &["r2", "r3"],
        ),
        (
            Expr::IsNull {
                attr: CloseTime,
                negated: false,
            },
            &["r1", "r4"],
        ),
        (
            Expr::IsNull {
                attr: CloseTime,
                negated: true,
            },
            &["r2", "r3"],
        ),
        (
            Expr::IsNull {
                attr: ActivityId,
                negated: false,
            },
            &[],
        ),
        (
            parse("ActivityType = 'TypeA' AND ExecutionStatus = 'Running'"),
            &["r1"],
        ),
        (
            parse("StartTime >= '1970-01-01T00:00:00.0000003Z' OR CloseTime IS NULL"),
            &["r1", "r3", "r4"],
        ),
        (
            parse("TaskQueue IN ('q1', 'nope') AND CloseTime IS NOT NULL"),
            &["r2"],
        ),
    ];
    for (filter, want) in cases {
        let evaluated: Vec<_> = seeded
            .iter()
            .filter(|r| filter.matches(&|a| attr_of(r, a)))
            .map(|r| r.run_id.as_str())
            .collect();
        assert_eq!(evaluated, want, "the evaluator disagrees on {filter:?}");
        let (page, _) = store
            .list_activities(NS, Some(&filter), 100, None)
            .await
            .unwrap();
        let mut got: Vec<_> = page.iter().map(|r| r.run_id.as_str()).collect();
        got.sort();
        assert_eq!(got, want, "{filter:?}");
        assert_eq!(
            store.count_activities(NS, Some(&filter)).await.unwrap(),
            want.len() as i64,
            "{filter:?}"
        );
    }
}

async fn counts_follow_the_filter_and_group_by_status(store: &Store) {
    assert_eq!(store.count_activities(NS, None).await.unwrap(), 0);
    assert!(
        store
            .count_activities_by_status(NS, None)
            .await
            .unwrap()
            .is_empty()
    );
    seed_filter_runs(store).await;
    let by = |pairs: &[(&str, i64)]| {
        pairs
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect::<Vec<_>>()
    };

    assert_eq!(store.count_activities(NS, None).await.unwrap(), 4);
    assert_eq!(store.count_activities("other", None).await.unwrap(), 1);
    let type_a = cmp(Attr::ActivityType, CmpOp::Eq, s("TypeA"));
    assert_eq!(store.count_activities(NS, Some(&type_a)).await.unwrap(), 2);
    assert_eq!(
        store.count_activities_by_status(NS, None).await.unwrap(),
        by(&[("Completed", 1), ("Failed", 1), ("Running", 2)])
    );
    let q2 = cmp(Attr::TaskQueue, CmpOp::Eq, s("q2"));
    assert_eq!(
        store
            .count_activities_by_status(NS, Some(&q2))
            .await
            .unwrap(),
        by(&[("Failed", 1), ("Running", 1)])
    );
}

// ---------------------------------------------------------------------------------------------
// Backend-specific

#[tokio::test]
async fn a_reopened_sqlite_file_keeps_its_rows() {
    let path = std::env::temp_dir().join(format!("waymark-store-{}.db", unique()));
    let url = format!("sqlite://{}", path.display());
    let store = migrated(&url, None).await;
    let effects = Effects {
        timers: vec![timer("s2c", 9)],
        dispatches: vec![dispatch("queue", 1)],
        ..none()
    };
    let outbox = store
        .create_activity(&run("a", "r1", 10), None, &effects)
        .await
        .unwrap();
    store.get_or_init_meta("key", "v1").await.unwrap();
    store.close().await.unwrap();

    let store = migrated(&url, None).await;
    assert_eq!(
        store.latest_activity(NS, "a").await.unwrap(),
        Some(run("a", "r1", 10))
    );
    assert_eq!(store.pending_outbox(10).await.unwrap(), outbox);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(9));
    assert_eq!(store.get_or_init_meta("key", "v2").await.unwrap(), "v1");
    store.close().await.unwrap();
    remove_sqlite_files(&path);
}

#[tokio::test]
async fn separate_in_memory_stores_do_not_share_rows() {
    let (one, two) = (
        migrated("sqlite::memory:", None).await,
        migrated("sqlite::memory:", None).await,
    );
    create(&one, &run("a", "r1", 10)).await;
    assert_eq!(two.get_activity_by_run("r1").await.unwrap(), None);
    // Clones share the one database.
    assert!(
        one.clone()
            .get_activity_by_run("r1")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn postgres_schemas_isolate_stores() {
    let (Some(one), Some(two)) = (TestDb::postgres().await, TestDb::postgres().await) else {
        return;
    };
    assert!(one.store.is_postgres());
    create(&one.store, &run("a", "r1", 10)).await;
    assert_eq!(two.store.get_activity_by_run("r1").await.unwrap(), None);
    one.finish().await;
    two.finish().await;
}

async fn retention_deletes_runs_closed_before_the_cutoff_in_bounded_batches(store: &Store) {
    let closed = |mut rec: ActivityRecord, at: i64| {
        rec.status = "Completed".into();
        rec.close_time_ns = Some(at);
        rec
    };
    for (id, close) in [("a1", 10), ("a2", 20), ("a3", 40)] {
        create(store, &closed(run(id, &format!("r-{id}"), 1), close)).await;
    }
    create(store, &run("open", "r-open", 1)).await;
    let next = run("a1", "r-a1-next", 50);
    store
        .create_activity(&next, Some("r-a1"), &none())
        .await
        .unwrap();
    let effects = Effects {
        timers: vec![timer("retention", 500)],
        ..none()
    };
    store
        .create_workflow(
            &workflow("w", "w1", 1),
            None,
            &[(1, "e1".to_owned())],
            &effects,
        )
        .await
        .unwrap();
    let mut ended = workflow("w", "w1", 1);
    (ended.version, ended.status, ended.close_time_ns) = (2, "Terminated".into(), Some(5));
    store
        .update_workflow(&ended, 1, &[], &none())
        .await
        .unwrap();

    // At most `limit` per call, oldest first; runs closed at or after the cutoff stay.
    let first = store.delete_closed_activities(NS, 30, 1).await.unwrap();
    assert_eq!(first, ["r-a1"]);
    assert_eq!(
        store.delete_closed_activities(NS, 30, 10).await.unwrap(),
        ["r-a2"]
    );
    assert!(
        store
            .delete_closed_activities(NS, 30, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.latest_activity(NS, "a2").await.unwrap().is_none());
    // A newer run of a deleted run's id keeps its slot.
    let latest = store.latest_activity(NS, "a1").await.unwrap();
    assert_eq!(latest.map(|r| r.run_id).as_deref(), Some("r-a1-next"));
    assert!(store.latest_activity(NS, "a3").await.unwrap().is_some());
    assert!(store.latest_activity(NS, "open").await.unwrap().is_some());
    // Another namespace's runs are not this one's.
    assert!(
        store
            .delete_closed_workflows("other", 30, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.delete_closed_workflows(NS, 30, 10).await.unwrap(),
        ["w1"]
    );
    assert!(store.latest_workflow(NS, "w").await.unwrap().is_none());
    assert!(store.workflow_events("w1", 1, 10).await.unwrap().is_empty());
    assert!(timers_of(store, "w1").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// TLS to PostgreSQL (`.ci/run` turns it on with Debian's self-signed snakeoil certificate)

/// The test database's URL with `params` added to its query string.
fn postgres_url_with(params: &str) -> String {
    let url = postgres_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

/// A store on a TLS session (`sslmode=require`); None (after a note) when PostgreSQL is
/// unreachable or has TLS off, unless running in CI.
async fn postgres_over_tls() -> Option<Store> {
    match Store::connect(&postgres_url_with("sslmode=require"), None).await {
        Ok(store) => Some(store),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("no TLS session with PostgreSQL at {}: {e}", postgres_url())
        }
        Err(e) => {
            eprintln!(
                "note: skipping, no TLS session with PostgreSQL at {}: {e}",
                postgres_url()
            );
            None
        }
    }
}

#[tokio::test]
async fn sslmode_require_encrypts_the_session_and_disable_does_not() {
    let Some(store) = postgres_over_tls().await else {
        return;
    };
    assert!(store.session_encrypted().await.unwrap());
    store.close().await.unwrap();
    let plain = Store::connect(&postgres_url_with("sslmode=disable"), None)
        .await
        .unwrap();
    assert!(!plain.session_encrypted().await.unwrap());
    plain.close().await.unwrap();
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_certificate_no_trusted_ca_signed() {
    let Some(store) = postgres_over_tls().await else {
        return;
    };
    store.close().await.unwrap();
    // The snakeoil certificate is self-signed: none of Mozilla's roots vouches for it.
    let refused = Store::connect(&postgres_url_with("sslmode=verify-full"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("invalid peer certificate: UnknownIssuer"),
        "{refused}"
    );
}

#[tokio::test]
async fn sslmode_verify_ca_trusts_the_certificate_of_sslrootcert() {
    let Some(store) = postgres_over_tls().await else {
        return;
    };
    store.close().await.unwrap();
    // The server's own certificate, self-signed, is its CA; the tests run on the server's machine.
    let cert_file = server_certificate_file().await;
    let store = Store::connect(
        &postgres_url_with(&format!(
            "sslmode=verify-ca&sslrootcert={}",
            cert_file.display()
        )),
        None,
    )
    .await
    .unwrap();
    assert!(store.session_encrypted().await.unwrap());
    store.close().await.unwrap();
}

/// The server's `ssl_cert_file`, which may be relative to its data directory.
async fn server_certificate_file() -> PathBuf {
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    let setting = |name: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT setting FROM pg_settings WHERE name = '{name}'"),
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {name} setting"))
            .try_get::<String>("", "setting")
            .unwrap()
        }
    };
    let file = PathBuf::from(setting("data_directory").await).join(setting("ssl_cert_file").await);
    db.close().await.unwrap();
    file
}

async fn activity_minutes_add_up_and_keep_the_longest_wait(store: &Store) {
    let minute = |ns: &str, minute: i64, started: i64, max_us: i64| ActivityMinute {
        namespace: ns.to_owned(),
        minute,
        started,
        schedule_to_start_total_us: started * 10,
        schedule_to_start_max_us: max_us,
        completed: 1,
        not_completed: 0,
    };
    store
        .add_activity_minutes(vec![minute(NS, 100, 2, 30), minute(NS, 101, 1, 5)])
        .await
        .unwrap();
    store
        .add_activity_minutes(vec![minute(NS, 100, 3, 20), minute("other", 100, 9, 9)])
        .await
        .unwrap();
    let rows = store.activity_minutes(NS, 100).await.unwrap();
    assert_eq!(
        rows,
        [
            ActivityMinute {
                completed: 2,
                ..minute(NS, 100, 5, 30)
            },
            minute(NS, 101, 1, 5)
        ]
    );
    assert_eq!(store.activity_minutes(NS, 101).await.unwrap().len(), 1);
    assert_eq!(store.delete_activity_minutes(101).await.unwrap(), 2);
    assert_eq!(
        store.activity_minutes(NS, 0).await.unwrap(),
        [minute(NS, 101, 1, 5)]
    );
}
