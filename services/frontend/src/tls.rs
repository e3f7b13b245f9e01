//! TLS on Waymark's listeners: rustls on ring, TLS 1.2 and 1.3. The certificate chain and its
//! key are PEM files, read again when they change, so that a renewed certificate is served
//! without a restart. A connection does its handshake on its first read or write, inside the
//! task that serves it: a slow or failed handshake never holds up the accept loop.

use std::fs;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
pub use tokio_rustls::TlsAcceptor;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How often, at most, the certificate files are checked for a change (on a handshake).
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// The PEM files of a server's certificate chain (leaf first) and of its private key.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate, key or CA file cannot be used. Never quotes a key file's content.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the private key in {key} cannot serve the certificate in {cert}: {reason}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        reason: rustls::Error,
    },
    #[error("the CA certificates in {path} cannot verify clients: {reason}")]
    ClientCa { path: PathBuf, reason: String },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate of a PEM file (other sections are skipped); at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    match certs.is_empty() {
        true => Err(TlsError::NoCertificate {
            path: path.to_owned(),
        }),
        false => Ok(certs),
    }
}

/// ring, the workspace's one crypto provider (aws-lc would need cmake to build); rustls
/// deprecates it for lacking post-quantum key exchange, which TLS 1.3 negotiates away.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl CertFiles {
    /// The chain and its key, checked to belong together.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let chain = certificates(&self.cert)?;
        // The parser's own errors may quote the file: only the path is said.
        let key =
            PrivateKeyDer::from_pem_slice(&read(&self.key)?).map_err(|_| TlsError::NoKey {
                path: self.key.clone(),
            })?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|reason| TlsError::Unusable {
            cert: self.cert.clone(),
            key: self.key.clone(),
            reason,
        })
    }

    /// When the files last changed; a change of either means reloading the pair.
    fn stamp(&self) -> [Option<SystemTime>; 2] {
        [&self.cert, &self.key].map(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
    }
}

/// Serves the certificate of `CertFiles`, reloaded when the files change (checked at most once
/// per `RECHECK_EVERY`, on a handshake). A new pair that does not load keeps the old one served.
#[derive(Debug)]
pub struct ReloadingCert {
    files: CertFiles,
    served: Mutex<Served>,
}

#[derive(Debug)]
struct Served {
    key: Arc<CertifiedKey>,
    stamp: [Option<SystemTime>; 2],
    checked: Instant,
}

