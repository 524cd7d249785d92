//! The processing log ("Logboek Dataverwerkingen"): one line per data subject for every
//! read, search hit, export, change, erasure and disclosure of personal data.
//!
//! Entries form a hash chain: each entry's hash covers the previous entry's hash and every
//! field of the entry, including the staff member's identity that only auditors read. A
//! rewritten, removed or inserted entry breaks the chain from that entry on, and an anchor
//! (the hash of one entry, kept outside kluis) proves that nothing up to it changed later.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::trace::TraceContext;
use crate::vocabulary;

vocabulary! {
    /// What was done with a data subject's personal data.
    pub enum LogAction: "log_action" {
        /// Personal data was shown to someone.
        Read = "read",
        /// A search found the data subject.
        SearchHit = "search_hit",
        /// Personal data left kluis in a file (an export, an access package).
        Export = "export",
        /// Personal data was recorded.
        Create = "create",
        /// Personal data was changed.
        Update = "update",
        /// Personal data was erased or anonymised.
        Erase = "erase",
        /// Personal data was disclosed outside the authority (police, a court).
        Disclose = "disclose",
        /// An attempt to open personal data was refused (need-to-know).
        Refused = "refused",
    }
}

vocabulary! {
    /// Who or what processed the data.
    pub enum ActorKind: "actor_kind" {
        Staff = "staff",
        /// A scheduled job of kluis, such as the retention sweep.
        SystemJob = "system_job",
        /// A connector acting on another system of the authority.
        Connector = "connector",
        /// The data subject, through the portal.
        Citizen = "citizen",
    }
}

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// Who processed the data. Kept in the audit log: auditors read it, citizens do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// The staff account's id, when a staff member acted.
    pub id: Option<String>,
    /// The staff member's user name or the job's name.
    pub name: String,
}

/// A log entry as the caller describes it, before it gets its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEntry {
    pub action: LogAction,
    /// The controller (organisation) on whose behalf the data was processed.
    pub organisation: String,
    pub activity: String,
    /// The version of the activity in force, so the entry points at what the register said.
    pub activity_version: i64,
    pub purpose: String,
    pub legal_basis: String,
    /// A pseudonym of the data subject: never the identifier itself.
    pub subject: String,
    /// The kind of identifier the pseudonym was made from (national_number, bsn, ...).
    pub subject_type: String,
    pub data_categories: Vec<String>,
    /// Where the data lives: `kluis` for the vault, or a connected system's name.
    pub system: String,
    /// The request or case the processing served.
    pub case_ref: Option<String>,
    /// For a disclosure: who received the data, and on which legal ground.
    pub recipient: Option<String>,
    pub legal_ground: Option<String>,
}

/// An entry as stored: the caller's description with its place in time, trace and chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// 1, 2, 3, ... without gaps.
    pub seq: i64,
    pub at: OffsetDateTime,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub entry: NewLogEntry,
    pub actor: Actor,
    pub hash: [u8; 32],
}

/// A point in the chain: an entry's number and hash. Printed, it is the anchor an auditor
/// keeps outside kluis: `seq:hex-hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl ChainHead {
    pub const EMPTY: ChainHead = ChainHead {
        seq: 0,
        hash: GENESIS,
    };
}

impl std::fmt::Display for ChainHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a log anchor: write it as printed by `kluis log anchor`, the entry number, a \
     colon and 64 hexadecimal characters"
)]
pub struct BadAnchor(pub String);

impl std::str::FromStr for ChainHead {
    type Err = BadAnchor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadAnchor(s.to_string());
        let (seq, hash) = s.trim().split_once(':').ok_or_else(bad)?;
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        let hash: [u8; 32] = hex::decode(hash)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(bad)?;
        if seq < 0 {
            return Err(bad());
        }
        Ok(ChainHead { seq, hash })
    }
}

