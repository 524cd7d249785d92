//! Rectification in a connected system (GDPR art. 16), as the request records it, all in
//! one transaction:
//! - a step `rectified_in_system` on the timeline (system, table, column and rows changed,
//!   never the value);
//! - when rows changed, an Update entry in the processing log per activity the
//!   rectification was granted for, and the old and new values in `system_rectifications`,
//!   sealed with the store's keys as the vault's own rectifications are (the connector reads
//!   each changed row's old value in the transaction that changes it); read back with
//!   [`Store::rectifications_in_systems`], the vault's [`Store::rectifications`] beside it;
//! - the request's rectification action for the system marked done, for each activity it
//!   was granted whole for (a partly granted one stays for staff to confirm). Further
//!   columns can still be rectified after that: each is recorded the same way.
//!
//! The sealed values go with the person's data (see `record_system_erasure`) or with the
//! request, as migration 0021 says.

use std::collections::BTreeMap;

use kluis_domain::category::DataCategory;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::LogAction;
use kluis_domain::rights::{Decision, Outcome, Right, Stage};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::fulfilment::complete_action;
use crate::log::{ActivityRef, Processing, append_log};
use crate::restriction::normalise_reference;
use crate::vault::load_activity;
use crate::{Store, StoreError, new_id, timestamp};

/// The value one row of a system held before a rectification changed it: per row, by
/// primary key, so each row can be given back its own value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowValue {
    /// The row's primary key, column by column, as text.
    pub key: BTreeMap<String, String>,
    /// The value, as text; `None` for NULL (not the empty text).
    pub value: Option<String>,
}

/// What is sealed: the value given and the old value of each row it changed.
#[derive(Serialize, Deserialize)]
struct SealedValues {
    new: String,
    old: Vec<RowValue>,
}

/// A rectification in a connected system as kept for its request: old and new values,
/// unsealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RectificationInSystem {
    pub id: Uuid,
    pub request_reference: String,
    pub system: String,
    pub table: String,
    pub column: String,
    pub new_value: String,
    /// Each changed row's value before, by primary key.
    pub old_values: Vec<RowValue>,
    #[serde(with = "time::serde::rfc3339")]
    pub rectified_at: OffsetDateTime,
    pub rectified_by: String,
}

/// The associated data binding a system rectification's sealed values to its row.
fn sealed_aad(id: Uuid) -> Vec<u8> {
    format!("system_rectifications/sealed/{id}").into_bytes()
}

/// What a rectification changed in one system, to record with its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRectification {
    /// The system's name, as in its dataset map.
    pub system: String,
    pub table: String,
    pub column: String,
    /// The category of the column, as the map lists it.
    pub category: DataCategory,
    /// The activities the rectification was granted for that the system serves.
    pub activities: Vec<String>,
    /// The person's rows in the table.
    pub rows: u64,
    /// The rows given the new value.
    pub changed: u64,
    /// The value given.
    pub new_value: String,
    /// The value each changed row held before (one per changed row).
    pub old_values: Vec<RowValue>,
}

impl SystemRectification {
    /// The timeline's note: where and how much, never the value.
    pub fn note(&self) -> String {
        format!(
            "system {}: {}.{}, {} of {} row(s) changed",
            self.system, self.table, self.column, self.changed, self.rows
        )
    }

    /// The report of the system's rectification action: where and how much.
    fn action_report(&self, actor: &str) -> serde_json::Value {
        serde_json::json!({
            "rectified": [{
                "table": self.table,
                "column": self.column,
                "rows": self.rows,
                "changed": self.changed,
            }],
            "by": actor,
        })
    }
}

/// The activities of `granted` for which `decisions` grant rectification whole: their
/// actions are done once a rectification is made; a partly granted one needs staff to
/// say the part is done.
fn granted_whole<'a>(decisions: &[Decision], granted: &'a [String]) -> Vec<&'a str> {
    granted
        .iter()
        .filter(|a| {
            decisions.iter().any(|d| {
                d.right == Right::Rectification
                    && &d.activity == *a
                    && d.outcome == Outcome::Granted
            })
        })
        .map(String::as_str)
        .collect()
}

