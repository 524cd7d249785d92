//! Destruction of personal data when its retention ends: legal holds that stop it,
//! extensions of extendable periods, the DPO's approval of destruction lists, and the
//! destruction log that says what was destroyed without keeping the data itself.

use time::Date;

use crate::retention::{Period, RetentionError, RetentionRule};
use crate::vocabulary;

vocabulary! {
    /// What a legal hold covers.
    pub enum HoldScope: "hold_scope" {
        /// One record in the vault.
        Record = "record",
        /// Every record of one data subject.
        Subject = "subject",
        /// Every record linked to one case (a dispute, an offence under investigation).
        Case = "case",
    }
}

vocabulary! {
    /// How data was destroyed.
    pub enum DestructionMethod: "destruction_method" {
        /// The data was deleted.
        Erase = "erase",
        /// The data was kept in a form that no longer identifies anyone.
        Anonymise = "anonymise",
    }
}

vocabulary! {
    /// Where a destruction list stands.
    pub enum ListState: "destruction_list_state" {
        /// Drawn up, waiting for the DPO.
        Proposed = "proposed",
        /// Approved by the DPO: the sweep may destroy what it lists.
        Approved = "approved",
        /// Rejected by the DPO, with the reason: nothing it lists is destroyed by it.
        Rejected = "rejected",
    }
}

vocabulary! {
    /// Where a retention run stands.
    pub enum RunState: "retention_run_state" {
        /// Destroying; a run still running after its lease ran out was interrupted.
        Running = "running",
        /// Every due record was handled.
        Finished = "finished",
        /// Stopped before the end (an error, or a stop asked for); the next run resumes.
        Stopped = "stopped",
        /// A later run found it still running after its lease ran out: it was killed.
        Interrupted = "interrupted",
    }
}

/// The longest case reference or reason kluis stores: beyond it, it is not a reference.
const MAX_CASE_REF: usize = 100;
const MAX_REASON: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestructionError {
    #[error("a legal hold needs a reason (the dispute, the offence, the court order)")]
    HoldWithoutReason,
    #[error("the reason of a legal hold is at most {MAX_REASON} characters")]
    ReasonTooLong,
    #[error(
        "a legal hold on a case needs the case reference, of at most {MAX_CASE_REF} characters"
    )]
    BadCaseRef,
    #[error("a legal hold cannot end ({until}) before it starts ({from})")]
    HoldEndsBeforeItStarts { from: Date, until: Date },
    #[error("a legal hold cannot end in the past ({until}): leave the end out, or lift the hold")]
    HoldEndsInThePast { until: Date },
    #[error(
        "the retention rule of this record cannot be extended: only an extendable period \
         (e.g. a reserve of applicants) can"
    )]
    NotExtendable,
    #[error("this record's retention was already extended {max} times, the most its rule allows")]
    ExtensionCapReached { max: u8 },
    #[error("{0}")]
    Retention(#[from] RetentionError),
}

/// A legal hold as a staff member places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub scope: HoldScope,
    /// The record's or data subject's id, or the case reference.
    pub target: String,
    pub reason: String,
    /// The first day the hold applies.
    pub from: Date,
    /// The last day it applies; without one, until it is lifted.
    pub until: Option<Date>,
}

impl NewHold {
    /// Checks the hold placed on `today`. Ids are checked by the store, which knows them.
    pub fn check(&self, today: Date) -> Result<(), DestructionError> {
        if self.reason.trim().is_empty() {
            return Err(DestructionError::HoldWithoutReason);
        }
        if self.reason.chars().count() > MAX_REASON {
            return Err(DestructionError::ReasonTooLong);
        }
        if self.scope == HoldScope::Case
            && (self.target.trim().is_empty() || self.target.chars().count() > MAX_CASE_REF)
        {
            return Err(DestructionError::BadCaseRef);
        }
        if let Some(until) = self.until {
            if until < self.from {
                return Err(DestructionError::HoldEndsBeforeItStarts {
                    from: self.from,
                    until,
                });
            }
            if until < today {
                return Err(DestructionError::HoldEndsInThePast { until });
            }
        }
        Ok(())
    }
}

