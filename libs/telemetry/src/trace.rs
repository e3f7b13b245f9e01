//! Traces: the W3C trace context carried across the services, and the spans exported over OTLP
//! when the standard `OTEL_*` variables ask for it.
//!
//! The context of the request being served is a `traceparent` in a task-local: the frontend
//! takes the caller's (or starts a trace), every internal call carries it, and each service serves
//! the call inside it. A task keeps the context of the request that scheduled it, so the worker
//! that polls it gets that context back (the `traceparent` header of the poll's answer) and its
//! completion continues the same trace: schedule → queue wait → attempt → completion.
//!
//! Spans cost nothing unless export is on: `Span::start` is then a no-op and the context is
//! carried as it came.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::sync::OnceLock;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use opentelemetry::trace::SpanKind;

/// The header (and internal-call header) that carries the context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

tokio::task_local! {
    static TRACEPARENT: String;
    /// The context a request's answer hands back (a polled task's), for the `traceparent`
    /// header of the response.
    static ANSWER: RefCell<Option<String>>;
}

/// The exporting tracer, once `init` found an OTLP endpoint.
static EXPORT: OnceLock<(SdkTracerProvider, SdkTracer)> = OnceLock::new();

/// The `traceparent` of the request being served, if any.
pub fn current() -> Option<String> {
    TRACEPARENT.try_with(Clone::clone).ok()
}

/// Runs `f` with `traceparent` as the current trace context (none: runs it as it is).
pub async fn scope<F: Future>(traceparent: Option<String>, f: F) -> F::Output {
    match traceparent {
        Some(t) => TRACEPARENT.scope(t, f).await,
        None => f.await,
    }
}

/// Runs `f`, and returns with its output the context that `f` answered with (`answer_with`).
pub async fn answering<F: Future>(f: F) -> (F::Output, Option<String>) {
    let scoped = ANSWER.scope(RefCell::new(None), f);
    tokio::pin!(scoped);
    let output = (&mut scoped).await;
    let answer = scoped.as_mut().take_value().and_then(RefCell::into_inner);
    (output, answer)
}

/// Makes `traceparent` the context of the answer of the request being served (see `answering`).
pub fn answer_with(traceparent: String) {
    let _ = ANSWER.try_with(|answer| *answer.borrow_mut() = Some(traceparent));
}

/// The caller's `traceparent` if it is well formed (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all
/// zero), else a new trace with a random id.
pub fn continue_or_start(header: Option<&str>) -> String {
    header
        .filter(|h| parse(h).is_some())
        .map_or_else(new_traceparent, str::to_owned)
}

fn new_traceparent() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{id}-{span}-01")
}

/// The span context a well-formed `traceparent` names.
fn parse(traceparent: &str) -> Option<SpanContext> {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let mut parts = traceparent.split('-');
    let (Some(version), Some(trace), Some(span), Some(flags), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if !(hex(version, 2) && version != "ff" && hex(trace, 32) && hex(span, 16) && hex(flags, 2)) {
        return None;
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

fn format(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// Starts exporting spans when the environment names an OTLP endpoint
/// (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; protocol
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`, the default, or `http/json`), unless
/// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. `service` names the process unless
/// `OTEL_SERVICE_NAME` does. The other `OTEL_*` variables (headers, timeout, sampler, batching,
/// resource attributes) work as the OpenTelemetry SDK documents them.
pub fn init(service: &'static str) -> Result<(), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let endpoint =
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    if endpoint.is_none() || disabled {
        return Ok(());
    }
    let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .as_deref()
    {
        None | Some("http/protobuf") => Protocol::HttpBinary,
        Some("http/json") => Protocol::HttpJson,
        Some(other) => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL {other:?} is not supported: use http/protobuf or http/json"
            ));
        }
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let resource = match var("OTEL_SERVICE_NAME") {
        Some(_) => Resource::builder().build(),
        None => Resource::builder().with_service_name(service).build(),
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("waymark");
    let _ = EXPORT.set((provider, tracer));
    Ok(())
}

/// Exports the spans still buffered; for the end of the process.
pub fn shutdown() {
    if let Some((provider, _)) = EXPORT.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!("flushing traces: {e}");
    }
}

/// An exported span, ended when dropped; a no-op unless export is on.
pub struct Span(Option<opentelemetry_sdk::trace::Span>);

impl Span {
    /// A span that is a child of the current context.
    pub fn start(name: &'static str, kind: SpanKind) -> Span {
        if EXPORT.get().is_none() {
            return Span(None); // without reading (copying) the current context
        }
        Span::start_at(|| name, kind, current().as_deref(), None)
    }

    /// A span under `parent` (a `traceparent`; none or malformed: a new trace) that began at
    /// `started` (none: now). `name` is only called when spans are exported.
    pub fn start_at<N: Into<Cow<'static, str>>>(
        name: impl FnOnce() -> N,
        kind: SpanKind,
        parent: Option<&str>,
        started: Option<SystemTime>,
    ) -> Span {
        let Some((_, tracer)) = EXPORT.get() else {
            return Span(None);
        };
        let parent = parent
            .and_then(parse)
            .map_or_else(Context::new, |p| Context::new().with_remote_span_context(p));
        let mut builder = tracer.span_builder(name()).with_kind(kind);
        builder.start_time = started;
        Span(Some(builder.start_with_context(tracer, &parent)))
    }

    /// The span's own context, for the work done inside it; none when export is off.
    pub fn traceparent(&self) -> Option<String> {
        self.0.as_ref().map(|s| format(s.span_context()))
    }

    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        if let Some(span) = &mut self.0 {
            span.set_attribute(KeyValue::new(key, value));
        }
    }

    /// A string attribute, copied only when the span is exported.
    pub fn set_str(&mut self, key: &'static str, value: &str) {
        if let Some(span) = &mut self.0 {
            span.set_attribute(KeyValue::new(key, value.to_owned()));
        }
    }

    /// Marks the span failed, with what went wrong (copied only when the span is exported).
    pub fn set_error(&mut self, message: &str) {
        if let Some(span) = &mut self.0 {
            span.set_status(Status::error(message.to_owned()));
        }
    }

    /// Runs `f` inside this span (its internal calls carry the span's context), then ends it.
    pub async fn run<F: Future>(self, f: F) -> F::Output {
        match self.traceparent() {
            Some(t) => TRACEPARENT.scope(t, f).await,
            None => f.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_traceparent_is_continued() {
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(continue_or_start(Some(t)), t);
        assert_eq!(parse(t).map(|c| format(&c)).as_deref(), Some(t));
    }

    #[test]
    fn a_missing_or_malformed_traceparent_starts_a_trace() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ] {
            let t = continue_or_start(bad);
            assert!(parse(&t).is_some(), "{t}");
            assert_ne!(Some(t.as_str()), bad);
        }
    }

    #[tokio::test]
    async fn the_context_is_current_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope(Some("t".into()), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("t"));
        assert_eq!(current(), None);
    }

    #[tokio::test]
    async fn a_request_hands_back_the_context_it_answered_with() {
        let (output, answer) = answering(async {
            answer_with("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
            7
        })
        .await;
        assert_eq!(output, 7);
        assert_eq!(
            answer.as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(answering(async {}).await.1, None);
        answer_with("outside any request: ignored".into());
    }

    #[test]
    fn spans_are_no_ops_unless_exporting() {
        let mut span = Span::start("test", SpanKind::Internal);
        span.set_attribute("k", "v");
        assert_eq!(span.traceparent(), None);
    }
}
