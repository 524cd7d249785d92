//! Retention rules as computable data, and the arithmetic that turns a rule and the dates
//! of a record into the day the record must be destroyed.
//!
//! Periods are added the way Regulation 1182/71 counts them: a month after 31 January is
//! the last day of February, a year after 29 February is 28 February.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Duration, Month};

use crate::register::Slug;
use crate::statistics::{Generalisation, is_direct_field, looks_like_identifier};
use crate::text::Text;
use crate::vocabulary;

/// A span of calendar time: "30 days", "4 weeks", "1 year 6 months".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Period {
    pub years: u16,
    pub months: u16,
    pub weeks: u16,
    pub days: u16,
}

/// Longest period kluis accepts: beyond this a rule is a typo, or it is "permanent".
const MAX_PERIOD_YEARS: u32 = 200;

impl Period {
    pub const fn days(days: u16) -> Self {
        Period {
            years: 0,
            months: 0,
            weeks: 0,
            days,
        }
    }
    pub const fn weeks(weeks: u16) -> Self {
        Period {
            years: 0,
            months: 0,
            weeks,
            days: 0,
        }
    }
    pub const fn months(months: u16) -> Self {
        Period {
            years: 0,
            months,
            weeks: 0,
            days: 0,
        }
    }
    pub const fn years(years: u16) -> Self {
        Period {
            years,
            months: 0,
            weeks: 0,
            days: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Period::default()
    }

    /// Roughly how long, in days: used only to refuse absurd periods.
    fn approx_days(&self) -> u32 {
        u32::from(self.years) * 366
            + u32::from(self.months) * 31
            + u32::from(self.weeks) * 7
            + u32::from(self.days)
    }

    /// `date` plus this period: calendar years and months first (clamped to the month's
    /// last day), then weeks and days.
    pub fn after(&self, date: Date) -> Result<Date, RetentionError> {
        let months_total = i64::from(self.years) * 12 + i64::from(self.months);
        let d = add_months(date, months_total)?;
        let days = i64::from(self.weeks) * 7 + i64::from(self.days);
        d.checked_add(Duration::days(days))
            .ok_or(RetentionError::OutOfRange)
    }
}

/// Adds calendar months; a day that does not exist in the target month becomes that
/// month's last day (1182/71 art. 3(2)(c)).
pub fn add_months(date: Date, months: i64) -> Result<Date, RetentionError> {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).map_err(|_| RetentionError::OutOfRange)?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1))
        .map_err(|_| RetentionError::OutOfRange)?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last))
        .map_err(|_| RetentionError::OutOfRange)
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
        ];
        let mut first = true;
        for (n, unit) in parts {
            if n == 0 {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })?;
        }
        if first {
            f.write_str("0 days")?;
        }
        Ok(())
    }
}

impl FromStr for Period {
    type Err = String;

