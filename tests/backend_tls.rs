//! TLS to the backends: the distributed deployment on `sslmode=require` sessions with
//! PostgreSQL and a Redis that speaks only TLS and verifies the services' client certificate.

use crate::support::*;

/// The queue crate's TLS Redis harness; this suite uses only its mutual-TLS half.
#[allow(dead_code)]
#[path = "../libs/queue/tests/tls_redis/mod.rs"]
mod tls_redis;

use tls_redis::{ClientAuth, TlsRedis};

#[tokio::test]
async fn an_activity_runs_to_completion_over_tls_to_postgresql_and_redis() {
    if !distributed() {
        skip("start-dev has no PostgreSQL or Redis: the distributed run covers this");
        return;
    }
    let Some(redis) = TlsRedis::start(ClientAuth::Required).await else {
        skip("redis-server is not installed");
        return;
    };
    let tls = redis.client_tls();
    let path = |file: Option<std::path::PathBuf>| file.unwrap().display().to_string();
    let (ca, cert, key) = (path(tls.ca), path(tls.cert), path(tls.key));
    let database_url = database_url_with("sslmode=require");
    let redis_url = redis.url();
    let server = Server::start_with_env(&[
        ("WAYMARK_DATABASE_URL", &database_url),
        ("WAYMARK_REDIS_URL", &redis_url),
        ("WAYMARK_REDIS_TLS_CA", &ca),
        ("WAYMARK_REDIS_TLS_CERT", &cert),
        ("WAYMARK_REDIS_TLS_KEY", &key),
    ])
    .await;
    crate::lifecycle::activity_runs_to_completion(&server.client(), &unique("tls")).await;
    let logs = server.logs();
    assert!(
        logs.contains("connected to PostgreSQL tls=true"),
        "history and timer say their sessions are encrypted:\n{logs}"
    );
}
