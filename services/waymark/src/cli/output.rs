//! How the client prints what the server answered: `json` is the API's objects as they are (for
//! scripts), `jsonl` one object a line, `text` aligned tables and key/value blocks for people,
//! with times relative or as sent, enum values without their prefix, and colours on a terminal.

use std::io::{IsTerminal, Write};

use serde_json::Value;
use waymark_api::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeFormat {
    /// `2026-12-07T18:00:00Z (3m ago)`.
    Relative,
    /// As the server sent it (RFC 3339).
    Iso,
}

/// Payload fields: shown as their JSON on one line, not split into keys.
const PAYLOAD_KEYS: [&str; 8] = [
    "input",
    "result",
    "details",
    "heartbeatDetails",
    "lastHeartbeatDetails",
    "queryResult",
    "memo",
    "searchAttributes",
];

/// Prefixes of the API's enum values, dropped in text: `WORKFLOW_EXECUTION_STATUS_RUNNING` reads
/// `RUNNING`.
const ENUM_PREFIXES: [&str; 12] = [
    "WORKFLOW_EXECUTION_STATUS_",
    "ACTIVITY_EXECUTION_STATUS_",
    "PENDING_ACTIVITY_STATE_",
    "PENDING_WORKFLOW_TASK_STATE_",
    "EVENT_TYPE_",
    "TASK_QUEUE_KIND_",
    "TASK_QUEUE_TYPE_",
    "RETRY_STATE_",
    "TIMEOUT_TYPE_",
    "NAMESPACE_STATE_",
    "ACTIVITY_ID_REUSE_POLICY_",
    "WORKFLOW_ID_REUSE_POLICY_",
];

/// Widest key column of a key/value block.
const KEY_WIDTH: usize = 44;

pub struct Output {
    pub format: Format,
    pub time: TimeFormat,
    color: bool,
    now: Timestamp,
}

impl Output {
    /// `format`: `text` on a terminal and `json` otherwise when not given.
    pub fn new(format: Option<Format>, time: TimeFormat) -> Output {
        let terminal = std::io::stdout().is_terminal();
        Output {
            format: format.unwrap_or(if terminal { Format::Text } else { Format::Json }),
            time,
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            now: Timestamp::from_system_time(std::time::SystemTime::now()),
        }
    }

    pub fn is_text(&self) -> bool {
        self.format == Format::Text
    }

    /// One object: its key/value block in text.
    pub fn object(&self, value: &Value) {
        match self.format {
            Format::Text => {
                let mut rows = Vec::new();
                flatten("", value, &mut rows);
                // A rare long key (a map's) overflows rather than pushing every value right.
                let width = rows
                    .iter()
                    .map(|(k, _)| k.len())
                    .max()
                    .unwrap_or(0)
                    .min(KEY_WIDTH);
                let mut out = String::new();
                for (key, v) in rows {
                    let shown = self.scalar(&key, &v);
                    out.push_str(&format!(
                        "{}  {shown}\n",
                        self.bold(&format!("{key:width$}"))
                    ));
                }
                print(&out);
            }
            Format::Json => print(&format!("{}\n", pretty(value))),
            Format::Jsonl => print(&format!("{value}\n")),
        }
    }

    /// A list of objects: a table of `columns` in text, an array in `json`, a line each in
    /// `jsonl`.
    pub fn list(&self, items: &[Value], columns: &[Column]) {
        match self.format {
            Format::Text => print(&self.table(items, columns, true)),
            Format::Json => print(&format!("{}\n", pretty(&Value::Array(items.to_vec())))),
            Format::Jsonl => items.iter().for_each(|i| print(&format!("{i}\n"))),
        }
    }

    /// Rows of a list that grows while it is printed (`workflow show --follow`): the table's
    /// header with the first batch only; a line each in `jsonl` (and `json`, which cannot be
    /// one document while it grows).
    pub fn rows(&self, items: &[Value], columns: &[Column], first: bool) {
        match self.format {
            Format::Text => print(&self.table(items, columns, first)),
            Format::Json | Format::Jsonl => items.iter().for_each(|i| print(&format!("{i}\n"))),
        }
    }

    /// What a change left: a line that says what was done, then the object (alone in `json`).
    pub fn changed(&self, text: &str, value: &Value) {
        if self.is_text() {
            print(&format!("{text}\n"));
        }
        self.object(value);
    }

    /// A line for people that says what was done: `json` prints `value` instead.
    pub fn done(&self, text: &str, value: &Value) {
        match self.format {
            Format::Text => print(&format!("{text}\n")),
            Format::Json => print(&format!("{}\n", pretty(value))),
            Format::Jsonl => print(&format!("{value}\n")),
        }
    }

