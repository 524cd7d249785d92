//! Fulfilment of rights requests: what is carried out for each right granted, per
//! processing activity and per place the data lives (the vault, each connected system whose
//! dataset map serves the activity, the access package), with a status per action so that
//! a run that failed half-way resumes where it stopped; and the recipients told of a
//! rectification, erasure or restriction (GDPR art. 19).
//!
//! An action is carried out by kluis (erasure in the vault and in connected systems,
//! consent withdrawal, restriction and objection marks in the vault and in connected
//! systems whose map has a restriction mark, see `system_marks.rs`) or by hand (everything
//! kluis does not automate yet): a by-hand
//! action stays pending until a staff member confirms what they did. An action is marked
//! done in the transaction that does it (vault, consents) or that records its result
//! (connected systems, after their own transaction committed), and a done action is never
//! carried out again.
//!
//! The vault erasure deletes the subject's records of one activity, except those a legal
//! hold keeps, with one destruction-log entry per record and one processing-log entry for
//! the subject, in one transaction. The subject's identity (`data_subjects`) is kept: the
//! rights request refers to it, it is what the connected systems are searched by when an
//! erasure there is resumed, and it names the person to the recipients told under art. 19.
//! It goes, like any other subject's, once nothing refers to it any more.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::category::DataCategory;
use kluis_domain::consent::WithdrawalChannel;
use kluis_domain::dataset_map::DatasetMap;
use kluis_domain::destruction::{Destroyed, DestructionMethod, NewDestruction};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::LogAction;
use kluis_domain::register::{ProcessingActivity, RecipientKind};
use kluis_domain::rights::{Decision, Outcome, Right, Stage};
use kluis_domain::text::Lang;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::load_activity;
use crate::{Store, StoreError, timestamp};

/// The target of an action in kluis's own vault.
pub const VAULT: &str = "vault";
/// The target of an access or portability action: the package sent to the person.
pub const PACKAGE: &str = "package";

/// Rows per IN list: under both backends' bound-parameter limits.
const CHUNK: usize = 1_000;

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Pending,
    Done,
    Failed,
}

impl ActionStatus {
    pub fn name(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Done => "done",
            ActionStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(ActionStatus::Pending),
            "done" => Ok(ActionStatus::Done),
            "failed" => Ok(ActionStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown action status '{other}'"
            ))),
        }
    }
}

/// Who carries an action out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CarriedOutBy {
    /// kluis, when the fulfilment runs.
    Kluis,
    /// A staff member, by hand; they confirm it when done.
    Staff,
}

impl CarriedOutBy {
    pub fn name(self) -> &'static str {
        match self {
            CarriedOutBy::Kluis => "kluis",
            CarriedOutBy::Staff => "staff",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "kluis" => Ok(CarriedOutBy::Kluis),
            "staff" => Ok(CarriedOutBy::Staff),
            other => Err(StoreError::Corrupt(format!(
                "unknown action executor '{other}'"
            ))),
        }
    }
}

/// An action as planned from the decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAction {
    pub right: Right,
    pub activity: String,
    /// [`VAULT`], [`PACKAGE`] or a connected system's name.
    pub target: String,
    pub by: CarriedOutBy,
    /// For an action by hand: what to do and why kluis does not.
    pub instruction: Option<String>,
}

/// An action with its status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FulfilmentAction {
    pub right: Right,
    pub activity: String,
    pub target: String,
    pub carried_out_by: CarriedOutBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    pub status: ActionStatus,
    /// Counts per table and why rows were kept (never the data), or what staff did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// A recipient of the data to be told of a rectification, erasure or restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientToTell {
    pub right: Right,
    pub activity: String,
    /// The recipient as the register names it (in Dutch, the register's first language).
    pub recipient: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub told_at: Option<OffsetDateTime>,
    pub told_by: Option<String>,
    pub how: Option<String>,
}

/// Everything to carry out for a request, and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FulfilmentStatus {
    pub request_id: Uuid,
    pub reference: String,
    pub stage: Stage,
    pub actions: Vec<FulfilmentAction>,
    pub recipients: Vec<RecipientToTell>,
}

impl FulfilmentStatus {
    /// Whether every action is done.
    pub fn all_done(&self) -> bool {
        self.actions.iter().all(|a| a.status == ActionStatus::Done)
    }

    /// The recipients not told yet.
    pub fn untold(&self) -> Vec<&RecipientToTell> {
        self.recipients
            .iter()
            .filter(|r| r.told_at.is_none())
            .collect()
    }
}

/// Counts of one table, the shape every action's report shares with the connectors'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub table: String,
    pub deleted: u64,
    pub anonymised: u64,
    pub kept: u64,
    pub kept_because: Vec<String>,
    pub failed: u64,
}

