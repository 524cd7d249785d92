//! The personal-data inventory kept in kluis's own vault: data subjects with their
//! identifiers, and records of their data under a processing activity, each with the
//! retention deadline its activity's rule gives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::category::DataCategory;
use crate::identifiers::{Bsn, EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use crate::register::{ActivityStatus, ProcessingActivity};
use crate::retention::{Deadline, RecordFacts, RetentionError, RetentionEvent, RetentionSchedule};

/// Children under this age need a parent or guardian to act for them (GDPR art. 8 as the
/// Belgian law of 30 July 2018 sets it, and the seeds' "jonger dan 16").
pub const AGE_OF_DIGITAL_CONSENT: u8 = 16;

/// At most this many fields in one record: a record is one kind of data, not a dump.
pub const MAX_FIELDS: usize = 64;
/// At most this many bytes in one record's fields, as JSON.
pub const MAX_FIELDS_BYTES: usize = 16 * 1024;

/// Who a data subject is: at least one identifier; a name counts only with a birth date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_number: Option<NationalNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsn: Option<Bsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error(
        "a data subject needs at least one identifier: a national number, a BSN, an e-mail \
         address, a phone number, or a name with a birth date"
    )]
    NoIdentifier,
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("the birth date {0} lies in the future")]
    BirthInFuture(Date),
    #[error("a data subject cannot be their own guardian")]
    OwnGuardian,
    #[error(
        "processing activity '{0}' is retired: new personal data cannot be recorded under it; \
         choose an active activity"
    )]
    ActivityNotActive(String),
    #[error(
        "processing activity '{activity}' does not process '{category}' data according to the \
         register; record it under another activity, or ask the DPO to add the category"
    )]
    CategoryNotInActivity {
        activity: String,
        category: DataCategory,
    },
    #[error(
        "processing activity '{activity}' has no retention schedule '{given}'; its schedules \
         are: {known}"
    )]
    UnknownSchedule {
        activity: String,
        given: String,
        known: String,
    },
    #[error(
        "processing activity '{activity}' has several retention schedules ({known}): say \
         which one this record follows"
    )]
    ScheduleRequired { activity: String, known: String },
    #[error(
        "a record has at most {MAX_FIELDS} fields of at most {MAX_FIELDS_BYTES} bytes together, \
         with names of 1 to 64 characters"
    )]
    Fields,
    #[error("the collection date {0} lies in the future")]
    CollectedInFuture(Date),
    #[error("the retention deadline cannot be computed: {0}")]
    Retention(#[from] RetentionError),
}