    fn table(&self, items: &[Value], columns: &[Column], header: bool) -> String {
        let cells: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                columns
                    .iter()
                    .map(|c| {
                        self.scalar(c.pointer, item.pointer(c.pointer).unwrap_or(&Value::Null))
                    })
                    .collect()
            })
            .collect();
        // Widths of what is printed, not of the colour codes: padded before colouring.
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([c.title.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: Vec<String>, style: &dyn Fn(usize, String) -> String| {
            let last = row.len() - 1;
            let mut out = String::new();
            for (i, cell) in row.into_iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                out.push_str(&style(i, cell));
                if i < last {
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = String::new();
        if header {
            let titles = columns.iter().map(|c| c.title.to_owned()).collect();
            out.push_str(&line(titles, &|_, t| self.bold(&t)));
        }
        for row in cells {
            out.push_str(&line(
                row,
                &|i, cell| match columns[i].pointer.ends_with("status") {
                    true => self.status_colour(cell),
                    false => cell,
                },
            ));
        }
        out
    }

    /// A value as text: strings bare (times per `--time-format`, enums short), payloads and
    /// other arrays as JSON.
    pub fn scalar(&self, key: &str, v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) if key.ends_with("Time") || key.ends_with("Timestamp") => self.time(s),
            Value::String(s) => short_enum(s).to_owned(),
            other => other.to_string(),
        }
    }

    fn time(&self, s: &str) -> String {
        match (self.time, Timestamp::parse(s)) {
            (TimeFormat::Relative, Ok(t)) => format!("{s} ({})", relative(t, self.now)),
            _ => s.to_owned(),
        }
    }

    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    fn status_colour(&self, status: String) -> String {
        let code = match status.as_str() {
            "COMPLETED" => "32",
            "RUNNING" | "SCHEDULED" | "STARTED" => "34",
            "FAILED" | "TIMED_OUT" | "TERMINATED" => "31",
            "CANCELED" | "PAUSED" | "CONTINUED_AS_NEW" => "33",
            _ => return status,
        };
        self.paint(code, &status)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// A column of a table: its title and where its value is in each object (a JSON pointer).
pub struct Column {
    pub title: &'static str,
    pub pointer: &'static str,
}

pub const fn col(title: &'static str, pointer: &'static str) -> Column {
    Column { title, pointer }
}

/// Prints to standard output; a reader that stops early (`| head`) ends the process quietly.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing the output: {e}");
        std::process::exit(1);
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON values print")
}

/// The key/value rows of `v`: nested objects as dotted keys, arrays of objects by index,
/// payloads and arrays of scalars as their JSON.
fn flatten(prefix: &str, v: &Value, rows: &mut Vec<(String, Value)>) {
    let key = |k: &str| match prefix {
        "" => k.to_owned(),
        p => format!("{p}.{k}"),
    };
    let leaf = PAYLOAD_KEYS
        .iter()
        .any(|p| prefix == *p || prefix.ends_with(&format!(".{p}")));
    match v {
        Value::Object(map) if !leaf && !map.is_empty() => {
            for (k, v) in map {
                flatten(&key(k), v, rows);
            }
        }
        Value::Array(items) if !leaf && items.iter().any(Value::is_object) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), v, rows);
            }
        }
        v => rows.push((prefix.to_owned(), v.clone())),
    }
}

fn short_enum(s: &str) -> &str {
    ENUM_PREFIXES
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(s)
}

/// `t` from `now` in words: `3m 2s ago`, `in 5s`, `now`.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let nanos = now.as_nanos() - t.as_nanos();
    let secs = (nanos / 1_000_000_000).unsigned_abs();
    let amount = match secs {
        0 => return "now".into(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    };
    if nanos > 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text() -> Output {
        Output {
            format: Format::Text,
            time: TimeFormat::Relative,
            color: false,
            now: Timestamp::parse("2026-12-07T18:00:00Z").unwrap(),
        }
    }

    #[test]
    fn objects_flatten_to_dotted_keys_with_payloads_kept_whole() {
        let mut rows = Vec::new();
        let v = json!({"info": {"execution": {"workflowId": "w"}, "input": [{"a": 1}]},
                       "pending": [{"id": "1"}], "tags": ["x", "y"], "empty": {}});
        flatten("", &v, &mut rows);
        let keys: Vec<_> = rows.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                "empty={}",
                "info.execution.workflowId=\"w\"",
                "info.input=[{\"a\":1}]",
                "pending.0.id=\"1\"",
                "tags=[\"x\",\"y\"]"
            ]
        );
    }

    #[test]
    fn text_shows_times_relative_and_enums_short() {
        let o = text();
        assert_eq!(
            o.scalar("startTime", &json!("2026-12-07T17:58:58Z")),
            "2026-12-07T17:58:58Z (1m 2s ago)"
        );
        assert_eq!(
            o.scalar("status", &json!("WORKFLOW_EXECUTION_STATUS_RUNNING")),
            "RUNNING"
        );
        assert_eq!(o.scalar("count", &json!(3)), "3");
        let iso = Output {
            time: TimeFormat::Iso,
            ..text()
        };
        assert_eq!(
            iso.scalar("closeTime", &json!("2026-12-07T17:58:58Z")),
            "2026-12-07T17:58:58Z"
        );
    }

    #[test]
    fn tables_align_their_columns() {
        let items = [
            json!({"id": "a-long-id", "status": "WORKFLOW_EXECUTION_STATUS_COMPLETED"}),
            json!({"id": "b"}),
        ];
        let table = text().table(&items, &[col("ID", "/id"), col("STATUS", "/status")], true);
        assert_eq!(table, "ID         STATUS\na-long-id  COMPLETED\nb\n");
    }

    #[test]
    fn relative_times_read_in_the_largest_units() {
        let now = Timestamp::parse("2026-12-07T18:00:00Z").unwrap();
        let at = |s: &str| relative(Timestamp::parse(s).unwrap(), now);
        assert_eq!(at("2026-12-07T18:00:00Z"), "now");
        assert_eq!(at("2026-12-07T17:59:30Z"), "30s ago");
        assert_eq!(at("2026-12-07T16:30:00Z"), "1h 30m ago");
        assert_eq!(at("2026-12-05T17:00:00Z"), "2d 1h ago");
        assert_eq!(at("2026-12-07T18:00:05Z"), "in 5s");
    }
}