/// Whether a hold from `from` to `until`, lifted or not, stops destruction on `day`.
pub fn hold_applies(from: Date, until: Option<Date>, lifted: bool, day: Date) -> bool {
    !lifted && from <= day && until.is_none_or(|u| day <= u)
}

/// The number of extensions after one more, refused when the rule does not allow it.
pub fn extend(rule: &RetentionRule, extensions: u8) -> Result<u8, DestructionError> {
    let RetentionRule::Extendable { max_extensions, .. } = rule else {
        return Err(DestructionError::NotExtendable);
    };
    if extensions >= *max_extensions {
        return Err(DestructionError::ExtensionCapReached {
            max: *max_extensions,
        });
    }
    Ok(extensions + 1)
}

/// Whether a record with `deadline` is due for destruction by a sweep on `today`: a record
/// is destroyed at the end of its deadline's day, so on the day after.
pub fn is_due(deadline: Date, today: Date) -> bool {
    deadline < today
}

/// The rule in words for the destruction log: what the register said when the data went.
pub fn describe_rule(rule: &RetentionRule) -> String {
    let after = |p: &Period, event: &dyn std::fmt::Display| format!("{p} after {event}");
    match rule {
        RetentionRule::AfterEvent { event, period } => after(period, event),
        RetentionRule::UntilAge { age } => format!("until the age of {age}"),
        RetentionRule::Extendable {
            event,
            period,
            extension,
            max_extensions,
        } => format!(
            "{}, extendable at most {max_extensions} times by {extension}",
            after(period, event)
        ),
        RetentionRule::UntilWithdrawal { grace: None } => "until withdrawal".into(),
        RetentionRule::UntilWithdrawal { grace: Some(g) } => {
            format!("{g} after withdrawal")
        }
        RetentionRule::WhileNeeded {
            event: Some(event),
            maximum: Some(max),
            ..
        } => format!("while needed, at most {}", after(max, event)),
        RetentionRule::WhileNeeded { .. } => "while needed (reviewed)".into(),
        RetentionRule::Permanent => "permanent".into(),
        RetentionRule::ArchiveLaw {
            event: Some(event),
            period: Some(period),
            ..
        } => format!("archive law: {}", after(period, event)),
        RetentionRule::ArchiveLaw { .. } => "archive law (archivist's review)".into(),
    }
}

/// What one destruction-log entry says was destroyed: a record of kluis's vault, or rows
/// of a table in a connected system. Never the data itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destroyed {
    /// A record of the vault, by its random id (which identifies no one once it is gone),
    /// destroyed on its own. The retention sweep lists the records of a batch, activity,
    /// schedule and deadline in one entry instead (the store packs their ids).
    VaultRecord { record_id: String },
    /// Data subjects of the vault left with nothing, counted.
    VaultSubjects { count: u64 },
    /// Rows of a table in another system of the authority, counted.
    SystemRows {
        system: String,
        table: String,
        rows: u64,
    },
}

impl Destroyed {
    /// (system, table) as the log stores them.
    pub fn place(&self) -> (&str, &str) {
        match self {
            Destroyed::VaultRecord { .. } => ("kluis", "records"),
            Destroyed::VaultSubjects { .. } => ("kluis", "data_subjects"),
            Destroyed::SystemRows { system, table, .. } => (system, table),
        }
    }

    pub fn rows(&self) -> u64 {
        match self {
            Destroyed::VaultRecord { .. } => 1,
            Destroyed::VaultSubjects { count } => *count,
            Destroyed::SystemRows { rows, .. } => *rows,
        }
    }
}