/// The actions that carry out `decisions`, given the connected systems' dataset maps.
///
/// Only what is granted is planned. kluis carries out by itself only what is granted
/// whole: a partly granted right needs a person to say which part. In a connected system,
/// kluis erases a person's rows as a whole (the dataset map does not say which rows belong
/// to which activity), so it does so only when erasure was granted for every activity the
/// system serves; otherwise the system's part is by hand.
pub fn plan_actions(decisions: &[Decision], systems: &[DatasetMap]) -> Vec<PlannedAction> {
    let granted_whole = |right: Right, activity: &str| {
        decisions
            .iter()
            .any(|d| d.right == right && d.activity == activity && d.outcome == Outcome::Granted)
    };
    let mut out = Vec::new();
    for d in decisions.iter().filter(|d| d.grants()) {
        let whole = d.outcome == Outcome::Granted;
        let partly = "partly granted: kluis cannot tell which part; carry out by hand the \
                      part that was granted, then confirm";
        let push = |out: &mut Vec<PlannedAction>, target: &str, by_hand: Option<String>| {
            out.push(PlannedAction {
                right: d.right,
                activity: d.activity.clone(),
                target: target.to_string(),
                by: if by_hand.is_some() {
                    CarriedOutBy::Staff
                } else {
                    CarriedOutBy::Kluis
                },
                instruction: by_hand,
            })
        };
        let serving: Vec<&DatasetMap> = systems
            .iter()
            .filter(|m| m.activities.contains(&d.activity))
            .collect();
        match d.right {
            Right::Access | Right::Portability => push(
                &mut out,
                PACKAGE,
                Some(format!(
                    "produce the {} package and send it to the person (or the third party), \
                     then confirm",
                    d.right.name()
                )),
            ),
            Right::Erasure => {
                push(&mut out, VAULT, (!whole).then(|| partly.to_string()));
                for map in serving {
                    let others: Vec<&str> = map
                        .activities
                        .iter()
                        .filter(|a| !granted_whole(Right::Erasure, a))
                        .map(String::as_str)
                        .collect();
                    let by_hand = if !whole {
                        Some(partly.to_string())
                    } else if !others.is_empty() {
                        Some(format!(
                            "system {} also serves {}, where erasure was not granted, and its \
                             rows are not told apart per activity: erase by hand what belongs \
                             to {}, then confirm",
                            map.name,
                            others.join(", "),
                            d.activity
                        ))
                    } else {
                        None
                    };
                    push(&mut out, &map.name, by_hand);
                }
            }
            Right::ConsentWithdrawal => push(&mut out, VAULT, (!whole).then(|| partly.to_string())),
            // Restriction and objection are marks kluis keeps on the vault's records (the
            // vault then refuses other processing), and on the person's rows in a system
            // whose map names a restriction mark (the system's application honours it).
            Right::Restriction | Right::Objection => {
                push(&mut out, VAULT, (!whole).then(|| partly.to_string()));
                for map in serving {
                    let by_hand = if !whole {
                        Some(partly.to_string())
                    } else {
                        marks_by_hand(d.right, &d.activity, map, &granted_whole)
                    };
                    push(&mut out, &map.name, by_hand);
                }
            }
            // Rectification needs the new values, which only a person can tell from the
            // request; `kluis record rectify` applies them in the vault and `kluis request
            // rectify` in a system, each keeping the old and new value. A system's action is
            // marked done by its first rectification when granted whole (see
            // `record_system_rectification`); further columns can be rectified after that.
            Right::Rectification => {
                push(
                    &mut out,
                    VAULT,
                    Some(
                        "rectification needs the new values: apply them (in the vault: kluis \
                         record rectify), then confirm"
                            .to_string(),
                    ),
                );
                for map in serving {
                    let how = format!(
                        "apply the new values in system {0} one column at a time: kluis \
                         request rectify <reference> --as <you> --system {0} --table <table> \
                         --column <column> --value <new value> (API: POST \
                         /api/v1/rights-requests/<id>/rectifications)",
                        map.name
                    );
                    let by_hand = if whole {
                        format!(
                            "{how}; the first marks this done, rectify further columns the \
                             same way"
                        )
                    } else {
                        format!("{partly}; {how}")
                    };
                    push(&mut out, &map.name, Some(by_hand));
                }
            }
            Right::NoAutomatedDecision => {
                let by_hand = format!("{}: carry it out by hand, then confirm", d.right.name());
                push(&mut out, VAULT, Some(by_hand.clone()));
                for map in serving {
                    push(&mut out, &map.name, Some(by_hand.clone()));
                }
            }
        }
    }
    out
}

/// Why kluis cannot mark the person's rows in `map`'s system for a restriction or
/// objection granted whole for `activity`, as the instruction to staff; None when it can.
///
/// A restriction is of the data (art. 18(1)): the person's rows are marked whatever else the
/// system serves. An objection is to processing for one purpose (art. 21(1)); the mark stops
/// every purpose of the system, since its rows are not told apart per activity, so kluis
/// sets it only when objection was granted for every activity the system serves.
fn marks_by_hand(
    right: Right,
    activity: &str,
    map: &DatasetMap,
    granted_whole: &impl Fn(Right, &str) -> bool,
) -> Option<String> {
    if map.restriction_marks().next().is_none() {
        return Some(format!(
            "system {} has no restriction mark, so kluis cannot mark the person's rows there: \
             stop processing them for anything but storage ({}), then confirm. To have kluis \
             do it, add a restriction mark to its dataset map (restriction: {{column: ...}}, a \
             boolean column the system honours) and register the map again",
            map.name,
            right.name()
        ));
    }
    let others: Vec<&str> = map
        .activities
        .iter()
        .filter(|a| !granted_whole(right, a))
        .map(String::as_str)
        .collect();
    if right == Right::Objection && !others.is_empty() {
        return Some(format!(
            "system {} also serves {}, where objection was not granted, and its rows are not \
             told apart per activity, so marking them would stop that processing too: stop \
             processing the person's rows for {} by hand, then confirm",
            map.name,
            others.join(", "),
            activity
        ));
    }
    None
}

