//! Statistics and research extracts from the vault: the records of one processing
//! activity read in batches, pseudonymised with the project's key, generalised and checked
//! for k-anonymity (see `kluis_domain::statistics`), and every extract logged.
//!
//! What is logged, and why not one line per person: every extract, released or refused,
//! gets a row in `statistics_extracts` (who, when, activity, project, purpose, settings,
//! report). A released extract also gets ONE processing-log entry (action `export`, the
//! project as recipient), in the same transaction. The Logboek Dataverwerkingen logs one
//! line per data subject for processing that concerns an identified person; an extract
//! concerns no one in particular: the staff member sees no identity, only kluis reads the
//! vault, and what leaves holds pseudonyms that only kluis can link. A million identical
//! lines per extract would swamp the log (and its verification) without telling a citizen
//! more than the one entry does: that their activity's records, of the categories the
//! settings name, went into a pseudonymised extract for that project on that day.

use std::collections::BTreeMap;

use kluis_domain::access::{Clearance, Refusal};
use kluis_domain::category::DataCategory;
use kluis_domain::processing_log::LogAction;
use kluis_domain::statistics::{
    self, Extract, ExtractSpec, Extractor, Plan, Release, ReleaseReport, SourceRow,
};
use serde_json::Value;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::{Store, StoreError, new_id, timestamp};

/// Records read per query: memory stays flat whatever the activity's size.
const BATCH: i64 = 5_000;

/// An extract made from the vault: its log id, the rows and the release check.
#[derive(Debug)]
pub struct StatisticsExtract {
    pub id: Uuid,
    pub extract: Extract,
    pub release: Release,
}

/// An extract as logged in `statistics_extracts`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedExtract {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub activity: String,
    pub activity_version: i64,
    pub project: String,
    pub purpose: String,
    pub case_ref: Option<String>,
    /// The specification the extract was made with.
    pub settings: ExtractSpec,
    pub report: ReleaseReport,
    /// The processing-log entry of a released extract.
    pub log_seq: Option<i64>,
}

type RecordRow = (
    Uuid,
    Uuid,
    String,
    Date,
    Option<String>,
    Json<BTreeMap<String, Value>>,
    Option<Date>,
);

type LoggedRow = (
    Uuid,
    OffsetDateTime,
    Option<String>,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Json<ExtractSpec>,
    Json<ReleaseReport>,
    Option<i64>,
);

/// The need-to-know refusal as a store error.
fn refused(refusal: Refusal, activity: &str) -> StoreError {
    match refusal {
        Refusal::NotAssigned(_) => StoreError::OutOfScope {
            activities: vec![activity.to_string()],
        },
        other => StoreError::Invalid(other.to_string()),
    }
}