/// Places new entries in the chain: numbers them after `head`, gives each its span in
/// `trace` and its hash. The caller stores them in the same transaction as the change they
/// record, after reading `head` under a lock.
pub fn chain(
    head: ChainHead,
    at: OffsetDateTime,
    trace: &TraceContext,
    actor: &Actor,
    entries: Vec<NewLogEntry>,
) -> (Vec<LogEntry>, ChainHead) {
    let mut prev = head;
    let mut buffer = Vec::with_capacity(512);
    let chained = entries
        .into_iter()
        .map(|entry| {
            let seq = prev.seq + 1;
            let span = trace.child(seq);
            let mut stored = LogEntry {
                seq,
                at,
                trace_id: span.trace_id_hex(),
                span_id: span.span_id_hex(),
                parent_span_id: Some(trace.span_id_hex()),
                entry,
                actor: actor.clone(),
                hash: GENESIS,
            };
            stored.hash = entry_hash(&prev.hash, &stored, &mut buffer);
            prev = ChainHead {
                seq: stored.seq,
                hash: stored.hash,
            };
            stored
        })
        .collect();
    (chained, prev)
}

/// Where a chain stops verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "entry {seq} was changed or an entry before it was removed: its hash does not follow \
         from the entries before it"
    )]
    HashMismatch { seq: i64 },
    #[error("entry {expected} is missing: the entry after {previous} is numbered {found}")]
    Gap {
        previous: i64,
        expected: i64,
        found: i64,
    },
    #[error(
        "the log ends at entry {last} while the head recorded at the last append says {head}: \
         entries were removed from the end"
    )]
    Truncated { last: i64, head: i64 },
    #[error(
        "entry {seq} does not have the hash of the anchor: the log was rewritten after the \
         anchor was taken"
    )]
    AnchorMismatch { seq: i64 },
    #[error("the anchor names entry {seq}, which the log does not hold")]
    AnchorMissing { seq: i64 },
}

/// Checks entries in order, one at a time, so a chain of any length verifies in constant
/// memory.
#[derive(Debug)]
pub struct ChainVerifier {
    head: ChainHead,
    anchor: Option<ChainHead>,
    anchor_seen: bool,
    buffer: Vec<u8>,
}

impl ChainVerifier {
    /// Starts at the beginning of the log; with an anchor, also checks that entry.
    pub fn new(anchor: Option<ChainHead>) -> Self {
        ChainVerifier {
            head: ChainHead::EMPTY,
            anchor,
            anchor_seen: false,
            buffer: Vec::with_capacity(512),
        }
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: &LogEntry) -> Result<(), ChainBreak> {
        if entry.seq != self.head.seq + 1 {
            return Err(ChainBreak::Gap {
                previous: self.head.seq,
                expected: self.head.seq + 1,
                found: entry.seq,
            });
        }
        let expected = entry_hash(&self.head.hash, entry, &mut self.buffer);
        if expected != entry.hash {
            return Err(ChainBreak::HashMismatch { seq: entry.seq });
        }
        if let Some(anchor) = self.anchor
            && anchor.seq == entry.seq
        {
            if anchor.hash != entry.hash {
                return Err(ChainBreak::AnchorMismatch { seq: entry.seq });
            }
            self.anchor_seen = true;
        }
        self.head = ChainHead {
            seq: entry.seq,
            hash: entry.hash,
        };
        Ok(())
    }

    /// Ends the check: the last entry must be the head recorded at the last append (so
    /// removing entries from the end shows), and the anchor must have been met.
    pub fn finish(self, recorded_head: ChainHead) -> Result<ChainHead, ChainBreak> {
        if recorded_head != self.head {
            if recorded_head.seq > self.head.seq {
                return Err(ChainBreak::Truncated {
                    last: self.head.seq,
                    head: recorded_head.seq,
                });
            }
            return Err(ChainBreak::HashMismatch {
                seq: self.head.seq.max(1),
            });
        }
        if let Some(anchor) = self.anchor
            && !self.anchor_seen
            && anchor.seq != 0
        {
            return Err(ChainBreak::AnchorMissing { seq: anchor.seq });
        }
        Ok(self.head)
    }
}

