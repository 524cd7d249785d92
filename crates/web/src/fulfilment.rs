//! Carrying out a decided rights request across the vault and every connected system, for
//! the API and the command line alike.
//!
//! A run plans the actions from the decisions (see `kluis_store::plan_actions`), then
//! carries out the pending and failed ones that kluis automates: erasure in the vault,
//! erasure in each connected system (all systems at once; one that fails is recorded as
//! failed with its error and does not stop the others), consent withdrawal, restriction and
//! objection marked in the vault and in each connected system whose map has a restriction
//! mark (`system_marks.rs`). Done actions are never carried out again, so running it again
//! after a failure goes on where it stopped. Actions by hand stay pending until a staff
//! member confirms them with a note. When every action is done the request moves to
//! fulfilled, with a note that sums up what was done per right, activity, place and table;
//! otherwise it stays decided and the status says, per place, what is done and what failed.
//! Nothing is reported done that was not.

use std::collections::{BTreeMap, BTreeSet};

use kluis_connectors::System;
use kluis_connectors::{SystemErasureReport, erase_person_all};
use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::DatasetMap;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::rights::{self, Right, Step};
use kluis_store::{
    ActionStatus, CarriedOutBy, FulfilmentAction, FulfilmentStatus, Processing, RequestChange,
    RightsRequest, Store, StoreError, SubjectQuery, TableCounts, VAULT,
};
use uuid::Uuid;

use crate::systems::{SystemUrls, person_query};

#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    /// The request's stage does not allow carrying it out (the domain's state machine).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run of [`fulfil`] for a server, with a turn at the bulk gate (it is heavy: lookups
/// keep their cores): the one way the API and the back-office run it. The command line,
/// alone in its process, calls [`fulfil`] itself.
pub async fn fulfil_gated(
    state: &crate::state::AppState,
    processing: &Processing,
    request_id: Uuid,
    by_hand: Option<&str>,
) -> Result<FulfilmentStatus, FulfilmentError> {
    let _turn = state.bulk.admit().await;
    fulfil(
        &state.store,
        &state.settings.system_urls,
        processing,
        request_id,
        by_hand,
    )
    .await
}

