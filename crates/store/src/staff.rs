//! Need-to-know: which processing activities each staff member is assigned to, and the
//! confidentiality statements they signed.

use std::collections::BTreeSet;

use kluis_domain::access::Clearance;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::error::{on_foreign_key, on_unique};
use crate::{Store, StoreError, new_id, timestamp};

/// A signed confidentiality statement, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfidentialityStatement {
    pub id: Uuid,
    pub user_id: Uuid,
    pub signed_on: Date,
    /// Where the signed paper or file is kept, e.g. a document number in the archive.
    pub reference: String,
    pub recorded_at: OffsetDateTime,
    pub recorded_by: String,
}

impl Store {
    /// Assigns a staff member to a processing activity.
    pub async fn assign_activity(
        &self,
        user_id: Uuid,
        activity_id: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO staff_assignments (user_id, activity_id, assigned_at, assigned_by) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(activity_id)
            .bind(now)
            .bind(actor)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| {
            on_unique(
                e,
                StoreError::AlreadyExists {
                    what: "assignment",
                    id: format!("{user_id} to {activity_id}"),
                },
            )
        })
        .map_err(|e| match e {
            StoreError::Database(e) => on_foreign_key(
                e,
                StoreError::NotFound {
                    what: "staff member or processing activity",
                    id: format!("{user_id} / {activity_id}"),
                },
            ),
            other => other,
        })
    }

    /// Ends an assignment; says so when there was none.
    pub async fn unassign_activity(
        &self,
        user_id: Uuid,
        activity_id: &str,
    ) -> Result<(), StoreError> {
        let removed = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM staff_assignments WHERE user_id = $1 AND activity_id = $2")
                .bind(user_id)
                .bind(activity_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if removed == 0 {
            return Err(StoreError::NotFound {
                what: "assignment",
                id: format!("{user_id} to {activity_id}"),
            });
        }
        Ok(())
    }

    /// Records that a staff member signed a confidentiality statement on `signed_on`.
    pub async fn record_confidentiality_statement(
        &self,
        user_id: Uuid,
        signed_on: Date,
        reference: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<ConfidentialityStatement, StoreError> {
        let now = timestamp(now);
        if signed_on > now.date() {
            return Err(StoreError::Invalid(format!(
                "the signing date {signed_on} lies in the future: record the statement once it \
                 is signed"
            )));
        }
        let reference = reference.trim();
        if reference.is_empty() || reference.len() > 200 {
            return Err(StoreError::Invalid(
                "say where the signed statement is kept (a document number or file name, at \
                 most 200 characters)"
                    .into(),
            ));
        }
        let id = new_id(now)?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO confidentiality_statements \
                 (id, user_id, signed_on, reference, recorded_at, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(user_id)
            .bind(signed_on)
            .bind(reference)
            .bind(now)
            .bind(actor)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| {
            on_foreign_key(
                e,
                StoreError::NotFound {
                    what: "staff member",
                    id: user_id.to_string(),
                },
            )
        })?;
        Ok(ConfidentialityStatement {
            id,
            user_id,
            signed_on,
            reference: reference.to_string(),
            recorded_at: now,
            recorded_by: actor.to_string(),
        })
    }

    /// A staff member's statements, oldest first.
    pub async fn confidentiality_statements(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<ConfidentialityStatement>, StoreError> {
        let rows: Vec<(Uuid, Date, String, OffsetDateTime, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, signed_on, reference, recorded_at, recorded_by \
                 FROM confidentiality_statements WHERE user_id = $1 ORDER BY signed_on, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, signed_on, reference, recorded_at, recorded_by)| ConfidentialityStatement {
                    id,
                    user_id,
                    signed_on,
                    reference,
                    recorded_at,
                    recorded_by,
                },
            )
            .collect())
    }

    /// What need-to-know decides on for this staff member: roles, assignments and the
    /// latest confidentiality statement. A disabled or unknown account has no clearance.
    pub async fn clearance(&self, user_id: Uuid) -> Result<Clearance, StoreError> {
        let user: Option<(Json<Vec<kluis_domain::access::Role>>, bool)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT roles, disabled FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        let Some((Json(roles), false)) = user else {
            return Ok(Clearance::default());
        };
        let activities: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT activity_id FROM staff_assignments WHERE user_id = $1 ORDER BY activity_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        let signed: Option<Date> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT MAX(signed_on) FROM confidentiality_statements WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?
        });
        Ok(Clearance {
            roles,
            activities: activities.into_iter().collect::<BTreeSet<_>>(),
            confidentiality_signed_on: signed,
        })
    }
}