impl Store {
    /// Makes the extract `plan` asks for, for a staff member with `clearance`, and logs it.
    ///
    /// Need-to-know first: the staff member must be cleared for the activity. Then the
    /// activity's records of the plan's categories are read in batches in one consistent
    /// snapshot, and pseudonymised and checked off the async runtime. The result is logged
    /// whether released or refused; only a released extract gets a processing-log entry.
    /// The caller writes the rows only when `release.report.released`.
    pub async fn statistics_extract(
        &self,
        processing: &Processing,
        clearance: &Clearance,
        plan: &Plan,
    ) -> Result<StatisticsExtract, StoreError> {
        let activity_id = plan.spec.activity.trim();
        clearance
            .check(activity_id)
            .map_err(|r| refused(r, activity_id))?;
        let keys = self.keys.clone().ok_or(StoreError::NoKeys)?;
        let activity = self
            .activity(activity_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "processing activity",
                id: activity_id.to_string(),
            })?;
        let categories = plan
            .categories(&activity.value.data_categories)
            .map_err(StoreError::Invalid)?;
        let pseudonyms = keys.project_pseudonyms(plan.spec.project.trim());
        let mut extractor = Extractor::new(
            plan,
            &categories,
            std::sync::Arc::new(move |s: &str| pseudonyms.pseudonym(s)),
        );
        self.read_records(activity_id, &categories, &mut extractor)
            .await?;
        let checked_plan = plan.clone();
        // Waiting for the last pseudonyms and grouping a million rows take a while: off the
        // async runtime.
        let (extract, release) = tokio::task::spawn_blocking(move || {
            let extract = extractor.finish();
            let release = statistics::check(&extract, &checked_plan);
            (extract, release)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the extract stopped: {e}")))?;
        let id = self
            .log_extract(
                processing,
                plan,
                &activity.value,
                activity.version,
                &categories,
                &release.report,
            )
            .await?;
        Ok(StatisticsExtract {
            id,
            extract,
            release,
        })
    }

    /// Feeds every record of the activity in `categories` to the extractor, in record-id
    /// order, within one read transaction so the batches see one state of the vault.
    /// Records of people who restricted processing (art. 18: only storage) or objected to
    /// it (art. 21, no compelling grounds recorded) under the activity are left out: a
    /// statistics extract is processing beyond storage.
    async fn read_records(
        &self,
        activity_id: &str,
        categories: &[DataCategory],
        extractor: &mut Extractor,
    ) -> Result<(), StoreError> {
        // Category names are fixed vocabulary terms (snake_case letters), safe to inline.
        let list = categories
            .iter()
            .map(|c| format!("'{}'", c.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT r.id, r.subject_id, r.category, r.collected_on, r.source, r.fields, \
             s.birth_date FROM records r JOIN data_subjects s ON s.id = r.subject_id \
             WHERE r.activity_id = $1 AND r.id > $2 AND r.category IN ({list}) \
             ORDER BY r.id LIMIT $3"
        );
        read_transaction!(self, |tx| {
            // Few people per activity: one set, rather than a subquery per record.
            let stopped: std::collections::HashSet<Uuid> = sqlx::query_scalar(
                "SELECT subject_id FROM restrictions \
                 WHERE activity_id = $1 AND lifted_at IS NULL \
                 UNION SELECT subject_id FROM objections \
                 WHERE activity_id = $1 AND compelling_grounds IS NULL",
            )
            .bind(activity_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let mut after = Uuid::nil();
            loop {
                let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(activity_id)
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                let Some(last) = rows.last().map(|r| r.0) else {
                    break;
                };
                extractor.reserve(rows.len());
                for (id, subject, category, collected_on, source, Json(fields), birth_date) in &rows
                {
                    if stopped.contains(subject) {
                        continue;
                    }
                    let category: DataCategory = category.parse().map_err(|_| {
                        StoreError::Corrupt(format!("record {id}: unknown category"))
                    })?;
                    let mut buffer = Uuid::encode_buffer();
                    let subject = subject.hyphenated().encode_lower(&mut buffer);
                    extractor.push(&SourceRow {
                        subject,
                        birth_date: *birth_date,
                        category,
                        collected_on: *collected_on,
                        source: source.as_deref(),
                        fields,
                    });
                }
                after = last;
            }
        });
        Ok(())
    }

    /// Writes the extract's log row and, for a released extract, its processing-log entry,
    /// in one transaction.
    async fn log_extract(
        &self,
        processing: &Processing,
        plan: &Plan,
        activity: &kluis_domain::register::ProcessingActivity,
        version: i64,
        categories: &[DataCategory],
        report: &ReleaseReport,
    ) -> Result<Uuid, StoreError> {
        let now = timestamp(processing.now);
        let id = new_id(now)?;
        let spec = &plan.spec;
        write_transaction!(self, |tx| {
            let head = if report.released {
                let mut entry = ActivityRef::from_activity(activity, version).entry(
                    LogAction::Export,
                    (format!("statistics:{id}"), "statistics_extract".to_string()),
                    categories.iter().map(|c| c.name().to_string()).collect(),
                    processing.case_ref.clone(),
                );
                entry.recipient = Some(format!("statistics project {}", spec.project.trim()));
                entry.legal_ground = Some(spec.purpose.trim().to_string());
                append_log!(tx, processing, vec![entry])
            } else {
                None
            };
            sqlx::query(
                "INSERT INTO statistics_extracts (id, created_at, actor_id, actor_name, \
                 activity_id, activity_version, project, purpose, case_ref, settings, released, \
                 k_achieved, l_achieved, rows_in, rows_suppressed, report, log_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17)",
            )
            .bind(id)
            .bind(now)
            .bind(processing.actor.id.clone())
            .bind(processing.actor.name.clone())
            .bind(&activity.id)
            .bind(version)
            .bind(spec.project.trim())
            .bind(spec.purpose.trim())
            .bind(processing.case_ref.clone())
            .bind(Json(spec))
            .bind(report.released)
            .bind(i64::from(report.k_achieved))
            .bind(report.l_achieved.map(i64::from))
            .bind(i64::try_from(report.rows_in).unwrap_or(i64::MAX))
            .bind(i64::try_from(report.rows_suppressed).unwrap_or(i64::MAX))
            .bind(Json(report))
            .bind(head.map(|h| h.seq))
            .execute(&mut *tx)
            .await?;
        });
        Ok(id)
    }

    /// The extracts made from an activity, newest first.
    pub async fn statistics_extracts(
        &self,
        activity_id: &str,
    ) -> Result<Vec<LoggedExtract>, StoreError> {
        let rows: Vec<LoggedRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, created_at, actor_id, actor_name, activity_id, activity_version, \
                 project, purpose, case_ref, settings, report, log_seq FROM statistics_extracts \
                 WHERE activity_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(activity_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    created_at,
                    actor_id,
                    actor_name,
                    activity,
                    activity_version,
                    project,
                    purpose,
                    case_ref,
                    Json(settings),
                    Json(report),
                    log_seq,
                )| LoggedExtract {
                    id,
                    created_at,
                    actor_id,
                    actor_name,
                    activity,
                    activity_version,
                    project,
                    purpose,
                    case_ref,
                    settings,
                    report,
                    log_seq,
                },
            )
            .collect())
    }
}
