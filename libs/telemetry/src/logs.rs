//! Logs: to stderr, as text for people or as one JSON object per line for log collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// PostgreSQL's notices, which sqlx logs at INFO, only from WARN up.
const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the process's logger: events that pass `filter` (tracing's env-filter syntax,
/// e.g. `info,waymark_history=debug`) go to stderr in `format`.
pub fn init_logs(filter: &str, format: LogFormat) {
    let mut filter = EnvFilter::new(filter);
    if !filter.to_string().contains("sqlx") {
        // PostgreSQL's notices (`schema ... already exists, skipping` at every start) are not
        // news to an operator.
        filter = filter.add_directive(QUIET_NOTICES.parse().expect("a valid directive"));
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only where a terminal shows them, not in log files.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}
