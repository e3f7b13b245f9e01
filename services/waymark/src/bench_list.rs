//! `waymark bench list`: what the web UI's workflow list costs with many workflows. It starts
//! `--workflows` workflows (nobody runs them: they stay running), then times the requests the
//! list page makes: its HTML, the first page of 50, a filtered view, and a page deep in the
//! list reached by its keyset token.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::bench::{Target, percentiles, with_server};

/// Rows of one page, as the UI asks for them.
const PAGE: usize = 50;

#[derive(clap::Args, Clone, Debug)]
pub struct ListBench {
    #[command(flatten)]
    target: Target,
    /// Workflows to start before timing the list.
    #[arg(long, default_value_t = 10_000)]
    workflows: usize,
    /// Timed requests of each kind.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Starts in flight while seeding.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

pub async fn run(b: ListBench) -> anyhow::Result<()> {
    if b.workflows < PAGE * 2 || b.samples == 0 {
        bail!(
            "--workflows must be at least {} and --samples at least 1",
            PAGE * 2
        );
    }
    let report = with_server(&b.target, |url| bench(&b, url)).await?;
    if b.target.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "{} workflows started in {:.1} s; {} samples each",
        report["workflows"], report["seed_seconds"], report["samples"]
    );
    println!(
        "{:<46} {:>8} {:>8} {:>8}",
        "request", "p50 ms", "p99 ms", "max ms"
    );
    for (name, key) in ROWS {
        let ms = |p: &str| report[key][p].as_f64().unwrap_or(0.0);
        println!(
            "{name:<46} {:>8.2} {:>8.2} {:>8.2}",
            ms("p50"),
            ms("p99"),
            ms("max")
        );
    }
    Ok(())
}

const ROWS: [(&str, &str); 4] = [
    ("the page (/ui/…/workflows)", "page_ms"),
    ("first 50 workflows", "first_page_ms"),
    (
        "first 50 running (ExecutionStatus='Running')",
        "filtered_ms",
    ),
    (
        "50 from row min(n/2, 5000) on (keyset token)",
        "deep_page_ms",
    ),
];

async fn bench(b: &ListBench, url: String) -> anyhow::Result<Value> {
    let http = b.target.http()?.build()?;
    let base = format!("{url}/api/v1/namespaces/{}", b.target.namespace);
    let salt = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let began = Instant::now();
    let slots = std::sync::Arc::new(Semaphore::new(b.concurrency.max(1)));
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..b.workflows {
        let permit = slots.clone().acquire_owned().await?;
        let (http, base, salt) = (http.clone(), base.clone(), salt.clone());
        starts.spawn(async move {
            let body = json!({"workflowType": {"name": "ListBench"},
                "taskQueue": {"name": format!("list-{salt}")}, "requestId": format!("{salt}-{i}")});
            let answer = http
                .post(format!("{base}/workflows/list-{salt}-{i}"))
                .json(&body)
                .send()
                .await;
            drop(permit);
            match answer {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(anyhow::anyhow!("start answered {}", r.status())),
                Err(e) => Err(e.into()),
            }
        });
    }
    while let Some(started) = starts.join_next().await {
        started??;
    }
    let seeded = began.elapsed();

    let time = |path: String| {
        let http = http.clone();
        async move {
            let start = Instant::now();
            let r = http.get(&path).send().await.context("list request")?;
            anyhow::ensure!(r.status().is_success(), "{path} answered {}", r.status());
            let body = r.bytes().await?;
            Ok::<_, anyhow::Error>((start.elapsed(), body))
        }
    };
    // The token of the page that starts at row 5000 (or the middle of a smaller list).
    let skip = (b.workflows / 2).min(5000) / PAGE;
    let mut token = String::new();
    for _ in 0..skip {
        let (_, body) = time(list_url(&base, "", &token)).await?;
        let page: Value = serde_json::from_slice(&body)?;
        token = page["nextPageToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    let page_url = format!("{url}/ui/namespaces/{}/workflows", b.target.namespace);
    let mut report = json!({"bench": "list", "workflows": b.workflows, "samples": b.samples,
        "seed_seconds": (seeded.as_secs_f64() * 10.0).round() / 10.0});
    for (key, path) in [
        ("page_ms", page_url),
        ("first_page_ms", list_url(&base, "", "")),
        (
            "filtered_ms",
            list_url(&base, "ExecutionStatus='Running'", ""),
        ),
        ("deep_page_ms", list_url(&base, "", &token)),
    ] {
        let mut samples: Vec<Duration> = Vec::with_capacity(b.samples);
        for _ in 0..b.samples {
            samples.push(time(path.clone()).await?.0);
        }
        report[key] = percentiles(samples);
    }
    Ok(report)
}

fn list_url(base: &str, query: &str, token: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{base}/workflows")).expect("a valid base url");
    url.query_pairs_mut()
        .append_pair("pageSize", &PAGE.to_string())
        .append_pair("query", query)
        .append_pair("nextPageToken", token);
    url.into()
}