/// Carries out what can be carried out of request `request_id`, as `processing` (whose
/// case becomes the request's reference). `by_hand`: a staff member's note confirming the
/// actions done by hand. Returns the status after the run.
pub async fn fulfil(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request_id: Uuid,
    by_hand: Option<&str>,
) -> Result<FulfilmentStatus, FulfilmentError> {
    if by_hand.is_some_and(|note| note.trim().is_empty()) {
        // Refused before anything is carried out, so bad input changes nothing.
        return Err(StoreError::Invalid(
            "say what was done by hand: the note is the proof of it".into(),
        )
        .into());
    }
    let request = store.rights_request(request_id).await?;
    if request.stage == rights::Stage::Fulfilled {
        // Carried out already: running again does nothing more.
        return Ok(store.fulfilment_status(request_id).await?);
    }
    refuse_unless_fulfillable(&request)?;
    let maps: Vec<DatasetMap> = store.systems().await?.into_iter().map(|s| s.map).collect();
    let status = store.plan_fulfilment(request_id, &maps).await?;
    let mut processing = processing.clone();
    processing.case_ref = Some(request.reference.clone());
    let open: Vec<&FulfilmentAction> = status
        .actions
        .iter()
        .filter(|a| a.status != ActionStatus::Done && a.carried_out_by == CarriedOutBy::Kluis)
        .collect();
    let mut in_systems: BTreeMap<&str, Vec<&FulfilmentAction>> = BTreeMap::new();
    let mut to_mark: BTreeMap<&str, Vec<&FulfilmentAction>> = BTreeMap::new();
    for a in open {
        match (a.right, a.target.as_str()) {
            (Right::Erasure, VAULT) => {
                run_action(store, &request, a, processing.now, async {
                    store
                        .erase_in_vault(
                            &processing,
                            request.id,
                            &request.reference,
                            request.subject_id,
                            &a.activity,
                        )
                        .await
                        .map(|_| ())
                })
                .await?
            }
            (Right::ConsentWithdrawal, _) => {
                run_action(store, &request, a, processing.now, async {
                    store
                        .withdraw_consents_for_request(
                            &processing,
                            request.id,
                            request.subject_id,
                            &a.activity,
                        )
                        .await
                        .map(|_| ())
                })
                .await?
            }
            (Right::Restriction | Right::Objection, VAULT) => {
                run_action(store, &request, a, processing.now, async {
                    let subject = linked_subject(&request)?;
                    let (reference, actor, now) =
                        (&request.reference, &processing.actor.name, processing.now);
                    let records = if a.right == Right::Restriction {
                        store
                            .restrict(subject, &a.activity, reference, actor, now)
                            .await?
                            .records
                    } else {
                        store
                            .record_objection(subject, &a.activity, reference, actor, now)
                            .await?
                            .records
                    };
                    let report = serde_json::json!({ "records_marked": records });
                    store
                        .complete_action(request.id, a.right, &a.activity, VAULT, &report, now)
                        .await
                })
                .await?
            }
            (Right::Erasure, system) => in_systems.entry(system).or_default().push(a),
            (Right::Restriction | Right::Objection, system) => {
                to_mark.entry(system).or_default().push(a)
            }
            // Always planned by hand (see `kluis_store::plan_actions`): never done by a run.
            (
                Right::Rectification
                | Right::Access
                | Right::Portability
                | Right::NoAutomatedDecision,
                _,
            ) => {}
        }
    }
    if !in_systems.is_empty() {
        erase_in_systems(store, urls, &processing, &request, &maps, in_systems).await?;
    }
    if !to_mark.is_empty() {
        crate::system_marks::mark_in_systems(store, urls, &processing, &request, &maps, to_mark)
            .await?;
    }
    if let Some(note) = by_hand {
        store
            .confirm_by_hand(request.id, note, &processing.actor.name, processing.now)
            .await?;
    }
    let status = store.fulfilment_status(request.id).await?;
    if !status.all_done() {
        return Ok(status);
    }
    let current = store.rights_request(request.id).await?;
    store
        .change_request(
            request.id,
            current.version,
            &RequestChange::Fulfil {
                note: kluis_store::fulfilment_summary(&status),
            },
            &processing.actor.name,
            processing.now,
        )
        .await?;
    Ok(store.fulfilment_status(request.id).await?)
}

/// Refuses, with the state machine's reason, unless the request may be carried out now:
/// decided, something granted, identity verified (no data is released before).
pub(crate) fn refuse_unless_fulfillable(request: &RightsRequest) -> Result<(), FulfilmentError> {
    let grants = request.grants();
    rights::next_stage(request.stage, &Step::Fulfil, grants)
        .map_err(|e| FulfilmentError::Refused(e.to_string()))?;
    if !rights::may_release_data(request.stage, grants) {
        return Err(FulfilmentError::Refused(format!(
            "a request that is {} does not release or change data",
            request.stage
        )));
    }
    Ok(())
}

/// The vault's data subject the request was verified against: restriction and objection
/// are marked on that person's records.
fn linked_subject(request: &RightsRequest) -> Result<Uuid, StoreError> {
    request.subject_id.ok_or_else(|| {
        StoreError::Invalid(format!(
            "request {} is not linked to a data subject in the vault: verify the identity \
             against the person's subject (kluis request verify --subject), then run again",
            request.reference
        ))
    })
}

/// Counts an attempt, runs `work`, and records a failure as the action's error.
async fn run_action(
    store: &Store,
    request: &RightsRequest,
    action: &FulfilmentAction,
    now: time::OffsetDateTime,
    work: impl Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    store
        .start_action(
            request.id,
            action.right,
            &action.activity,
            &action.target,
            now,
        )
        .await?;
    if let Err(e) = work.await {
        store
            .fail_action(
                request.id,
                action.right,
                &action.activity,
                &action.target,
                &e.to_string(),
                None,
                now,
            )
            .await?;
    }
    Ok(())
}

/// The identity the systems are searched by: the vault subject matched at verification, or
/// the verified identity of the request when none was matched.
pub(crate) async fn identity_of(
    store: &Store,
    processing: &Processing,
    request: &RightsRequest,
) -> Result<SubjectIdentity, StoreError> {
    if let Some(id) = request.subject_id
        && let Some(view) = store
            .subject_for_request(processing, id, &Scope::All, &request.reference)
            .await?
    {
        return Ok(view.subject.identity);
    }
    Ok(request.requester.identity.clone())
}