/// One entry of the destruction log, as a sweep (or a connector) writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDestruction {
    pub activity: String,
    /// The retention schedule's key.
    pub schedule: String,
    /// The rule in words, see [`describe_rule`].
    pub rule: String,
    pub what: Destroyed,
    pub method: DestructionMethod,
    /// The deadline that passed, when one did (a count of rows may span several).
    pub deadline: Option<Date>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::RetentionEvent;
    use crate::text::Text;
    use time::macros::date;

    fn reserve() -> RetentionRule {
        RetentionRule::Extendable {
            event: RetentionEvent::EndOfProcedure,
            period: Period::years(1),
            extension: Period::years(1),
            max_extensions: 2,
        }
    }

    fn hold(scope: HoldScope, target: &str, reason: &str, until: Option<Date>) -> NewHold {
        NewHold {
            scope,
            target: target.into(),
            reason: reason.into(),
            from: date!(2026 - 03 - 01),
            until,
        }
    }

    #[test]
    fn extensions_stop_at_the_cap() {
        assert_eq!(extend(&reserve(), 0), Ok(1));
        assert_eq!(extend(&reserve(), 1), Ok(2));
        assert_eq!(
            extend(&reserve(), 2),
            Err(DestructionError::ExtensionCapReached { max: 2 })
        );
        let fixed = RetentionRule::AfterEvent {
            event: RetentionEvent::Recording,
            period: Period::days(30),
        };
        assert_eq!(extend(&fixed, 0), Err(DestructionError::NotExtendable));
    }

    #[test]
    fn holds_need_a_reason_a_case_and_a_sensible_end() {
        let today = date!(2026 - 03 - 01);
        assert_eq!(
            hold(HoldScope::Case, "PV-2026-17", "  ", None).check(today),
            Err(DestructionError::HoldWithoutReason)
        );
        assert_eq!(
            hold(HoldScope::Case, " ", "dispute", None).check(today),
            Err(DestructionError::BadCaseRef)
        );
        assert_eq!(
            hold(HoldScope::Case, "x", "dispute", Some(date!(2026 - 02 - 01))).check(today),
            Err(DestructionError::HoldEndsBeforeItStarts {
                from: date!(2026 - 03 - 01),
                until: date!(2026 - 02 - 01)
            })
        );
        let mut late = hold(
            HoldScope::Record,
            "r",
            "dispute",
            Some(date!(2026 - 03 - 05)),
        );
        assert_eq!(late.check(today), Ok(()));
        late.from = date!(2026 - 01 - 01);
        late.until = Some(date!(2026 - 02 - 01));
        assert_eq!(
            late.check(today),
            Err(DestructionError::HoldEndsInThePast {
                until: date!(2026 - 02 - 01)
            })
        );
        assert_eq!(
            hold(HoldScope::Subject, "s", &"x".repeat(1001), None).check(today),
            Err(DestructionError::ReasonTooLong)
        );
    }

    #[test]
    fn a_hold_applies_from_its_first_to_its_last_day_unless_lifted() {
        let (from, until) = (date!(2026 - 03 - 01), Some(date!(2026 - 03 - 31)));
        assert!(!hold_applies(from, until, false, date!(2026 - 02 - 28)));
        assert!(hold_applies(from, until, false, date!(2026 - 03 - 01)));
        assert!(hold_applies(from, until, false, date!(2026 - 03 - 31)));
        assert!(!hold_applies(from, until, false, date!(2026 - 04 - 01)));
        assert!(!hold_applies(from, until, true, date!(2026 - 03 - 15)));
        assert!(hold_applies(from, None, false, date!(2099 - 01 - 01)));
    }

    #[test]
    fn records_go_the_day_after_their_deadline() {
        assert!(!is_due(date!(2026 - 03 - 01), date!(2026 - 03 - 01)));
        assert!(is_due(date!(2026 - 03 - 01), date!(2026 - 03 - 02)));
    }

    #[test]
    fn rules_are_described_without_personal_data() {
        assert_eq!(
            describe_rule(&reserve()),
            "1 year after end_of_procedure, extendable at most 2 times by 1 year"
        );
        assert_eq!(
            describe_rule(&RetentionRule::AfterEvent {
                event: RetentionEvent::Recording,
                period: Period::days(30)
            }),
            "30 days after recording"
        );
        assert_eq!(
            describe_rule(&RetentionRule::ArchiveLaw {
                reference: Text::nl("Archiefdecreet"),
                event: None,
                period: None
            }),
            "archive law (archivist's review)"
        );
    }

    #[test]
    fn an_entry_names_its_place_and_row_count() {
        let rows = Destroyed::SystemRows {
            system: "hr".into(),
            table: "applicants".into(),
            rows: 3,
        };
        assert_eq!(rows.place(), ("hr", "applicants"));
        assert_eq!(rows.rows(), 3);
        let record = Destroyed::VaultRecord {
            record_id: "0190".into(),
        };
        assert_eq!(record.place(), ("kluis", "records"));
        assert_eq!(record.rows(), 1);
    }
}