/// The recipients to tell (art. 19): for every right granted that is told to recipients,
/// the recipients of the activity in the register, except the person themselves.
pub fn recipients_to_tell(
    decisions: &[Decision],
    activities: &[ProcessingActivity],
) -> Vec<(Right, String, String)> {
    let mut out = BTreeSet::new();
    for d in decisions
        .iter()
        .filter(|d| d.grants() && d.right.tell_recipients())
    {
        let Some(activity) = activities.iter().find(|a| a.id == d.activity) else {
            continue;
        };
        for r in activity.recipients.iter().flatten() {
            if r.kind != RecipientKind::DataSubject {
                out.insert((
                    d.right,
                    d.activity.clone(),
                    r.name.show(Lang::Nl).trim().to_string(),
                ));
            }
        }
    }
    out.into_iter().collect()
}

/// The recipients of the request `$id` with granted `$decisions` not yet told, inside
/// `$tx`, as `name (activity)`: closing is refused while there are any.
macro_rules! untold_recipients {
    ($tx:ident, $id:expr, $decisions:expr) => {{
        let decisions: &[kluis_domain::rights::Decision] = $decisions;
        let mut activities = Vec::new();
        for d in decisions
            .iter()
            .filter(|d| d.grants() && d.right.tell_recipients())
        {
            let row: Option<sqlx::types::Json<kluis_domain::register::ProcessingActivity>> =
                sqlx::query_scalar("SELECT document FROM activities WHERE id = $1")
                    .bind(&d.activity)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if let Some(sqlx::types::Json(a)) = row {
                activities.push(a);
            }
        }
        let told: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT right_name, activity, recipient FROM rights_request_recipients \
             WHERE request_id = $1",
        )
        .bind($id)
        .fetch_all(&mut *$tx)
        .await?;
        $crate::fulfilment::recipients_to_tell(decisions, &activities)
            .into_iter()
            .filter(|(right, activity, recipient)| {
                !told
                    .iter()
                    .any(|t| t.0 == right.name() && &t.1 == activity && &t.2 == recipient)
            })
            .map(|(_, activity, recipient)| format!("{recipient} ({activity})"))
            .collect::<std::collections::BTreeSet<String>>()
    }};
}
pub(crate) use untold_recipients;

/// A legal hold: the record, subject or case it holds, and why.
type HoldRow = (Option<Uuid>, Option<Uuid>, Option<String>, String);

type ActionRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

const ACTION_COLUMNS: &str = "right_name, activity, target, carried_out_by, instruction, status, \
     report, error, attempts, started_at, finished_at FROM rights_request_actions";

