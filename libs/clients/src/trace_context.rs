//! W3C trace context across the services: the frontend takes the caller's `traceparent` (or
//! starts a trace), every internal call carries it, and each service serves the call inside it.

use std::future::Future;

tokio::task_local! {
    static TRACEPARENT: String;
}

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

/// The caller's `traceparent` if it is well formed (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all
/// zero), else a new trace with a random id.
pub fn continue_or_start(header: Option<&str>) -> String {
    header
        .filter(|h| is_valid(h))
        .map_or_else(new_traceparent, str::to_owned)
}

fn is_valid(h: &str) -> bool {
    let parts: Vec<&str> = h.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    matches!(parts.as_slice(), [v, trace, span, flags]
        if hex(v, 2) && *v != "ff" && hex(trace, 32) && nonzero(trace) && hex(span, 16) && nonzero(span) && hex(flags, 2))
}

fn new_traceparent() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{id}-{span}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_traceparent_is_continued() {
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(continue_or_start(Some(t)), t);
    }

    #[test]
    fn a_missing_or_malformed_traceparent_starts_a_trace() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ] {
            let t = continue_or_start(bad);
            assert!(is_valid(&t), "{t}");
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
}
