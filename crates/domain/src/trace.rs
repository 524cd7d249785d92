//! W3C Trace Context (`traceparent`): a processing that crosses systems stays one trace,
//! as the "Logboek Dataverwerkingen" standard asks.

use sha2::{Digest, Sha256};

/// A trace and the span within it that is doing the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a W3C traceparent: expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, \
     with ids that are not all zeros"
)]
pub struct BadTraceparent(pub String);

impl TraceContext {
    /// A new trace, for a processing that did not come with one. The ids come from the
    /// caller's random source: the domain does no I/O.
    pub fn new_root(trace_id: [u8; 16], span_id: [u8; 8]) -> Self {
        TraceContext {
            trace_id,
            span_id,
            sampled: true,
        }
    }

    /// Parses a `traceparent` header value (version 00, and later versions read as 00 does).
    pub fn parse(header: &str) -> Result<Self, BadTraceparent> {
        let bad = || BadTraceparent(header.chars().take(80).collect());
        let mut parts = header.trim().split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let version = hex_array::<1>(version).ok_or_else(bad)?;
        // Version ff is invalid; version 00 has exactly four fields.
        if version[0] == 0xff || (version[0] == 0 && parts.next().is_some()) {
            return Err(bad());
        }
        let trace_id = hex_array::<16>(trace).ok_or_else(bad)?;
        let span_id = hex_array::<8>(span).ok_or_else(bad)?;
        let flags = hex_array::<1>(flags).ok_or_else(bad)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(bad());
        }
        Ok(TraceContext {
            trace_id,
            span_id,
            sampled: flags[0] & 1 == 1,
        })
    }

    /// A span under this one. Its id derives from this span and `n`, which the caller keeps
    /// unique within the span (a log entry's number): no random source needed.
    pub fn child(&self, n: i64) -> TraceContext {
        let digest = Sha256::new()
            .chain_update(self.trace_id)
            .chain_update(self.span_id)
            .chain_update(n.to_be_bytes())
            .finalize();
        let mut span_id = [0u8; 8];
        span_id.copy_from_slice(&digest[..8]);
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        TraceContext { span_id, ..*self }
    }

    /// The same trace with the caller's own new span (for a request that arrived with a
    /// traceparent: the caller's span becomes the parent of ours).
    pub fn with_span(&self, span_id: [u8; 8]) -> TraceContext {
        TraceContext { span_id, ..*self }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }

    /// The header value to send on outgoing requests.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.span_id_hex(),
            u8::from(self.sampled)
        )
    }
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Lower-case only, as the specification requires.
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specification_example_round_trips() {
        let t = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(t.traceparent(), EXAMPLE);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(TraceContext::parse(bad).is_err(), "{bad}");
        }
        // A later version may carry more fields.
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_ok()
        );
    }

    #[test]
    fn children_stay_in_the_trace_with_distinct_spans() {
        let t = TraceContext::parse(EXAMPLE).unwrap();
        let (a, b) = (t.child(1), t.child(2));
        assert_eq!(a.trace_id_hex(), t.trace_id_hex());
        assert_ne!(a.span_id_hex(), b.span_id_hex());
        assert_ne!(a.span_id_hex(), t.span_id_hex());
        assert_eq!(a, t.child(1));
    }
}
