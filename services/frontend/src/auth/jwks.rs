//! The JWKS file of `--auth=jwt`: read at start, where a missing or unusable file stops the
//! start, then read again when its modification time or size changes, looked at no more than
//! once a second by the requests themselves. A changed file that is unusable keeps the last
//! good keys and logs an error, once per change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use waymark_core::auth::jwt::{Jwks, JwksError};

/// How often requests look at the file: a new key is taken within this.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// What tells one version of the file from another: its modification time and size.
type Version = (SystemTime, u64);

#[derive(Debug, thiserror::Error)]
pub enum JwksFileError {
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the JWKS file {path} is unusable: {source}")]
    Unusable { path: String, source: JwksError },
}

#[derive(Debug)]
pub struct JwksFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    jwks: Arc<Jwks>,
    /// The version last read, good or not; `None` when the file could not be looked at.
    version: Option<Version>,
    checked: Instant,
}

impl JwksFile {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, JwksFileError> {
        let path = path.into();
        let (jwks, version) = load(&path)?;
        Ok(JwksFile {
            path,
            loaded: Mutex::new(Loaded {
                jwks: Arc::new(jwks),
                version,
                checked: Instant::now(),
            }),
        })
    }

    /// The keys in force, the file's newest good version once `RECHECK_EVERY` has passed.
    pub fn current(&self) -> Arc<Jwks> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if loaded.checked.elapsed() >= RECHECK_EVERY {
            loaded.checked = Instant::now();
            self.reload_if_changed(&mut loaded);
        }
        Arc::clone(&loaded.jwks)
    }

    fn reload_if_changed(&self, loaded: &mut Loaded) {
        let version = version_of(&self.path);
        if version == loaded.version {
            return;
        }
        // Noted before reading, so that an unusable version is reported once, not every second.
        loaded.version = version;
        match load(&self.path) {
            Ok((jwks, version)) => {
                tracing::info!(path = %self.path.display(), "JWKS file reloaded");
                loaded.jwks = Arc::new(jwks);
                loaded.version = version;
            }
            Err(e) => {
                tracing::error!(error = %e, "the JWKS file changed: keeping its last good keys")
            }
        }
    }
}

fn version_of(path: &Path) -> Option<Version> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The keys of the file at `path`, and the version they were read from (looked at before the
/// read, so that a write during it is read again next time).
fn load(path: &Path) -> Result<(Jwks, Option<Version>), JwksFileError> {
    let name = || path.display().to_string();
    let version = version_of(path);
    let document = std::fs::read(path).map_err(|source| JwksFileError::Read {
        path: name(),
        source,
    })?;
    let jwks = Jwks::parse(&document).map_err(|source| JwksFileError::Unusable {
        path: name(),
        source,
    })?;
    Ok((jwks, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWKS of one EC key named `kid`, its coordinates zeros: the tests tell key sets apart
    /// by their kids and verify nothing.
    fn document(kid: &str) -> String {
        let zeros = "A".repeat(43);
        format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"{zeros}","y":"{zeros}"}}]}}"#
        )
    }

    /// Whether `file` now holds the keys of `document(kid)`.
    fn holds(file: &JwksFile, kid: &str) -> bool {
        *file.current() == Jwks::parse(document(kid).as_bytes()).unwrap()
    }

    fn temp_file(contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "waymark-jwks-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// As if a second had passed since the file was last looked at.
    fn age(file: &JwksFile) {
        file.loaded.lock().unwrap().checked -= RECHECK_EVERY;
    }

    #[test]
    fn a_changed_file_is_taken_and_a_broken_one_keeps_the_last_good_keys() {
        let path = temp_file(&document("one"));
        let file = JwksFile::open(&path).unwrap();
        assert!(holds(&file, "one"));

        std::fs::write(&path, document("second")).unwrap();
        assert!(holds(&file, "one"), "looked again within a second");
        age(&file);
        assert!(holds(&file, "second"));

        std::fs::write(&path, "{not json").unwrap();
        age(&file);
        assert!(holds(&file, "second"));
        std::fs::remove_file(&path).unwrap();
        age(&file);
        assert!(holds(&file, "second"));
    }

    #[test]
    fn a_missing_or_unusable_file_is_an_error_at_start() {
        let missing = JwksFile::open("/nonexistent/jwks.json").unwrap_err();
        assert!(matches!(missing, JwksFileError::Read { .. }), "{missing}");
        let path = temp_file(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#);
        let unusable = JwksFile::open(&path).unwrap_err();
        assert!(unusable.to_string().contains("no RS256"), "{unusable}");
        std::fs::remove_file(&path).unwrap();
    }
}