impl SubjectIdentity {
    /// Given and family name as one would write them ("An Peeters"); empty when neither
    /// is known.
    pub fn full_name(&self) -> String {
        [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Checks that the identity names someone, on `today`.
    pub fn check(&self, today: Date) -> Result<(), InventoryError> {
        for (field, value) in [
            ("the given name", &self.given_name),
            ("the family name", &self.family_name),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
                return Err(InventoryError::TooLong { field, max: 200 });
            }
        }
        if let Some(born) = self.birth_date
            && born > today
        {
            return Err(InventoryError::BirthInFuture(born));
        }
        if self.identifiers().is_empty() {
            return Err(InventoryError::NoIdentifier);
        }
        Ok(())
    }

    /// The person's identifiers, normalised, the most reliable first.
    pub fn identifiers(&self) -> Vec<(IdentifierKind, String)> {
        let mut out = Vec::new();
        if let Some(n) = &self.national_number {
            out.push((IdentifierKind::NationalNumber, n.digits()));
        }
        if let Some(b) = &self.bsn {
            out.push((IdentifierKind::Bsn, b.digits()));
        }
        if let Some(e) = &self.email {
            out.push((IdentifierKind::Email, e.as_str().to_string()));
        }
        if let Some(p) = &self.phone {
            out.push((IdentifierKind::Phone, p.as_str().to_string()));
        }
        if let Some(name_and_birth) = self.name_and_birth_date() {
            out.push((IdentifierKind::NameBirthDate, name_and_birth));
        }
        out
    }

    /// "family|given|YYYY-MM-DD", lowercased: a weak identifier, used only when nothing
    /// better is known.
    fn name_and_birth_date(&self) -> Option<String> {
        let family = self.family_name.as_deref()?.trim().to_lowercase();
        let given = self
            .given_name
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_lowercase();
        let born = self.birth_date?;
        (!family.is_empty()).then(|| format!("{family}|{given}|{born}"))
    }

    /// Whether the person is younger than 16 on `today`, when the birth date is known.
    pub fn is_child_on(&self, today: Date) -> Option<bool> {
        let born = self.birth_date?;
        Some(age_on(born, today) < u32::from(AGE_OF_DIGITAL_CONSENT))
    }
}

/// Completed years between `born` and `today`.
pub fn age_on(born: Date, today: Date) -> u32 {
    let years = today.year() - born.year();
    let had_birthday = (today.month() as u8, today.day()) >= (born.month() as u8, born.day());
    u32::try_from(if had_birthday { years } else { years - 1 }).unwrap_or(0)
}

/// A record of personal data as a caseworker enters it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    pub activity: String,
    /// The retention schedule (by key) the record follows; may be left out when the
    /// activity has exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    pub category: DataCategory,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where the data came from: "the person", "the national register", ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub collected_on: Date,
    /// Dates of the events retention runs from (end of procedure, end of training, ...).
    #[serde(default)]
    pub events: BTreeMap<RetentionEvent, Date>,
    /// The person gave this data themselves (portability, art. 20).
    #[serde(default)]
    pub provided_by_subject: bool,
}

impl RecordInput {
    /// Checks the record against its activity and gives the schedule key it follows.
    pub fn check<'a>(
        &self,
        activity: &'a ProcessingActivity,
        today: Date,
    ) -> Result<&'a RetentionSchedule, InventoryError> {
        if activity.status == ActivityStatus::Retired {
            return Err(InventoryError::ActivityNotActive(activity.id.clone()));
        }
        if !activity.data_categories.contains(&self.category) {
            return Err(InventoryError::CategoryNotInActivity {
                activity: activity.id.clone(),
                category: self.category,
            });
        }
        if self.collected_on > today {
            return Err(InventoryError::CollectedInFuture(self.collected_on));
        }
        let bytes = serde_json::to_vec(&self.fields).map_or(usize::MAX, |v| v.len());
        if self.fields.len() > MAX_FIELDS
            || bytes > MAX_FIELDS_BYTES
            || self.fields.keys().any(|k| k.is_empty() || k.len() > 64)
        {
            return Err(InventoryError::Fields);
        }
        schedule(activity, self.schedule.as_deref())
    }
}

/// The retention schedule a record follows: the named one, or the only one.
pub fn schedule<'a>(
    activity: &'a ProcessingActivity,
    key: Option<&str>,
) -> Result<&'a RetentionSchedule, InventoryError> {
    let known = || {
        activity
            .retention
            .iter()
            .map(|s| s.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match key {
        Some(key) => activity
            .retention
            .iter()
            .find(|s| s.key == key)
            .ok_or_else(|| InventoryError::UnknownSchedule {
                activity: activity.id.clone(),
                given: key.to_string(),
                known: known(),
            }),
        None => match activity.retention.as_slice() {
            [only] => Ok(only),
            _ => Err(InventoryError::ScheduleRequired {
                activity: activity.id.clone(),
                known: known(),
            }),
        },
    }
}

/// What a record's retention depends on, as stored with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordRetention {
    pub collected_on: Option<Date>,
    pub events: BTreeMap<RetentionEvent, Date>,
    pub birth_date: Option<Date>,
    pub extensions: u8,
    pub withdrawn_on: Option<Date>,
}

