//! JWT mode: with `--auth=jwt --jwks-file`, bearer tokens are JWTs of an identity provider
//! verified with the keys of the JWKS file, Temporal's `permissions` claim gives their roles on
//! both doors, and a rewritten JWKS file is taken without a restart.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::auth::{
    DENIED, UNAUTHENTICATED, code, of, python_lines, run_one_activity, temporalio_installed,
};
use crate::support::{Server, eventually, unique};

/// A rewritten JWKS file is taken within this (the server looks at it once a second).
const RELOADED_WITHIN: Duration = Duration::from_secs(3);

/// The RSA key of the identity provider's RS256 tokens (ring cannot generate RSA keys).
const RSA_PEM: &str = include_str!("fixtures/jwt-rsa-2048.pk8.pem");

/// An identity provider's signing key and its `kid`.
enum Issuer {
    Rs256(RsaKeyPair, &'static str),
    Es256(EcdsaKeyPair, &'static str),
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Issuer {
    fn rsa(kid: &'static str) -> Issuer {
        let der: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
        Issuer::Rs256(key, kid)
    }

    /// A fresh P-256 key.
    fn ec(kid: &'static str) -> Issuer {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Issuer::Es256(
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
            kid,
        )
    }

    /// The public key, as the JWKS lists it.
    fn jwk(&self) -> Value {
        match self {
            Issuer::Rs256(key, kid) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
                json!({"kty": "RSA", "kid": kid, "use": "sig",
                    "n": b64(&public.n), "e": b64(&public.e)})
            }
            Issuer::Es256(key, kid) => {
                let point = key.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid,
                    "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
        }
    }

    /// A token for `sub` with `permissions`, expiring at `exp` (seconds since the epoch).
    fn token_until(&self, sub: &str, permissions: &[&str], exp: u64) -> String {
        let rng = SystemRandom::new();
        let (alg, kid) = match self {
            Issuer::Rs256(_, kid) => ("RS256", kid),
            Issuer::Es256(_, kid) => ("ES256", kid),
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
        let claims = json!({"sub": sub, "iat": now(), "exp": exp, "permissions": permissions});
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match self {
            Issuer::Rs256(key, _) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut signature)
                    .unwrap();
                signature
            }
            Issuer::Es256(key, _) => key.sign(&rng, signed.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{signed}.{}", b64(&signature))
    }

    /// A token for `sub` with `permissions`, valid for an hour.
    fn token(&self, sub: &str, permissions: &[&str]) -> String {
        self.token_until(sub, permissions, now() + 3600)
    }
}

/// The JWKS file the server reads; removed when dropped.
struct JwksFile(PathBuf);

impl JwksFile {
    fn new(issuers: &[&Issuer]) -> JwksFile {
        let file = JwksFile(std::env::temp_dir().join(format!("{}.json", unique("jwks"))));
        file.write(issuers);
        file
    }

    /// Replaces the file's contents at once (written aside, then renamed over it), as a
    /// Kubernetes volume or a deploy script would.
    fn write(&self, issuers: &[&Issuer]) {
        let keys: Vec<Value> = issuers.iter().map(|i| i.jwk()).collect();
        let aside = self.0.with_extension("new");
        std::fs::write(&aside, json!({ "keys": keys }).to_string()).unwrap();
        std::fs::rename(&aside, &self.0).unwrap();
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for JwksFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn jwt_server(jwks: &JwksFile) -> Server {
    Server::start_with_env(&[("WAYMARK_AUTH", "jwt"), ("WAYMARK_JWKS_FILE", jwks.path())]).await
}

#[tokio::test]
async fn a_default_worker_token_works_default_and_nothing_else() {
    let (rsa, ec) = (Issuer::rsa("rsa-1"), Issuer::ec("ec-1"));
    let jwks = JwksFile::new(&[&rsa, &ec]);
    let server = jwt_server(&jwks).await;
    let writer = of(
        &server,
        "default",
        &rsa.token("deployer", &["default:write"]),
    );
    let worker = of(
        &server,
        "default",
        &ec.token("worker-7", &["default:worker"]),
    );
    let id = run_one_activity(&writer, &worker).await;

    let refused = [
        worker.try_start(&unique("act"), json!({})).await,
        worker.get("activities").await,
        of(
            &server,
            "elsewhere",
            &ec.token("worker-7", &["default:worker"]),
        )
        .poll(&id, "3S")
        .await,
    ];
    for reply in &refused {
        assert_eq!(code(reply), DENIED, "{reply:?}");
    }
}

#[tokio::test]
async fn a_missing_forged_expired_or_unknown_token_answers_401() {
    let ec = Issuer::ec("ec-1");
    let jwks = JwksFile::new(&[&ec]);
    let server = jwt_server(&jwks).await;
    let good = ec.token("alice", &["default:read"]);
    let forged = {
        let (signed, _) = good.rsplit_once('.').unwrap();
        let other = Issuer::ec("ec-1").token("alice", &["default:read"]);
        format!("{signed}.{}", other.rsplit_once('.').unwrap().1)
    };
    let expired = ec.token_until("alice", &["default:read"], now() - 120);
    let stranger = Issuer::ec("ec-2").token("alice", &["default:read"]);
    let api_key = format!("wmk_0123456789abcdef_{}", "B".repeat(43));
    assert_eq!(
        of(&server, "default", &good).get("activities").await.0,
        StatusCode::OK
    );
    for token in [&forged, &expired, &stranger, &api_key] {
        let reply = of(&server, "default", token).get("activities").await;
        assert_eq!(code(&reply), UNAUTHENTICATED, "{reply:?}");
        assert!(
            !reply.1.to_string().contains(&token[..20]),
            "echoed: {reply:?}"
        );
    }
    let answer = reqwest::get(format!("{}/api/v1/namespaces", server.origin()))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers()["www-authenticate"], "Bearer");
    assert!(!server.logs().contains(&good), "a token reached the logs");
}

#[tokio::test]
async fn a_rewritten_jwks_file_is_taken_without_a_restart() {
    let (old, new) = (Issuer::ec("old"), Issuer::ec("new"));
    let jwks = JwksFile::new(&[&old]);
    let server = jwt_server(&jwks).await;
    let [old_reader, new_reader] =
        [&old, &new].map(|issuer| of(&server, "default", &issuer.token("r", &["default:read"])));
    assert_eq!(old_reader.get("activities").await.0, StatusCode::OK);
    assert_eq!(code(&new_reader.get("activities").await), UNAUTHENTICATED);

    jwks.write(&[&new]);
    // Awaited with the old token, which works until the reload: polling with a refused token
    // would get this address held for its invalid tokens (429).
    eventually(RELOADED_WITHIN, || async {
        (code(&old_reader.get("activities").await) == UNAUTHENTICATED).then_some(())
    })
    .await;
    assert_eq!(new_reader.get("activities").await.0, StatusCode::OK);

    // A broken file keeps the keys in force (requests look at the file, so they go on).
    std::fs::write(&jwks.0, "{not json").unwrap();
    eventually(RELOADED_WITHIN, || async {
        assert_eq!(new_reader.get("activities").await.0, StatusCode::OK);
        server
            .logs()
            .contains("the JWKS file changed: keeping its last good keys")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn jwt_mode_without_a_usable_jwks_file_does_not_start() {
    let start = |args: &'static [&'static str]| async move {
        let out = Command::new(env!("CARGO_BIN_EXE_waymark"))
            .args(["start-dev", "--port", "0", "--grpc-port", "0", "--auth=jwt"])
            .args(args)
            .env_remove("WAYMARK_AUTH")
            .env_remove("WAYMARK_JWKS_FILE")
            .output()
            .await
            .expect("run waymark start-dev");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let log = start(&["--jwks-file", "/nonexistent/jwks.json"]).await;
    assert!(
        log.contains("cannot read the JWKS file /nonexistent/jwks.json"),
        "{log}"
    );
    let log = start(&[]).await;
    assert!(log.contains("--auth=jwt needs --jwks-file"), "{log}");
}

/// The gRPC door: the same tokens, the same answers, as Temporal's status codes.
#[tokio::test]
async fn the_grpc_api_takes_the_same_tokens() {
    if !temporalio_installed() {
        return;
    }
    let ec = Issuer::ec("ec-1");
    let jwks = JwksFile::new(&[&ec]);
    let server = jwt_server(&jwks).await;
    let writer = of(
        &server,
        "default",
        &ec.token("deployer", &["default:write"]),
    );
    let worker = ec.token("worker-7", &["default:worker"]);
    let queue = unique("q");
    writer.start_activity(&queue, json!({})).await;
    let program = r#"
import sys, grpc
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr, service_pb2_grpc as svc
address, queue, worker = sys.argv[1:]
stub = svc.WorkflowServiceStub(grpc.insecure_channel(address))
def call(rpc, request, token):
    metadata = [("authorization", "Bearer " + token)] if token else []
    try:
        return "OK", rpc(request, metadata=metadata, timeout=10)
    except grpc.RpcError as e:
        return e.code().name, None
start = rr.StartWorkflowExecutionRequest(namespace="default", workflow_id="w", request_id="r")
start.workflow_type.name = "T"
start.task_queue.name = "q"
poll = rr.PollActivityTaskQueueRequest(namespace="default", identity="w")
poll.task_queue.name = queue
print(call(stub.DescribeNamespace, rr.DescribeNamespaceRequest(namespace="default"), "")[0])
status, task = call(stub.PollActivityTaskQueue, poll, worker)
print(status)
done = rr.RespondActivityTaskCompletedRequest(namespace="default", task_token=task.task_token)
print(call(stub.RespondActivityTaskCompleted, done, worker)[0])
print(call(stub.StartWorkflowExecution, start, worker)[0])
print(call(stub.DescribeNamespace, rr.DescribeNamespaceRequest(namespace="elsewhere"), worker)[0])
"#;
    let lines = python_lines(program, &[&server.grpc_address(), &queue, &worker]).await;
    assert_eq!(
        lines,
        [
            "UNAUTHENTICATED",
            "OK",
            "OK",
            "PERMISSION_DENIED",
            "PERMISSION_DENIED"
        ]
    );
    assert!(writer.outcome(&queue).await.get("result").is_some());
}
