//! `waymark task-queue ...`, `waymark namespace ...` and `waymark api-key ...`: what operators
//! look at and set beside the executions.

use clap::Subcommand;
use serde_json::{Value, json};
use waymark_api::Timestamp;
use waymark_sdk::{ApiRequest, Method};

use super::output::{Column, col};
use super::workflow::set;
use super::{CliResult, Ctx, duration, parse_duration, usage};

const POLLER_COLUMNS: [Column; 4] = [
    col("TYPE", "/type"),
    col("IDENTITY", "/identity"),
    col("LAST ACCESS TIME", "/lastAccessTime"),
    col("RATE PER SECOND", "/ratePerSecond"),
];

const NAMESPACE_COLUMNS: [Column; 4] = [
    col("NAME", "/namespaceInfo/name"),
    col("STATE", "/namespaceInfo/state"),
    col("RETENTION", "/config/workflowExecutionRetentionTtl"),
    col("DESCRIPTION", "/namespaceInfo/description"),
];

const KEY_COLUMNS: [Column; 7] = [
    col("ID", "/id"),
    col("NAMESPACE", "/namespace"),
    col("ROLE", "/role"),
    col("DISABLED", "/disabled"),
    col("EXPIRE TIME", "/expireTime"),
    col("LAST USED TIME", "/lastUsedTime"),
    col("DESCRIPTION", "/description"),
];

