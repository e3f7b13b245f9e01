//! JSON over HTTP to one namespace of the API: URLs, the `Grpc-Timeout` deadline of long polls,
//! the API key, the W3C trace context, and the error body.

use std::time::Duration;

use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use waymark_api::ApiError;

use crate::ClientOptions;
use crate::error::Error;

/// The W3C trace context header: a polled task's comes with it, and what the worker sends about
/// the task carries it back, so that the server's trace of the task includes the attempt.
const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    /// The trace context the calls made by the current task carry.
    static TRACE: String;
}

/// Runs `f` with its calls carrying `traceparent` (none: as they are).
pub(crate) async fn traced<F: std::future::Future>(traceparent: Option<String>, f: F) -> F::Output {
    match traceparent {
        Some(t) => TRACE.scope(t, f).await,
        None => f.await,
    }
}

/// The trace context of the current task, to hand to the tasks it spawns.
pub(crate) fn current_trace() -> Option<String> {
    TRACE.try_with(Clone::clone).ok()
}

/// How much longer than a long poll's deadline the HTTP request may take.
const LONG_POLL_SLACK: Duration = Duration::from_secs(10);

/// `Debug` never prints the API key.
pub(crate) struct Transport {
    http: reqwest::Client,
    /// `<origin>/api/v1`, without a trailing slash.
    root: Url,
    namespace: String,
    api_key: Option<String>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("root", &self.root.as_str())
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| ".."))
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// One request: where, what, and how long it may wait on the server.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Path segments, percent-encoded here: below the namespace, or below `/api/v1` when
    /// `namespaced` is false.
    pub path: &'a [&'a str],
    pub namespaced: bool,
    pub query: &'a [(&'a str, &'a str)],
    /// A long poll's deadline, sent as `Grpc-Timeout`.
    pub wait: Option<Duration>,
    /// Overrides the client's request timeout.
    pub timeout: Option<Duration>,
    /// What the SDK is doing, for error messages.
    pub operation: &'a (dyn Fn() -> String + Sync),
}

impl Transport {
    pub fn new(url: &str, options: &ClientOptions) -> Result<Transport, Error> {
        let mut root = Url::parse(url)
            .map_err(|e| Error::Config(format!("invalid server url {url:?}: {e}")))?;
        if !matches!(root.scheme(), "http" | "https") || root.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "invalid server url {url:?}: expected http://host:port"
            )));
        }
        root.path_segments_mut()
            .map_err(|()| Error::Config(format!("invalid server url {url:?}")))?
            .pop_if_empty()
            .extend(["api", "v1"]);
        let mut http = reqwest::Client::builder();
        if let Some(pem) = &options.ca_cert_pem {
            let cas = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|cas| !cas.is_empty())
                .ok_or_else(|| Error::Config("the extra CA holds no PEM certificate".into()))?;
            for ca in cas {
                http = http.add_root_certificate(ca);
            }
        }
        let http = http
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))?;
        Ok(Transport {
            http,
            root,
            namespace: options.namespace.clone(),
            api_key: options.api_key.clone(),
            request_timeout: options.request_timeout,
        })
    }

    /// The URL of `path` (empty and namespaced: the namespace itself, which `GET` describes).
    fn url(&self, path: &[&str], namespaced: bool, query: &[(&str, &str)]) -> Url {
        let mut url = self.root.clone();
        {
            let mut segments = url.path_segments_mut().expect("the root url has a path");
            if namespaced {
                segments.extend(["namespaces", &self.namespace]);
            }
            segments.extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends the call with `body` (JSON) and reads the JSON answer.
    pub async fn send<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<R, Error> {
        Ok(self.send_traced(call, body).await?.0)
    }

    /// As `send`, with the trace context the answer carries.
    pub async fn send_traced<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<(R, Option<String>), Error> {
        let url = self.url(call.path, call.namespaced, call.query);
        let mut req = self.http.request(call.method, url);
        if let Some(traceparent) = current_trace() {
            req = req.header(TRACEPARENT, traceparent);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let timeout = match call.wait {
            Some(wait) => {
                req = req.header("Grpc-Timeout", grpc_timeout(wait));
                wait + LONG_POLL_SLACK
            }
            None => call.timeout.unwrap_or(self.request_timeout),
        };
        let transport = |source| Error::Transport {
            operation: (call.operation)(),
            source,
        };
        let resp = req.timeout(timeout).send().await.map_err(transport)?;
        let status = resp.status();
        let trace = resp
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                &bytes
            };
            let answer = serde_json::from_slice(text).map_err(|e| Error::UnexpectedResponse {
                operation: (call.operation)(),
                status: status.as_u16(),
                body: format!("{e}: {}", shorten(&bytes)),
            })?;
            return Ok((answer, trace));
        }
        match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(error) => Err(Error::Api {
                operation: (call.operation)(),
                status: status.as_u16(),
                error,
            }),
            Err(_) => Err(Error::UnexpectedResponse {
                operation: (call.operation)(),
                status: status.as_u16(),
                body: shorten(&bytes),
            }),
        }
    }
}

/// gRPC's timeout header: at most 8 digits and a unit.
pub(crate) fn grpc_timeout(d: Duration) -> String {
    let millis = d.as_millis();
    if millis <= 99_999_999 {
        format!("{}m", millis.max(1))
    } else {
        format!("{}S", d.as_secs().min(99_999_999))
    }
}

fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_below_the_namespace_with_encoded_segments() {
        let options = ClientOptions::default().namespace("my ns");
        let t = Transport::new("http://127.0.0.1:7243/", &options).unwrap();
        assert_eq!(
            t.url(&["activities", "a/b c"], true, &[("runId", "r&1")])
                .as_str(),
            "http://127.0.0.1:7243/api/v1/namespaces/my%20ns/activities/a%2Fb%20c?runId=r%261"
        );
        assert_eq!(
            t.url(&["api-keys"], false, &[]).as_str(),
            "http://127.0.0.1:7243/api/v1/api-keys"
        );
        let options = ClientOptions::default();
        assert!(Transport::new("localhost:7243", &options).is_err());
        assert!(Transport::new("not a url", &options).is_err());
    }

    #[test]
    fn an_extra_ca_that_is_no_pem_certificate_is_a_config_error() {
        let options = ClientOptions::default().ca_cert_pem("not a certificate");
        let err = Transport::new("https://127.0.0.1:7243", &options).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn a_client_printed_for_debugging_hides_its_api_key() {
        let key = "wmk_0123456789abcdef_secret";
        let options = crate::ClientOptions::default().api_key(key);
        let client = crate::Client::new("http://127.0.0.1:7243", options.clone()).unwrap();
        for printed in [format!("{options:?}"), format!("{client:?}")] {
            assert!(!printed.contains("secret"), "{printed}");
            assert!(printed.contains(r#"api_key: Some("..")"#), "{printed}");
        }
    }

    #[test]
    fn the_grpc_timeout_uses_at_most_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_secs(30)), "30000m");
        assert_eq!(grpc_timeout(Duration::from_micros(10)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(1_000_000)), "1000000S");
    }
}