impl Store {
    /// Records a rectification done in a connected system for request `request_id`, in one
    /// transaction: the timeline step `rectified_in_system`; when rows changed, one Update
    /// log entry per activity (the case is the request's reference, the system the one
    /// changed, the legal ground names the field) and the old and new values, sealed; and
    /// the rectification actions of the system for the activities granted whole marked
    /// done (when planned and not done yet). `subject`: the person as the log records them.
    /// Errors: `NotFound` (request or activity), `Invalid` (no activity).
    pub async fn record_system_rectification(
        &self,
        processing: &Processing,
        request_id: Uuid,
        subject: &SubjectIdentity,
        done: &SystemRectification,
    ) -> Result<(), StoreError> {
        if done.activities.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the rectification in {} is for no activity: nothing to record it under",
                done.system
            )));
        }
        let log_subject = if done.changed > 0 {
            Some(self.log_subject(subject)?)
        } else {
            None
        };
        let note = done.note();
        let now = timestamp(processing.now);
        let actor = processing.actor.name.as_str();
        let id = new_id(now)?;
        let sealed = if done.old_values.is_empty() {
            None
        } else {
            let plain = serde_json::to_vec(&SealedValues {
                new: done.new_value.clone(),
                old: done.old_values.clone(),
            })
            .map_err(|e| StoreError::Corrupt(format!("rectification: {e}")))?;
            let sealed = self
                .keys()?
                .encrypt(&sealed_aad(id), &plain)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            Some(sealed)
        };
        let report = serde_json::to_string(&done.action_report(actor))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        write_transaction!(self, |tx| {
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT stage, reference, decisions FROM rights_requests WHERE id = $1",
            )
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((stage, reference, decisions)) = row else {
                return Err(StoreError::NotFound {
                    what: "rights request",
                    id: request_id.to_string(),
                });
            };
            let stage: Stage = super::parse("request stage", &stage)?;
            let decisions: Vec<Decision> = super::from_json("decisions", &decisions)?;
            add_step!(
                tx,
                request_id,
                now,
                "rectified_in_system",
                stage,
                actor,
                Some(note.as_str())
            );
            if let Some(log_subject) = log_subject {
                let mut entries = Vec::new();
                for id in &done.activities {
                    let (a, version) = load_activity!(tx, id.as_str());
                    let mut entry = ActivityRef::from_activity(&a, version).entry(
                        LogAction::Update,
                        log_subject.clone(),
                        vec![done.category.name().to_string()],
                        Some(reference.clone()),
                    );
                    entry.system = done.system.clone();
                    // As the vault's rectification: the log has no column for the field.
                    entry.legal_ground = Some(format!(
                        "GDPR art. 16 rectification, request {reference}: {}.{}",
                        done.table, done.column
                    ));
                    entries.push(entry);
                }
                append_log!(tx, processing, entries);
            }
            if let Some(sealed) = &sealed {
                sqlx::query(
                    "INSERT INTO system_rectifications (id, request_id, request_reference, \
                     system, table_name, column_name, sealed, rectified_at, rectified_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id)
                .bind(request_id)
                .bind(&reference)
                .bind(&done.system)
                .bind(&done.table)
                .bind(&done.column)
                .bind(sealed)
                .bind(now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            }
            // Done after the first column; a further one is recorded all the same.
            for activity in granted_whole(&decisions, &done.activities) {
                complete_action!(
                    tx,
                    request_id,
                    Right::Rectification,
                    activity,
                    done.system.as_str(),
                    report.clone(),
                    now
                );
            }
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// The rectifications done in connected systems at a request, with their old and new
    /// values unsealed, in the order they were done: as [`Store::rectifications`] gives
    /// the vault's, for the closing letter, for telling recipients (art. 19) and for undoing
    /// a wrong change.
    pub async fn rectifications_in_systems(
        &self,
        request_reference: &str,
    ) -> Result<Vec<RectificationInSystem>, StoreError> {
        let keys = self.keys()?;
        let reference = normalise_reference(request_reference)?;
        type Row = (
            Uuid,
            String,
            String,
            String,
            String,
            Vec<u8>,
            OffsetDateTime,
            String,
        );
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, request_reference, system, table_name, column_name, sealed, \
                 rectified_at, rectified_by FROM system_rectifications \
                 WHERE request_reference = $1 ORDER BY rectified_at, id",
            )
            .bind(&reference)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(id, request_reference, system, table, column, sealed, at, by)| {
                    let plain = keys.decrypt(&sealed_aad(id), &sealed).map_err(|e| {
                        StoreError::Corrupt(format!(
                            "rectification {id} in {system} does not decrypt: {e}; check that \
                         the configured keys include the key it was sealed with"
                        ))
                    })?;
                    let values: SealedValues = serde_json::from_slice(&plain)
                        .map_err(|e| StoreError::Corrupt(format!("rectification {id}: {e}")))?;
                    Ok(RectificationInSystem {
                        id,
                        request_reference,
                        system,
                        table,
                        column,
                        new_value: values.new,
                        old_values: values.old,
                        rectified_at: at,
                        rectified_by: by,
                    })
                },
            )
            .collect()
    }
}