fn action_from_row(row: ActionRow) -> Result<FulfilmentAction, StoreError> {
    let (right, activity, target, by, instruction, status, report, error, attempts, sa, fa) = row;
    Ok(FulfilmentAction {
        right: right
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown right '{right}'")))?,
        activity,
        target,
        carried_out_by: CarriedOutBy::parse(&by)?,
        instruction,
        status: ActionStatus::parse(&status)?,
        report: report
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("action report: {e}")))?,
        error,
        attempts,
        started_at: sa,
        finished_at: fa,
    })
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Marks one action done inside `$tx`, unless it already was.
macro_rules! complete_action {
    ($tx:ident, $id:expr, $right:expr, $activity:expr, $target:expr, $report:expr, $now:expr) => {{
        let report: String = $report;
        sqlx::query(
            "UPDATE rights_request_actions SET status = 'done', report = $5, error = NULL, \
             finished_at = $6 WHERE request_id = $1 AND right_name = $2 AND activity = $3 \
             AND target = $4 AND status <> 'done'",
        )
        .bind($id)
        .bind($right.name())
        .bind($activity)
        .bind($target)
        .bind(report)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use complete_action;

/// The status of one action inside `$tx`: None when it was never planned.
macro_rules! action_status {
    ($tx:ident, $id:expr, $right:expr, $activity:expr, $target:expr) => {{
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM rights_request_actions WHERE request_id = $1 \
             AND right_name = $2 AND activity = $3 AND target = $4",
        )
        .bind($id)
        .bind($right.name())
        .bind($activity)
        .bind($target)
        .fetch_optional(&mut *$tx)
        .await?;
        status.map(|s| ActionStatus::parse(&s)).transpose()?
    }};
}
pub(crate) use action_status;

pub(crate) fn not_planned(right: Right, activity: &str, target: &str) -> StoreError {
    StoreError::Invalid(format!(
        "{right} for {activity} in {target} is not an action of this request: run the \
         fulfilment, which plans the actions from the decisions"
    ))
}

/// The rule the destruction log gives for data erased on a request.
fn erasure_rule(reference: &str) -> String {
    format!("erasure granted on rights request {reference} (GDPR art. 17)")
}

impl Store {
    /// Plans the actions of a request from its decisions and the connected systems' maps:
    /// new actions are added, actions not yet done that the decisions no longer call for
    /// are removed, done actions stay as they are.
    pub async fn plan_fulfilment(
        &self,
        request_id: Uuid,
        systems: &[DatasetMap],
    ) -> Result<FulfilmentStatus, StoreError> {
        let request = self.rights_request(request_id).await?;
        let plan = plan_actions(&request.decisions, systems);
        write_transaction!(self, |tx| {
            let existing: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT right_name, activity, target, status FROM rights_request_actions \
                 WHERE request_id = $1",
            )
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            for (right, activity, target, status) in existing {
                let planned = plan.iter().any(|p| {
                    p.right.name() == right && p.activity == activity && p.target == target
                });
                if !planned && status != "done" {
                    sqlx::query(
                        "DELETE FROM rights_request_actions WHERE request_id = $1 \
                         AND right_name = $2 AND activity = $3 AND target = $4",
                    )
                    .bind(request_id)
                    .bind(&right)
                    .bind(&activity)
                    .bind(&target)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for p in &plan {
                sqlx::query(
                    "INSERT INTO rights_request_actions (request_id, right_name, activity, \
                     target, carried_out_by, instruction, status, attempts) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0) \
                     ON CONFLICT (request_id, right_name, activity, target) DO UPDATE SET \
                     carried_out_by = excluded.carried_out_by, \
                     instruction = excluded.instruction \
                     WHERE rights_request_actions.status <> 'done'",
                )
                .bind(request_id)
                .bind(p.right.name())
                .bind(&p.activity)
                .bind(&p.target)
                .bind(p.by.name())
                .bind(p.instruction.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        });
        self.fulfilment_status(request_id).await
    }

    /// The actions of a request with their status, and the recipients to tell.
    pub async fn fulfilment_status(
        &self,
        request_id: Uuid,
    ) -> Result<FulfilmentStatus, StoreError> {
        let request = self.rights_request(request_id).await?;
        let (rows, told) = read_transaction!(self, |tx| {
            let rows: Vec<ActionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ACTION_COLUMNS} WHERE request_id = $1 \
                 ORDER BY right_name, activity, target"
            )))
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            type ToldRow = (String, String, String, OffsetDateTime, String, String);
            let told: Vec<ToldRow> = sqlx::query_as(
                "SELECT right_name, activity, recipient, told_at, told_by, how \
                 FROM rights_request_recipients WHERE request_id = $1",
            )
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            (rows, told)
        });
        let activities = self.activities_of(&request.decisions).await?;
        let recipients = recipients_to_tell(&request.decisions, &activities)
            .into_iter()
            .map(|(right, activity, recipient)| {
                let t = told
                    .iter()
                    .find(|t| t.0 == right.name() && t.1 == activity && t.2 == recipient);
                RecipientToTell {
                    right,
                    activity,
                    recipient,
                    told_at: t.map(|t| t.3),
                    told_by: t.map(|t| t.4.clone()),
                    how: t.map(|t| t.5.clone()),
                }
            })
            .collect();
        Ok(FulfilmentStatus {
            request_id,
            reference: request.reference,
            stage: request.stage,
            actions: rows
                .into_iter()
                .map(action_from_row)
                .collect::<Result<_, _>>()?,
            recipients,
        })
    }

    async fn activities_of(
        &self,
        decisions: &[Decision],
    ) -> Result<Vec<ProcessingActivity>, StoreError> {
        let ids: BTreeSet<&str> = decisions.iter().map(|d| d.activity.as_str()).collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some(a) = self.activity(id).await? {
                out.push(a.value);
            }
        }
        Ok(out)
    }

    /// Counts an attempt at an action not yet done.
    pub async fn start_action(
        &self,
        request_id: Uuid,
        right: Right,
        activity: &str,
        target: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE rights_request_actions SET attempts = attempts + 1, started_at = $5 \
                 WHERE request_id = $1 AND right_name = $2 AND activity = $3 AND target = $4 \
                 AND status <> 'done'",
            )
            .bind(request_id)
            .bind(right.name())
            .bind(activity)
            .bind(target)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records that an action kluis carried out through an idempotent step (a restriction
    /// or objection marked in the vault) or found nothing to do for (a system whose rows a
    /// legal hold keeps) is done, with its report. When the process stops between the step
    /// and this, a run again repeats the step, which then changes nothing, and records it.
    pub async fn complete_action(
        &self,
        request_id: Uuid,
        right: Right,
        activity: &str,
        target: &str,
        report: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        let report = to_json(report)?;
        write_transaction!(self, |tx| {
            complete_action!(tx, request_id, right, activity, target, report, now);
        });
        Ok(())
    }

    /// Records that an action failed, with the error and what the report says was done
    /// before it; a done action stays done.
    #[allow(clippy::too_many_arguments)]
    pub async fn fail_action(
        &self,
        request_id: Uuid,
        right: Right,
        activity: &str,
        target: &str,
        error: &str,
        report: Option<&serde_json::Value>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        let report = report.map(to_json).transpose()?;
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE rights_request_actions SET status = 'failed', error = $5, report = $6, \
                 finished_at = $7 WHERE request_id = $1 AND right_name = $2 AND activity = $3 \
                 AND target = $4 AND status <> 'done'",
            )
            .bind(request_id)
            .bind(right.name())
            .bind(activity)
            .bind(target)
            .bind(error)
            .bind(report)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Erases the records of `subject_id` under `activity` in the vault for the rights
    /// request `request_id` (quoted as `reference` in the destruction log), except those a
    /// legal hold keeps; in the same transaction, one destruction-log entry per record, one
    /// processing-log entry for the subject, and the action marked done with its report.
    /// An action already done is not carried out again: its report is returned.
    pub async fn erase_in_vault(
        &self,
        processing: &Processing,
        request_id: Uuid,
        reference: &str,
        subject_id: Option<Uuid>,
        activity: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let now = timestamp(processing.now);
        let today = now.date();
        let log_subject = match subject_id {
            Some(id) => match self.subject_unlogged(id).await? {
                Some(s) => Some(self.log_subject(&s.identity)?),
                None => None,
            },
            None => None,
        };
        let report = write_transaction!(self, |tx| {
            match action_status!(tx, request_id, Right::Erasure, activity, VAULT) {
                None => return Err(not_planned(Right::Erasure, activity, VAULT)),
                Some(ActionStatus::Done) => {
                    let report: Option<String> = sqlx::query_scalar(
                        "SELECT report FROM rights_request_actions WHERE request_id = $1 \
                         AND right_name = 'erasure' AND activity = $2 AND target = 'vault'",
                    )
                    .bind(request_id)
                    .bind(activity)
                    .fetch_one(&mut *tx)
                    .await?;
                    return serde_json::from_str(report.as_deref().unwrap_or("null"))
                        .map_err(|e| StoreError::Corrupt(format!("action report: {e}")));
                }
                Some(_) => {}
            }
            let mut counts = TableCounts {
                table: "records".into(),
                deleted: 0,
                anonymised: 0,
                kept: 0,
                kept_because: Vec::new(),
                failed: 0,
            };
            if let (Some(subject), Some(log_subject)) = (subject_id, log_subject.clone()) {
                let records: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT id, schedule, category, case_ref FROM records \
                     WHERE subject_id = $1 AND activity_id = $2 ORDER BY id",
                )
                .bind(subject)
                .bind(activity)
                .fetch_all(&mut *tx)
                .await?;
                // Holds in force today, with their reasons: a held record is kept.
                let holds: Vec<HoldRow> = sqlx::query_as(
                    "SELECT record_id, subject_id, case_ref, reason FROM legal_holds \
                         WHERE lifted_at IS NULL AND held_from <= $1 \
                         AND (held_until IS NULL OR held_until >= $1)",
                )
                .bind(today)
                .fetch_all(&mut *tx)
                .await?;
                let hold_of = |id: Uuid, case: Option<&str>| {
                    holds
                        .iter()
                        .find(|(r, s, c, _)| {
                            *r == Some(id)
                                || *s == Some(subject)
                                || (case.is_some() && c.as_deref() == case)
                        })
                        .map(|h| h.3.clone())
                };
                let mut doomed = Vec::new();
                let mut categories = BTreeSet::new();
                let mut because = BTreeSet::new();
                for (id, schedule, category, case) in &records {
                    match hold_of(*id, case.as_deref()) {
                        Some(reason) => {
                            counts.kept += 1;
                            because.insert(format!("legal hold: {reason}"));
                        }
                        None => {
                            doomed.push((*id, schedule.clone()));
                            categories.insert(category.clone());
                        }
                    }
                }
                counts.kept_because = because.into_iter().collect();
                for chunk in doomed.chunks(CHUNK) {
                    let mut q = sqlx::QueryBuilder::new("DELETE FROM records WHERE id IN (");
                    let mut list = q.separated(", ");
                    for (id, _) in chunk {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    counts.deleted += q.build().execute(&mut *tx).await?.rows_affected();
                }
                if !doomed.is_empty() {
                    let rule = erasure_rule(reference);
                    for chunk in doomed.chunks(CHUNK) {
                        let mut insert = sqlx::QueryBuilder::new(
                            "INSERT INTO destruction_log (run_id, destroyed_at, system, \
                             table_name, activity, schedule, rule, record_id, row_count, \
                             method, deadline) ",
                        );
                        insert.push_values(chunk, |mut row, (id, schedule)| {
                            let what = Destroyed::VaultRecord {
                                record_id: id.to_string(),
                            };
                            let (system, table) = what.place();
                            row.push_bind(None::<Uuid>)
                                .push_bind(now)
                                .push_bind(system.to_string())
                                .push_bind(table.to_string())
                                .push_bind(activity.to_string())
                                .push_bind(schedule.clone())
                                .push_bind(rule.clone())
                                .push_bind(Some(*id))
                                .push_bind(1i64)
                                .push_bind(DestructionMethod::Erase.name())
                                .push_bind(None::<time::Date>);
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                    let (a, version) = load_activity!(tx, activity);
                    categories.insert(DataCategory::Identification.name().to_string());
                    let categories: Vec<String> = categories.into_iter().collect();
                    let entry = ActivityRef::from_activity(&a, version).entry(
                        LogAction::Erase,
                        log_subject,
                        categories,
                        processing.case_ref.clone(),
                    );
                    append_log!(tx, processing, vec![entry]);
                }
            }
            let mut report = serde_json::json!({ "tables": [counts] });
            if subject_id.is_none() {
                report["note"] = "no data subject of the vault was matched to the request".into();
            }
            complete_action!(
                tx,
                request_id,
                Right::Erasure,
                activity,
                VAULT,
                to_json(&report)?,
                now
            );
            Ok::<_, StoreError>(report)
        })?;
        Ok(report)
    }

    /// Withdraws every consent of `subject_id` for `activity` on the rights request, with
    /// the consent store's own withdrawal (each withdrawal logged), then marks the action
    /// done. Withdrawing is idempotent, so a run interrupted between the two withdraws
    /// nothing twice.
    pub async fn withdraw_consents_for_request(
        &self,
        processing: &Processing,
        request_id: Uuid,
        subject_id: Option<Uuid>,
        activity: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let status = on_pool!(self, |pool| {
            let s: Option<String> = sqlx::query_scalar(
                "SELECT status FROM rights_request_actions WHERE request_id = $1 \
                 AND right_name = 'consent_withdrawal' AND activity = $2 AND target = 'vault'",
            )
            .bind(request_id)
            .bind(activity)
            .fetch_optional(pool)
            .await?;
            s
        });
        match status.as_deref() {
            None => return Err(not_planned(Right::ConsentWithdrawal, activity, VAULT)),
            Some("done") => {
                return Ok(self
                    .fulfilment_status(request_id)
                    .await?
                    .actions
                    .into_iter()
                    .find(|a| a.right == Right::ConsentWithdrawal && a.activity == activity)
                    .and_then(|a| a.report)
                    .unwrap_or_default());
            }
            Some(_) => {}
        }
        let ids: Vec<Uuid> = match subject_id {
            None => Vec::new(),
            Some(subject) => on_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT id FROM consents WHERE subject_id = $1 AND activity_id = $2 \
                     ORDER BY id",
                )
                .bind(subject)
                .bind(activity)
                .fetch_all(pool)
                .await?
            }),
        };
        let (mut withdrawn, mut already) = (0u64, 0u64);
        for id in ids {
            if self
                .withdraw_consent(processing, id, WithdrawalChannel::Staff)
                .await?
                .changed
            {
                withdrawn += 1;
            } else {
                already += 1;
            }
        }
        let report = serde_json::json!({
            "consents_withdrawn": withdrawn,
            "already_withdrawn": already,
        });
        let now = timestamp(processing.now);
        write_transaction!(self, |tx| {
            complete_action!(
                tx,
                request_id,
                Right::ConsentWithdrawal,
                activity,
                VAULT,
                to_json(&report)?,
                now
            );
        });
        Ok(report)
    }

    /// Records what an erasure in connected system `system` did for the request: the
    /// destruction-log entries per table (rows deleted, rows anonymised), one
    /// processing-log entry per activity the system serves for the person, and the
    /// erasure actions of `activities` in that system marked done with `report`, in one
    /// transaction. Call it only for an erasure that completed (no error, nothing failed).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_system_erasure(
        &self,
        processing: &Processing,
        request_id: Uuid,
        reference: &str,
        system: &str,
        activities: &[String],
        subject: Option<&SubjectIdentity>,
        categories: &[DataCategory],
        tables: &[TableCounts],
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        if tables.iter().any(|t| t.failed > 0) {
            return Err(StoreError::Invalid(format!(
                "the erasure in {system} did not complete: it is not recorded as done"
            )));
        }
        let now = timestamp(processing.now);
        let log_subject = subject.map(|s| self.log_subject(s)).transpose()?;
        let activity = activities.first().cloned().unwrap_or_default();
        let rule = erasure_rule(reference);
        let mut destructions = Vec::new();
        for t in tables {
            for (rows, method) in [
                (t.deleted, DestructionMethod::Erase),
                (t.anonymised, DestructionMethod::Anonymise),
            ] {
                if rows > 0 {
                    destructions.push(NewDestruction {
                        activity: activity.clone(),
                        schedule: String::new(),
                        rule: rule.clone(),
                        what: Destroyed::SystemRows {
                            system: system.to_string(),
                            table: t.table.clone(),
                            rows,
                        },
                        method,
                        deadline: None,
                    });
                }
            }
        }
        let changed = tables.iter().any(|t| t.deleted + t.anonymised > 0);
        let report = to_json(report)?;
        write_transaction!(self, |tx| {
            // Recorded once: a second call for actions already done writes nothing.
            let mut open = false;
            for id in activities {
                match action_status!(tx, request_id, Right::Erasure, id.as_str(), system) {
                    None => return Err(not_planned(Right::Erasure, id, system)),
                    Some(ActionStatus::Done) => {}
                    Some(_) => open = true,
                }
            }
            if !open {
                return Ok(());
            }
            for chunk in destructions.chunks(CHUNK) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO destruction_log (run_id, destroyed_at, system, table_name, \
                     activity, schedule, rule, record_id, row_count, method, deadline) ",
                );
                insert.push_values(chunk, |mut row, e| {
                    let (system, table) = e.what.place();
                    row.push_bind(None::<Uuid>)
                        .push_bind(now)
                        .push_bind(system.to_string())
                        .push_bind(table.to_string())
                        .push_bind(e.activity.clone())
                        .push_bind(e.schedule.clone())
                        .push_bind(e.rule.clone())
                        .push_bind(None::<Uuid>)
                        .push_bind(i64::try_from(e.what.rows()).unwrap_or(i64::MAX))
                        .push_bind(e.method.name())
                        .push_bind(None::<time::Date>);
                });
                insert.build().execute(&mut *tx).await?;
            }
            // The sealed old and new values of the person's rectifications in the system go
            // with the rows they were about, as the vault's go with an erased record; those
            // of a table where rows were kept stay with the rows.
            for t in tables.iter().filter(|t| t.kept == 0) {
                sqlx::query(
                    "DELETE FROM system_rectifications WHERE system = $1 AND table_name = $2 \
                     AND request_id IN (SELECT r.id FROM rights_requests r WHERE r.id = $3 \
                     OR r.subject_id = (SELECT subject_id FROM rights_requests WHERE id = $3))",
                )
                .bind(system)
                .bind(&t.table)
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            }
            if let (true, Some(log_subject)) = (changed, log_subject) {
                let mut entries = Vec::new();
                for id in activities {
                    let (a, version) = load_activity!(tx, id);
                    let mut entry = ActivityRef::from_activity(&a, version).entry(
                        LogAction::Erase,
                        log_subject.clone(),
                        categories.iter().map(|c| c.name().to_string()).collect(),
                        processing.case_ref.clone(),
                    );
                    entry.system = system.to_string();
                    entries.push(entry);
                }
                append_log!(tx, processing, entries);
            }
            for id in activities {
                complete_action!(
                    tx,
                    request_id,
                    Right::Erasure,
                    id.as_str(),
                    system,
                    report.clone(),
                    now
                );
            }
        });
        Ok(())
    }

    /// A staff member confirms that the actions carried out by hand are done, saying what
    /// they did. Returns how many actions this confirmed.
    pub async fn confirm_by_hand(
        &self,
        request_id: Uuid,
        note: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(
                "say what was done by hand: the note is the proof of it".into(),
            ));
        }
        let now = timestamp(now);
        let report = to_json(&serde_json::json!({
            "done_by_hand": note.trim(),
            "confirmed_by": actor,
        }))?;
        Ok(on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE rights_request_actions SET status = 'done', report = $2, error = NULL, \
                 attempts = attempts + 1, started_at = $3, finished_at = $3 \
                 WHERE request_id = $1 AND carried_out_by = 'staff' AND status <> 'done'",
            )
            .bind(request_id)
            .bind(&report)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Records that `recipient` was told (art. 19) of every rectification, erasure or
    /// restriction of the request that concerns them, by `actor`, `how`. Refused for a name
    /// that is not a recipient to tell, and while what they are told of is not carried
    /// out everywhere yet.
    pub async fn record_recipient_told(
        &self,
        request_id: Uuid,
        recipient: &str,
        how: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<FulfilmentStatus, StoreError> {
        let (recipient, how) = (recipient.trim(), how.trim());
        if how.is_empty() {
            return Err(StoreError::Invalid(
                "say how the recipient was told (a letter, an e-mail with its date, ...)".into(),
            ));
        }
        let now = timestamp(now);
        let status = self.fulfilment_status(request_id).await?;
        let concerned: Vec<&RecipientToTell> = status
            .recipients
            .iter()
            .filter(|r| r.recipient.eq_ignore_ascii_case(recipient))
            .collect();
        if concerned.is_empty() {
            let names: BTreeSet<&str> = status
                .recipients
                .iter()
                .map(|r| r.recipient.as_str())
                .collect();
            return Err(StoreError::Invalid(if names.is_empty() {
                "this request has no recipients to tell: nothing granted is told to recipients, \
                 or the register names none for its activities"
                    .to_string()
            } else {
                format!(
                    "'{recipient}' is not a recipient to tell for this request; the register \
                     names: {}",
                    names.into_iter().collect::<Vec<_>>().join(", ")
                )
            }));
        }
        let open: Vec<String> = status
            .actions
            .iter()
            .filter(|a| {
                a.status != ActionStatus::Done
                    && concerned
                        .iter()
                        .any(|r| r.right == a.right && r.activity == a.activity)
            })
            .map(|a| format!("{} for {} in {}", a.right, a.activity, a.target))
            .collect();
        if !open.is_empty() {
            return Err(StoreError::Invalid(format!(
                "carry out what the recipient is told of first: {} not done yet",
                open.join(", ")
            )));
        }
        write_transaction!(self, |tx| {
            for r in &concerned {
                sqlx::query(
                    "INSERT INTO rights_request_recipients (request_id, right_name, activity, \
                     recipient, told_at, told_by, how) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (request_id, right_name, activity, recipient) DO NOTHING",
                )
                .bind(request_id)
                .bind(r.right.name())
                .bind(&r.activity)
                .bind(&r.recipient)
                .bind(now)
                .bind(actor)
                .bind(how)
                .execute(&mut *tx)
                .await?;
            }
        });
        self.fulfilment_status(request_id).await
    }
}