/// Erases the person in every system with an open erasure action, all at once, and records
/// per system what was done, or why not.
async fn erase_in_systems(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    maps: &[DatasetMap],
    actions: BTreeMap<&str, Vec<&FulfilmentAction>>,
) -> Result<(), StoreError> {
    let now = processing.now;
    // A legal hold on the person, one of their records or a case keeps their rows in the
    // systems too (art. 17(3)(e)): a system's rows are not told apart per record or case,
    // so all of them are kept, as the retention sweep keeps them.
    let holds = match request.subject_id {
        Some(subject) => store.hold_reasons(subject, now.date()).await?,
        None => Vec::new(),
    };
    if !holds.is_empty() {
        let kept: Vec<String> = holds.iter().map(|r| format!("legal hold: {r}")).collect();
        let report = serde_json::json!({ "tables": [], "kept_because": kept });
        for (name, list) in actions {
            for a in list {
                store
                    .complete_action(request.id, a.right, &a.activity, name, &report, now)
                    .await?;
            }
        }
        return Ok(());
    }
    let identity = identity_of(store, processing, request).await?;
    let (person, _) = person_query(&SubjectQuery::Id(request.id), &[&identity]);
    let mut reachable: Vec<(System, Vec<&FulfilmentAction>)> = Vec::new();
    for (name, list) in actions {
        for a in &list {
            store
                .start_action(request.id, a.right, &a.activity, name, now)
                .await?;
        }
        match system_of(maps, urls, name, "erase") {
            Ok(system) => reachable.push((system, list)),
            Err(error) => fail_actions(store, request, &list, name, &error, None, now).await?,
        }
    }
    if person.is_empty() {
        for (system, list) in &reachable {
            let error = "the person has no identifier the systems can be searched by \
                 (national number, BSN, e-mail or phone): erase by hand";
            fail_actions(store, request, list, system.name(), error, None, now).await?;
        }
        return Ok(());
    }
    let systems: Vec<System> = reachable.iter().map(|(s, _)| s.clone()).collect();
    let reports = erase_person_all(&systems, &person, Some(&processing.trace), false).await;
    for (report, (system, list)) in reports.into_iter().zip(&reachable) {
        record(store, processing, request, &identity, system, list, &report).await?;
    }
    Ok(())
}

/// The connected system `name`, to `what` in (erase, mark, ...); or why it cannot be had.
pub(crate) fn system_of(
    maps: &[DatasetMap],
    urls: &SystemUrls,
    name: &str,
    what: &str,
) -> Result<System, String> {
    match (maps.iter().find(|m| m.name == name), urls.0.get(name)) {
        (None, _) => Err(format!(
            "system '{name}' is no longer registered: register its dataset map again \
             (kluis systems add) or {what} by hand"
        )),
        (Some(_), None) => Err(format!(
            "no connection is configured for system '{name}': set [systems.{name}] url in \
             the configuration or KLUIS_SYSTEM_{}_URL",
            name.to_uppercase().replace('-', "_")
        )),
        (Some(map), Some(url)) => System::new(map.clone(), url).map_err(|e| e.to_string()),
    }
}

