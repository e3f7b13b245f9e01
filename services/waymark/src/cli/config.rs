//! Connection profiles in `~/.config/waymark/config.toml`: one `[profile.<name>]` table each,
//! holding `address`, `namespace`, `api_key` and `tls_ca_cert` as strings. The file is read and
//! written here (the subset of TOML it uses), so that `waymark config set` keeps what it does
//! not touch, comments included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

#[derive(clap::Subcommand, Debug)]
pub enum Verb {
    /// Set a setting of the profile.
    ///
    /// Example: waymark config set address https://waymark.example.com:7243 --profile prod
    Set { key: Setting, value: String },
    /// Print a setting of the profile.
    ///
    /// Example: waymark config get namespace --profile prod
    Get { key: Setting },
    /// Remove a setting from the profile.
    ///
    /// Example: waymark config delete api_key --profile prod
    Delete { key: Setting },
    /// Print every profile's settings (API keys hidden).
    ///
    /// Example: waymark config list
    List,
}

/// A setting of a profile.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Setting {
    Address,
    Namespace,
    ApiKey,
    TlsCaCert,
}

impl Setting {
    fn key(self) -> &'static str {
        match self {
            Setting::Address => "address",
            Setting::Namespace => "namespace",
            Setting::ApiKey => "api_key",
            Setting::TlsCaCert => "tls_ca_cert",
        }
    }
}

/// Runs a `waymark config` verb on `profile` (default: `default`) of the config file.
pub fn run(profile: Option<&str>, verb: Verb) -> anyhow::Result<i32> {
    let path = default_path().context("no config file: set HOME or WAYMARK_CONFIG_FILE")?;
    let profile = profile.unwrap_or(DEFAULT_PROFILE);
    let mut file = ConfigFile::load(&path)?;
    match verb {
        Verb::Set { key, value } => {
            file.set(profile, key.key(), &value)?;
            file.save(&path)?;
        }
        Verb::Delete { key } => {
            if !file.unset(profile, key.key())? {
                eprintln!("error: {} is not set in profile {profile}", key.key());
                return Ok(super::exit::NOT_FOUND);
            }
            file.save(&path)?;
        }
        Verb::Get { key } => {
            let profiles = file.profiles()?;
            match profiles.0.get(profile).and_then(|p| p.get(key.key())) {
                Some(value) => super::output::print(&format!("{value}\n")),
                None => {
                    eprintln!("error: {} is not set in profile {profile}", key.key());
                    return Ok(super::exit::NOT_FOUND);
                }
            }
        }
        Verb::List => {
            let mut out = String::new();
            for (name, settings) in file.profiles()?.0 {
                out.push_str(&format!("[profile.{}]\n", quote_name(&name)));
                for (k, v) in settings {
                    let shown = if k == "api_key" {
                        "(hidden)".to_owned()
                    } else {
                        v
                    };
                    out.push_str(&format!("{k} = {}\n", quote(&shown)));
                }
            }
            super::output::print(&out);
        }
    }
    Ok(0)
}

/// The settings a profile may hold.
pub const KEYS: [&str; 4] = ["address", "namespace", "api_key", "tls_ca_cert"];

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// `$WAYMARK_CONFIG_FILE`, else `$XDG_CONFIG_HOME/waymark/config.toml`, else
/// `~/.config/waymark/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("WAYMARK_CONFIG_FILE").filter(|f| !f.is_empty()) {
        return Some(file.into());
    }
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(dir.join("waymark").join("config.toml"))
}

/// The profiles of a config file, by name, each setting by key.
#[derive(Debug, Default, PartialEq)]
pub struct Profiles(pub BTreeMap<String, BTreeMap<String, String>>);

/// The file's lines, parsed as far as they matter: which profile each belongs to.
#[derive(Debug, Default)]
pub struct ConfigFile {
    lines: Vec<String>,
}

impl ConfigFile {
    /// The file at `path`; none yet reads as empty.
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file = ConfigFile {
                    lines: text.lines().map(str::to_owned).collect(),
                };
                file.profiles()
                    .with_context(|| format!("reading {}", path.display()))?;
                Ok(file)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut text = self.lines.join("\n");
        text.push('\n');
        write_private(path, &text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn profiles(&self) -> anyhow::Result<Profiles> {
        let mut profiles = Profiles::default();
        let mut current: Option<String> = None;
        for (n, line) in self.lines.iter().enumerate() {
            match parse_line(line).with_context(|| format!("line {}", n + 1))? {
                Line::Blank => {}
                Line::Table(name) => {
                    profiles.0.entry(name.clone()).or_default();
                    current = Some(name);
                }
                Line::Setting(key, value) => {
                    let Some(profile) = &current else {
                        bail!(
                            "line {}: `{key}` is outside a [profile.<name>] table",
                            n + 1
                        );
                    };
                    if !KEYS.contains(&key.as_str()) {
                        bail!(
                            "line {}: unknown setting `{key}` (known: {})",
                            n + 1,
                            KEYS.join(", ")
                        );
                    }
                    profiles
                        .0
                        .entry(profile.clone())
                        .or_default()
                        .insert(key, value);
                }
            }
        }
        Ok(profiles)
    }

    /// Sets `key` of `profile` to `value`, in place if it is set, else at the end of the
    /// profile's table (made if there is none).
    pub fn set(&mut self, profile: &str, key: &str, value: &str) -> anyhow::Result<()> {
        check_key(key)?;
        let setting = format!("{key} = {}", quote(value));
        let (table, end) = self.table(profile);
        let Some(table) = table else {
            if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
                self.lines.push(String::new());
            }
            self.lines
                .push(format!("[profile.{}]", quote_name(profile)));
            self.lines.push(setting);
            return Ok(());
        };
        match self.find(table, end, key) {
            Some(i) => self.lines[i] = setting,
            None => self.lines.insert(end, setting),
        }
        Ok(())
    }

