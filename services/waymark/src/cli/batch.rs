//! Batch forms of the verbs that act on one execution (`-q <visibility query>` instead of an
//! id): the running executions the query matches, confirmed by the user, acted on at `--rps`.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use serde_json::{Value, json};

use super::{CliResult, Ctx, exit, usage};

#[derive(clap::Args, Clone, Debug)]
pub struct BatchArgs {
    /// Act on every running execution this visibility query matches, instead of one.
    #[arg(short = 'q', long)]
    pub query: Option<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Calls a second at most, in a batch.
    #[arg(long, default_value_t = 50.0, value_parser = positive)]
    pub rps: f64,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("expected a positive number, got {s:?}")),
    }
}

/// One execution a batch acts on.
pub struct Target {
    pub id: String,
    pub run_id: String,
}

/// Asks the user to confirm `what` (e.g. `Terminate 3 workflows matching "..."`) unless `yes`.
/// Without a terminal to ask on, `-y` is required.
pub fn confirm(what: &str, yes: bool) -> CliResult<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return usage(format!("{what}: confirm with -y (no terminal to ask on)"));
    }
    eprint!("{what}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(anyhow::Error::from)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Runs `act` on each of `targets` at `rps` at most and reports: `verbed` (e.g. "Terminated")
/// of `noun`s (e.g. "workflows"). Any failure makes the exit status 1.
pub async fn run<F, Fut>(
    ctx: &Ctx,
    targets: Vec<Target>,
    (verbed, noun): (&str, &str),
    rps: f64,
    act: F,
) -> CliResult
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = CliResult>,
{
    let matched = targets.len();
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / rps));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failed = Vec::new();
    for target in targets {
        pace.tick().await;
        let id = target.id.clone();
        if let Err(e) = act(target).await {
            failed.push(json!({"id": id, "error": e.to_string()}));
        }
    }
    let succeeded = matched - failed.len();
    for f in &failed {
        eprintln!("error: {}", f["error"].as_str().unwrap_or_default());
    }
    ctx.out.done(
        &format!("{verbed} {succeeded} of {matched} {noun}."),
        &json!({"matched": matched, "succeeded": succeeded, "failed": failed}),
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(super::CliError::Other {
            status: exit::FAILED,
            error: anyhow::anyhow!("{} of {matched} {noun} failed", failed.len()),
        })
    }
}

/// The executions of `items` whose `status` is `running`; `id` and `run_id` point at their ids.
pub fn running(items: &[Value], (id, run_id): (&str, &str), running: &str) -> Vec<Target> {
    let text = |item: &Value, pointer: &str| {
        item.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    items
        .iter()
        .filter(|i| i["status"] == running)
        .map(|i| Target {
            id: text(i, id),
            run_id: text(i, run_id),
        })
        .collect()
}