/// The deadline of a record under its schedule. The collection date counts as the
/// `collection` event unless the record gives that event itself.
pub fn deadline(
    schedule: &RetentionSchedule,
    record: &RecordRetention,
) -> Result<Deadline, InventoryError> {
    let mut events = record.events.clone();
    if let Some(collected) = record.collected_on {
        events
            .entry(RetentionEvent::Collection)
            .or_insert(collected);
    }
    let facts = RecordFacts {
        events,
        birth_date: record.birth_date,
        extensions: record.extensions,
        withdrawn_on: record.withdrawn_on,
    };
    Ok(schedule.rule.deadline(&facts)?)
}

/// A deadline as two columns: its kind and, for a date or an awaited event, the detail.
pub fn deadline_columns(d: &Deadline) -> (&'static str, Option<Date>, Option<&'static str>) {
    match d {
        Deadline::On(date) => ("on", Some(*date), None),
        Deadline::AwaitingEvent(e) => ("awaiting_event", None, Some(e.name())),
        Deadline::UntilWithdrawal => ("until_withdrawal", None, None),
        Deadline::Permanent => ("permanent", None, None),
        Deadline::ArchiveReview => ("archive_review", None, None),
        Deadline::NeedReview => ("need_review", None, None),
    }
}

/// The inverse of [`deadline_columns`]; `None` for columns no version of kluis writes.
pub fn deadline_from_columns(
    kind: &str,
    date: Option<Date>,
    event: Option<&str>,
) -> Option<Deadline> {
    Some(match kind {
        "on" => Deadline::On(date?),
        "awaiting_event" => Deadline::AwaitingEvent(event?.parse().ok()?),
        "until_withdrawal" => Deadline::UntilWithdrawal,
        "permanent" => Deadline::Permanent,
        "archive_review" => Deadline::ArchiveReview,
        "need_review" => Deadline::NeedReview,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register_file;
    use time::macros::date;

    fn limburg_activity(id: &str) -> ProcessingActivity {
        let text = include_str!("../../../examples/limburg.yaml");
        let register = register_file::parse("limburg.yaml", text).unwrap();
        register
            .activities
            .into_iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("no activity {id}"))
    }

    fn any_activity_with_one_schedule() -> ProcessingActivity {
        let text = include_str!("../../../examples/limburg.yaml");
        let register = register_file::parse("limburg.yaml", text).unwrap();
        register
            .activities
            .into_iter()
            .find(|a| {
                a.retention.len() == 1
                    && matches!(
                        a.retention[0].rule,
                        crate::retention::RetentionRule::AfterEvent { .. }
                    )
            })
            .expect("an activity with one after-event schedule")
    }

    #[test]
    fn an_identity_needs_an_identifier() {
        let today = date!(2026 - 11 - 23);
        assert_eq!(
            SubjectIdentity::default().check(today),
            Err(InventoryError::NoIdentifier)
        );
        let only_name = SubjectIdentity {
            family_name: Some("Peeters".into()),
            ..Default::default()
        };
        assert_eq!(only_name.check(today), Err(InventoryError::NoIdentifier));
        let name_and_birth = SubjectIdentity {
            family_name: Some("Peeters".into()),
            given_name: Some("An".into()),
            birth_date: Some(date!(1985 - 07 - 30)),
            ..Default::default()
        };
        assert_eq!(name_and_birth.check(today), Ok(()));
        assert_eq!(
            name_and_birth.identifiers(),
            vec![(
                IdentifierKind::NameBirthDate,
                "peeters|an|1985-07-30".to_string()
            )]
        );
        let unborn = SubjectIdentity {
            birth_date: Some(date!(2027 - 01 - 01)),
            ..name_and_birth
        };
        assert!(matches!(
            unborn.check(today),
            Err(InventoryError::BirthInFuture(_))
        ));
    }

    #[test]
    fn identifiers_come_strongest_first_and_normalised() {
        let identity = SubjectIdentity {
            email: Some("An.Peeters@Example.BE".parse().unwrap()),
            national_number: Some("85.07.30-033.28".parse().unwrap()),
            ..Default::default()
        };
        let ids = identity.identifiers();
        assert_eq!(
            ids[0],
            (IdentifierKind::NationalNumber, "85073003328".into())
        );
        assert_eq!(
            ids[1],
            (IdentifierKind::Email, "an.peeters@example.be".into())
        );
    }

    #[test]
    fn children_are_under_sixteen() {
        let child = SubjectIdentity {
            birth_date: Some(date!(2010 - 11 - 24)),
            ..Default::default()
        };
        assert_eq!(child.is_child_on(date!(2026 - 11 - 23)), Some(true));
        assert_eq!(child.is_child_on(date!(2026 - 11 - 24)), Some(false));
        assert_eq!(
            SubjectIdentity::default().is_child_on(date!(2026 - 11 - 23)),
            None
        );
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2001 - 02 - 28)), 0);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2001 - 03 - 01)), 1);
    }

    fn record(activity: &ProcessingActivity) -> RecordInput {
        RecordInput {
            activity: activity.id.clone(),
            schedule: None,
            category: activity.data_categories[0],
            fields: BTreeMap::from([("naam".to_string(), serde_json::json!("Peeters"))]),
            source: Some("de betrokkene".into()),
            collected_on: date!(2026 - 01 - 15),
            events: BTreeMap::new(),
            provided_by_subject: true,
        }
    }

    #[test]
    fn a_record_must_fit_its_activity() {
        let activity = any_activity_with_one_schedule();
        let today = date!(2026 - 11 - 23);
        let ok = record(&activity);
        assert!(ok.check(&activity, today).is_ok());

        let missing = DataCategory::ALL
            .iter()
            .copied()
            .find(|c| !activity.data_categories.contains(c))
            .unwrap();
        let wrong_category = RecordInput {
            category: missing,
            ..ok.clone()
        };
        assert!(matches!(
            wrong_category.check(&activity, today),
            Err(InventoryError::CategoryNotInActivity { .. })
        ));

        let unknown_schedule = RecordInput {
            schedule: Some("nope".into()),
            ..ok.clone()
        };
        let err = unknown_schedule.check(&activity, today).unwrap_err();
        assert!(
            err.to_string().contains(&activity.retention[0].key),
            "{err}"
        );

        let future = RecordInput {
            collected_on: date!(2027 - 01 - 01),
            ..ok.clone()
        };
        assert!(matches!(
            future.check(&activity, today),
            Err(InventoryError::CollectedInFuture(_))
        ));

        let mut too_many = ok.clone();
        for i in 0..=MAX_FIELDS {
            too_many
                .fields
                .insert(format!("f{i}"), serde_json::json!(i));
        }
        assert_eq!(
            too_many.check(&activity, today),
            Err(InventoryError::Fields)
        );

        let mut retired = activity.clone();
        retired.status = ActivityStatus::Retired;
        assert!(matches!(
            ok.check(&retired, today),
            Err(InventoryError::ActivityNotActive(_))
        ));
    }

    #[test]
    fn camera_images_are_kept_thirty_days_after_recording() {
        let activity = limburg_activity("limburg-camerabewaking");
        let schedule = schedule(&activity, None).unwrap();
        let mut events = BTreeMap::new();
        events.insert(RetentionEvent::Recording, date!(2026 - 03 - 01));
        let d = deadline(
            schedule,
            &RecordRetention {
                collected_on: Some(date!(2026 - 03 - 01)),
                events,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(d, Deadline::On(date!(2026 - 03 - 31)));
    }

    #[test]
    fn deadlines_survive_their_columns() {
        for d in [
            Deadline::On(date!(2026 - 03 - 31)),
            Deadline::AwaitingEvent(RetentionEvent::EndOfProcedure),
            Deadline::UntilWithdrawal,
            Deadline::Permanent,
            Deadline::ArchiveReview,
            Deadline::NeedReview,
        ] {
            let (kind, date, event) = deadline_columns(&d);
            assert_eq!(deadline_from_columns(kind, date, event), Some(d));
        }
        assert_eq!(deadline_from_columns("soon", None, None), None);
    }
}
