//! `waymark` as a client of a running server: the verbs of Temporal's `temporal` CLI over the
//! HTTP API, through the Rust SDK's client. Each noun has its module; this one holds the
//! connection (flag, then variable, then profile), the errors and their exit statuses.

pub mod activity;
pub mod admin;
pub mod batch;
pub mod config;
pub mod output;
pub mod workflow;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use waymark_api::Code;
use waymark_sdk::{ApiRequest, ClientOptions};

use output::{Format, Output, TimeFormat};

/// What a client command acts on, with its verb.
pub enum Noun {
    Workflow(workflow::Verb),
    Activity(activity::Verb),
    TaskQueue(admin::TaskQueueVerb),
    Namespace(admin::NamespaceVerb),
    ApiKey(admin::ApiKeyVerb),
}

/// Runs a client command and answers its exit status, having printed a failure on one line.
pub async fn run(conn: &Connection, noun: Noun) -> i32 {
    let done = async {
        let ctx = Ctx::new(conn)?;
        match noun {
            Noun::Workflow(verb) => workflow::run(&ctx, verb).await,
            Noun::Activity(verb) => activity::run(&ctx, verb).await,
            Noun::TaskQueue(verb) => admin::task_queue(&ctx, verb).await,
            Noun::Namespace(verb) => admin::namespace(&ctx, verb).await,
            Noun::ApiKey(verb) => admin::api_key(&ctx, verb).await,
        }
    };
    match done.await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.status()
        }
    }
}

/// Exit statuses: what failed, for scripts.
pub mod exit {
    /// The server refused the call (bad argument, already exists, not allowed, ...), or the
    /// workflow or activity waited on did not complete.
    pub const FAILED: i32 = 1;
    /// The command line is wrong (clap's status too).
    pub const USAGE: i32 = 2;
    /// What the command names does not exist.
    pub const NOT_FOUND: i32 = 3;
    /// No answer from the server, or it failed (5xx, unavailable).
    pub const UNREACHABLE: i32 = 4;
}

/// Where the server is and how to talk to it: flags (or their variables) over the profile's
/// settings over the defaults.
#[derive(clap::Args, Clone, Debug)]
pub struct Connection {
    /// The server's HTTP API [profile: address; default: http://127.0.0.1:7243].
    #[arg(long, global = true, env = "WAYMARK_ADDRESS", value_name = "URL")]
    pub address: Option<String>,
    /// The namespace [profile: namespace; default: default].
    #[arg(short = 'n', long, global = true, env = "WAYMARK_NAMESPACE")]
    pub namespace: Option<String>,
    /// Sent as `Authorization: Bearer <key>` [profile: api_key].
    #[arg(long, global = true, env = "WAYMARK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// PEM CA certificate to trust for an https:// address [profile: tls_ca_cert].
    #[arg(long, global = true, env = "WAYMARK_TLS_CA_CERT", value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,
    /// The profile of the config file to use [default: default].
    #[arg(long, global = true, env = "WAYMARK_PROFILE")]
    pub profile: Option<String>,
    /// Output: `text` (default on a terminal), `json` (the API's objects; default otherwise) or
    /// `jsonl` (one object a line).
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<Format>,
    /// Times in text output: relative to now as well, or only as sent.
    #[arg(long, global = true, value_enum, default_value_t = TimeFormat::Relative)]
    pub time_format: TimeFormat,
    /// Who the server records as the caller [default: <pid>@<host>].
    #[arg(long, global = true)]
    pub identity: Option<String>,
}

/// A failure of a client command, with its exit status.
#[derive(Debug)]
pub enum CliError {
    /// The command line asks for something impossible (exit 2).
    Usage(String),
    /// A call failed: what the command was doing, and why.
    Call {
        doing: String,
        error: waymark_sdk::Error,
    },
    /// Anything else (a config file, a workflow that failed, ...): exit `status`.
    Other { status: i32, error: anyhow::Error },
}