/// Records one system's erasure: done only when it completed with nothing failed.
async fn record(
    store: &Store,
    processing: &Processing,
    request: &RightsRequest,
    identity: &SubjectIdentity,
    system: &System,
    actions: &[&FulfilmentAction],
    report: &SystemErasureReport,
) -> Result<(), StoreError> {
    let json = serde_json::to_value(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let tables: Vec<TableCounts> = kluis_store::report_tables(&json);
    let failed_rows: u64 = tables.iter().map(|t| t.failed).sum();
    let error = match (&report.error, failed_rows) {
        (Some(e), _) => Some(e.to_string()),
        (None, n) if n > 0 => Some(format!("{n} row(s) could not be erased")),
        (None, _) => None,
    };
    let activities: Vec<String> = actions.iter().map(|a| a.activity.clone()).collect();
    let outcome = match error {
        Some(e) => Err(e),
        None => store
            .record_system_erasure(
                processing,
                request.id,
                &request.reference,
                system.name(),
                &activities,
                Some(identity),
                &categories(system.map(), &tables),
                &tables,
                &json,
            )
            .await
            .map_err(|e| format!("erased, but kluis could not record it: {e}; run again")),
    };
    if let Err(error) = outcome {
        let now = processing.now;
        fail_actions(
            store,
            request,
            actions,
            system.name(),
            &error,
            Some(&json),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Marks one system's `actions` failed with `error` (and its report, when there is one):
/// the next run carries them out again.
pub(crate) async fn fail_actions(
    store: &Store,
    request: &RightsRequest,
    actions: &[&FulfilmentAction],
    system: &str,
    error: &str,
    report: Option<&serde_json::Value>,
    now: time::OffsetDateTime,
) -> Result<(), StoreError> {
    for a in actions {
        store
            .fail_action(request.id, a.right, &a.activity, system, error, report, now)
            .await?;
    }
    Ok(())
}

/// The categories of the columns of the tables where rows were erased or anonymised.
fn categories(map: &DatasetMap, tables: &[TableCounts]) -> Vec<DataCategory> {
    let mut out = BTreeSet::new();
    for t in tables.iter().filter(|t| t.deleted + t.anonymised > 0) {
        if let Some(table) = map.tables.get(&t.table) {
            out.extend(table.columns.values().map(|c| c.category));
        }
    }
    out.into_iter().collect()
}

/// The status as text, one line per action, for the command line.
pub fn status_text(status: &FulfilmentStatus) -> String {
    let mut out = format!("{}: {}\n", status.reference, status.stage.name());
    for a in &status.actions {
        out.push_str(&format!(
            "{} / {} / {}: {}",
            a.right.name(),
            a.activity,
            a.target,
            a.status.name()
        ));
        if a.carried_out_by == CarriedOutBy::Staff && a.status != ActionStatus::Done {
            out.push_str(" (by hand)");
        }
        out.push('\n');
        if let Some(report) = &a.report {
            for t in kluis_store::report_tables(report) {
                out.push_str(&format!(
                    "  {}: {} deleted, {} anonymised, {} kept{}\n",
                    t.table,
                    t.deleted,
                    t.anonymised,
                    t.kept,
                    if t.failed > 0 {
                        format!(", {} failed", t.failed)
                    } else {
                        String::new()
                    }
                ));
                for reason in &t.kept_because {
                    out.push_str(&format!("    kept: {reason}\n"));
                }
            }
            if let Some(note) = report.get("done_by_hand").and_then(|v| v.as_str()) {
                out.push_str(&format!("  done by hand: {note}\n"));
            }
            if let Some(n) = report.get("consents_withdrawn") {
                out.push_str(&format!("  consents withdrawn: {n}\n"));
            }
            if let Some(n) = report.get("records_marked") {
                out.push_str(&format!("  records marked: {n}\n"));
            }
            for m in report
                .get("marks")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                out.push_str(&format!(
                    "  {}.{}: {} row(s) marked as restricted, {} newly\n",
                    m["table"].as_str().unwrap_or_default(),
                    m["column"].as_str().unwrap_or_default(),
                    m["rows"],
                    m["changed"]
                ));
            }
            if let Some(note) = report.get("transmitted").and_then(|v| v.as_str()) {
                out.push_str(&format!("  transmitted {note}\n"));
            }
            for reason in report
                .get("kept_because")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
            {
                out.push_str(&format!("  nothing erased, kept: {reason}\n"));
            }
        }
        if let (Some(i), false) = (&a.instruction, a.status == ActionStatus::Done) {
            out.push_str(&format!("  to do: {i}\n"));
        }
        if let Some(e) = &a.error {
            out.push_str(&format!("  error: {e}\n"));
        }
    }
    for r in &status.recipients {
        match (&r.told_at, &r.how) {
            (Some(at), Some(how)) => out.push_str(&format!(
                "recipient {} ({} / {}): told {at} by {}, {how}\n",
                r.recipient,
                r.right.name(),
                r.activity,
                r.told_by.as_deref().unwrap_or_default()
            )),
            _ => out.push_str(&format!(
                "recipient {} ({} / {}): to be told (art. 19)\n",
                r.recipient,
                r.right.name(),
                r.activity
            )),
        }
    }
    out
}
