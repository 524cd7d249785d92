//! Restriction (GDPR art. 18) and objection (art. 21) in the connected systems: the
//! fulfilment marks the person's rows in every system whose dataset map names a
//! restriction mark, and lifting the restriction (or overriding the objection) clears the
//! marks it set.
//!
//! Marking: all systems at once, one transaction each (`kluis_connectors::restrict_person`).
//! A system's actions are done only once its transaction committed, recorded with the rows
//! per table and an Update entry in the processing log; a system that cannot be reached or
//! fails is recorded as failed with its error, and the next run of the fulfilment tries it
//! again (marking again changes nothing where the rows are marked already).
//!
//! Lifting: the marks a request set are cleared first, in every system its restriction was
//! marked in, then the restriction is lifted in the vault. When a system cannot be cleared,
//! nothing is lifted in the vault: the restriction stays in force and visible, the answer
//! names the system, and lifting again (once it is back) finishes it. A system whose rows
//! another restriction or objection in force also marked keeps its marks. Compelling
//! grounds recorded for an objection (art. 21(1)) clear its marks the same way before the
//! grounds are recorded.

use std::collections::{BTreeMap, BTreeSet};

use kluis_connectors::{System, SystemRestrictionReport, restrict_person_all};
use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::DatasetMap;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::rights::Right;
use kluis_store::{
    ActionStatus, CarriedOutBy, FulfilmentAction, ObjectionReport, PACKAGE, Processing,
    RestrictionReport, RightsRequest, Store, StoreError, SubjectQuery, SystemMarks, VAULT,
};
use serde::Serialize;
use time::Date;
use uuid::Uuid;

use crate::fulfilment::{fail_actions, identity_of, system_of};
use crate::systems::{SystemUrls, person_query};

/// Marks the person's rows in every system with an open restriction or objection action,
/// all at once, and records per system what was done, or why not.
pub(crate) async fn mark_in_systems(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    maps: &[DatasetMap],
    actions: BTreeMap<&str, Vec<&FulfilmentAction>>,
) -> Result<(), StoreError> {
    let now = processing.now;
    let identity = identity_of(store, processing, request).await?;
    let (person, _) = person_query(&SubjectQuery::Id(request.id), &[&identity]);
    let mut reachable: Vec<(System, Vec<&FulfilmentAction>)> = Vec::new();
    for (name, list) in actions {
        for a in &list {
            store
                .start_action(request.id, a.right, &a.activity, name, now)
                .await?;
        }
        let error = match system_of(maps, urls, name, "mark the person's rows") {
            Ok(_) if person.is_empty() => "the person has no identifier the systems can be \
                 searched by (national number, BSN, e-mail or phone): mark their rows by hand"
                .to_string(),
            Ok(system) => {
                reachable.push((system, list));
                continue;
            }
            Err(error) => error,
        };
        fail_actions(store, request, &list, name, &error, None, now).await?;
    }
    let systems: Vec<System> = reachable.iter().map(|(s, _)| s.clone()).collect();
    let reports = restrict_person_all(&systems, &person, true, Some(&processing.trace)).await;
    for (report, (system, list)) in reports.iter().zip(&reachable) {
        record_marking(store, processing, request, &identity, system, list, report).await?;
    }
    Ok(())
}

