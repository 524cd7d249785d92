//! Restriction marks in connected systems, as a rights request records them: a granted
//! restriction (GDPR art. 18) or objection (art. 21) marks the person's rows in every
//! system whose dataset map names a mark; lifting the restriction clears the mark again.
//!
//! The connectors change the rows in the system, in the system's own transaction; here the
//! request records what was done once that committed: the fulfilment actions of the system
//! marked done with the report (per table: the person's rows, and how many changed), and,
//! when rows changed, an Update entry in the processing log per activity, naming the system
//! and the request, in one transaction. Running it again records nothing twice.

use kluis_domain::category::DataCategory;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::LogAction;
use kluis_domain::rights::Right;
use uuid::Uuid;

use crate::fulfilment::{ActionStatus, action_status, complete_action, not_planned, to_json};
use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::load_activity;
use crate::{Store, StoreError, timestamp};

/// What a change of a person's restriction marks in one system is about: the right, the
/// request, the system, the activities, and what the log says of the person.
#[derive(Debug, Clone)]
pub struct SystemMarks<'a> {
    /// Restriction or objection.
    pub right: Right,
    /// The reference of the request the marks are set or cleared for.
    pub reference: &'a str,
    pub system: &'a str,
    /// The activities of the request's actions in that system.
    pub activities: &'a [String],
    /// The categories of the data whose processing the marks restrict.
    pub categories: &'a [DataCategory],
    /// True when the marks were set, false when they were cleared.
    pub restricted: bool,
    /// Rows whose mark changed; nothing is logged when none did.
    pub changed: u64,
}

impl SystemMarks<'_> {
    /// The log's legal ground: the article, the request and what happened where.
    fn legal_ground(&self) -> String {
        let article = match (self.right, self.restricted) {
            (Right::Objection, true) => "GDPR art. 21 objection",
            (Right::Objection, false) => "GDPR art. 21(1) compelling grounds for the objection",
            (_, true) => "GDPR art. 18 restriction",
            (_, false) => "GDPR art. 18(3) restriction lifted",
        };
        let what = if self.restricted {
            "marked as restricted"
        } else {
            "restriction mark cleared"
        };
        format!(
            "{article}, request {}: the person's rows {what} in system {}",
            self.reference, self.system
        )
    }
}

/// The Update entries of `$marks` for `$subject` inside `$tx`, one per activity.
macro_rules! log_entries {
    ($tx:ident, $marks:expr, $subject:expr) => {{
        let marks: &SystemMarks<'_> = $marks;
        let subject: (String, String) = $subject;
        let mut entries = Vec::new();
        for id in marks.activities {
            let (a, version) = load_activity!($tx, id.as_str());
            let mut entry = ActivityRef::from_activity(&a, version).entry(
                LogAction::Update,
                subject.clone(),
                marks
                    .categories
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect(),
                Some(marks.reference.to_string()),
            );
            entry.system = marks.system.to_string();
            entry.legal_ground = Some(marks.legal_ground());
            entries.push(entry);
        }
        entries
    }};
}

impl Store {
    /// Records that the restriction or objection actions of request `request_id` in
    /// `marks.system` are done, with `report`, after the system's transaction committed:
    /// the actions marked done and, when rows changed, one Update log entry per activity,
    /// in one transaction. Actions already done are not recorded again.
    pub async fn record_system_marking(
        &self,
        processing: &Processing,
        request_id: Uuid,
        subject: Option<&SubjectIdentity>,
        marks: &SystemMarks<'_>,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let now = timestamp(processing.now);
        let log_subject = match (marks.changed, subject) {
            (0, _) | (_, None) => None,
            (_, Some(s)) => Some(self.log_subject(s)?),
        };
        let report = to_json(report)?;
        let (right, system) = (marks.right, marks.system);
        write_transaction!(self, |tx| {
            let mut open = false;
            for id in marks.activities {
                match action_status!(tx, request_id, right, id.as_str(), system) {
                    None => return Err(not_planned(right, id, system)),
                    Some(ActionStatus::Done) => {}
                    Some(_) => open = true,
                }
            }
            if !open {
                return Ok(());
            }
            if let Some(log_subject) = log_subject {
                let entries = log_entries!(tx, marks, log_subject);
                append_log!(tx, processing, entries);
            }
            for id in marks.activities {
                complete_action!(
                    tx,
                    request_id,
                    right,
                    id.as_str(),
                    system,
                    report.clone(),
                    now
                );
            }
        });
        Ok(())
    }

    /// Logs that the restriction marks of a lifted restriction (or an objection overridden
    /// by compelling grounds) were cleared in a system: one Update entry per activity, when
    /// rows changed.
    pub async fn log_system_unmarking(
        &self,
        processing: &Processing,
        subject: &SubjectIdentity,
        marks: &SystemMarks<'_>,
    ) -> Result<(), StoreError> {
        if marks.changed == 0 {
            return Ok(());
        }
        let log_subject = self.log_subject(subject)?;
        write_transaction!(self, |tx| {
            let entries = log_entries!(tx, marks, log_subject);
            append_log!(tx, processing, entries);
        });
        Ok(())
    }
}
