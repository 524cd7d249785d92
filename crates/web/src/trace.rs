//! W3C Trace Context on every request: the caller's `traceparent` continues its trace,
//! otherwise a new trace starts; the response names the span kluis worked in, so a
//! processing that crosses systems stays one trace in every processing log.

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use kluis_domain::trace::TraceContext;

const TRACEPARENT: &str = "traceparent";

/// The trace context of this request, with kluis's own span.
#[derive(Debug, Clone, Copy)]
pub struct Trace(pub TraceContext);

/// Middleware: parses `traceparent` (an invalid one is ignored, as the W3C
/// recommendation says, and a new trace starts), and echoes kluis's span.
pub async fn trace_context(mut request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| TraceContext::parse(v).ok());
    let trace = match incoming {
        Some(parent) => parent.with_span(random()),
        None => TraceContext::new_root(random(), random()),
    };
    request.extensions_mut().insert(Trace(trace));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&trace.traceparent()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    response
}

/// Random ids from the operating system; never all zeros, which the standard forbids.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() || bytes.iter().all(|b| *b == 0) {
        // Without randomness the ids only need to be valid and unlikely to repeat.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 | 1;
        }
    }
    bytes
}

impl<S: Send + Sync> FromRequestParts<S> for Trace {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Trace>()
            .copied()
            .unwrap_or_else(|| Trace(TraceContext::new_root(random(), random()))))
    }
}