/// Records one system's marking: done only when its transaction committed.
async fn record_marking(
    store: &Store,
    processing: &Processing,
    request: &RightsRequest,
    identity: &SubjectIdentity,
    system: &System,
    actions: &[&FulfilmentAction],
    report: &SystemRestrictionReport,
) -> Result<(), StoreError> {
    let json = report_json(report);
    let categories = marked_categories(system.map(), report);
    let mut outcome = match &report.error {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    };
    if outcome.is_ok() {
        for right in [Right::Restriction, Right::Objection] {
            let activities: Vec<String> = actions
                .iter()
                .filter(|a| a.right == right)
                .map(|a| a.activity.clone())
                .collect();
            if activities.is_empty() {
                continue;
            }
            let marks = SystemMarks {
                right,
                reference: &request.reference,
                system: system.name(),
                activities: &activities,
                categories: &categories,
                restricted: true,
                changed: report.changed(),
            };
            if let Err(e) = store
                .record_system_marking(processing, request.id, Some(identity), &marks, &json)
                .await
            {
                outcome = Err(format!(
                    "marked, but kluis could not record it: {e}; run again"
                ));
                break;
            }
        }
    }
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

/// The report an action keeps: per table with a mark, the person's rows and how many were
/// changed, with the totals (`rows_marked`: changed by this run).
fn report_json(report: &SystemRestrictionReport) -> serde_json::Value {
    serde_json::json!({
        "marks": report.tables,
        "rows": report.rows(),
        "rows_marked": report.changed(),
    })
}

/// The categories of the mapped columns of the tables where the person has rows.
fn marked_categories(map: &DatasetMap, report: &SystemRestrictionReport) -> Vec<DataCategory> {
    let mut out = BTreeSet::new();
    for t in report.tables.iter().filter(|t| t.rows > 0) {
        if let Some(table) = map.tables.get(&t.table) {
            out.extend(table.columns.values().map(|c| c.category));
        }
    }
    out.into_iter().collect()
}

/// What lifting a restriction did: in the vault, and in each system it was marked in.
#[derive(Debug, Clone, Serialize)]
pub struct LiftReport {
    /// The vault's restriction, once lifted; None when a system could not be cleared and
    /// the restriction therefore stays in force.
    pub lifted: Option<RestrictionReport>,
    pub systems: Vec<SystemUnmarked>,
}

/// The marks of one system, for a lifted restriction.
#[derive(Debug, Clone, Serialize)]
pub struct SystemUnmarked {
    pub system: String,
    /// The person's rows in the marked tables and how many were cleared; 0 and 0 when the
    /// marks were kept or could not be cleared.
    pub rows: u64,
    pub cleared: u64,
    /// Why the marks stay: another restriction or objection in force marked them too.
    pub kept_because: Option<String>,
    /// Why they could not be cleared: then the vault's restriction was not lifted.
    pub error: Option<String>,
    /// What staff must do there, where kluis cannot clear the marks itself (the
    /// restriction was carried out there by hand, or the system is no longer registered).
    pub by_hand: Option<String>,
}

impl LiftReport {
    /// The systems whose marks could not be cleared.
    pub fn failed(&self) -> Vec<&SystemUnmarked> {
        self.systems.iter().filter(|s| s.error.is_some()).collect()
    }
}

/// Lifts the restriction in force on `subject_id` under `activity`, asked at request
/// `reference` (art. 18(3)): first the
/// marks the request that asked for it set in connected systems are cleared, then the
/// vault's restriction is lifted ([`Store::lift_restriction`]). When a system's marks cannot
/// be cleared, the vault's restriction stays in force and the report says which system
/// failed and why; lifting again finishes it.
pub async fn lift_restriction(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    subject_id: Uuid,
    (activity, reference): (&str, &str),
    told_on: Date,
    reason: &str,
) -> Result<LiftReport, StoreError> {
    let (actor, now) = (processing.actor.name.as_str(), processing.now);
    let restrictions = store.restrictions(subject_id).await?;
    let Some(in_force) = restrictions
        .iter()
        .find(|r| r.activity == activity && r.lifted_at.is_none())
    else {
        // Nothing in force: the vault refuses it, in its own words.
        let lifted = store
            .lift_restriction(subject_id, activity, told_on, reason, actor, now)
            .await?;
        return Ok(LiftReport {
            lifted: Some(lifted),
            systems: Vec::new(),
        });
    };
    // Only under the request that asked for it: another request's reference is a mistake.
    if !in_force
        .request_reference
        .eq_ignore_ascii_case(reference.trim())
    {
        return Err(StoreError::Invalid(format!(
            "the restriction of {subject_id} under {activity} was asked at request {}, not \
             {reference}: lift it under that request",
            in_force.request_reference
        )));
    }
    // Refused before any system is touched, as the vault would refuse it.
    kluis_store::may_lift(Some(in_force), told_on, reason, now)?;
    let systems = release_marks(
        store,
        urls,
        processing,
        subject_id,
        (Right::Restriction, activity, &in_force.request_reference),
    )
    .await?;
    let mut report = LiftReport {
        lifted: None,
        systems,
    };
    if report.failed().is_empty() {
        report.lifted = Some(
            store
                .lift_restriction(subject_id, activity, told_on, reason, actor, now)
                .await?,
        );
    }
    Ok(report)
}

/// What recording compelling grounds for an objection did: in the vault, and in each
/// system the objection was marked in.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideReport {
    /// The objection with its grounds, once recorded; None when a system could not be
    /// cleared and the objection therefore stays in force.
    pub recorded: Option<ObjectionReport>,
    pub systems: Vec<SystemUnmarked>,
}