    /// Parses "30 days", "4 weeks", "1 year 6 months" (English units, singular or plural).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "write a period as a number and a unit, e.g. \"30 days\", \"4 weeks\", \"1 year 6 months\"";
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(2) {
            return Err(format!("'{s}' is not a period: {hint}"));
        }
        let mut p = Period::default();
        for pair in words.chunks(2) {
            let n: u16 = pair[0]
                .parse()
                .map_err(|_| format!("'{s}' is not a period: {hint}"))?;
            let slot = match pair[1].trim_end_matches(',') {
                "year" | "years" => &mut p.years,
                "month" | "months" => &mut p.months,
                "week" | "weeks" => &mut p.weeks,
                "day" | "days" => &mut p.days,
                other => return Err(format!("'{other}' is not a unit of time: {hint}")),
            };
            *slot = slot
                .checked_add(n)
                .ok_or_else(|| format!("'{s}' is too long a period"))?;
        }
        Ok(p)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

vocabulary! {
    /// The event a retention period starts from; a record carries the date of each event.
    pub enum RetentionEvent: "retention_event" {
        Collection = "collection",
        Recording = "recording",
        EndOfProcedure = "end_of_procedure",
        EndOfTraining = "end_of_training",
        EndOfStudy = "end_of_study",
        EndOfLesson = "end_of_lesson",
        EndOfDeliberation = "end_of_deliberation",
        EndOfEvent = "end_of_event",
        EndOfResearch = "end_of_research",
        EndOfContract = "end_of_contract",
        EndOfEmployment = "end_of_employment",
        EndOfTenancy = "end_of_tenancy",
        EndOfRelationship = "end_of_relationship",
        CaseClosed = "case_closed",
        Payment = "payment",
        LastContact = "last_contact",
        EndOfFinancialYear = "end_of_financial_year",
    }
}

/// How long one kind of record is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RetentionRule {
    /// A fixed period after an event: "30 days after recording".
    AfterEvent {
        event: RetentionEvent,
        period: Period,
    },
    /// Until the person reaches an age: "until the age of 70".
    UntilAge { age: u8 },
    /// A period that staff may extend a limited number of times: "1 year, at most twice
    /// extended by 1 year".
    Extendable {
        event: RetentionEvent,
        period: Period,
        extension: Period,
        max_extensions: u8,
    },
    /// Until consent is withdrawn or the person unsubscribes, plus an optional grace period.
    UntilWithdrawal {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace: Option<Period>,
    },
    /// As long as a purpose needs the data, judged by a criterion the statement names
    /// (art. 13(2)(a): "the criteria used to determine that period"), with an optional
    /// maximum after an event. Without a maximum, staff review the record.
    WhileNeeded {
        criterion: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<RetentionEvent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maximum: Option<Period>,
    },
    /// Kept permanently (e.g. a timetable naming the teacher, archives of lasting value).
    Permanent,
    /// As archive law prescribes; with a period the deadline is computed, without one the
    /// archivist's selection list decides and the record is reviewed, never silently kept.
    ArchiveLaw {
        reference: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<RetentionEvent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period: Option<Period>,
    },
}

/// One retention schedule of an activity: a rule for one kind of record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSchedule {
    /// Records name the schedule they follow by this key.
    pub key: Slug,
    /// Which records this schedule covers, in the statement's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<Text>,
    pub rule: RetentionRule,
    /// Data may be kept longer as evidence (of an offence, damage, a dispute): the reason
    /// and who may receive it. The hold itself is placed per record or case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_hold: Option<Text>,
    /// The statement's own nuance, shown after the computed wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
    /// At the end of the period the record is anonymised instead of erased: the link to
    /// the person goes, with every field but those `keep` names. Absent: erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymise: Option<Anonymisation>,
}

/// What an anonymised record keeps: its activity, schedule, category and dates, and the
/// fields named here, which must not identify anyone (a diploma's level, a score, a
/// municipality), for statistics and archives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anonymisation {
    #[serde(default)]
    pub keep: Vec<String>,
}

/// How an anonymised copy keeps a date: to the month, which monthly statistics need; a
/// birth date to the year, as an extract's first level does. An exact date is a
/// quasi-identifier: with the category and a kept field it can single a person out.
pub const COPY_DATES: Generalisation = Generalisation::Month;
pub const COPY_BIRTH_DATES: Generalisation = Generalisation::Year;

/// Parts of a field name (lower case) that say it holds a birth date.
const BIRTH_DATE_NAMES: &[&str] = &["birth", "geboorte", "geboren", "naissance", "born"];

impl Anonymisation {
    /// The fields an anonymised copy of a record with `fields` keeps: those `keep`
    /// names, without a field whose name or value is a direct identifier (an e-mail
    /// address, a national number, ...), with every date in them generalised (see
    /// [`COPY_DATES`]).
    pub fn kept_fields(&self, fields: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        self.keep
            .iter()
            .filter_map(|name| fields.get_key_value(name))
            .filter(|(name, _)| !is_direct_field(name))
            .filter_map(|(name, value)| {
                let folded = name.to_lowercase();
                let level = if BIRTH_DATE_NAMES.iter().any(|b| folded.contains(b)) {
                    &COPY_BIRTH_DATES
                } else {
                    &COPY_DATES
                };
                Some((name.clone(), generalised(value, level)?))
            })
            .collect()
    }
}