    /// Removes `key` from `profile`; false if it was not set.
    pub fn unset(&mut self, profile: &str, key: &str) -> anyhow::Result<bool> {
        check_key(key)?;
        let (Some(table), end) = self.table(profile) else {
            return Ok(false);
        };
        Ok(self
            .find(table, end, key)
            .map(|i| self.lines.remove(i))
            .is_some())
    }

    /// The line of `profile`'s table header, and the line after its last setting.
    fn table(&self, profile: &str) -> (Option<usize>, usize) {
        let tables: Vec<(usize, String)> = self
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match parse_line(l) {
                Ok(Line::Table(name)) => Some((i, name)),
                _ => None,
            })
            .collect();
        let Some(pos) = tables.iter().position(|(_, name)| name == profile) else {
            return (None, self.lines.len());
        };
        let next = tables.get(pos + 1).map_or(self.lines.len(), |(i, _)| *i);
        let start = tables[pos].0;
        let end = (start + 1..next)
            .rev()
            .find(|&i| matches!(parse_line(&self.lines[i]), Ok(Line::Setting(..))))
            .map_or(start + 1, |i| i + 1);
        (Some(start), end)
    }

    fn find(&self, table: usize, end: usize, key: &str) -> Option<usize> {
        (table + 1..end)
            .find(|&i| matches!(parse_line(&self.lines[i]), Ok(Line::Setting(k, _)) if k == key))
    }
}

fn check_key(key: &str) -> anyhow::Result<()> {
    if KEYS.contains(&key) {
        Ok(())
    } else {
        bail!("unknown setting `{key}` (known: {})", KEYS.join(", "))
    }
}

/// Writes `text` readable by its owner only: the file may hold an API key.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[derive(Debug, PartialEq)]
enum Line {
    Blank,
    Table(String),
    Setting(String, String),
}

fn parse_line(line: &str) -> anyhow::Result<Line> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Line::Blank);
    }
    if let Some(inner) = line.strip_prefix('[') {
        let (inner, rest) = inner
            .split_once(']')
            .context("a table header ends with `]`")?;
        expect_comment(rest)?;
        let name = inner
            .trim()
            .strip_prefix("profile.")
            .context("tables are named [profile.<name>]")?
            .trim();
        let name = match name.strip_prefix('"') {
            Some(_) => parse_string(name)?.0,
            None => name.to_owned(),
        };
        if name.is_empty() {
            bail!("a profile's name is empty");
        }
        return Ok(Line::Table(name));
    }
    let (key, value) = line.split_once('=').context("expected `key = \"value\"`")?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        bail!("invalid key `{key}`");
    }
    let (value, rest) = parse_string(value.trim())?;
    expect_comment(rest)?;
    Ok(Line::Setting(key.to_owned(), value))
}

fn expect_comment(rest: &str) -> anyhow::Result<()> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        bail!("unexpected `{rest}`")
    }
}

/// A TOML basic string at the start of `s`, and what follows it.
fn parse_string(s: &str) -> anyhow::Result<(String, &str)> {
    let body = s
        .strip_prefix('"')
        .context("values are strings in double quotes")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => bail!(
                    "unsupported escape `\\{}`",
                    other.map(String::from).unwrap_or_default()
                ),
            },
            c => out.push(c),
        }
    }
    bail!("a string is not closed")
}

fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A profile name as a TOML key: bare when it can be.
fn quote_name(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name.to_owned()
    } else {
        quote(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            lines: text.lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn profiles_are_read_with_comments_and_escapes() {
        let f = file(
            "# mine\n[profile.default]\naddress = \"http://a:1\" # local\n\n[profile.\"prod eu\"]\napi_key = \"k\\\"1\"\n",
        );
        let p = f.profiles().unwrap();
        assert_eq!(p.0["default"]["address"], "http://a:1");
        assert_eq!(p.0["prod eu"]["api_key"], "k\"1");
    }

    #[test]
    fn set_replaces_in_place_appends_to_its_table_or_adds_one() {
        let mut f = file(
            "# keep me\n[profile.default]\naddress = \"x\"\n\n[profile.b]\nnamespace = \"n\"\n",
        );
        f.set("default", "address", "y").unwrap();
        f.set("default", "namespace", "ns").unwrap();
        f.set("c", "api_key", "secret \\ \"q\"").unwrap();
        assert_eq!(
            f.lines.join("\n"),
            "# keep me\n[profile.default]\naddress = \"y\"\nnamespace = \"ns\"\n\n[profile.b]\nnamespace = \"n\"\n\n[profile.c]\napi_key = \"secret \\\\ \\\"q\\\"\""
        );
        let p = f.profiles().unwrap();
        assert_eq!(p.0["c"]["api_key"], "secret \\ \"q\"");
        assert!(f.unset("b", "namespace").unwrap());
        assert!(!f.unset("b", "namespace").unwrap());
        assert!(f.profiles().unwrap().0["b"].is_empty());
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, expected) in [
            ("address = \"x\"", "outside a [profile.<name>] table"),
            ("[profile.a]\ncolour = \"red\"", "unknown setting `colour`"),
            ("[profile.a]\naddress = x", "double quotes"),
            ("[profile.a]\naddress = \"x", "not closed"),
            ("[other]", "[profile.<name>]"),
        ] {
            let err = format!("{:#}", file(text).profiles().unwrap_err());
            assert!(err.contains("line "), "{err}");
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(file("").set("a", "colour", "x").is_err());
    }
}