/// Records the compelling grounds that override the objection of `subject_id` under
/// `activity` made at request `reference` (art. 21(1)), so processing continues: first the
/// marks that request set in connected systems are cleared, then the grounds are recorded
/// ([`Store::record_compelling_grounds`]). When a system's marks cannot be cleared, no
/// grounds are recorded: the objection stays in force and the report names the system.
pub async fn override_objection(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    subject_id: Uuid,
    (activity, reference): (&str, &str),
    grounds: &str,
) -> Result<OverrideReport, StoreError> {
    let (actor, now) = (processing.actor.name.as_str(), processing.now);
    let open = store.objections(subject_id).await?.into_iter().find(|o| {
        o.activity == activity
            && o.request_reference.eq_ignore_ascii_case(reference.trim())
            && o.in_force()
    });
    let mut report = OverrideReport {
        recorded: None,
        systems: Vec::new(),
    };
    // Only an objection in force and real grounds clear marks; anything else the vault
    // answers (unchanged, or refused) without a system being touched.
    if let Some(o) = open.filter(|_| !grounds.trim().is_empty()) {
        report.systems = release_marks(
            store,
            urls,
            processing,
            subject_id,
            (Right::Objection, activity, &o.request_reference),
        )
        .await?;
    }
    if report.systems.iter().all(|s| s.error.is_none()) {
        report.recorded = Some(
            store
                .record_compelling_grounds(subject_id, activity, reference, grounds, actor, now)
                .await?,
        );
    }
    Ok(report)
}

/// Clears the marks that the request `reference` set in connected systems for `right`
/// under `activity`, except where another restriction or objection in force needs them,
/// and says per system what became of them.
async fn release_marks(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    subject_id: Uuid,
    (right, activity, reference): (Right, &str, &str),
) -> Result<Vec<SystemUnmarked>, StoreError> {
    let Some(request_id) = store.rights_request_by_reference(reference).await? else {
        return Ok(Vec::new());
    };
    let request = store.rights_request(request_id).await?;
    let (marked, by_hand) = marked_systems(store, request_id, right, activity).await?;
    if marked.is_empty() && by_hand.is_empty() {
        // Nothing was marked in a system: the person is not looked up.
        return Ok(Vec::new());
    }
    let kept = marked_by_others(store, subject_id, (right, activity, &request.reference)).await?;
    let mut processing = processing.clone();
    processing.case_ref = Some(request.reference.clone());
    let mut systems = unmark(
        store,
        urls,
        &processing,
        &request,
        (right, activity),
        &marked,
        &kept,
    )
    .await?;
    for name in by_hand.difference(&marked) {
        systems.push(SystemUnmarked {
            system: name.clone(),
            rows: 0,
            cleared: 0,
            kept_because: None,
            error: None,
            by_hand: Some(format!(
                "the {} was carried out there by hand: end it there by hand too",
                right.name()
            )),
        });
    }
    systems.sort_by(|a, b| a.system.cmp(&b.system));
    Ok(systems)
}

/// Where request `request_id` marked the person's rows for `right` under `activity`: the
/// systems kluis marked (its actions there that are done, or that failed after rows were
/// marked, when recording it failed), and those where staff carried it out by hand.
async fn marked_systems(
    store: &Store,
    request_id: Uuid,
    right: Right,
    activity: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
    let (mut by_kluis, mut by_hand) = (BTreeSet::new(), BTreeSet::new());
    let actions = store.fulfilment_status(request_id).await?.actions;
    for a in actions.into_iter().filter(|a| {
        a.right == right && a.activity == activity && a.target != VAULT && a.target != PACKAGE
    }) {
        let rows_marked = a
            .report
            .as_ref()
            .and_then(|r| r.get("rows_marked"))
            .and_then(|n| n.as_u64())
            .unwrap_or(0);
        match (a.carried_out_by, a.status) {
            (CarriedOutBy::Kluis, ActionStatus::Done) => by_kluis.insert(a.target),
            (CarriedOutBy::Kluis, ActionStatus::Failed) if rows_marked > 0 => {
                by_kluis.insert(a.target)
            }
            (CarriedOutBy::Staff, ActionStatus::Done) => by_hand.insert(a.target),
            _ => false,
        };
    }
    Ok((by_kluis, by_hand))
}

