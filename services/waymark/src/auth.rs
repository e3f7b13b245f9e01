//! `--auth`, the bootstrap key and the JWKS file: whether the frontend requires API keys, JWTs
//! or nothing.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use waymark_core::auth::ApiKey;
use waymark_frontend::auth::{Auth, JwksFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    On,
    Off,
    Jwt,
}

#[derive(clap::Args)]
pub struct AuthArgs {
    /// Require an API key (`Authorization: Bearer wmk_...`) on every route but /healthz and
    /// /readyz. start-dev: off on a loopback --ip, on otherwise; serve: on. `--auth` alone
    /// means on. `jwt`: require instead a JWT verified with --jwks-file (Temporal's
    /// `permissions` claim gives its roles); API keys are then not taken.
    #[arg(long, value_enum, env = "WAYMARK_AUTH", num_args = 0..=1, default_missing_value = "on")]
    auth: Option<AuthMode>,
    /// A key value you generated (`wmk_<16 hex>_<43 base64url>`), accepted as system:admin while
    /// no system:admin key is stored: create real keys with it. Not used with --auth=jwt.
    #[arg(long, env = "WAYMARK_BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    bootstrap_admin_key: Option<String>,
    /// Serve /metrics without a key (else it needs a system:admin key: its labels name every
    /// namespace and task queue).
    #[arg(long, env = "WAYMARK_OPEN_METRICS", default_value_t = false, action = clap::ArgAction::Set)]
    open_metrics: bool,
    /// Serve /docs and the OpenAPI document without a key (else any valid key). They describe
    /// the API, not its data; the page's Authorize button sends a key with its calls.
    #[arg(long, env = "WAYMARK_OPEN_DOCS", default_value_t = true, action = clap::ArgAction::Set)]
    open_docs: bool,
    /// With --auth=jwt: the JWKS file (`{"keys": [...]}`) whose RS256 and ES256 keys verify the
    /// tokens; read again within a second when it changes.
    #[arg(long, env = "WAYMARK_JWKS_FILE")]
    jwks_file: Option<PathBuf>,
}

impl AuthArgs {
    /// The frontend's auth: `--auth` when given, else `default`.
    pub fn build(&self, default: AuthMode) -> anyhow::Result<Arc<Auth>> {
        let bootstrap = match self.bootstrap_admin_key.as_deref() {
            None | Some("") => None,
            // The value is a secret: the message never repeats it.
            Some(value) => match ApiKey::parse(value.trim()) {
                Ok(key) => Some(key),
                Err(e) => bail!("WAYMARK_BOOTSTRAP_ADMIN_KEY is not an API key: {e}"),
            },
        };
        let opened = [("Metrics", self.open_metrics), ("Docs", self.open_docs)];
        let opened: Vec<_> = opened
            .into_iter()
            .filter(|(_, open)| *open)
            .map(|(op, _)| op)
            .collect();
        let mode = self.auth.unwrap_or(default);
        let jwks_file = self
            .jwks_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        Ok(Arc::new(match (mode, jwks_file) {
            (AuthMode::Jwt, Some(path)) => Auth::jwt(JwksFile::open(path)?).opening(opened),
            (AuthMode::Jwt, None) => bail!("--auth=jwt needs --jwks-file (WAYMARK_JWKS_FILE)"),
            (_, Some(_)) => bail!("--jwks-file is read only with --auth=jwt"),
            (AuthMode::On, None) => Auth::enforced(bootstrap).opening(opened),
            (AuthMode::Off, None) => Auth::off(),
        }))
    }
}
