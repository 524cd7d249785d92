//! Published privacy statements: numbered, dated snapshots of a controller's register.

use kluis_domain::register::Register;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};

use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::{Store, StoreError, new_id, timestamp};

/// How often a publish retries when a concurrent publish took the same number.
const PUBLISH_ATTEMPTS: usize = 5;

/// One published version of a controller's privacy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementVersion {
    pub controller: String,
    /// 1 for the first publication of the controller, then one more each time.
    pub version: i64,
    /// The day from which this version applies.
    pub effective_date: Date,
    pub published_at: OffsetDateTime,
    pub published_by: String,
}

type StatementRow = (String, i64, Date, OffsetDateTime, String);

fn statement_version(
    (controller, version, effective_date, published_at, published_by): StatementRow,
) -> StatementVersion {
    StatementVersion {
        controller,
        version,
        effective_date,
        published_at,
        published_by,
    }
}

impl Store {
    /// Publishes `snapshot` as the next version of `controller`'s statement.
    ///
    /// Numbers come from the database (previous + 1) under a unique constraint, so two
    /// publishes at the same moment never share a number: the loser retries.
    pub async fn publish_statement(
        &self,
        controller: &str,
        effective_date: Date,
        snapshot: &Register,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<StatementVersion, StoreError> {
        let now = timestamp(now);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let id = new_id(now)?;
            let inserted: Result<i64, sqlx::Error> = on_pool!(self, |pool| {
                sqlx::query_scalar(
                    "INSERT INTO statement_versions \
                     (id, controller_id, version, effective_date, snapshot, published_at, \
                      published_by) \
                     SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 \
                     FROM statement_versions WHERE controller_id = $2 \
                     RETURNING version",
                )
                .bind(id)
                .bind(controller)
                .bind(effective_date)
                .bind(Json(snapshot))
                .bind(now)
                .bind(actor)
                .fetch_one(pool)
                .await
            });
            match inserted {
                Ok(version) => {
                    return Ok(StatementVersion {
                        controller: controller.to_string(),
                        version,
                        effective_date,
                        published_at: now,
                        published_by: actor.to_string(),
                    });
                }
                Err(e) if is_unique_violation(&e) && attempt < PUBLISH_ATTEMPTS => continue,
                Err(e) if is_foreign_key_violation(&e) => {
                    return Err(StoreError::NotFound {
                        what: "controller",
                        id: controller.to_string(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The published versions of a controller's statement, oldest first.
    pub async fn statement_versions(
        &self,
        controller: &str,
    ) -> Result<Vec<StatementVersion>, StoreError> {
        let rows: Vec<StatementRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT controller_id, version, effective_date, published_at, published_by \
                 FROM statement_versions WHERE controller_id = $1 ORDER BY version",
            )
            .bind(controller)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(statement_version).collect())
    }

    /// One published version with the register it was generated from.
    pub async fn statement_version(
        &self,
        controller: &str,
        version: i64,
    ) -> Result<Option<(StatementVersion, Register)>, StoreError> {
        let row: Option<(String, i64, Date, OffsetDateTime, String, Json<Register>)> =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT controller_id, version, effective_date, published_at, \
                     published_by, snapshot \
                     FROM statement_versions WHERE controller_id = $1 AND version = $2",
                )
                .bind(controller)
                .bind(version)
                .fetch_optional(pool)
                .await?
            });
        Ok(row.map(|(c, v, d, at, by, Json(snapshot))| {
            (statement_version((c, v, d, at, by)), snapshot)
        }))
    }
}
