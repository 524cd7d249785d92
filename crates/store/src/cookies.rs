//! Proof of the cookie choices visitors make in the banner on the authority's websites.
//!
//! A choice is kept with the banner version it was made on, so the proof says what the
//! visitor was shown. Nothing identifies the visitor: the id is random, made by the banner
//! script, and neither the IP address nor the user agent is stored.

use std::collections::BTreeSet;

use kluis_domain::cookie_consent::{ChoiceSource, CookieChoice, VisitorId};
use kluis_domain::register::CookieType;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Store, StoreError, new_id, timestamp};

/// A choice as kept for proof.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCookieChoice {
    pub id: Uuid,
    pub controller: String,
    pub visitor: VisitorId,
    pub chosen_at: OffsetDateTime,
    pub banner_version: String,
    pub choice: CookieChoice,
}

/// How many visitors made the same choice on one banner version, in one way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieChoiceCount {
    pub controller: String,
    pub banner_version: String,
    pub source: ChoiceSource,
    pub accepted: BTreeSet<CookieType>,
    pub refused: BTreeSet<CookieType>,
    pub count: i64,
    pub first_at: OffsetDateTime,
    pub last_at: OffsetDateTime,
}

type ChoiceRow = (
    Uuid,
    String,
    String,
    OffsetDateTime,
    String,
    String,
    String,
    String,
);

impl Store {
    /// Keeps the proof of a choice made on banner `banner_version` of `controller`'s websites.
    pub async fn record_cookie_choice(
        &self,
        controller: &str,
        visitor: &VisitorId,
        banner_version: &str,
        choice: &CookieChoice,
        now: OffsetDateTime,
    ) -> Result<StoredCookieChoice, StoreError> {
        let now = timestamp(now);
        let id = new_id(now)?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO cookie_choices \
                 (id, controller_id, visitor, chosen_at, banner_version, accepted, refused, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(controller)
            .bind(visitor.as_str())
            .bind(now)
            .bind(banner_version)
            .bind(join(&choice.accepted))
            .bind(join(&choice.refused))
            .bind(choice.source.name())
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(StoredCookieChoice {
            id,
            controller: controller.to_string(),
            visitor: visitor.clone(),
            chosen_at: now,
            banner_version: banner_version.to_string(),
            choice: choice.clone(),
        })
    }

    /// The latest choice made in the browser known by `visitor` on `controller`'s websites.
    pub async fn latest_cookie_choice(
        &self,
        controller: &str,
        visitor: &VisitorId,
    ) -> Result<Option<StoredCookieChoice>, StoreError> {
        let row: Option<ChoiceRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, controller_id, visitor, chosen_at, banner_version, accepted, refused, \
                 source FROM cookie_choices WHERE controller_id = $1 AND visitor = $2 \
                 ORDER BY chosen_at DESC, seq DESC LIMIT 1",
            )
            .bind(controller)
            .bind(visitor.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(stored).transpose()
    }

    /// The choices counted per controller, banner version, source and choice: what the DPO
    /// shows as proof that the banner asked and what visitors answered. `controller` narrows
    /// it to one controller.
    pub async fn cookie_choice_counts(
        &self,
        controller: Option<&str>,
    ) -> Result<Vec<CookieChoiceCount>, StoreError> {
        type CountRow = (
            String,
            String,
            String,
            String,
            String,
            i64,
            OffsetDateTime,
            OffsetDateTime,
        );
        let rows: Vec<CountRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT controller_id, banner_version, source, accepted, refused, COUNT(*), \
                 MIN(chosen_at), MAX(chosen_at) FROM cookie_choices \
                 WHERE $1 IS NULL OR controller_id = $1 \
                 GROUP BY controller_id, banner_version, source, accepted, refused \
                 ORDER BY controller_id, MIN(chosen_at), source, accepted",
            )
            .bind(controller)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(controller, banner_version, source, accepted, refused, count, first, last)| {
                    Ok(CookieChoiceCount {
                        controller,
                        banner_version,
                        source: parse_source(&source)?,
                        accepted: split(&accepted)?,
                        refused: split(&refused)?,
                        count,
                        first_at: first,
                        last_at: last,
                    })
                },
            )
            .collect()
    }
}

fn stored(row: ChoiceRow) -> Result<StoredCookieChoice, StoreError> {
    let (id, controller, visitor, chosen_at, banner_version, accepted, refused, source) = row;
    Ok(StoredCookieChoice {
        id,
        controller,
        visitor: visitor.parse().map_err(|_| {
            StoreError::Corrupt(format!("cookie choice {id}: visitor id '{visitor}'"))
        })?,
        chosen_at,
        banner_version,
        choice: CookieChoice {
            accepted: split(&accepted)?,
            refused: split(&refused)?,
            source: parse_source(&source)?,
        },
    })
}

fn join(types: &BTreeSet<CookieType>) -> String {
    types.iter().map(|t| t.name()).collect::<Vec<_>>().join(",")
}

fn split(types: &str) -> Result<BTreeSet<CookieType>, StoreError> {
    types
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|e| StoreError::Corrupt(format!("cookie choice: {e}")))
        })
        .collect()
}

fn parse_source(source: &str) -> Result<ChoiceSource, StoreError> {
    source
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("cookie choice: {e}")))
}
