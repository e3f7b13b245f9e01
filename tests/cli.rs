//! `waymark` as a client (issue 14): each verb run as a user runs it, against a server the test
//! also drives over the API (as the worker, or to check what the verb did), in text and json.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::auth::{bootstrap_key, secured};
use crate::support::workflow::*;
use crate::support::*;

/// One user's shell: the server's address and a config file of their own.
struct Shell {
    address: String,
    config: PathBuf,
}

impl Shell {
    fn of(server: &Server) -> Shell {
        let dir = std::env::temp_dir().join(unique("waymark-cli"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Shell {
            address: server.origin().to_owned(),
            config: dir.join("config.toml"),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"));
        command
            .args(args)
            .env("WAYMARK_ADDRESS", &self.address)
            .env("WAYMARK_CONFIG_FILE", &self.config)
            .env("NO_COLOR", "1")
            .env_remove("WAYMARK_NAMESPACE")
            .env_remove("WAYMARK_API_KEY")
            .env_remove("WAYMARK_PROFILE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("waymark runs")
    }

    /// Runs `args` with `-o text`; it must succeed; its standard output.
    async fn text(&self, args: &[&str]) -> String {
        let out = self.run(&[args, &["-o", "text"]].concat()).await;
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs `args` with `-o json`; it must succeed; its standard output as JSON.
    async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["-o", "json"]].concat()).await;
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", stdout(&out)))
    }

    /// Runs `waymark config <args>`; it must succeed; its standard output.
    async fn config(&self, args: &[&str]) -> String {
        let out = self.run(&[&["config"], args].concat()).await;
        assert!(out.status.success(), "config {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs `args`; it must fail with `status`; its standard error.
    async fn fails(&self, args: &[&str], status: i32) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.status.code(),
            Some(status),
            "{args:?}: {}",
            stderr(&out)
        );
        stderr(&out)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn workflow_verbs_start_inspect_signal_and_terminate_a_workflow() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let (id, queue) = (unique("wf"), unique("wq"));
    let started = sh
        .json(&[
            "workflow",
            "start",
            "--type",
            "Order",
            "-t",
            &queue,
            "-w",
            &id,
            "-i",
            r#"{"sku":"x"}"#,
        ])
        .await;
    assert_eq!(started["workflowId"], id.as_str());
    assert_eq!(started["started"], true);
    let run_id = started["runId"].as_str().expect("runId").to_owned();
    let again = sh
        .json(&[
            "workflow",
            "start",
            "--type",
            "Order",
            "-t",
            &queue,
            "-w",
            &id,
            "--id-conflict-policy",
            "use_existing",
        ])
        .await;
    assert_eq!(
        (&again["runId"], again.get("started")),
        (&json!(run_id), None),
        "{again}"
    );
    let err = sh
        .fails(
            &[
                "workflow", "start", "--type", "Order", "-t", &queue, "-w", &id,
            ],
            1,
        )
        .await;
    assert!(err.contains("AlreadyExists"), "{err}");

    let described = sh.json(&["workflow", "describe", "-w", &id]).await;
    assert_eq!(
        described,
        s.describe_workflow(&id).await,
        "json is the API's object"
    );
    let text = sh.text(&["workflow", "describe", "-w", &id]).await;
    assert!(text.contains("workflowExecutionInfo.status"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(".status") && l.ends_with("RUNNING")),
        "{text}"
    );
    assert!(text.contains(&run_id), "{text}");

    let listed = sh
        .json(&["workflow", "list", "-q", "WorkflowType='Order'"])
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["execution"]["workflowId"], id.as_str());
    let table = sh.text(&["workflow", "list", "--limit", "5"]).await;
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("STATUS") && header.contains("WORKFLOW ID"),
        "{table}"
    );
    assert!(table.contains(&format!("RUNNING  {id}")), "{table}");
    let counted = sh
        .json(&["workflow", "count", "-q", "WorkflowType='Order'"])
        .await;
    assert_eq!(counted["count"], "1");
    assert_eq!(sh.text(&["workflow", "count"]).await, "Total: 1\n");

    let signalled = sh
        .text(&[
            "workflow",
            "signal",
            "-w",
            &id,
            "--name",
            "approve",
            "-i",
            r#""alice""#,
        ])
        .await;
    assert_eq!(signalled, "Signal approve sent.\n");
    let history = sh.json(&["workflow", "show", "-w", &id]).await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert!(
        types.contains(&"EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"),
        "{history}"
    );
    let shown = sh.text(&["workflow", "show", "-w", &id]).await;
    assert!(
        shown.contains("WORKFLOW_EXECUTION_SIGNALED")
            && shown.contains(r#""signalName":"approve""#),
        "{shown}"
    );

    let terminated = sh
        .text(&["workflow", "terminate", "-w", &id, "--reason", "by hand"])
        .await;
    assert_eq!(terminated, format!("Terminated workflow {id}.\n"));
    let info = &s.describe_workflow(&id).await["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_TERMINATED");
    let out = sh
        .run(&["workflow", "result", "-w", &id, "-o", "text"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a terminated workflow has no result"
    );
    assert_eq!(stdout(&out), "Terminated: by hand\n");
}

#[tokio::test]
async fn workflow_execute_waits_for_the_result_and_query_asks_the_worker() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let (id, queue) = (unique("wf"), unique("wq"));
    let execute = sh
        .command(&[
            "workflow", "execute", "--type", "W", "-t", &queue, "-w", &id, "-o", "text",
        ])
        .output();
    let worker = async {
        s.run_first_task(&queue, json!([])).await;
        let query = sh
            .command(&[
                "workflow", "query", "-w", &id, "--type", "state", "-i", "1", "-o", "text",
            ])
            .output();
        let answer = async {
            let task = s.poll_workflow_task(&queue).await;
            assert_eq!(
                task["query"],
                json!({"queryType": "state", "queryArgs": [1]})
            );
            let answer = json!({"taskToken": task["taskToken"],
                "completedType": "QUERY_RESULT_TYPE_ANSWERED", "queryResult": ["fine"]});
            let (status, body) = s.post("workflow-tasks/query-complete", answer).await;
            assert_eq!(status, 200, "{body}");
        };
        let (out, ()) = tokio::join!(query, answer);
        let out = out.expect("waymark runs");
        assert_eq!(stdout(&out), "Query result: \"fine\"\n", "{}", stderr(&out));
        s.on_workflow(&id, "signal/finish", json!({})).await;
        let task = s.poll_workflow_task(&queue).await;
        s.complete_workflow_task(&task, json!([complete_workflow(json!([{"total": 42}]))]))
            .await;
    };
    let (out, ()) = tokio::join!(execute, worker);
    let out = out.expect("waymark runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Result: {\"total\":42}\n");
    let closing = sh.json(&["workflow", "result", "-w", &id]).await;
    assert_eq!(
        closing["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    );
}

#[tokio::test]
async fn show_follow_prints_each_event_as_it_is_written() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let (id, queue) = (unique("wf"), unique("wq"));
    s.start_workflow(&id, &queue, json!({})).await;
    let mut follow = sh
        .command(&["workflow", "show", "-w", &id, "--follow", "-o", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("waymark runs");
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let mut next_type = async || {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("an event within 10 s")
            .expect("reads")
            .expect("a line");
        let event: Value = serde_json::from_str(&line).expect("one event a line");
        event["eventType"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(next_type().await, "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED");
    assert_eq!(next_type().await, "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED");
    let (status, body) = s.on_workflow(&id, "signal/go", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(next_type().await, "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED");
    let cancelled = sh
        .text(&["workflow", "cancel", "-w", &id, "--reason", "done"])
        .await;
    assert_eq!(cancelled, format!("Cancel requested for workflow {id}.\n"));
    assert_eq!(
        next_type().await,
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"
    );
    let (status, body) = s.on_workflow(&id, "terminate", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        next_type().await,
        "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    );
    let exited = tokio::time::timeout(Duration::from_secs(10), follow.wait()).await;
    assert!(
        exited
            .expect("follow ends when the run closes")
            .expect("waits")
            .success()
    );
}

#[tokio::test]
async fn an_activity_is_heartbeated_and_completed_by_hand() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let id = unique("act");
    let started = sh
        .json(&[
            "activity",
            "start",
            "--type",
            "Charge",
            "-t",
            &id,
            "-a",
            &id,
            "--start-to-close-timeout",
            "1m",
            "-i",
            r#"{"cents":500}"#,
        ])
        .await;
    assert_eq!(started["activityId"], id.as_str());
    s.poll_task(&id).await;
    let beat = sh
        .text(&["activity", "heartbeat", "-a", &id, "-d", r#"{"step":3}"#])
        .await;
    assert_eq!(beat, "Heartbeat recorded.\n");
    let described = sh.json(&["activity", "describe", "-a", &id]).await;
    assert_eq!(
        described["info"]["heartbeatDetails"],
        json!([{"step": 3}]),
        "{described}"
    );
    let text = sh.text(&["activity", "describe", "-a", &id]).await;
    assert!(
        text.contains(r#"info.heartbeatDetails"#) && text.contains(r#"[{"step":3}]"#),
        "{text}"
    );
    assert!(
        text.contains("\ninput ") && text.contains(r#"[{"cents":500}]"#),
        "{text}"
    );
    let completed = sh
        .text(&[
            "activity",
            "complete",
            "-a",
            &id,
            "--result",
            r#""receipt-9""#,
        ])
        .await;
    assert_eq!(completed, format!("Completed activity {id}.\n"));
    assert_eq!(s.outcome(&id).await["result"], json!(["receipt-9"]));
    assert_eq!(
        sh.text(&["activity", "result", "-a", &id]).await,
        "Result: \"receipt-9\"\n"
    );
    let listed = sh.text(&["activity", "list"]).await;
    assert!(
        listed.contains(&format!("COMPLETED  {id}  Charge")),
        "{listed}"
    );
}

#[tokio::test]
async fn a_workflow_activity_is_completed_by_hand_with_its_workflow_id() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let (id, queue, activity_queue) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&id, &queue, json!({})).await;
    s.run_first_task(
        &queue,
        json!([schedule_activity("a1", &activity_queue, json!({}))]),
    )
    .await;
    s.poll_task(&activity_queue).await;
    sh.text(&[
        "activity",
        "fail",
        "-a",
        "a1",
        "-w",
        &id,
        "--reason",
        "no stock",
        "--non-retryable",
    ])
    .await;
    let history = s.history(&id).await;
    let failed = history
        .iter()
        .find(|e| e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_FAILED")
        .expect("the activity failed");
    let failure = &failed["activityTaskFailedEventAttributes"]["failure"];
    assert_eq!(failure["message"], "no stock", "{failed}");
}

#[tokio::test]
async fn a_workflow_activity_is_paused_updated_and_unpaused_with_its_workflow_id() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let (id, queue, activity_queue) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&id, &queue, json!({})).await;
    s.run_first_task(
        &queue,
        json!([schedule_activity("a1", &activity_queue, json!({}))]),
    )
    .await;
    let pending = || async { s.describe_workflow(&id).await["pendingActivities"][0].clone() };
    let said = sh
        .text(&[
            "activity",
            "pause",
            "-a",
            "a1",
            "-w",
            &id,
            "--reason",
            "partner down",
        ])
        .await;
    assert_eq!(said.trim(), "Paused activity a1.");
    assert_eq!(
        pending().await["pauseInfo"]["manual"]["reason"],
        "partner down"
    );
    sh.text(&[
        "activity",
        "update-options",
        "-a",
        "a1",
        "-w",
        &id,
        "--start-to-close-timeout",
        "5s",
    ])
    .await;
    assert_eq!(
        pending().await["activityOptions"]["startToCloseTimeout"],
        "5s"
    );
    sh.text(&["activity", "unpause", "-a", "a1", "-w", &id])
        .await;
    assert_eq!(pending().await["state"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    let out = sh.run(&["activity", "cancel", "-a", "a1", "-w", &id]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn operator_verbs_pause_reset_update_and_cancel_a_standalone_activity() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let id = unique("act");
    sh.text(&[
        "activity",
        "start",
        "--type",
        "T",
        "-t",
        &id,
        "-a",
        &id,
        "--start-to-close-timeout",
        "10s",
    ])
    .await;
    assert_eq!(
        sh.text(&["activity", "pause", "-a", &id, "--reason", "partner down"])
            .await,
        format!("Paused activity {id}.\n")
    );
    assert_eq!(
        s.info(&id).await["runState"],
        "PENDING_ACTIVITY_STATE_PAUSED"
    );
    sh.text(&["activity", "unpause", "-a", &id]).await;
    sh.text(&["activity", "reset", "-a", &id]).await;
    let updated = sh
        .json(&[
            "activity",
            "update-options",
            "-a",
            &id,
            "--start-to-close-timeout",
            "2m",
            "--retry-maximum-attempts",
            "7",
        ])
        .await;
    assert_eq!(
        updated["activityOptions"]["startToCloseTimeout"], "120s",
        "{updated}"
    );
    assert_eq!(
        updated["activityOptions"]["retryPolicy"]["maximumAttempts"], 7,
        "{updated}"
    );
    let err = sh
        .fails(&["activity", "update-options", "-a", &id], 2)
        .await;
    assert!(err.contains("at least one option"), "{err}");
    sh.text(&["activity", "cancel", "-a", &id]).await;
    assert_eq!(
        s.info(&id).await["status"],
        "ACTIVITY_EXECUTION_STATUS_CANCELED"
    );
    assert_eq!(sh.json(&["activity", "count"]).await["count"], "1");

    let kind = unique("Batch");
    for n in 0..2 {
        let other = format!("{id}-{n}");
        sh.text(&[
            "activity",
            "start",
            "--type",
            &kind,
            "-t",
            &other,
            "-a",
            &other,
            "--start-to-close-timeout",
            "10s",
        ])
        .await;
    }
    let query = format!("ActivityType='{kind}'");
    let report = sh
        .text(&["activity", "pause", "-q", &query, "-y", "--rps", "100"])
        .await;
    assert_eq!(report, "Paused 2 of 2 activities.\n");
    for n in 0..2 {
        assert_eq!(
            s.info(&format!("{id}-{n}")).await["runState"],
            "PENDING_ACTIVITY_STATE_PAUSED"
        );
    }
}

#[tokio::test]
async fn a_batch_terminate_by_query_terminates_the_running_matches_once_confirmed() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let queue = unique("wq");
    let kind = unique("Batch");
    let ids: Vec<String> = (0..3).map(|i| format!("{}-{i}", unique("wf"))).collect();
    for id in &ids {
        s.start_workflow(id, &queue, json!({"workflowType": {"name": kind}}))
            .await;
    }
    let other = unique("wf");
    s.start_workflow(&other, &queue, json!({})).await;
    let query = format!("WorkflowType='{kind}'");
    let err = sh.fails(&["workflow", "terminate", "-q", &query], 2).await;
    assert!(err.contains("confirm with -y"), "{err}");
    let report = sh
        .text(&[
            "workflow",
            "terminate",
            "-q",
            &query,
            "-y",
            "--reason",
            "cleanup",
        ])
        .await;
    assert_eq!(report, "Terminated 3 of 3 workflows.\n");
    for id in &ids {
        let info = &s.describe_workflow(id).await["workflowExecutionInfo"];
        assert_eq!(
            info["status"], "WORKFLOW_EXECUTION_STATUS_TERMINATED",
            "{id}"
        );
    }
    let info = &s.describe_workflow(&other).await["workflowExecutionInfo"];
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_RUNNING");
    let again = sh
        .json(&["workflow", "terminate", "-q", &query, "-y"])
        .await;
    assert_eq!(
        again,
        json!({"matched": 0, "succeeded": 0, "failed": []}),
        "closed ones are not matched again"
    );
}

#[tokio::test]
async fn task_queue_and_namespace_verbs_show_and_set_what_operators_need() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let queue = unique("tq");
    let (_, poll) = tokio::join!(async { s.poll(&queue, "2S").await }, async {
        eventually(Duration::from_secs(5), || async {
            let d = sh
                .json(&[
                    "task-queue",
                    "describe",
                    "-t",
                    &queue,
                    "--task-queue-type",
                    "activity",
                ])
                .await;
            (!d["pollers"].as_array().is_none_or(Vec::is_empty)).then_some(d)
        })
        .await
    });
    assert_eq!(poll["pollers"][0]["identity"], "test-worker", "{poll}");
    assert!(poll["stats"].is_object(), "{poll}");
    let set = sh
        .json(&[
            "task-queue",
            "config",
            "set",
            "-t",
            &queue,
            "--queue-rps-limit",
            "20",
            "--queue-rps-limit-reason",
            "quota",
        ])
        .await;
    assert_eq!(
        set["config"]["queueRateLimit"]["rateLimit"]["requestsPerSecond"], 20.0,
        "{set}"
    );
    let text = sh.text(&["task-queue", "describe", "-t", &queue]).await;
    assert!(text.starts_with("TYPE"), "{text}");
    assert!(
        text.contains("activity.config.queueRateLimit.rateLimit.requestsPerSecond  20"),
        "{text}"
    );

    let ns = unique("ns");
    assert_eq!(
        sh.text(&["namespace", "create", &ns, "--retention", "2d"])
            .await,
        format!("Created namespace {ns}.\n")
    );
    let described = sh.json(&["namespace", "describe", &ns]).await;
    assert_eq!(
        described["config"]["workflowExecutionRetentionTtl"], "172800s",
        "{described}"
    );
    let updated = sh
        .json(&[
            "namespace",
            "update",
            &ns,
            "--retention",
            "3d",
            "--data",
            "team=billing",
        ])
        .await;
    assert_eq!(
        updated["config"]["workflowExecutionRetentionTtl"], "259200s",
        "{updated}"
    );
    assert_eq!(updated["namespaceInfo"]["data"], json!({"team": "billing"}));
    sh.text(&["namespace", "update", &ns, "--retention", "2d"])
        .await;
    let listed = sh.text(&["namespace", "list"]).await;
    assert!(
        listed.contains(&format!("{ns}  REGISTERED  172800s")),
        "{listed}"
    );
    let in_ns = sh.json(&["workflow", "count", "-n", &ns]).await;
    assert_eq!(in_ns, json!({}), "a fresh namespace holds nothing");
}

#[tokio::test]
async fn api_key_verbs_manage_keys_and_a_bad_key_is_refused() {
    let bootstrap = bootstrap_key();
    let (s, _) = secured().await;
    let sh = Shell::of(&s);
    let created = sh
        .json(&[
            "api-key",
            "create",
            "--role",
            "reader",
            "--description",
            "dashboards",
            "--api-key",
            &bootstrap,
        ])
        .await;
    let key = created["key"].as_str().expect("the key").to_owned();
    let key_id = created["apiKey"]["id"].as_str().expect("its id").to_owned();
    let listed = sh.text(&["api-key", "list", "--api-key", &bootstrap]).await;
    assert!(
        listed.contains(&key_id) && listed.contains("reader") && !listed.contains(&key),
        "{listed}"
    );
    // A reader reads, with its key from the profile.
    sh.config(&["set", "api_key", &key]).await;
    assert_eq!(sh.text(&["workflow", "count"]).await, "Total: 0\n");
    sh.text(&["api-key", "disable", &key_id, "--api-key", &bootstrap])
        .await;
    // Refused within a second (the server may trust a key's lookup that long).
    let out = eventually(Duration::from_secs(3), || async {
        let out = sh.run(&["workflow", "count"]).await;
        (!out.status.success()).then_some(out)
    })
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: count workflows: ") && err.contains("Unauthenticated"),
        "{err}"
    );
    sh.text(&["api-key", "enable", &key_id, "--api-key", &bootstrap])
        .await;
    eventually(Duration::from_secs(3), || async {
        sh.run(&["workflow", "count"])
            .await
            .status
            .success()
            .then_some(())
    })
    .await;
    sh.text(&["api-key", "delete", &key_id, "--api-key", &bootstrap])
        .await;
    let listed = sh.json(&["api-key", "list", "--api-key", &bootstrap]).await;
    assert!(!listed.to_string().contains(&key_id), "{listed}");
}

#[tokio::test]
async fn profiles_are_overridden_by_variables_and_variables_by_flags() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let ns = unique("ns");
    sh.text(&["namespace", "create", &ns]).await;
    sh.config(&["set", "namespace", &ns]).await;
    sh.config(&["set", "address", &sh.address, "--profile", "local"])
        .await;
    assert_eq!(sh.config(&["get", "namespace"]).await, format!("{ns}\n"));
    let listed = sh.config(&["list"]).await;
    assert!(
        listed.contains("[profile.local]") && listed.contains(&format!("namespace = \"{ns}\"")),
        "{listed}"
    );
    // The profile's namespace, then the variable's, then the flag's.
    let described = sh.json(&["namespace", "describe"]).await;
    assert_eq!(described["namespaceInfo"]["name"], ns.as_str());
    let out = sh
        .command(&["namespace", "describe", "-o", "json"])
        .env("WAYMARK_NAMESPACE", "default")
        .output()
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["namespaceInfo"]["name"],
        "default"
    );
    let flagged = sh.json(&["namespace", "describe", "-n", "default"]).await;
    assert_eq!(flagged["namespaceInfo"]["name"], "default");
    // A profile's address, when neither flag nor variable names one.
    let out = sh
        .command(&["workflow", "count", "--profile", "local", "-o", "json"])
        .env_remove("WAYMARK_ADDRESS")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    sh.fails(&["workflow", "count", "--profile", "nope"], 2)
        .await;
    sh.config(&["delete", "namespace"]).await;
    sh.fails(&["config", "get", "namespace"], 3).await;
    let file = std::fs::read_to_string(&sh.config).expect("the config file");
    assert!(file.contains(&sh.address) && !file.contains(&ns), "{file}");
}

#[tokio::test]
async fn errors_say_what_failed_on_one_line_with_distinct_statuses() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let missing = unique("missing");
    let err = sh.fails(&["workflow", "describe", "-w", &missing], 3).await;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: describe workflow {missing}: "))
            && err.contains("NotFound"),
        "{err}"
    );
    sh.fails(&["activity", "describe", "-a", &missing], 3).await;
    let err = sh.fails(&["workflow", "describe", "--bogus"], 2).await;
    assert!(err.contains("--bogus"), "{err}");
    let err = sh
        .fails(
            &[
                "workflow", "start", "--type", "W", "-t", "q", "-i", "not json",
            ],
            2,
        )
        .await;
    assert!(err.contains("not JSON"), "{err}");
    let err = sh.fails(&["workflow", "cancel"], 2).await;
    assert!(
        err.contains("--workflow-id") || err.contains("--query"),
        "{err}"
    );
    let err = sh
        .fails(&["workflow", "count", "--address", "http://127.0.0.1:9"], 4)
        .await;
    assert!(
        err.starts_with("error: count workflows: no answer from the server"),
        "{err}"
    );
    assert!(
        err.contains("Connection refused") || err.contains("connect"),
        "{err}"
    );
}

#[tokio::test]
async fn each_verb_has_an_example_and_shells_get_completions() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    for (noun, verbs) in [
        (
            "workflow",
            &[
                "start",
                "execute",
                "describe",
                "show",
                "list",
                "count",
                "result",
                "signal",
                "query",
                "cancel",
                "terminate",
            ][..],
        ),
        (
            "activity",
            &[
                "start",
                "execute",
                "describe",
                "result",
                "list",
                "count",
                "cancel",
                "terminate",
                "pause",
                "unpause",
                "reset",
                "update-options",
                "complete",
                "fail",
                "heartbeat",
            ],
        ),
        ("namespace", &["list", "describe", "create", "update"]),
        ("task-queue", &["describe"]),
        (
            "api-key",
            &["create", "list", "disable", "enable", "delete"],
        ),
        ("config", &["set", "get", "delete", "list"]),
    ] {
        for verb in verbs {
            let help = stdout(&sh.run(&[noun, verb, "--help"]).await);
            assert!(
                help.contains(&format!("Example: waymark {noun} {verb}")),
                "{noun} {verb}:\n{help}"
            );
        }
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&sh.run(&["completion", shell]).await);
        assert!(
            script.contains("waymark") && script.contains("terminate"),
            "{shell}"
        );
    }
}

#[tokio::test]
async fn activity_execute_waits_for_the_result_and_terminate_ends_one() {
    let s = Server::start_in_memory().await;
    let sh = Shell::of(&s);
    let id = unique("act");
    let execute = sh
        .command(&[
            "activity",
            "execute",
            "--type",
            "T",
            "-t",
            &id,
            "-a",
            &id,
            "--start-to-close-timeout",
            "10s",
            "-i",
            "2",
            "-o",
            "text",
        ])
        .output();
    let worker = async {
        let task = s.poll_task(&id).await;
        assert_eq!(task["input"], json!([2]));
        s.complete(&task, json!([4])).await;
    };
    let (out, ()) = tokio::join!(execute, worker);
    let out = out.expect("waymark runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Result: 4\n");

    let other = unique("act");
    sh.text(&[
        "activity",
        "start",
        "--type",
        "T",
        "-t",
        &other,
        "-a",
        &other,
        "--start-to-close-timeout",
        "10s",
    ])
    .await;
    let terminated = sh
        .text(&[
            "activity",
            "terminate",
            "-a",
            &other,
            "--reason",
            "no longer needed",
        ])
        .await;
    assert_eq!(terminated, format!("Terminated activity {other}.\n"));
    let out = sh
        .run(&["activity", "result", "-a", &other, "-o", "text"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a terminated activity has no result"
    );
    assert!(
        stdout(&out).starts_with("Failed: no longer needed"),
        "{}",
        stdout(&out)
    );
}
