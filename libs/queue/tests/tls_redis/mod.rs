//! A private `redis-server` that speaks only TLS, with a CA, a server and a client certificate
//! made for it; killed, and its files removed, on drop. Without `redis-server` on the PATH it is
//! skipped, unless `CI=true`, where it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use waymark_queue::RedisTls;

/// How long the server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Whether the server asks clients for a certificate signed by its CA.
#[derive(Clone, Copy, PartialEq)]
pub enum ClientAuth {
    Required,
    None,
}

pub struct TlsRedis {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

/// PEM files of one test's certificates.
pub struct Files {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing this server presents.
    pub other_ca: PathBuf,
}

impl TlsRedis {
    pub async fn start(auth: ClientAuth) -> Option<TlsRedis> {
        if std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is not installed"
            );
            eprintln!("note: redis-server is not installed; skipping this test");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "waymark-tls-redis-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        write_certificates(&dir);
        // A port taken between the check and redis's bind: another port, another try.
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = spawn(&dir, port, auth).await {
                return Some(TlsRedis { port, dir, child });
            }
        }
        panic!("redis-server found no free port in five tries")
    }

    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    pub fn files(&self) -> Files {
        Files {
            ca: self.dir.join("ca.pem"),
            client_cert: self.dir.join("client.pem"),
            client_key: self.dir.join("client.key"),
            other_ca: self.dir.join("other-ca.pem"),
        }
    }

    /// The CA and the client certificate: what a client of `ClientAuth::Required` needs.
    pub fn client_tls(&self) -> RedisTls {
        let files = self.files();
        RedisTls {
            ca: Some(files.ca),
            cert: Some(files.client_cert),
            key: Some(files.client_key),
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-server` on `port`, once it says it is ready; `None` if it could not listen there.
async fn spawn(dir: &std::path::Path, port: u16, auth: ClientAuth) -> Option<Child> {
    let file = |name: &str| dir.join(name).display().to_string();
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string()])
        .args(["--tls-cert-file", &file("server.pem")])
        .args(["--tls-key-file", &file("server.key")])
        .args(["--tls-ca-cert-file", &file("ca.pem")])
        .args([
            "--tls-auth-clients",
            if auth == ClientAuth::Required {
                "yes"
            } else {
                "no"
            },
        ])
        .args(["--dir", &dir.display().to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn redis-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    let ready = tokio::time::timeout(READY_WITHIN, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Ready to accept connections") {
                return true;
            }
            log.push_str(&line);
            log.push('\n');
        }
        false
    })
    .await
    .unwrap_or_else(|_| panic!("redis-server not ready within {READY_WITHIN:?}"));
    if ready {
        // The log must keep draining, or a full pipe would stall the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        return Some(child);
    }
    assert!(
        log.contains("Address already in use"),
        "redis-server exited:\n{log}"
    );
    None
}

/// A port free right now, below Linux's ephemeral range so parallel tests rarely draw the same.
fn free_port() -> u16 {
    loop {
        let port = 10_000 + (uuid::Uuid::new_v4().as_u128() % 20_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a CA of
/// nobody's.
fn write_certificates(dir: &std::path::Path) {
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    let (ca, ca_pem) = certificate_authority("waymark test ca");
    write("ca.pem", ca_pem);
    write("other-ca.pem", certificate_authority("someone else's ca").1);
    for (name, subject) in [("server", "127.0.0.1"), ("client", "waymark")] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![subject.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        write(&format!("{name}.pem"), cert.pem());
        write(&format!("{name}.key"), key.serialize_pem());
    }
}

fn certificate_authority(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (Issuer::new(params, key), pem)
}