impl CliError {
    pub fn status(&self) -> i32 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Call { error, .. } => match error {
                waymark_sdk::Error::Api { error, .. } if error.code == Code::NotFound => {
                    exit::NOT_FOUND
                }
                e if e.is_transient() => exit::UNREACHABLE,
                waymark_sdk::Error::UnexpectedResponse { .. } => exit::UNREACHABLE,
                _ => exit::FAILED,
            },
            CliError::Other { status, .. } => *status,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(message) => write!(f, "{message}"),
            CliError::Call { doing, error } => match error {
                waymark_sdk::Error::Api { status, error, .. } => write!(
                    f,
                    "{doing}: {} ({:?}, HTTP {status})",
                    error.message, error.code
                ),
                waymark_sdk::Error::Transport { source, .. } => {
                    write!(f, "{doing}: no answer from the server: {}", chain(source))
                }
                waymark_sdk::Error::UnexpectedResponse { status, body, .. } => {
                    write!(f, "{doing}: unexpected answer (HTTP {status}): {body}")
                }
                other => write!(f, "{doing}: {other}"),
            },
            CliError::Other { error, .. } => write!(f, "{error:#}"),
        }
    }
}

/// An error and its causes on one line: reqwest's own message says little ("error sending
/// request"); the cause says why ("Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::Other {
            status: exit::FAILED,
            error,
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

pub fn usage<T>(message: impl Into<String>) -> CliResult<T> {
    Err(CliError::Usage(message.into()))
}

/// A connected command's context: the client, its namespace, and the output.
pub struct Ctx {
    pub client: waymark_sdk::Client,
    pub namespace: String,
    pub out: Output,
}

impl Ctx {
    pub fn new(conn: &Connection) -> CliResult<Ctx> {
        let settings = conn.settings()?;
        let mut options = ClientOptions::default().namespace(settings.namespace.clone());
        options.api_key = settings.api_key;
        if let Some(identity) = &conn.identity {
            options = options.identity(identity);
        }
        if let Some(ca) = &settings.tls_ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            options = options.ca_cert_pem(pem);
        }
        let client = waymark_sdk::Client::new(&settings.address, options)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(Ctx {
            client,
            namespace: settings.namespace,
            out: Output::new(conn.output, conn.time_format),
        })
    }

    /// Sends `request`; `doing` names it in the error.
    pub async fn send(&self, doing: impl Fn() -> String, request: ApiRequest) -> CliResult<Value> {
        self.client
            .send(request)
            .await
            .map_err(|error| CliError::Call {
                doing: doing(),
                error,
            })
    }

    /// Path segments of `rest` in this namespace.
    pub fn ns<'a>(&'a self, rest: &[&'a str]) -> Vec<String> {
        let mut path = vec!["namespaces".to_owned(), self.namespace.clone()];
        path.extend(rest.iter().map(|s| (*s).to_owned()));
        path
    }

    pub fn identity(&self) -> &str {
        self.client.identity()
    }

    /// Every item of a paged list (`field` of each page) up to `limit`.
    pub async fn pages(
        &self,
        doing: impl Fn() -> String,
        request: ApiRequest,
        field: &str,
        limit: Option<usize>,
    ) -> CliResult<Vec<Value>> {
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let mut page = request.clone();
            if !token.is_empty() {
                page = page.query("nextPageToken", token.clone());
            }
            if let Some(limit) = limit {
                let left = limit.saturating_sub(items.len()).min(1000);
                page = page.query("pageSize", left.to_string());
            }
            let answer = self.send(&doing, page).await?;
            if let Some(list) = answer[field].as_array() {
                items.extend(list.iter().cloned());
            }
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                return Ok(items);
            }
            match answer["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_owned(),
                _ => return Ok(items),
            }
        }
    }
}

/// What a connection resolves to.
pub struct Settings {
    pub address: String,
    pub namespace: String,
    pub api_key: Option<String>,
    pub tls_ca_cert: Option<PathBuf>,
}

