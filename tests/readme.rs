//! The README's walkthrough, run verbatim (only the port differs) against a fresh server.

use crate::support::Server;

/// The shell blocks of the README's "Walkthrough" section, in order.
fn walkthrough_script() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Walkthrough")
        .nth(1)
        .expect("README has a Walkthrough section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .split("```sh\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() {
    let server = Server::start_in_memory().await;
    let script = walkthrough_script().replace("localhost:7243", &server.authority());
    let out = tokio::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walkthrough failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
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
