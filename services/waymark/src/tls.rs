//! `--tls-cert`/`--tls-key`: TLS on the public listeners; `--internal-tls-*`: mutual TLS
//! between the distributed services. A file that does not load stops the start, named in the
//! error (never its content).

use std::path::PathBuf;

use anyhow::Context;
use waymark_clients::remote::ClientTls;
use waymark_frontend::tls::{self, CertFiles, PublicTls};

#[derive(clap::Args, Clone, Debug)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first) of the public HTTP and gRPC APIs (start-dev, serve
    /// frontend|all): with --tls-key, both speak TLS only. The pair is read again when either
    /// file changes.
    #[arg(long, env = "WAYMARK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "WAYMARK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The public listeners' TLS, if asked for.
    pub fn public(&self) -> anyhow::Result<Option<PublicTls>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let files = CertFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        Ok(Some(PublicTls::new(files).context("--tls-cert/--tls-key")?))
    }

    /// The scheme the public HTTP API speaks, for the line that says where it listens.
    pub fn scheme(&self) -> &'static str {
        match self.tls_cert {
            Some(_) => "https",
            None => "http",
        }
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct InternalTlsArgs {
    /// PEM certificate of this service for mutual TLS between the services (with
    /// --internal-tls-key and --internal-tls-ca): history, matching and timer then listen with
    /// TLS and admit only clients whose certificate the CA signed, and every service presents
    /// this one to the others (give them `https://` URLs).
    #[arg(long, env = "WAYMARK_INTERNAL_TLS_CERT", requires_all = ["internal_tls_key", "internal_tls_ca"])]
    internal_tls_cert: Option<PathBuf>,
    /// PEM private key of --internal-tls-cert.
    #[arg(long, env = "WAYMARK_INTERNAL_TLS_KEY", requires = "internal_tls_cert")]
    internal_tls_key: Option<PathBuf>,
    /// PEM CA certificate(s) that signed the services' certificates: the only ones trusted
    /// between the services.
    #[arg(long, env = "WAYMARK_INTERNAL_TLS_CA", requires = "internal_tls_cert")]
    internal_tls_ca: Option<PathBuf>,
}

impl InternalTlsArgs {
    fn files(&self) -> Option<(CertFiles, &PathBuf)> {
        let (Some(cert), Some(key), Some(ca)) = (
            &self.internal_tls_cert,
            &self.internal_tls_key,
            &self.internal_tls_ca,
        ) else {
            return None;
        };
        let files = CertFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        Some((files, ca))
    }

    /// What an internal service's listener requires, if mutual TLS is on.
    pub fn listener(&self) -> anyhow::Result<Option<waymark_frontend::tls::TlsAcceptor>> {
        let Some((files, ca)) = self.files() else {
            return Ok(None);
        };
        let acceptor = tls::internal(files, ca).context("--internal-tls-*")?;
        Ok(Some(acceptor))
    }

    /// What the calls to the other services present and trust, if mutual TLS is on.
    pub fn client(&self) -> anyhow::Result<Option<ClientTls>> {
        let Some((files, ca)) = self.files() else {
            return Ok(None);
        };
        let client = ClientTls::load(&files.cert, &files.key, ca).context("--internal-tls-*")?;
        Ok(Some(client))
    }
}
