//! The portability export sent straight to another controller (GDPR art. 20(2)): each try
//! goes on the request's timeline; one that was delivered is also logged as a disclosure to
//! the receiving controller, in the same transaction.

use kluis_domain::processing_log::NewLogEntry;
use kluis_domain::rights::Stage;
use uuid::Uuid;

use crate::log::{Processing, append_log};
use crate::{Store, StoreError, timestamp};

/// One try at sending a request's portability export to another controller's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    /// The endpoint's host (and port, when not 443): never its path or query.
    pub host: String,
    /// The receiving controller, as staff named it.
    pub recipient: String,
    /// `json` or `csv`.
    pub format: String,
    pub bytes: u64,
    /// SHA-256 of what was sent, in hex: what the recipient received can be checked later.
    pub sha256: String,
    pub outcome: TransmissionOutcome,
}

/// What became of a transmission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransmissionOutcome {
    /// The endpoint answered with this 2xx status.
    Delivered { status: u16 },
    /// The endpoint answered otherwise, or could not be reached: why.
    Failed { reason: String },
}

impl Transmission {
    /// The timeline's note: where it went, what and how much, and what became of it.
    pub fn note(&self) -> String {
        let what = format!(
            "to {} at {}: {}, {} bytes, SHA-256 {}",
            self.recipient, self.host, self.format, self.bytes, self.sha256
        );
        match &self.outcome {
            TransmissionOutcome::Delivered { status } => format!("{what}, HTTP {status}"),
            TransmissionOutcome::Failed { reason } => format!("{what}, not delivered: {reason}"),
        }
    }
}

impl Store {
    /// Records a transmission of request `request_id`'s portability export on its timeline
    /// (`portability_transmitted`, or `portability_transmission_failed` with the reason).
    /// A delivered one also appends `disclosures` (the log entries of the data that left,
    /// to the recipient) and marks the planned portability actions of the fulfilment done,
    /// in the same transaction; a failed one logs nothing.
    pub async fn record_transmission(
        &self,
        processing: &Processing,
        request_id: Uuid,
        transmission: &Transmission,
        disclosures: Vec<NewLogEntry>,
    ) -> Result<(), StoreError> {
        let (step, disclosures) = match transmission.outcome {
            TransmissionOutcome::Delivered { .. } => ("portability_transmitted", disclosures),
            TransmissionOutcome::Failed { .. } => ("portability_transmission_failed", Vec::new()),
        };
        let note = transmission.note();
        let now = timestamp(processing.now);
        let actor = processing.actor.name.as_str();
        write_transaction!(self, |tx| {
            let stage: Option<String> =
                sqlx::query_scalar("SELECT stage FROM rights_requests WHERE id = $1")
                    .bind(request_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(stage) = stage else {
                return Err(StoreError::NotFound {
                    what: "rights request",
                    id: request_id.to_string(),
                });
            };
            let stage: Stage = super::parse("request stage", &stage)?;
            add_step!(tx, request_id, now, step, stage, actor, Some(note.as_str()));
            if matches!(transmission.outcome, TransmissionOutcome::Delivered { .. }) {
                // Delivered: the portability part of the fulfilment is done.
                let report = serde_json::json!({ "transmitted": note }).to_string();
                sqlx::query(
                    "UPDATE rights_request_actions SET status = 'done', report = $2, \
                     error = NULL, finished_at = $3 WHERE request_id = $1 \
                     AND right_name = 'portability' AND target = 'package' \
                     AND status <> 'done'",
                )
                .bind(request_id)
                .bind(report)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            append_log!(tx, processing, disclosures);
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }
}