impl Connection {
    pub fn settings(&self) -> CliResult<Settings> {
        let profile_name = self.profile.as_deref().unwrap_or(config::DEFAULT_PROFILE);
        let mut profile = match config::default_path() {
            Some(path) => config::ConfigFile::load(&path)?
                .profiles()?
                .0
                .remove(profile_name),
            None => None,
        };
        if profile.is_none() && self.profile.is_some() {
            return usage(format!("no profile {profile_name:?} in the config file"));
        }
        let mut from_profile = |key: &str| {
            profile
                .as_mut()
                .and_then(|p| p.remove(key))
                .filter(|v| !v.is_empty())
        };
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Ok(Settings {
            address: given(&self.address)
                .or_else(|| from_profile("address"))
                .unwrap_or_else(|| "http://127.0.0.1:7243".into()),
            namespace: given(&self.namespace)
                .or_else(|| from_profile("namespace"))
                .unwrap_or_else(|| "default".into()),
            api_key: given(&self.api_key).or_else(|| from_profile("api_key")),
            tls_ca_cert: self
                .tls_ca_cert
                .clone()
                .or_else(|| from_profile("tls_ca_cert").map(PathBuf::from)),
        })
    }
}

/// What a start does when an execution already has the id.
#[derive(clap::Args, Clone, Debug)]
pub struct IdPolicies {
    /// When a closed one has it: ALLOW_DUPLICATE, ALLOW_DUPLICATE_FAILED_ONLY or
    /// REJECT_DUPLICATE.
    #[arg(long)]
    id_reuse_policy: Option<String>,
    /// When a running one has it: FAIL or USE_EXISTING (a workflow's: TERMINATE_EXISTING too).
    #[arg(long)]
    id_conflict_policy: Option<String>,
}

impl IdPolicies {
    /// Sets the policies given on a start's `body` as the API names them: `kind` is `WORKFLOW`
    /// or `ACTIVITY`, `field` the fields' prefix (`workflowId`, `id`).
    pub fn set_on(&self, body: &mut Value, kind: &str, field: &str) {
        for (policy, given) in [
            ("Reuse", &self.id_reuse_policy),
            ("Conflict", &self.id_conflict_policy),
        ] {
            if let Some(given) = given {
                let upper = policy.to_ascii_uppercase();
                body[format!("{field}{policy}Policy")] = Value::from(format!(
                    "{kind}_ID_{upper}_POLICY_{}",
                    given.to_ascii_uppercase()
                ));
            }
        }
    }
}

/// `-i/--input` values: each a JSON value, one payload each.
pub fn payloads(inputs: &[String]) -> CliResult<Option<Value>> {
    if inputs.is_empty() {
        return Ok(None);
    }
    let values = inputs
        .iter()
        .map(|i| {
            serde_json::from_str::<Value>(i)
                .map_err(|e| CliError::Usage(format!("--input {i:?} is not JSON: {e}")))
        })
        .collect::<CliResult<Vec<_>>>()?;
    Ok(Some(Value::Array(values)))
}

/// A duration flag as Go writes them (`90s`, `1m30s`, `1.5h`, `250ms`), as protojson sends them.
pub fn duration(s: &str) -> Result<String, String> {
    parse_duration(s).map(|d| format!("{}s", trim_float(d.as_secs_f64())))
}

fn trim_float(secs: f64) -> String {
    let s = format!("{secs:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?} (e.g. 30s, 1m30s, 250ms, 2h)");
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(invalid()),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(duration("90s").unwrap(), "90s");
        assert_eq!(duration("1m30s").unwrap(), "90s");
        assert_eq!(duration("1.5h").unwrap(), "5400s");
        assert_eq!(duration("250ms").unwrap(), "0.25s");
        assert_eq!(duration("0").unwrap(), "0s");
        for bad in ["", "10", "5x", "s", "1m30"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inputs_are_json_values_one_payload_each() {
        let p = payloads(&["{\"a\":1}".into(), "\"x\"".into()]).unwrap();
        assert_eq!(p, Some(serde_json::json!([{"a": 1}, "x"])));
        assert_eq!(payloads(&[]).unwrap(), None);
        let err = payloads(&["nope".into()]).unwrap_err();
        assert_eq!(err.status(), exit::USAGE);
        assert!(err.to_string().contains("not JSON"), "{err}");
    }
}
