//! The README's walkthrough and the worker protocol guide, run verbatim (only the port differs)
//! against a fresh server.

use crate::support::{Server, unique};

/// The ```` ```sh ```` blocks of `text`, in order.
fn shell_blocks(text: &'static str) -> Vec<&'static str> {
    text.split("```sh\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .collect()
}

/// The shell blocks of the README's section `title`, in order.
fn section_blocks(title: &str) -> Vec<&'static str> {
    let readme = include_str!("../README.md");
    let section = readme
        .split(&format!("## {title}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has a {title} section"));
    shell_blocks(section.split("\n## ").next().unwrap_or(section))
}

/// The shell blocks of the README's section `title`, in order, but the first `skip`.
fn section_script(title: &str, skip: usize) -> String {
    section_blocks(title)[skip..].join("\n")
}

/// Runs `script` with bash (`-euo pipefail`); its standard output.
async fn run(script: &str, env: &[(&str, &str)]) -> String {
    run_in(std::path::Path::new("."), script, env).await
}

/// `run` in directory `dir`.
async fn run_in(dir: &std::path::Path, script: &str, env: &[(&str, &str)]) -> String {
    let out = tokio::process::Command::new("bash")
        .current_dir(dir)
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the script failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() {
    let server = Server::start_in_memory().await;
    let script = section_script("Walkthrough", 0).replace("localhost:7243", &server.authority());
    let stdout = run(&script, &[]).await;
    assert!(
        stdout.contains(r#""started":true"#),
        "start answered: {stdout}"
    );
    assert!(
        stdout.contains(r#""taskToken":"#),
        "poll answered: {stdout}"
    );
    assert!(
        stdout.contains(r#""outcome":{"result":["Processed: hello"]}"#),
        "outcome answered: {stdout}"
    );
}

#[tokio::test]
async fn the_readme_workflow_walkthrough_works_as_written() {
    let server = Server::start_in_memory().await;
    let script =
        section_script("Workflow walkthrough", 0).replace("localhost:7243", &server.authority());
    let stdout = run(&script, &[]).await;
    assert!(
        stdout.contains(r#""result":["shipped"]"#),
        "the close event: {stdout}"
    );
}

/// docs/worker-protocol.md, every shell block in order as one script.
#[tokio::test]
async fn the_worker_protocol_guide_runs_as_written() {
    let server = Server::start_in_memory().await;
    let script = shell_blocks(include_str!("../docs/worker-protocol.md"))
        .join("\n")
        .replace("localhost:7243", &server.authority());
    let stdout = run(&script, &[]).await;
    for expected in [
        r#"[{"receipt": "r-1", "status": "charged"}]"#,
        "WORKFLOW_EXECUTION_STATUS_COMPLETED",
        "8 EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from: {stdout}"
        );
    }
}

/// The shell section, with the built `waymark` first on the PATH, as `cargo install` puts it.
#[tokio::test]
async fn the_readme_shell_section_works_as_written() {
    let server = Server::start_in_memory().await;
    let script = section_script("Operate it from the shell", 0)
        .replace("localhost:7243", &server.authority());
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_waymark"))
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config = std::env::temp_dir()
        .join(unique("readme-cli"))
        .join("config.toml");
    let address = server.origin().to_owned();
    let env = [
        ("PATH", path.as_str()),
        ("WAYMARK_ADDRESS", address.as_str()),
        ("WAYMARK_CONFIG_FILE", config.to_str().expect("utf-8 path")),
    ];
    let stdout = run(&script, &env).await;
    for expected in [
        r#""workflowId": "order-1""#,
        r#""name": "Order""#,
        r#""receipt": "r-1""#,
        r#""succeeded": 1"#,
        r#""pollers""#,
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from: {stdout}"
        );
    }
}

/// The Authentication section's example, after the block that starts the server (started here
/// with the same kind of bootstrap key).
#[tokio::test]
async fn the_readme_authentication_example_works_as_written() {
    let key = format!("wmk_0123456789abcdef_{}", "R".repeat(42) + "A");
    let server = Server::start_with_env(&[
        ("WAYMARK_AUTH", "on"),
        ("WAYMARK_BOOTSTRAP_ADMIN_KEY", &key),
    ])
    .await;
    let script = section_script("Authentication", 1).replace("localhost:7243", &server.authority());
    let stdout = run(&script, &[("WAYMARK_BOOTSTRAP_ADMIN_KEY", &key)]).await;
    // curl prints no newline: the poll's `{}` runs into the list.
    let (created, rest) = stdout.split_once('\n').expect("the created key's line");
    assert!(created.contains(r#""role":"worker""#), "created: {stdout}");
    let list = rest
        .strip_prefix("{}")
        .expect("the worker's poll answers {}");
    assert!(
        list.starts_with(r#"{"apiKeys":[{"#) && list.contains("demo worker"),
        "{stdout}"
    );
}

/// The TLS section's example: its self-signed certificate, a server started with it as the
/// section starts one, and the section's `curl --cacert`.
#[tokio::test]
async fn the_readme_tls_example_works_as_written() {
    let blocks = section_blocks("TLS");
    let dir = std::env::temp_dir().join(unique("waymark-readme-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    run_in(&dir, blocks[0], &[]).await;
    let file = |name: &str| dir.join(name).display().to_string();
    let server = Server::start_with_env(&[
        ("WAYMARK_TLS_CERT", &file("cert.pem")),
        ("WAYMARK_TLS_KEY", &file("key.pem")),
    ])
    .await;
    assert!(
        blocks[1].contains("--tls-cert cert.pem --tls-key key.pem"),
        "{}",
        blocks[1]
    );
    let port = server.authority().rsplit_once(':').unwrap().1.to_owned();
    let script = blocks[2].replace(":7243", &format!(":{port}"));
    let stdout = run_in(&dir, &script, &[]).await;
    assert!(stdout.contains(r#""name":"default""#), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