/// SHA-256 of the previous hash and the entry's canonical encoding: every field,
/// length-prefixed so that no two different entries encode alike.
fn entry_hash(prev: &[u8; 32], e: &LogEntry, buffer: &mut Vec<u8>) -> [u8; 32] {
    buffer.clear();
    buffer.extend_from_slice(b"kluis-log-v1");
    buffer.extend_from_slice(prev);
    buffer.extend_from_slice(&e.seq.to_be_bytes());
    buffer.extend_from_slice(&e.at.unix_timestamp_nanos().to_be_bytes());
    field(buffer, &e.trace_id);
    field(buffer, &e.span_id);
    optional(buffer, e.parent_span_id.as_deref());
    let n = &e.entry;
    field(buffer, n.action.name());
    field(buffer, &n.organisation);
    field(buffer, &n.activity);
    buffer.extend_from_slice(&n.activity_version.to_be_bytes());
    field(buffer, &n.purpose);
    field(buffer, &n.legal_basis);
    field(buffer, &n.subject);
    field(buffer, &n.subject_type);
    buffer.extend_from_slice(&(n.data_categories.len() as u64).to_be_bytes());
    for c in &n.data_categories {
        field(buffer, c);
    }
    field(buffer, &n.system);
    optional(buffer, n.case_ref.as_deref());
    optional(buffer, n.recipient.as_deref());
    optional(buffer, n.legal_ground.as_deref());
    field(buffer, e.actor.kind.name());
    optional(buffer, e.actor.id.as_deref());
    field(buffer, &e.actor.name);
    Sha256::digest(&buffer[..]).into()
}

fn field(buffer: &mut Vec<u8>, s: &str) {
    buffer.extend_from_slice(&(s.len() as u64).to_be_bytes());
    buffer.extend_from_slice(s.as_bytes());
}

fn optional(buffer: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => buffer.push(0),
        Some(s) => {
            buffer.push(1);
            field(buffer, s);
        }
    }
}

/// Whether a log query names what it is about. An unbounded query over everyone's log
/// lines is never what a lawful purpose needs, so kluis refuses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSelector {
    pub trace_id: Option<String>,
    pub activity: Option<String>,
    /// Pseudonyms of one data subject (one per identifier the person is known by).
    pub subjects: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a log query must name a trace, a processing activity or a data subject")]
pub struct MissingSelector;

