//! Who handles a request, and the daily reminder to that caseworker of the requests that
//! are overdue or due soon (GDPR art. 12(3): one month to answer).

use std::collections::BTreeMap;

use kluis_domain::access::{Permission, Role};
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::rights::{self, ReminderItem, Stage};
use kluis_domain::text::Lang;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{RequestRow, RightsRequest, SummaryRow, summary_from_row};
use crate::error::stale;
use crate::mail::enqueue_mail;
use crate::{Store, StoreError, timestamp};

/// The job lease that makes the reminder go out once a day across instances.
const REMINDER_JOB: &str = "rights_reminders";

/// What the daily reminder did for one caseworker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub username: String,
    /// Requests in the mail: overdue or due within [`rights::DUE_SOON_DAYS`] days.
    pub requests: usize,
    pub overdue: usize,
}

/// The result of asking for the daily reminders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderRun {
    /// Mails queued, one per caseworker with something due; none when nothing is due.
    Sent(Vec<Reminder>),
    /// Today's reminders went out already, or another instance is sending them.
    NotDue,
}

impl Store {
    /// Sets where a staff member gets the mails kluis sends them (the daily reminder), and
    /// in which language. `None` stops those mails.
    pub async fn set_staff_mail(
        &self,
        username: &str,
        email: Option<&EmailAddress>,
        language: Lang,
    ) -> Result<(), StoreError> {
        let updated = on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET email = $2, mail_language = $3 WHERE username = $1")
                .bind(username)
                .bind(email.map(EmailAddress::as_str))
                .bind(language.code())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "user",
                id: username.to_string(),
            });
        }
        Ok(())
    }

    /// Assigns the request at `expected_version` to the staff member `assignee`, who must
    /// be allowed to handle rights requests; a step on the timeline says so. A closed
    /// request keeps its caseworker.
    pub async fn assign_request(
        &self,
        id: Uuid,
        expected_version: i64,
        assignee: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RightsRequest, StoreError> {
        let now = timestamp(now);
        write_transaction!(self, |tx| {
            let row: Option<RequestRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM rights_requests WHERE id = $1",
                super::REQUEST_COLUMNS
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(stale(
                    "rights request",
                    &id.to_string(),
                    expected_version,
                    None,
                ));
            };
            let request = self.request_from_row(row)?;
            if request.version != expected_version {
                return Err(stale(
                    "rights request",
                    &id.to_string(),
                    expected_version,
                    Some(request.version),
                ));
            }
            if request.stage == Stage::Closed {
                return Err(StoreError::Invalid(
                    "a closed request does not change".into(),
                ));
            }
            let user: Option<(Uuid, Json<Vec<Role>>, bool)> =
                sqlx::query_as("SELECT id, roles, disabled FROM users WHERE username = $1")
                    .bind(assignee)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((user_id, Json(roles), disabled)) = user else {
                return Err(StoreError::NotFound {
                    what: "user",
                    id: assignee.to_string(),
                });
            };
            if disabled || !Permission::HandleRightsRequests.granted_to(&roles) {
                return Err(StoreError::Invalid(format!(
                    "{assignee} may not handle rights requests: assign a caseworker or the DPO"
                )));
            }
            sqlx::query(
                "UPDATE rights_requests SET assigned_to = $2, version = version + 1, \
                 updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            add_step!(
                tx,
                id,
                now,
                "assigned",
                request.stage,
                actor,
                Some(assignee)
            );
            Ok::<(), StoreError>(())
        })?;
        self.rights_request(id).await
    }

    /// Queues today's reminder for every caseworker with an e-mail address who has open
    /// requests overdue or due within a week, once a day across instances (the job lease).
    /// `holder` names this instance; `requests_url` is the back-office list the mail
    /// links to.
    pub async fn send_daily_rights_reminders(
        &self,
        holder: &str,
        requests_url: &str,
        now: OffsetDateTime,
    ) -> Result<ReminderRun, StoreError> {
        let today = now.date();
        let lease = time::Duration::minutes(10);
        if !self
            .take_job_lease(REMINDER_JOB, holder, now, lease, Some(today))
            .await?
        {
            return Ok(ReminderRun::NotDue);
        }
        let sent = self.queue_rights_reminders(requests_url, now).await;
        let ran_on = sent.as_ref().ok().map(|_| today);
        self.release_job_lease(REMINDER_JOB, holder, now, ran_on)
            .await?;
        sent.map(ReminderRun::Sent)
    }

    /// Queues the reminders, in one transaction so no caseworker gets two.
    async fn queue_rights_reminders(
        &self,
        requests_url: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Reminder>, StoreError> {
        let today = now.date();
        let until: Date = today + time::Duration::days(rights::DUE_SOON_DAYS);
        let now = timestamp(now);
        write_transaction!(self, |tx| {
            let rows: Vec<(String, String, String, SummaryRow)> = sqlx::query_as::<
                _,
                (
                    String,
                    String,
                    String,
                    Uuid,
                    String,
                    String,
                    String,
                    String,
                    String,
                ),
            >(
                "SELECT u.username, u.email, u.mail_language, r.id, r.reference, \
                 r.controller_id, r.rights, r.stage, r.deadline \
                 FROM rights_requests r JOIN users u ON u.id = r.assigned_to \
                 WHERE r.stage <> 'closed' AND r.assigned_to IS NOT NULL AND r.due_on <= $1 \
                 AND u.email IS NOT NULL AND u.disabled = FALSE \
                 ORDER BY u.username, r.due_on, r.reference",
            )
            .bind(until)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(
                |(user, email, lang, id, reference, controller, asked, stage, deadline)| {
                    let row = (
                        id,
                        reference,
                        controller,
                        asked,
                        stage,
                        deadline,
                        Some(user.clone()),
                    );
                    (user, email, lang, row)
                },
            )
            .collect();
            let mut by_user: BTreeMap<String, (String, String, Vec<_>)> = BTreeMap::new();
            for (user, email, lang, row) in rows {
                let summary = summary_from_row(row, today)?;
                by_user
                    .entry(user)
                    .or_insert_with(|| (email, lang, Vec::new()))
                    .2
                    .push(summary);
            }
            let mut reminders = Vec::new();
            for (username, (email, lang, requests)) in by_user {
                let to: EmailAddress = email.parse().map_err(|_| {
                    StoreError::Corrupt(format!("the mail address of {username} is not valid"))
                })?;
                let lang: Lang = lang.parse().unwrap_or(Lang::Nl);
                let items: Vec<ReminderItem<'_>> = requests
                    .iter()
                    .map(|r| ReminderItem {
                        reference: &r.reference,
                        rights: &r.rights,
                        due_on: r.due_on,
                        urgency: r.urgency,
                    })
                    .collect();
                let mail = rights::reminder_mail(to, lang, &items, requests_url);
                enqueue_mail!(tx, &mail, now);
                reminders.push(Reminder {
                    username,
                    requests: items.len(),
                    overdue: items.iter().filter(|i| i.urgency.is_overdue()).count(),
                });
            }
            Ok(reminders)
        })
    }
}
