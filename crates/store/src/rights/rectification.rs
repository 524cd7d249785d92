//! Rectification in a connected system (GDPR art. 16), as the request records it: a step
//! `rectified_in_system` on the timeline (system, table, column and rows changed, never the
//! value) and, when rows changed, an Update entry in the processing log per activity the
//! rectification was granted for, both in one transaction.
//!
//! The old values are not kept: the connector changes the rows in the system without
//! reading them back, so only the vault's own rectifications keep old and new values sealed.

use kluis_domain::category::DataCategory;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::LogAction;
use kluis_domain::rights::Stage;
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::load_activity;
use crate::{Store, StoreError, timestamp};

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
}

impl SystemRectification {
    /// The timeline's note: where and how much, never the value.
    pub fn note(&self) -> String {
        format!(
            "system {}: {}.{}, {} of {} row(s) changed",
            self.system, self.table, self.column, self.changed, self.rows
        )
    }
}

impl Store {
    /// Records a rectification done in a connected system for request `request_id`: the
    /// timeline step `rectified_in_system` and, when rows changed, one Update log entry
    /// per activity (the case is the request's reference, the system the one changed, the
    /// legal ground names the field), in one transaction. `subject`: the person as the log
    /// records them. Errors: `NotFound` (request or activity), `Invalid` (no activity).
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
        write_transaction!(self, |tx| {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT stage, reference FROM rights_requests WHERE id = $1")
                    .bind(request_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((stage, reference)) = row else {
                return Err(StoreError::NotFound {
                    what: "rights request",
                    id: request_id.to_string(),
                });
            };
            let stage: Stage = super::parse("request stage", &stage)?;
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
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }
}