/// `value` with every date in it generalised to `level`; None when it (or all of it) is a
/// direct identifier.
fn generalised(value: &Value, level: &Generalisation) -> Option<Value> {
    match value {
        Value::String(s) if looks_like_identifier(s).is_some() => None,
        Value::Number(n) if looks_like_identifier(&n.to_string()).is_some() => None,
        Value::String(s) => Some(Value::String(
            level.date_in_text(s).unwrap_or_else(|| s.clone()),
        )),
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|v| generalised(v, level)).collect(),
        )),
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter(|(k, _)| !is_direct_field(k))
                .filter_map(|(k, v)| Some((k.clone(), generalised(v, level)?)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// What kluis knows of a record that decides its retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFacts {
    pub events: BTreeMap<RetentionEvent, Date>,
    pub birth_date: Option<Date>,
    /// How many times staff extended an extendable period.
    pub extensions: u8,
    pub withdrawn_on: Option<Date>,
}

/// When a record must be destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Destroyed (erased or anonymised) at the end of this day.
    On(Date),
    /// The event the period starts from has not happened yet.
    AwaitingEvent(RetentionEvent),
    /// Kept until consent is withdrawn.
    UntilWithdrawal,
    /// Kept permanently.
    Permanent,
    /// Archive law decides; the archivist reviews the record.
    ArchiveReview,
    /// Kept while needed; staff review whether it still is.
    NeedReview,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("the retention period is empty: give a period such as \"30 days\"")]
    EmptyPeriod,
    #[error(
        "a retention period longer than {MAX_PERIOD_YEARS} years is not a period: use 'permanent' or 'archive_law'"
    )]
    PeriodTooLong,
    #[error("an age of {0} cannot be reached: give an age between 1 and 120")]
    ImpossibleAge(u8),
    #[error("an extendable period needs a non-empty extension and at most 10 extensions")]
    BadExtension,
    #[error("archive law needs a reference to the law or selection list")]
    ArchiveLawWithoutReference,
    #[error("archive law with a period needs the event it starts from")]
    ArchiveLawWithoutEvent,
    #[error("'as long as needed' must say by which criterion: add a criterion")]
    NeedWithoutCriterion,
    #[error("a maximum needs the event it starts from")]
    MaximumWithoutEvent,
    #[error("the record has no birth date, which 'until age' needs")]
    MissingBirthDate,
    #[error("the period was extended {given} times, more than the {max} the rule allows")]
    TooManyExtensions { given: u8, max: u8 },
    #[error("the deadline falls outside the calendar kluis can represent")]
    OutOfRange,
}

impl RetentionRule {
    /// Checks that the rule can compute a deadline for any well-formed record.
    pub fn validate(&self) -> Result<(), RetentionError> {
        fn bounded(p: &Period) -> Result<(), RetentionError> {
            if p.approx_days() > MAX_PERIOD_YEARS * 366 {
                Err(RetentionError::PeriodTooLong)
            } else {
                Ok(())
            }
        }
        match self {
            RetentionRule::AfterEvent { period, .. } => bounded(period),
            RetentionRule::UntilAge { age } => {
                if (1..=120).contains(age) {
                    Ok(())
                } else {
                    Err(RetentionError::ImpossibleAge(*age))
                }
            }
            RetentionRule::Extendable {
                period,
                extension,
                max_extensions,
                ..
            } => {
                if period.is_zero() {
                    return Err(RetentionError::EmptyPeriod);
                }
                if extension.is_zero() || *max_extensions > 10 {
                    return Err(RetentionError::BadExtension);
                }
                bounded(period)?;
                bounded(extension)
            }
            RetentionRule::UntilWithdrawal { grace } => grace.as_ref().map_or(Ok(()), bounded),
            RetentionRule::Permanent => Ok(()),
            RetentionRule::WhileNeeded {
                criterion,
                event,
                maximum,
            } => {
                if criterion.is_blank() {
                    return Err(RetentionError::NeedWithoutCriterion);
                }
                match (maximum, event) {
                    (Some(_), None) => Err(RetentionError::MaximumWithoutEvent),
                    (Some(p), Some(_)) => bounded(p),
                    _ => Ok(()),
                }
            }
            RetentionRule::ArchiveLaw {
                reference,
                event,
                period,
            } => {
                if reference.is_blank() {
                    return Err(RetentionError::ArchiveLawWithoutReference);
                }
                match (period, event) {
                    (Some(_), None) => Err(RetentionError::ArchiveLawWithoutEvent),
                    (Some(p), Some(_)) => bounded(p),
                    _ => Ok(()),
                }
            }
        }
    }