/// A task queue's statistics, shown as 0 when the API leaves them out.
const STATS: [&str; 4] = [
    "approximateBacklogCount",
    "approximateBacklogAge",
    "tasksAddRate",
    "tasksDispatchRate",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueType {
    Workflow,
    Activity,
}

impl QueueType {
    fn api(self) -> &'static str {
        match self {
            QueueType::Workflow => "TASK_QUEUE_TYPE_WORKFLOW",
            QueueType::Activity => "TASK_QUEUE_TYPE_ACTIVITY",
        }
    }

    fn name(self) -> &'static str {
        match self {
            QueueType::Workflow => "workflow",
            QueueType::Activity => "activity",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TaskQueueVerb {
    /// Show a task queue: its pollers with their last access, backlog count and age, add and
    /// dispatch rates, and rate limits.
    ///
    /// Example: waymark task-queue describe -t payments
    Describe {
        /// The task queue.
        #[arg(short = 't', long)]
        task_queue: String,
        /// Only this type's tasks (default: both).
        #[arg(long, value_enum)]
        task_queue_type: Option<QueueType>,
    },
    /// Set a task queue's configuration.
    #[command(subcommand)]
    Config(QueueConfigVerb),
}

#[derive(Subcommand, Debug)]
pub enum QueueConfigVerb {
    /// Set a task queue's rate limits.
    ///
    /// Example: waymark task-queue config set -t payments --task-queue-type activity --queue-rps-limit 20 --queue-rps-limit-reason "partner quota"
    Set {
        /// The task queue.
        #[arg(short = 't', long)]
        task_queue: String,
        /// Which of its tasks.
        #[arg(long, value_enum, default_value_t = QueueType::Activity)]
        task_queue_type: QueueType,
        /// Tasks a second dispatched from the whole queue; `default` removes the limit.
        #[arg(long, value_parser = rate)]
        queue_rps_limit: Option<Rate>,
        /// Why, recorded with the limit.
        #[arg(long, default_value = "")]
        queue_rps_limit_reason: String,
        /// Tasks a second of each fairness key unless overridden; `default` removes it.
        #[arg(long, value_parser = rate)]
        fairness_key_rps_limit_default: Option<Rate>,
        /// Why, recorded with the limit.
        #[arg(long, default_value = "")]
        fairness_key_rps_limit_reason: String,
    },
}

/// A rate limit: tasks a second, or none (`default`).
#[derive(Clone, Copy, Debug)]
pub struct Rate(Option<f64>);

fn rate(s: &str) -> Result<Rate, String> {
    match s {
        "default" => Ok(Rate(None)),
        s => match s.parse::<f64>() {
            Ok(v) if v >= 0.0 && v.is_finite() => Ok(Rate(Some(v))),
            _ => Err(format!(
                "expected a rate (tasks a second) or `default`, got {s:?}"
            )),
        },
    }
}

#[derive(Subcommand, Debug)]
pub enum NamespaceVerb {
    /// List the namespaces.
    ///
    /// Example: waymark namespace list
    List,
    /// Show a namespace (default: the one of -n).
    ///
    /// Example: waymark namespace describe payments
    Describe { name: Option<String> },
    /// Register a namespace.
    ///
    /// Example: waymark namespace create payments --retention 7d --description "card payments"
    Create {
        name: String,
        /// How long closed executions are kept.
        #[arg(long, value_parser = duration, default_value = "3d")]
        retention: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        owner_email: String,
    },
    /// Change a namespace's retention, description, owner or data (what is not given stays).
    ///
    /// Example: waymark namespace update payments --retention 30d --data team=billing
    Update {
        /// The namespace (default: the one of -n).
        name: Option<String>,
        /// How long closed executions are kept.
        #[arg(long, value_parser = duration)]
        retention: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        owner_email: Option<String>,
        /// A `key=value` entry of its data, added or replaced; repeat for several.
        #[arg(long, value_parser = data_entry)]
        data: Vec<(String, String)>,
    },
}

fn data_entry(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyVerb {
    /// Create an API key; its value is printed this once.
    ///
    /// Example: waymark api-key create --role worker --description "payments workers" --expires-in 90d
    Create {
        /// `reader`, `worker`, `writer` or `admin` of the namespace (-n), or `system:admin`.
        #[arg(long)]
        role: String,
        /// When it stops working, from now.
        #[arg(long, default_value = "90d", conflicts_with = "expire_time")]
        expires_in: String,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expire_time: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List API keys (without their secrets).
    ///
    /// Example: waymark api-key list
    List {
        /// Only the keys of the namespace of -n.
        #[arg(long)]
        this_namespace: bool,
    },
    /// Stop a key from working until it is enabled again.
    ///
    /// Example: waymark api-key disable 3f2a...
    Disable { id: String },
    /// Let a disabled key work again.
    ///
    /// Example: waymark api-key enable 3f2a...
    Enable { id: String },
    /// Delete a key for good.
    ///
    /// Example: waymark api-key delete 3f2a...
    Delete { id: String },
}

pub async fn task_queue(ctx: &Ctx, verb: TaskQueueVerb) -> CliResult {
    match verb {
        TaskQueueVerb::Describe {
            task_queue,
            task_queue_type,
        } => {
            let types = match task_queue_type {
                Some(t) => vec![t],
                None => vec![QueueType::Workflow, QueueType::Activity],
            };
            let mut described = serde_json::Map::new();
            for t in &types {
                let request = ApiRequest::get(ctx.ns(&["task-queues", &task_queue]))
                    .query("taskQueueType", t.api())
                    .query("reportStats", "true")
                    .query("reportConfig", "true");
                let doing = || format!("describe task queue {task_queue}");
                described.insert(t.name().into(), ctx.send(doing, request).await?);
            }
            if !ctx.out.is_text() {
                let one = (types.len() == 1).then(|| described[types[0].name()].clone());
                ctx.out.object(&one.unwrap_or(Value::Object(described)));
                return Ok(());
            }
            let mut pollers = Vec::new();
            for (kind, d) in &described {
                for p in d["pollers"].as_array().into_iter().flatten() {
                    let mut p = p.clone();
                    p["type"] = Value::from(kind.clone());
                    pollers.push(p);
                }
            }
            ctx.out.list(&pollers, &POLLER_COLUMNS);
            let mut rest = described.clone();
            for d in rest.values_mut() {
                d.as_object_mut().map(|o| o.remove("pollers"));
                // The API leaves zeros out; people look for them.
                for stat in STATS {
                    if d["stats"][stat].is_null() {
                        d["stats"][stat] = Value::from(0);
                    }
                }
            }
            println!();
            ctx.out.object(&Value::Object(rest));
            Ok(())
        }
        TaskQueueVerb::Config(QueueConfigVerb::Set {
            task_queue,
            task_queue_type,
            queue_rps_limit,
            queue_rps_limit_reason,
            fairness_key_rps_limit_default,
            fairness_key_rps_limit_reason,
        }) => {
            let update = |Rate(limit): Rate, reason: String| {
                let mut u = json!({"reason": reason});
                set(
                    &mut u,
                    "rateLimit",
                    limit.map(|l| json!({"requestsPerSecond": l})),
                );
                u
            };
            let mut body = json!({
                "taskQueue": task_queue,
                "taskQueueType": task_queue_type.api(),
                "identity": ctx.identity(),
            });
            set(
                &mut body,
                "updateQueueRateLimit",
                queue_rps_limit.map(|l| update(l, queue_rps_limit_reason)),
            );
            set(
                &mut body,
                "updateFairnessKeyRateLimitDefault",
                fairness_key_rps_limit_default.map(|l| update(l, fairness_key_rps_limit_reason)),
            );
            if body.get("updateQueueRateLimit").is_none()
                && body.get("updateFairnessKeyRateLimitDefault").is_none()
            {
                return usage("give --queue-rps-limit or --fairness-key-rps-limit-default");
            }
            let path = ctx.ns(&["task-queues", &task_queue, "update-config"]);
            let doing = || format!("configure task queue {task_queue}");
            let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
            ctx.out
                .changed(&format!("Configured task queue {task_queue}."), &answer);
            Ok(())
        }
    }
}

pub async fn namespace(ctx: &Ctx, verb: NamespaceVerb) -> CliResult {
    match verb {
        NamespaceVerb::List => {
            let request = ApiRequest::get(["namespaces"]);
            let items = ctx
                .pages(|| "list namespaces".into(), request, "namespaces", None)
                .await?;
            ctx.out.list(&items, &NAMESPACE_COLUMNS);
        }
        NamespaceVerb::Describe { name } => {
            let name = name.unwrap_or_else(|| ctx.namespace.clone());
            let request = ApiRequest::get(["namespaces", &name]);
            let answer = ctx
                .send(|| format!("describe namespace {name}"), request)
                .await?;
            ctx.out.object(&answer);
        }
        NamespaceVerb::Create {
            name,
            retention,
            description,
            owner_email,
        } => {
            let body = json!({
                "namespace": name,
                "workflowExecutionRetentionPeriod": retention,
                "description": description,
                "ownerEmail": owner_email,
            });
            let doing = || format!("create namespace {name}");
            let answer = ctx
                .send(doing, ApiRequest::post(["namespaces"], body))
                .await?;
            ctx.out.done(&format!("Created namespace {name}."), &answer);
        }
        NamespaceVerb::Update {
            name,
            retention,
            description,
            owner_email,
            data,
        } => {
            let name = name.unwrap_or_else(|| ctx.namespace.clone());
            let info = json!({
                "description": description.unwrap_or_default(),
                "ownerEmail": owner_email.unwrap_or_default(),
                "data": data.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            });
            let mut body = json!({"updateInfo": info});
            set(
                &mut body,
                "config",
                retention.map(|r| json!({"workflowExecutionRetentionTtl": r})),
            );
            let path = ["namespaces", name.as_str(), "update"];
            let doing = || format!("update namespace {name}");
            let answer = ctx.send(doing, ApiRequest::post(path, body)).await?;
            ctx.out
                .changed(&format!("Updated namespace {name}."), &answer);
        }
    }
    Ok(())
}

pub async fn api_key(ctx: &Ctx, verb: ApiKeyVerb) -> CliResult {
    match verb {
        ApiKeyVerb::Create {
            role,
            expires_in,
            expire_time,
            description,
        } => {
            let expire_time = match expire_time {
                Some(t) => Timestamp::parse(&t)
                    .map_err(|e| super::CliError::Usage(format!("--expire-time: {e}")))?,
                None => {
                    let d = parse_duration(&expires_in)
                        .map_err(|e| super::CliError::Usage(format!("--expires-in: {e}")))?;
                    Timestamp::from_system_time(std::time::SystemTime::now() + d)
                }
            };
            let namespace = match role.starts_with("system:") {
                true => String::new(),
                false => ctx.namespace.clone(),
            };
            let body = json!({
                "namespace": namespace,
                "role": role,
                "expireTime": expire_time,
                "description": description,
            });
            let answer = ctx
                .send(
                    || "create an API key".into(),
                    ApiRequest::post(["api-keys"], body),
                )
                .await?;
            let key = answer["key"].as_str().unwrap_or_default();
            let id = answer["apiKey"]["id"].as_str().unwrap_or_default();
            let text = format!("Created API key {id}. Its value, shown this once:\n{key}");
            ctx.out.done(&text, &answer);
        }
        ApiKeyVerb::List { this_namespace } => {
            let mut request = ApiRequest::get(["api-keys"]);
            if this_namespace {
                request = request.query("namespace", ctx.namespace.clone());
            }
            let items = ctx
                .pages(|| "list API keys".into(), request, "apiKeys", None)
                .await?;
            ctx.out.list(&items, &KEY_COLUMNS);
        }
        ApiKeyVerb::Disable { id } => key_action(ctx, &id, Some("disable"), "Disabled").await?,
        ApiKeyVerb::Enable { id } => key_action(ctx, &id, Some("enable"), "Enabled").await?,
        ApiKeyVerb::Delete { id } => key_action(ctx, &id, None, "Deleted").await?,
    }
    Ok(())
}

/// `POST /api-keys/<id>/<action>`, or `DELETE /api-keys/<id>` without one.
async fn key_action(ctx: &Ctx, id: &str, action: Option<&str>, done: &str) -> CliResult {
    let request = match action {
        Some(a) => ApiRequest::post(["api-keys", id, a], json!({})),
        None => ApiRequest::new(Method::DELETE, ["api-keys", id]),
    };
    let what = action.unwrap_or("delete");
    let answer = ctx.send(|| format!("{what} API key {id}"), request).await?;
    ctx.out.done(&format!("{done} API key {id}."), &answer);
    Ok(())
}
