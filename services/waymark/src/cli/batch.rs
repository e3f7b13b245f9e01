//! Executions by visibility query: listed, counted, and acted on in batch (`-q <query>`
//! instead of an id: the running executions the query matches, confirmed by the user, acted
//! on at `--rps`).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use serde_json::{Value, json};

use waymark_sdk::ApiRequest;

use super::output::Column;
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

/// A kind of execution: listed at `list` and counted at `count` (paths below the namespace),
/// ids at `pointers` in a listed one, and status `running` while it runs.
pub struct Kind {
    pub noun: &'static str,
    pub nouns: &'static str,
    pub list: &'static str,
    pub count: &'static str,
    pub pointers: (&'static str, &'static str),
    pub running: &'static str,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ListArgs {
    /// A visibility query (default: all).
    #[arg(short = 'q', long, default_value = "")]
    query: String,
    /// At most this many.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(clap::Args, Clone, Debug)]
pub struct CountArgs {
    /// A visibility query (default: all).
    #[arg(short = 'q', long, default_value = "")]
    query: String,
}

impl Kind {
    /// Prints the executions `args` asks for, as a table of `columns` in text.
    pub async fn list(&self, ctx: &Ctx, args: ListArgs, columns: &[Column]) -> CliResult {
        let request = ApiRequest::get(ctx.ns(&[self.list])).query("query", args.query);
        let doing = || format!("list {}", self.nouns);
        let items = ctx.pages(doing, request, "executions", args.limit).await?;
        ctx.out.list(&items, columns);
        Ok(())
    }

    pub async fn count(&self, ctx: &Ctx, args: CountArgs) -> CliResult {
        let request = ApiRequest::get(ctx.ns(&[self.count])).query("query", args.query);
        let answer = ctx
            .send(|| format!("count {}", self.nouns), request)
            .await?;
        let count = answer["count"].as_str().unwrap_or("0");
        ctx.out.done(&format!("Total: {count}"), &answer);
        Ok(())
    }
}

/// Runs `act` on execution `id` (and `run_id`) and reports it, or, without an id, on every
/// running one that `batch`'s query matches, once confirmed. `verb` names the action (`pause`)
/// and `verbed` what the report says was done (`Paused`).
pub async fn one_or_many<F, Fut>(
    ctx: &Ctx,
    kind: &Kind,
    (id, run_id): (Option<String>, String),
    batch: BatchArgs,
    (verb, verbed): (&str, &str),
    act: F,
) -> CliResult
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = CliResult<Value>>,
{
    if let Some(id) = id {
        let answer = act(id.clone(), run_id).await?;
        ctx.out
            .done(&format!("{verbed} {} {id}.", kind.noun), &answer);
        return Ok(());
    }
    let Some(query) = batch.query else {
        return usage(format!("give the {} id or -q <query>", kind.noun));
    };
    let request = ApiRequest::get(ctx.ns(&[kind.list])).query("query", query.clone());
    let doing = || format!("list {}", kind.nouns);
    let items = ctx.pages(doing, request, "executions", None).await?;
    let targets = running(&items, kind.pointers, kind.running);
    let mut prompt = format!(
        "{verb} {} running {} matching {query:?}",
        targets.len(),
        kind.nouns
    );
    prompt[..1].make_ascii_uppercase();
    if !confirm(&prompt, batch.yes)? {
        return usage("not confirmed");
    }
    run(ctx, targets, (verbed, kind.nouns), batch.rps, |t| {
        let done = act(t.id, t.run_id);
        async move { done.await.map(drop) }
    })
    .await
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