    /// The day a record with these facts must be destroyed.
    pub fn deadline(&self, facts: &RecordFacts) -> Result<Deadline, RetentionError> {
        self.validate()?;
        let after = |event: &RetentionEvent, period: &Period| match facts.events.get(event) {
            Some(date) => period.after(*date).map(Deadline::On),
            None => Ok(Deadline::AwaitingEvent(*event)),
        };
        match self {
            RetentionRule::AfterEvent { event, period } => after(event, period),
            RetentionRule::UntilAge { age } => {
                let born = facts.birth_date.ok_or(RetentionError::MissingBirthDate)?;
                Period::years(u16::from(*age)).after(born).map(Deadline::On)
            }
            RetentionRule::Extendable {
                event,
                period,
                extension,
                max_extensions,
            } => {
                if facts.extensions > *max_extensions {
                    return Err(RetentionError::TooManyExtensions {
                        given: facts.extensions,
                        max: *max_extensions,
                    });
                }
                match after(event, period)? {
                    Deadline::On(mut d) => {
                        for _ in 0..facts.extensions {
                            d = extension.after(d)?;
                        }
                        Ok(Deadline::On(d))
                    }
                    other => Ok(other),
                }
            }
            RetentionRule::UntilWithdrawal { grace } => match facts.withdrawn_on {
                Some(d) => grace.unwrap_or_default().after(d).map(Deadline::On),
                None => Ok(Deadline::UntilWithdrawal),
            },
            RetentionRule::Permanent => Ok(Deadline::Permanent),
            RetentionRule::WhileNeeded {
                event: Some(event),
                maximum: Some(maximum),
                ..
            } => after(event, maximum),
            RetentionRule::WhileNeeded { .. } => Ok(Deadline::NeedReview),
            RetentionRule::ArchiveLaw {
                event: Some(event),
                period: Some(period),
                ..
            } => after(event, period),
            RetentionRule::ArchiveLaw { .. } => Ok(Deadline::ArchiveReview),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    fn facts(event: RetentionEvent, on: Date) -> RecordFacts {
        let mut f = RecordFacts::default();
        f.events.insert(event, on);
        f
    }

    #[test]
    fn camera_images_go_thirty_days_after_recording() {
        let rule = RetentionRule::AfterEvent {
            event: RetentionEvent::Recording,
            period: Period::days(30),
        };
        let d = rule.deadline(&facts(RetentionEvent::Recording, date!(2026 - 01 - 15)));
        assert_eq!(d, Ok(Deadline::On(date!(2026 - 02 - 14))));
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(
            Period::months(1).after(date!(2025 - 01 - 31)),
            Ok(date!(2025 - 02 - 28))
        );
        assert_eq!(
            Period::months(1).after(date!(2024 - 01 - 31)),
            Ok(date!(2024 - 02 - 29))
        );
        assert_eq!(
            Period::years(1).after(date!(2024 - 02 - 29)),
            Ok(date!(2025 - 02 - 28))
        );
        assert_eq!(
            Period::months(1).after(date!(2026 - 03 - 05)),
            Ok(date!(2026 - 04 - 05))
        );
    }

    #[test]
    fn training_records_until_age_seventy() {
        let rule = RetentionRule::UntilAge { age: 70 };
        let f = RecordFacts {
            birth_date: Some(date!(1980 - 06 - 12)),
            ..Default::default()
        };
        assert_eq!(rule.deadline(&f), Ok(Deadline::On(date!(2050 - 06 - 12))));
        assert_eq!(
            rule.deadline(&RecordFacts::default()),
            Err(RetentionError::MissingBirthDate)
        );
    }

    #[test]
    fn reserve_of_applicants_extends_at_most_twice() {
        let rule = RetentionRule::Extendable {
            event: RetentionEvent::EndOfProcedure,
            period: Period::years(1),
            extension: Period::years(1),
            max_extensions: 2,
        };
        let mut f = facts(RetentionEvent::EndOfProcedure, date!(2026 - 03 - 01));
        assert_eq!(rule.deadline(&f), Ok(Deadline::On(date!(2027 - 03 - 01))));
        f.extensions = 2;
        assert_eq!(rule.deadline(&f), Ok(Deadline::On(date!(2029 - 03 - 01))));
        f.extensions = 3;
        assert_eq!(
            rule.deadline(&f),
            Err(RetentionError::TooManyExtensions { given: 3, max: 2 })
        );
    }

    #[test]
    fn rules_without_a_date_say_why() {
        let rule = RetentionRule::AfterEvent {
            event: RetentionEvent::EndOfProcedure,
            period: Period::weeks(4),
        };
        assert_eq!(
            rule.deadline(&RecordFacts::default()),
            Ok(Deadline::AwaitingEvent(RetentionEvent::EndOfProcedure))
        );
        let withdrawal = RetentionRule::UntilWithdrawal { grace: None };
        assert_eq!(
            withdrawal.deadline(&RecordFacts::default()),
            Ok(Deadline::UntilWithdrawal)
        );
        let f = RecordFacts {
            withdrawn_on: Some(date!(2026 - 05 - 01)),
            ..Default::default()
        };
        assert_eq!(
            withdrawal.deadline(&f),
            Ok(Deadline::On(date!(2026 - 05 - 01)))
        );
        assert_eq!(
            RetentionRule::Permanent.deadline(&f),
            Ok(Deadline::Permanent)
        );
        let archive = RetentionRule::ArchiveLaw {
            reference: Text::nl("Archiefdecreet 9 juli 2010"),
            event: None,
            period: None,
        };
        assert_eq!(archive.deadline(&f), Ok(Deadline::ArchiveReview));
        let needed = RetentionRule::WhileNeeded {
            criterion: Text::nl("zolang nodig voor het subsidiedossier"),
            event: None,
            maximum: None,
        };
        assert_eq!(needed.deadline(&f), Ok(Deadline::NeedReview));
        let capped = RetentionRule::WhileNeeded {
            criterion: Text::nl("zolang nodig voor de selectie"),
            event: Some(RetentionEvent::EndOfProcedure),
            maximum: Some(Period::years(1)),
        };
        let f = facts(RetentionEvent::EndOfProcedure, date!(2026 - 03 - 01));
        assert_eq!(capped.deadline(&f), Ok(Deadline::On(date!(2027 - 03 - 01))));
    }

    #[test]
    fn uncomputable_rules_are_refused() {
        assert_eq!(
            RetentionRule::UntilAge { age: 0 }.validate(),
            Err(RetentionError::ImpossibleAge(0))
        );
        let too_long = RetentionRule::AfterEvent {
            event: RetentionEvent::Collection,
            period: Period::years(500),
        };
        assert_eq!(too_long.validate(), Err(RetentionError::PeriodTooLong));
        let no_extension = RetentionRule::Extendable {
            event: RetentionEvent::EndOfProcedure,
            period: Period::years(1),
            extension: Period::default(),
            max_extensions: 2,
        };
        assert_eq!(no_extension.validate(), Err(RetentionError::BadExtension));
        let no_reference = RetentionRule::ArchiveLaw {
            reference: Text::default(),
            event: None,
            period: None,
        };
        assert_eq!(
            no_reference.validate(),
            Err(RetentionError::ArchiveLawWithoutReference)
        );
        let no_criterion = RetentionRule::WhileNeeded {
            criterion: Text::default(),
            event: None,
            maximum: None,
        };
        assert_eq!(
            no_criterion.validate(),
            Err(RetentionError::NeedWithoutCriterion)
        );
        let no_event = RetentionRule::WhileNeeded {
            criterion: Text::nl("zolang nodig"),
            event: None,
            maximum: Some(Period::years(1)),
        };
        assert_eq!(
            no_event.validate(),
            Err(RetentionError::MaximumWithoutEvent)
        );
    }

    #[test]
    fn periods_parse_and_print() {
        assert_eq!("30 days".parse(), Ok(Period::days(30)));
        assert_eq!(
            "1 year 6 months".parse::<Period>().map(|p| p.to_string()),
            Ok("1 year 6 months".into())
        );
        assert!("thirty days".parse::<Period>().is_err());
        assert!("30 fortnights".parse::<Period>().is_err());
        assert!("30".parse::<Period>().is_err());
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (1900i32..2200, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| {
            let month = Month::try_from(m).unwrap_or(Month::January);
            let day = d.min(time::util::days_in_month(month, y));
            Date::from_calendar_date(y, month, day).unwrap_or(Date::MIN)
        })
    }

    fn any_period() -> impl Strategy<Value = Period> {
        (0u16..100, 0u16..36, 0u16..60, 0u16..400).prop_map(|(years, months, weeks, days)| Period {
            years,
            months,
            weeks,
            days,
        })
    }

    proptest! {
        #[test]
        fn deadline_never_precedes_its_event(start in any_date(), p in any_period()) {
            let end = p.after(start).unwrap();
            prop_assert!(end >= start);
        }

        #[test]
        fn a_longer_period_never_ends_sooner(start in any_date(), p in any_period(), extra in 0u16..400) {
            let longer = Period { days: p.days + extra, ..p };
            prop_assert!(longer.after(start).unwrap() >= p.after(start).unwrap());
        }

        #[test]
        fn months_land_on_the_same_day_or_the_months_end(start in any_date(), months in 0i64..2400) {
            let end = add_months(start, months).unwrap();
            let expected_month = (i64::from(u8::from(start.month())) - 1 + months).rem_euclid(12) + 1;
            prop_assert_eq!(i64::from(u8::from(end.month())), expected_month);
            let last = time::util::days_in_month(end.month(), end.year());
            prop_assert_eq!(end.day(), start.day().min(last));
        }

        #[test]
        fn age_deadline_is_the_birthday(born in any_date(), age in 1u8..=120) {
            let facts = RecordFacts { birth_date: Some(born), ..Default::default() };
            let Deadline::On(d) = RetentionRule::UntilAge { age }.deadline(&facts).unwrap() else {
                return Err(TestCaseError::fail("until-age gave no date"));
            };
            prop_assert_eq!(d.year(), born.year() + i32::from(age));
            prop_assert_eq!(d.month(), born.month());
        }

        #[test]
        fn each_extension_moves_the_deadline_forward(start in any_date(), n in 1u8..=3) {
            let rule = RetentionRule::Extendable {
                event: RetentionEvent::EndOfProcedure,
                period: Period::years(1),
                extension: Period::years(1),
                max_extensions: 3,
            };
            let mut f = facts(RetentionEvent::EndOfProcedure, start);
            f.extensions = n - 1;
            let before = rule.deadline(&f).unwrap();
            f.extensions = n;
            let after = rule.deadline(&f).unwrap();
            let (Deadline::On(before), Deadline::On(after)) = (before, after) else {
                return Err(TestCaseError::fail("no date"));
            };
            prop_assert_eq!(after, Period::years(1).after(before).unwrap());
            prop_assert!(after > before);
        }

        #[test]
        fn period_text_round_trips(p in any_period()) {
            prop_assert_eq!(p.to_string().parse::<Period>(), Ok(p));
        }
    }
}

#[cfg(test)]
mod copy_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_anonymised_copy_keeps_no_exact_date_and_no_identifier() {
        let rule = Anonymisation {
            keep: [
                "zone",
                "seen_at",
                "birth_date",
                "diploma",
                "contact",
                "email",
                "events",
            ]
            .map(String::from)
            .to_vec(),
        };
        let fields = BTreeMap::from([
            ("zone".to_string(), json!("Markt")),
            ("seen_at".to_string(), json!("2026-09-01T22:14:05Z")),
            ("birth_date".to_string(), json!("1985-07-30")),
            ("diploma".to_string(), json!("Master")),
            ("contact".to_string(), json!("an.peeters@example.be")),
            ("email".to_string(), json!("Markt")),
            (
                "events".to_string(),
                json!([{"on": "2026-09-03", "what": "beroep"}, 85073003328_u64]),
            ),
            ("plate".to_string(), json!("1-ABC-123")),
        ]);
        let kept = rule.kept_fields(&fields);
        assert_eq!(
            kept,
            BTreeMap::from([
                ("zone".to_string(), json!("Markt")),
                ("seen_at".to_string(), json!("2026-09")),
                ("birth_date".to_string(), json!("1985")),
                ("diploma".to_string(), json!("Master")),
                (
                    "events".to_string(),
                    json!([{"on": "2026-09", "what": "beroep"}])
                ),
            ]),
            "dates to the month, a birth date to the year; an e-mail address and a national \
             number (by value) and a field named email (by name) dropped; fields not kept \
             never copied"
        );
        assert_eq!(
            COPY_DATES
                .date(time::macros::date!(2026 - 09 - 01))
                .as_deref(),
            Some("2026-09")
        );
    }
}
