//! TLS to Redis (`rediss://` URLs): the private CA to trust and the client certificate to present,
//! read from PEM files. Without a CA, Mozilla's roots (webpki-roots) are trusted. Errors name the
//! file and what is wrong with it, never its content.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::QueueError;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisTls {
    /// PEM certificates of the CAs that sign Redis's certificate, trusted instead of Mozilla's roots
    /// (`WAYMARK_REDIS_TLS_CA`).
    pub ca: Option<PathBuf>,
    /// PEM certificate chain presented to a Redis that verifies its clients (`tls-auth-clients
    /// yes`), with `key` (`WAYMARK_REDIS_TLS_CERT`).
    pub cert: Option<PathBuf>,
    /// The PEM private key of `cert` (`WAYMARK_REDIS_TLS_KEY`).
    pub key: Option<PathBuf>,
}

impl RedisTls {
    /// Whether any file is set: then the URL must be a `rediss://` one.
    pub(crate) fn is_set(&self) -> bool {
        self != &RedisTls::default()
    }

    pub(crate) fn validate(&self, url: &str) -> Result<(), QueueError> {
        if self.cert.is_some() != self.key.is_some() {
            return Err(QueueError::InvalidConfig(
                "redis tls cert and key must be given together".into(),
            ));
        }
        if self.is_set() && !url.starts_with("rediss://") {
            return Err(QueueError::InvalidConfig(
                "redis tls files need a rediss:// url".into(),
            ));
        }
        Ok(())
    }

    /// The files' contents, each checked so that a wrong file is named here rather than failing
    /// every connection later.
    pub(crate) fn load(&self) -> Result<TlsCertificates, QueueError> {
        let root_cert = self
            .ca
            .as_deref()
            .map(|path| read_certificates(path, "ca"))
            .transpose()?;
        let client_tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read_certificates(cert, "cert")?,
                client_key: read_private_key(key)?,
            }),
            _ => None,
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert,
        })
    }
}

fn invalid(what: &str, path: &Path, problem: impl std::fmt::Display) -> QueueError {
    QueueError::InvalidConfig(format!("redis tls {what} {}: {problem}", path.display()))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, QueueError> {
    std::fs::read(path).map_err(|e| invalid(what, path, e))
}

fn read_certificates(path: &Path, what: &str) -> Result<Vec<u8>, QueueError> {
    let pem = read(path, what)?;
    let count = CertificateDer::pem_slice_iter(&pem)
        .try_fold(0, |n, cert| cert.map(|_| n + 1))
        .map_err(|e| invalid(what, path, e))?;
    if count == 0 {
        return Err(invalid(what, path, "no PEM certificate in the file"));
    }
    Ok(pem)
}

/// The key's parse error is reduced to its kind: some kinds quote the offending line.
fn read_private_key(path: &Path) -> Result<Vec<u8>, QueueError> {
    let pem = read(path, "key")?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(_) => Ok(pem),
        Err(pem::Error::NoItemsFound) => {
            Err(invalid("key", path, "no PEM private key in the file"))
        }
        Err(_) => Err(invalid("key", path, "not a readable PEM private key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of its own in the temp directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn with(content: &str) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("waymark-tls-{}.pem", uuid::Uuid::new_v4().simple()));
            std::fs::write(&path, content).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_cert_without_its_key_is_refused() {
        let tls = RedisTls {
            cert: Some("client.pem".into()),
            ..RedisTls::default()
        };
        let e = tls.validate("rediss://redis:6380").unwrap_err();
        assert!(
            e.to_string()
                .contains("cert and key must be given together")
        );
    }

    #[test]
    fn tls_files_with_a_plain_redis_url_are_refused() {
        let tls = RedisTls {
            ca: Some("ca.pem".into()),
            ..RedisTls::default()
        };
        let e = tls.validate("redis://redis:6379").unwrap_err();
        assert!(e.to_string().contains("need a rediss:// url"));
        assert!(tls.validate("rediss://redis:6380").is_ok());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let tls = RedisTls {
            ca: Some("/nonexistent/ca.pem".into()),
            ..RedisTls::default()
        };
        let e = tls.load().unwrap_err().to_string();
        assert!(e.starts_with("invalid queue config: redis tls ca /nonexistent/ca.pem: "));
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_named() {
        let file = TempFile::with("not a certificate\n");
        let tls = RedisTls {
            ca: Some(file.0.clone()),
            ..RedisTls::default()
        };
        let e = tls.load().unwrap_err().to_string();
        assert!(e.contains(&format!(
            "redis tls ca {}: no PEM certificate",
            file.0.display()
        )));
    }

    #[test]
    fn an_unreadable_key_is_named_and_never_quoted() {
        let secret = "c2VjcmV0IGtleSBtYXRlcmlhbA";
        let certified = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let cert = TempFile::with(&certified.cert.pem());
        let key = TempFile::with(&format!(
            "-----BEGIN PRIVATE KEY-----\n{secret}!!\n-----END PRIVATE KEY-----\n"
        ));
        let tls = RedisTls {
            cert: Some(cert.0.clone()),
            key: Some(key.0.clone()),
            ..RedisTls::default()
        };
        let e = tls.load().unwrap_err().to_string();
        assert!(e.contains(&format!(
            "redis tls key {}: not a readable",
            key.0.display()
        )));
        assert!(!e.contains(secret), "{e}");
    }
}