impl LogSelector {
    pub fn check(&self) -> Result<(), MissingSelector> {
        if self.trace_id.is_none() && self.activity.is_none() && self.subjects.is_empty() {
            return Err(MissingSelector);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn actor() -> Actor {
        Actor {
            kind: ActorKind::Staff,
            id: Some("u1".into()),
            name: "an".into(),
        }
    }

    fn new_entry(subject: &str) -> NewLogEntry {
        NewLogEntry {
            action: LogAction::Read,
            organisation: "provincie-limburg".into(),
            activity: "personeelsbeheer".into(),
            activity_version: 3,
            purpose: "personeelsadministratie".into(),
            legal_basis: "legal_obligation".into(),
            subject: subject.into(),
            subject_type: "national_number".into(),
            data_categories: vec!["identification".into(), "financial".into()],
            system: "kluis".into(),
            case_ref: Some("R-2026-0001".into()),
            recipient: None,
            legal_ground: None,
        }
    }

    fn build(n: usize) -> (Vec<LogEntry>, ChainHead) {
        let trace = TraceContext::new_root([7; 16], [1; 8]);
        let entries = (0..n).map(|i| new_entry(&format!("s{i}"))).collect();
        chain(
            ChainHead::EMPTY,
            datetime!(2026-11-23 10:00 UTC),
            &trace,
            &actor(),
            entries,
        )
    }

    fn verify(entries: &[LogEntry], head: ChainHead) -> Result<ChainHead, ChainBreak> {
        let mut v = ChainVerifier::new(None);
        for e in entries {
            v.push(e)?;
        }
        v.finish(head)
    }

    #[test]
    fn a_fresh_chain_verifies_and_numbers_without_gaps() {
        let (entries, head) = build(5);
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(verify(&entries, head), Ok(head));
        assert_eq!(head.seq, 5);
        // Every entry shares the trace and has its own span under the caller's span.
        assert!(entries.iter().all(|e| e.trace_id == "07".repeat(16)));
        assert!(
            entries
                .iter()
                .all(|e| e.parent_span_id.as_deref() == Some("0101010101010101"))
        );
        assert_ne!(entries[0].span_id, entries[1].span_id);
    }

    #[test]
    fn appending_continues_the_chain() {
        let (mut entries, head) = build(3);
        let trace = TraceContext::new_root([8; 16], [2; 8]);
        let (more, head) = chain(
            head,
            datetime!(2026-11-23 11:00 UTC),
            &trace,
            &actor(),
            vec![new_entry("x")],
        );
        assert_eq!(more[0].seq, 4);
        entries.extend(more);
        assert_eq!(verify(&entries, head), Ok(head));
    }

    #[test]
    fn a_changed_field_is_named_by_its_entry() {
        let (mut entries, head) = build(5);
        entries[2].entry.purpose = "iets anders".into();
        assert_eq!(
            verify(&entries, head),
            Err(ChainBreak::HashMismatch { seq: 3 })
        );
        // The audit part (who) is covered too.
        let (mut entries, head) = build(5);
        entries[3].actor.name = "someone-else".into();
        assert_eq!(
            verify(&entries, head),
            Err(ChainBreak::HashMismatch { seq: 4 })
        );
    }

    #[test]
    fn a_removed_entry_is_a_gap_and_a_removed_tail_is_truncation() {
        let (mut entries, head) = build(5);
        entries.remove(1);
        assert_eq!(
            verify(&entries, head),
            Err(ChainBreak::Gap {
                previous: 1,
                expected: 2,
                found: 3
            })
        );
        let (mut entries, head) = build(5);
        entries.truncate(3);
        assert_eq!(
            verify(&entries, head),
            Err(ChainBreak::Truncated { last: 3, head: 5 })
        );
    }

    #[test]
    fn a_rewritten_chain_fails_against_an_anchor() {
        let (entries, head) = build(4);
        let anchor = ChainHead {
            seq: 2,
            hash: entries[1].hash,
        };
        // Someone rewrites entry 2 and recomputes every hash after it: the chain itself is
        // consistent again, but the anchor kept outside kluis exposes it.
        let mut forged: Vec<NewLogEntry> = entries.iter().map(|e| e.entry.clone()).collect();
        forged[1].subject = "other".into();
        let trace = TraceContext::new_root([7; 16], [1; 8]);
        let (forged, forged_head) = chain(
            ChainHead::EMPTY,
            datetime!(2026-11-23 10:00 UTC),
            &trace,
            &actor(),
            forged,
        );
        let mut v = ChainVerifier::new(Some(anchor));
        let result = forged.iter().try_for_each(|e| v.push(e));
        assert_eq!(result, Err(ChainBreak::AnchorMismatch { seq: 2 }));
        // The true chain passes the same anchor.
        let mut v = ChainVerifier::new(Some(anchor));
        entries.iter().try_for_each(|e| v.push(e)).unwrap();
        assert_eq!(v.finish(head), Ok(head));
        assert_ne!(forged_head, head);
    }

    #[test]
    fn an_anchor_beyond_the_log_is_reported() {
        let (entries, head) = build(2);
        let mut v = ChainVerifier::new(Some(ChainHead {
            seq: 9,
            hash: [1; 32],
        }));
        entries.iter().try_for_each(|e| v.push(e)).unwrap();
        assert_eq!(v.finish(head), Err(ChainBreak::AnchorMissing { seq: 9 }));
    }

    #[test]
    fn anchors_print_and_parse() {
        let (_, head) = build(3);
        let printed = head.to_string();
        assert_eq!(printed.parse::<ChainHead>(), Ok(head));
        assert!("3:abc".parse::<ChainHead>().is_err());
        assert!("x".parse::<ChainHead>().is_err());
        assert!(
            format!("-1:{}", "0".repeat(64))
                .parse::<ChainHead>()
                .is_err()
        );
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // "ab" + "c" and "a" + "bc" must hash differently.
        let (mut a, _) = build(1);
        let (mut b, _) = build(1);
        a[0].entry.purpose = "ab".into();
        a[0].entry.legal_basis = "c".into();
        b[0].entry.purpose = "a".into();
        b[0].entry.legal_basis = "bc".into();
        let mut buf = Vec::new();
        assert_ne!(
            entry_hash(&GENESIS, &a[0], &mut buf),
            entry_hash(&GENESIS, &b[0], &mut buf)
        );
    }

    #[test]
    fn a_query_needs_a_selector() {
        assert_eq!(LogSelector::default().check(), Err(MissingSelector));
        let by_activity = LogSelector {
            activity: Some("a".into()),
            ..LogSelector::default()
        };
        assert_eq!(by_activity.check(), Ok(()));
    }
}