impl ReloadingCert {
    /// Loads the pair now: a pair that does not load is an error at start.
    pub fn new(files: CertFiles) -> Result<ReloadingCert, TlsError> {
        let stamp = files.stamp();
        let key = Arc::new(files.load()?);
        let checked = Instant::now();
        Ok(ReloadingCert {
            files,
            served: Mutex::new(Served {
                key,
                stamp,
                checked,
            }),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        if served.checked.elapsed() >= RECHECK_EVERY {
            served.checked = Instant::now();
            let stamp = self.files.stamp();
            if stamp != served.stamp {
                // Tried once per change: a half-written pair is tried again when its other
                // file is written.
                served.stamp = stamp;
                match self.files.load() {
                    Ok(key) => {
                        served.key = Arc::new(key);
                        tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                    }
                    Err(e) => tracing::error!(
                        error = %e,
                        "the changed TLS certificate files do not load; serving the previous certificate"
                    ),
                }
            }
        }
        served.key.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn acceptor(
    builder: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>,
    cert: Arc<ReloadingCert>,
    alpn: &[&[u8]],
) -> TlsAcceptor {
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsAcceptor::from(Arc::new(config))
}

fn versions() -> rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier> {
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
}

/// The frontend's two doors, on one reloading certificate.
#[derive(Clone)]
pub struct PublicTls {
    /// The HTTP API: HTTP/1.1 only (as the server speaks).
    pub http: TlsAcceptor,
    /// Temporal's gRPC API: HTTP/2 only, which gRPC needs.
    pub grpc: TlsAcceptor,
}

impl PublicTls {
    pub fn new(files: CertFiles) -> Result<PublicTls, TlsError> {
        let cert = Arc::new(ReloadingCert::new(files)?);
        Ok(PublicTls {
            http: acceptor(
                versions().with_no_client_auth(),
                cert.clone(),
                &[b"http/1.1"],
            ),
            grpc: acceptor(versions().with_no_client_auth(), cert, &[b"h2"]),
        })
    }
}

/// An internal service's listener: mutual TLS, only clients with a certificate that a CA of
/// `client_ca` (PEM) signed get in.
pub fn internal(files: CertFiles, client_ca: &Path) -> Result<TlsAcceptor, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in certificates(client_ca)? {
        roots.add(ca).map_err(|e| TlsError::ClientCa {
            path: client_ca.to_owned(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::ClientCa {
            path: client_ca.to_owned(),
            reason: e.to_string(),
        })?;
    let cert = Arc::new(ReloadingCert::new(files)?);
    Ok(acceptor(
        versions().with_client_cert_verifier(verifier),
        cert,
        &[b"http/1.1"],
    ))
}

/// An accepted connection: plain TCP, or TLS (its handshake done on the first read or write).
pub struct Stream {
    state: State,
    addrs: TcpConnectInfo,
}

enum State {
    Plain(TcpStream),
    Handshaking(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Failed,
}

trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

impl Stream {
    pub fn new(tcp: TcpStream, tls: Option<&TlsAcceptor>) -> Stream {
        let addrs = tcp.connect_info();
        let state = match tls {
            Some(tls) => State::Handshaking(Box::new(tls.accept(tcp))),
            None => State::Plain(tcp),
        };
        Stream { state, addrs }
    }

    /// The stream to read and write, once the handshake is done.
    fn io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Pin<&mut dyn Io>>> {
        if let State::Handshaking(accept) = &mut self.state {
            match ready!(Pin::new(&mut **accept).poll(cx)) {
                Ok(tls) => self.state = State::Tls(Box::new(tls)),
                Err(e) => {
                    self.state = State::Failed;
                    tracing::debug!(error = %e, peer = ?self.addrs.remote_addr, "TLS handshake failed");
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(match &mut self.state {
            State::Plain(tcp) => Ok(Pin::new(tcp)),
            State::Tls(tls) => Ok(Pin::new(&mut **tls)),
            State::Handshaking(_) | State::Failed => Err(io::ErrorKind::NotConnected.into()),
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.get_mut().io(cx))?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.get_mut().io(cx))?.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.get_mut().io(cx))?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.get_mut().io(cx))?.poll_shutdown(cx)
    }
}

/// tonic serves `Stream`s (the gRPC door), and tells its handlers the peer's address.
impl Connected for Stream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.addrs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed pair written to `dir/<name>.pem` and `dir/<name>.key`.
    fn write_pair(dir: &Path, name: &str) -> (CertFiles, CertificateDer<'static>) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = CertFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        };
        fs::write(&files.cert, made.cert.pem()).unwrap();
        fs::write(&files.key, made.signing_key.serialize_pem()).unwrap();
        (files, made.cert.der().clone())
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("waymark-tls-{}", getrandom::u64().unwrap()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// What the next handshake is served, the files being looked at again.
    fn served_after_a_check(cert: &ReloadingCert) -> CertificateDer<'static> {
        let long_ago = Instant::now().checked_sub(RECHECK_EVERY).unwrap();
        cert.served.lock().unwrap().checked = long_ago;
        cert.current().cert[0].clone()
    }

    #[test]
    fn a_pair_that_does_not_load_names_its_file_and_never_quotes_the_key() {
        let dir = temp_dir();
        let (files, _) = write_pair(&dir, "a");
        let (other, _) = write_pair(&dir, "b");

        let missing = CertFiles {
            cert: dir.join("missing.pem"),
            ..files.clone()
        };
        let err = missing.load().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read {}", missing.cert.display())),
            "{err}"
        );

        let secret = "-----BEGIN PRIVATE KEY-----\nU0VDUkVU\n-----END PRIVATE KEY-----\n";
        fs::write(&other.key, secret).unwrap();
        let broken_key = CertFiles {
            key: other.key.clone(),
            ..files.clone()
        };
        let err = broken_key.load().unwrap_err().to_string();
        assert!(err.contains(&other.key.display().to_string()), "{err}");
        assert!(!err.contains("U0VDUkVU"), "{err}");

        let (third, _) = write_pair(&dir, "c");
        let mismatched = CertFiles {
            key: third.key,
            ..files
        };
        let err = mismatched.load().unwrap_err().to_string();
        assert!(err.contains("cannot serve the certificate"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_changed_pair_is_served_and_a_broken_one_keeps_the_previous() {
        let dir = temp_dir();
        let (files, first) = write_pair(&dir, "server");
        let cert = ReloadingCert::new(files.clone()).unwrap();
        assert_eq!(cert.current().cert[0], first, "within a second, no check");

        fs::write(&files.cert, "not a certificate").unwrap();
        assert_eq!(served_after_a_check(&cert), first);

        let (_, renewed) = write_pair(&dir, "server");
        assert_eq!(served_after_a_check(&cert), renewed);
        fs::remove_dir_all(dir).unwrap();
    }
}