/// The systems whose marks of the person another restriction or objection in force (than
/// `right` under `activity` at request `reference`) also set, with which: clearing them
/// would end that one too.
async fn marked_by_others(
    store: &Store,
    subject_id: Uuid,
    (right, activity, reference): (Right, &str, &str),
) -> Result<BTreeMap<String, String>, StoreError> {
    let itself = |r: Right, a: &str, at: &str| r == right && a == activity && at == reference;
    let mut others: Vec<(Right, String, String)> = Vec::new();
    for r in store.restrictions(subject_id).await? {
        if r.lifted_at.is_none() && !itself(Right::Restriction, &r.activity, &r.request_reference) {
            others.push((Right::Restriction, r.activity, r.request_reference));
        }
    }
    for o in store.objections(subject_id).await? {
        if o.in_force() && !itself(Right::Objection, &o.activity, &o.request_reference) {
            others.push((Right::Objection, o.activity, o.request_reference));
        }
    }
    let mut kept = BTreeMap::new();
    for (right, other_activity, other_reference) in others {
        let Some(id) = store.rights_request_by_reference(&other_reference).await? else {
            continue;
        };
        for system in marked_systems(store, id, right, &other_activity).await?.0 {
            kept.entry(system).or_insert_with(|| {
                format!(
                    "the {} of request {other_reference} under {other_activity} is still in \
                     force and marked these rows too",
                    right.name()
                )
            });
        }
    }
    Ok(kept)
}

/// Clears the person's marks in `marked` (all at once), except the systems in `kept`, and
/// logs each system where marks were cleared.
async fn unmark(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    (right, activity): (Right, &str),
    marked: &BTreeSet<String>,
    kept: &BTreeMap<String, String>,
) -> Result<Vec<SystemUnmarked>, StoreError> {
    let maps: Vec<DatasetMap> = store.systems().await?.into_iter().map(|s| s.map).collect();
    let identity = identity_of(store, processing, request).await?;
    let (person, _) = person_query(&SubjectQuery::Id(request.id), &[&identity]);
    let outcome =
        |system: &str, kept_because: Option<String>, error: Option<String>| SystemUnmarked {
            system: system.to_string(),
            rows: 0,
            cleared: 0,
            kept_because,
            error,
            by_hand: None,
        };
    let mut out = Vec::new();
    let mut reachable: Vec<System> = Vec::new();
    for name in marked {
        if let Some(why) = kept.get(name) {
            out.push(outcome(name, Some(why.clone()), None));
            continue;
        }
        if !maps.iter().any(|m| &m.name == name) {
            // Gone from kluis: nothing to reach it by, and no reason to keep the vault's
            // restriction in force for it; staff are told.
            let mut gone = outcome(name, None, None);
            gone.by_hand = Some(format!(
                "system '{name}' is no longer registered with kluis: clear the person's \
                 restriction marks there by hand"
            ));
            out.push(gone);
            continue;
        }
        match system_of(&maps, urls, name, "clear the restriction mark") {
            Ok(_) if person.is_empty() => out.push(outcome(
                name,
                None,
                Some("the person has no identifier the system can be searched by".into()),
            )),
            Ok(system) => reachable.push(system),
            Err(error) => out.push(outcome(name, None, Some(error))),
        }
    }
    let reports = restrict_person_all(&reachable, &person, false, Some(&processing.trace)).await;
    for (report, system) in reports.iter().zip(&reachable) {
        let mut done = outcome(
            system.name(),
            None,
            report.error.as_ref().map(|e| e.to_string()),
        );
        if report.is_complete() {
            done.rows = report.rows();
            done.cleared = report.changed();
            let activities = [activity.to_string()];
            let categories = marked_categories(system.map(), report);
            let marks = SystemMarks {
                right,
                reference: &request.reference,
                system: system.name(),
                activities: &activities,
                categories: &categories,
                restricted: false,
                changed: report.changed(),
            };
            store
                .log_system_unmarking(processing, &identity, &marks)
                .await?;
        }
        out.push(done);
    }
    Ok(out)
}

/// What became of the marks, one line per system, for the command line.
pub fn marks_text(systems: &[SystemUnmarked]) -> String {
    let mut out = String::new();
    for s in systems {
        match (&s.kept_because, &s.error, &s.by_hand) {
            (_, Some(e), _) => out.push_str(&format!("{}: NOT cleared: {e}\n", s.system)),
            (_, None, Some(todo)) => {
                out.push_str(&format!("{}: to do by hand: {todo}\n", s.system))
            }
            (Some(why), None, None) => out.push_str(&format!("{}: marks kept: {why}\n", s.system)),
            (None, None, None) => out.push_str(&format!(
                "{}: restriction mark cleared on {} of {} row(s)\n",
                s.system, s.cleared, s.rows
            )),
        }
    }
    out
}