/// The per-table counts of a report, as the connectors and the vault write them.
pub fn report_tables(report: &serde_json::Value) -> Vec<TableCounts> {
    let Some(tables) = report.get("tables").and_then(|t| t.as_array()) else {
        return Vec::new();
    };
    let n = |t: &serde_json::Value, k: &str| t.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    tables
        .iter()
        .map(|t| TableCounts {
            table: t
                .get("table")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            deleted: n(t, "deleted"),
            anonymised: n(t, "anonymised"),
            kept: n(t, "kept"),
            kept_because: t
                .get("kept_because")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            failed: n(t, "failed"),
        })
        .collect()
}

/// A summary of what was done, per action: for the timeline's note when the request is
/// fulfilled.
pub fn summary(status: &FulfilmentStatus) -> String {
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for a in &status.actions {
        let what = match &a.report {
            Some(r) if r.get("done_by_hand").is_some() => format!(
                "done by hand: {}",
                r["done_by_hand"].as_str().unwrap_or_default()
            ),
            Some(r) if r.get("records_marked").is_some() => {
                format!("{} record(s) marked", r["records_marked"])
            }
            Some(r) if r.get("rows_marked").is_some() => format!(
                "{} row(s) of the person marked as restricted ({} newly)",
                r["rows"], r["rows_marked"]
            ),
            Some(r) if r.get("transmitted").is_some() => format!(
                "transmitted {}",
                r["transmitted"].as_str().unwrap_or_default()
            ),
            Some(r) if r.get("kept_because").is_some() => format!(
                "nothing erased, all kept ({})",
                r["kept_because"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .join("; ")
            ),
            Some(r) if r.get("rectified").is_some() => r["rectified"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            format!(
                                "{}.{} rectified: {} of {} row(s) changed",
                                t["table"].as_str().unwrap_or_default(),
                                t["column"].as_str().unwrap_or_default(),
                                t["changed"],
                                t["rows"]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            Some(r) if r.get("consents_withdrawn").is_some() => format!(
                "{} consent(s) withdrawn, {} already withdrawn",
                r["consents_withdrawn"], r["already_withdrawn"]
            ),
            Some(r) => {
                let tables: Vec<String> = report_tables(r)
                    .iter()
                    .map(|t| {
                        let mut s = format!(
                            "{}: {} deleted, {} anonymised, {} kept",
                            t.table, t.deleted, t.anonymised, t.kept
                        );
                        if !t.kept_because.is_empty() {
                            s.push_str(&format!(" ({})", t.kept_because.join("; ")));
                        }
                        s
                    })
                    .collect();
                if tables.is_empty() {
                    "nothing to erase".into()
                } else {
                    tables.join(", ")
                }
            }
            None => a.status.name().to_string(),
        };
        lines.insert(
            format!("{} / {} / {}", a.right.name(), a.activity, a.target),
            what,
        );
    }
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(right: Right, activity: &str, outcome: Outcome) -> Decision {
        Decision {
            right,
            activity: activity.into(),
            outcome,
            grounds: Vec::new(),
            motivation: "gemotiveerd".into(),
        }
    }

    /// A system serving `activities`, with a restriction mark on its one table or not.
    fn map(name: &str, activities: &str, marked: bool) -> DatasetMap {
        let mark = if marked {
            "    restriction: {column: processing_restricted}\n"
        } else {
            ""
        };
        kluis_domain::dataset_map::parse(
            "test.yaml",
            &format!(
                "name: {name}\nkind: postgres\nactivities: [{activities}]\ntables:\n  \
                 people:\n    columns:\n      email: {{category: contact, identifies: \
                 email}}\n    erasure: delete_row\n{mark}"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn by(plan: &[PlannedAction], right: Right, target: &str) -> (CarriedOutBy, String) {
        let p = plan
            .iter()
            .find(|p| p.right == right && p.target == target)
            .unwrap_or_else(|| panic!("no {right} in {target}: {plan:?}"));
        (p.by, p.instruction.clone().unwrap_or_default())
    }

    #[test]
    fn plan_marks_restriction_and_objection_where_the_map_has_a_mark() {
        let maps = [
            map("hr", "werving", true),
            map("vms", "camera", false),
            map("shared", "werving, camera", true),
        ];
        let plan = plan_actions(
            &[
                decision(Right::Restriction, "werving", Outcome::Granted),
                decision(Right::Objection, "camera", Outcome::Granted),
                decision(Right::Objection, "werving", Outcome::Refused),
            ],
            &maps,
        );
        // A restriction is of the data: marked in every system serving the activity that
        // has a mark, also one that serves other activities.
        assert_eq!(by(&plan, Right::Restriction, VAULT).0, CarriedOutBy::Kluis);
        assert_eq!(by(&plan, Right::Restriction, "hr").0, CarriedOutBy::Kluis);
        assert_eq!(
            by(&plan, Right::Restriction, "shared").0,
            CarriedOutBy::Kluis
        );
        // No mark: by hand, saying how to automate it.
        let (who, what) = by(&plan, Right::Objection, "vms");
        assert_eq!(who, CarriedOutBy::Staff);
        assert!(
            what.contains("system vms has no restriction mark")
                && what.contains("restriction: {column: ...}"),
            "{what}"
        );
        // An objection is to one purpose: not in a system that also serves an activity
        // where it was not granted.
        let (who, what) = by(&plan, Right::Objection, "shared");
        assert_eq!(who, CarriedOutBy::Staff);
        assert!(
            what.contains("also serves werving, where objection was not granted"),
            "{what}"
        );
        // Granted for both activities: kluis marks the shared system.
        let both = plan_actions(
            &[
                decision(Right::Objection, "camera", Outcome::Granted),
                decision(Right::Objection, "werving", Outcome::Granted),
            ],
            &maps,
        );
        assert_eq!(by(&both, Right::Objection, "shared").0, CarriedOutBy::Kluis);
        assert_eq!(by(&both, Right::Objection, "hr").0, CarriedOutBy::Kluis);
        // Partly granted: by hand everywhere.
        let partly = plan_actions(
            &[decision(
                Right::Restriction,
                "werving",
                Outcome::PartlyGranted,
            )],
            &maps,
        );
        assert!(
            partly.iter().all(|p| p.by == CarriedOutBy::Staff
                && p.instruction.as_deref().unwrap().contains("partly granted")),
            "{partly:?}"
        );
        for instruction in plan.iter().filter_map(|p| p.instruction.as_deref()) {
            assert!(!instruction.contains("  "), "no gaps: {instruction:?}");
        }
    }
}
