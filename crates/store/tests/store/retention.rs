//! Retention enforcement on both backends: holds keep data from the sweep, extensions are
//! capped, approval is needed where the controller requires it, and a sweep killed half
//! way resumes without ever destroying data without its destruction-log entry.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::access::{Role, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::destruction::{
    Destroyed, DestructionMethod, HoldScope, ListState, NewDestruction, NewHold, RunState,
};
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::Register;
use kluis_domain::retention::{Anonymisation, Period, RetentionEvent, RetentionRule};
use kluis_domain::text::Text;
use kluis_domain::trace::TraceContext;
use kluis_store::{Processing, Store, StoreError, SweepOptions, SweepOutcome};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::{activity, controller};

stories!(
    legal_holds_keep_records_subjects_and_cases_from_the_sweep,
    bad_holds_are_refused_and_nothing_is_stored,
    extensions_move_the_deadline_and_stop_at_the_cap,
    the_plan_counts_due_held_and_to_review_per_activity,
    where_approval_is_required_only_approved_lists_are_destroyed,
    a_killed_sweep_resumes_and_every_destruction_has_its_log_entry,
    two_sweeps_at_once_only_one_destroys,
    a_batch_logs_its_records_by_deadline_with_their_ids,
    subjects_left_with_nothing_are_deleted_and_others_kept,
    destruction_of_rows_in_other_systems_is_logged_without_data,
    a_schedule_that_anonymises_keeps_only_its_fields_and_no_person,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn staff(name: &str) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(format!("id-{name}")),
            name: name.into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: NOW,
    }
}

fn job(now: OffsetDateTime) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::SystemJob,
            id: None,
            name: "retention sweep".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now,
    }
}

/// A city with camera images (30 days after recording), a reserve of applicants (1 year,
/// at most twice 1 year more) and subsidy files kept while needed.
async fn register(store: &Store) {
    register_with(store, None).await;
}

/// [`register`], the camera images anonymised keeping the fields `camera_keeps` names.
async fn register_with(store: &Store, camera_keeps: Option<&[&str]>) {
    let mut camera = activity("camera", "city", "Camerabewaking");
    camera.retention[0].anonymise = camera_keeps.map(|keep| Anonymisation {
        keep: keep.iter().map(|k| k.to_string()).collect(),
    });
    camera.retention[0].key = "beelden".into();
    camera.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Recording,
        period: Period::days(30),
    };
    camera.data_categories.push(DataCategory::SoundImage);
    let mut werving = activity("werving", "city", "Werving en selectie");
    werving.retention[0].key = "werfreserve".into();
    werving.retention[0].rule = RetentionRule::Extendable {
        event: RetentionEvent::EndOfProcedure,
        period: Period::years(1),
        extension: Period::years(1),
        max_extensions: 2,
    };
    let mut subsidie = activity("subsidie", "city", "Subsidies");
    subsidie.retention[0].rule = RetentionRule::WhileNeeded {
        criterion: Text::nl("zolang het subsidiedossier loopt"),
        event: None,
        maximum: None,
    };
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![camera, werving, subsidie],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

async fn person(store: &Store, email: &str, guardians: &[Uuid]) -> Uuid {
    let identity = SubjectIdentity {
        email: Some(email.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    store
        .record_subject(&staff("caseworker"), "camera", &identity, guardians)
        .await
        .unwrap()
        .0
        .id
}

/// Camera images recorded on `recorded`: due 30 days later.
async fn images(store: &Store, subject: Uuid, recorded: Date) -> Uuid {
    images_for(store, subject, recorded, None).await
}

/// Camera images recorded for `case`, when given: the processing's case goes on the record.
async fn images_for(store: &Store, subject: Uuid, recorded: Date, case: Option<&str>) -> Uuid {
    let mut processing = staff("caseworker");
    processing.case_ref = case.map(str::to_string);
    let input = RecordInput {
        activity: "camera".into(),
        schedule: None,
        category: DataCategory::SoundImage,
        fields: BTreeMap::from([("clip".to_string(), serde_json::json!("cam-3/0915.mp4"))]),
        source: None,
        collected_on: recorded,
        events: BTreeMap::from([(RetentionEvent::Recording, recorded)]),
        provided_by_subject: false,
    };
    store
        .add_record(&processing, subject, &input)
        .await
        .unwrap()
        .id
}

/// The e-mail addresses of the people a hold keeps on `day`, for the connected systems.
async fn held_emails(store: &Store, day: Date) -> Vec<String> {
    let mut emails: Vec<String> = store
        .held_people(day)
        .await
        .expect("the held people")
        .into_iter()
        .map(|p| p.email.expect("an e-mail").as_str().to_string())
        .collect();
    emails.sort();
    emails
}

async fn record_exists(store: &Store, id: Uuid) -> bool {
    store.record_exists(id).await.expect("look the record up")
}

async fn ran(outcome: Result<SweepOutcome, StoreError>) -> kluis_store::RetentionRun {
    match outcome.expect("the sweep") {
        SweepOutcome::Ran(run) => run,
        other => panic!("the sweep did not run: {other:?}"),
    }
}

fn hold(scope: HoldScope, target: String) -> NewHold {
    NewHold {
        scope,
        target,
        reason: "PV 2026/117: beschadiging van een wagen".into(),
        from: NOW.date(),
        until: None,
    }
}

async fn legal_holds_keep_records_subjects_and_cases_from_the_sweep(store: &Store) {
    register(store).await;
    let old = date!(2026 - 09 - 01);
    let (a, b, c, d) = (
        person(store, "a@example.be", &[]).await,
        person(store, "b@example.be", &[]).await,
        person(store, "c@example.be", &[]).await,
        person(store, "d@example.be", &[]).await,
    );
    let on_record = images(store, a, old).await;
    let of_subject = images(store, b, old).await;
    let in_case = images(store, c, old).await;
    let free = images(store, d, old).await;
    // Recorded for the case from the start: the case hold keeps it without a link by hand.
    let f = person(store, "f@example.be", &[]).await;
    let recorded_for_case = images_for(store, f, old, Some("PV-2026-117")).await;
    let p = staff("jurist");
    store
        .link_record_to_case(&p, in_case, Some("PV-2026-117"))
        .await
        .unwrap();
    let h1 = store
        .place_hold(&p, &hold(HoldScope::Record, on_record.to_string()))
        .await
        .unwrap();
    store
        .place_hold(&p, &hold(HoldScope::Subject, b.to_string()))
        .await
        .unwrap();
    store
        .place_hold(&p, &hold(HoldScope::Case, "PV-2026-117".into()))
        .await
        .unwrap();
    // Placing a hold is logged for the person whose data it keeps.
    let pseudonyms = store.subject_pseudonyms_of(a).await.unwrap();
    let updates = store
        .log_entries(
            &LogSelector {
                subjects: pseudonyms.clone(),
                ..LogSelector::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Update && e.actor.name == "jurist")
        .count();
    assert_eq!(updates, 1);
    // The people held, by their own hold, a record's or a case's: the sweep of the
    // connected systems leaves their rows. Not before the holds begin.
    assert_eq!(
        held_emails(store, NOW.date()).await,
        [
            "a@example.be",
            "b@example.be",
            "c@example.be",
            "f@example.be"
        ]
    );
    assert!(
        held_emails(store, NOW.date() - Duration::days(1))
            .await
            .is_empty()
    );

    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!(run.state, RunState::Finished);
    assert_eq!((run.destroyed, run.held), (1, 4));
    assert!(!record_exists(store, free).await);
    for kept in [on_record, of_subject, in_case, recorded_for_case] {
        assert!(
            record_exists(store, kept).await,
            "held record {kept} was destroyed"
        );
    }

    // Lifting is recorded, the hold stays; the next sweep destroys what it kept.
    let lifted = store
        .lift_hold(&p, h1.id, "de zaak is geseponeerd")
        .await
        .unwrap();
    assert_eq!(lifted.lifted_by.as_deref(), Some("jurist"));
    assert!(lifted.lifted_at.is_some());
    assert_eq!(store.holds(true).await.unwrap().len(), 3);
    assert_eq!(store.holds(false).await.unwrap().len(), 2);
    let err = store.lift_hold(&p, h1.id, "nogmaals").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        held_emails(store, NOW.date()).await,
        ["b@example.be", "c@example.be", "f@example.be"]
    );
    let run = ran(store
        .sweep_retention(&job(NOW + Duration::hours(1)), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (1, 3));
    assert!(!record_exists(store, on_record).await);

    // A hold that ended no longer keeps anything.
    let e = person(store, "e@example.be", &[]).await;
    let ending = images(store, e, old).await;
    let until = NewHold {
        until: Some(NOW.date() + Duration::days(2)),
        ..hold(HoldScope::Record, ending.to_string())
    };
    store.place_hold(&p, &until).await.unwrap();
    let run = ran(store
        .sweep_retention(&job(NOW + Duration::hours(2)), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (0, 4));
    assert!(
        held_emails(store, NOW.date())
            .await
            .contains(&"e@example.be".into())
    );
    assert!(
        !held_emails(store, NOW.date() + Duration::days(3))
            .await
            .contains(&"e@example.be".into())
    );
    let run = ran(store
        .sweep_retention(&job(NOW + Duration::days(3)), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (1, 3));
    assert!(!record_exists(store, ending).await);
}

async fn bad_holds_are_refused_and_nothing_is_stored(store: &Store) {
    register(store).await;
    let a = person(store, "a@example.be", &[]).await;
    let r = images(store, a, date!(2026 - 09 - 01)).await;
    let p = staff("jurist");
    let cases = [
        hold(HoldScope::Record, "not-an-id".into()),
        hold(HoldScope::Record, Uuid::nil().to_string()),
        hold(HoldScope::Subject, Uuid::nil().to_string()),
        hold(HoldScope::Case, "   ".into()),
        NewHold {
            reason: " ".into(),
            ..hold(HoldScope::Record, r.to_string())
        },
        NewHold {
            until: Some(NOW.date() - Duration::days(1)),
            ..hold(HoldScope::Record, r.to_string())
        },
    ];
    for bad in cases {
        let err = store.place_hold(&p, &bad).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_) | StoreError::NotFound { .. }),
            "{bad:?}: {err:?}"
        );
    }
    assert!(store.holds(true).await.unwrap().is_empty());
    let err = store.lift_hold(&p, Uuid::nil(), "einde").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .link_record_to_case(&p, r, Some(&"x".repeat(101)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .sweep_retention(
            &job(NOW),
            &SweepOptions {
                batch_size: 0,
                ..SweepOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(record_exists(store, r).await);
}

async fn extensions_move_the_deadline_and_stop_at_the_cap(store: &Store) {
    register(store).await;
    let a = person(store, "a@example.be", &[]).await;
    let p = staff("hr");
    let input = RecordInput {
        activity: "werving".into(),
        schedule: None,
        category: DataCategory::Identification,
        fields: BTreeMap::from([("cv".to_string(), serde_json::json!("cv.pdf"))]),
        source: None,
        collected_on: date!(2025 - 01 - 10),
        events: BTreeMap::from([(RetentionEvent::EndOfProcedure, date!(2025 - 03 - 01))]),
        provided_by_subject: true,
    };
    let record = store.add_record(&p, a, &input).await.unwrap();
    let camera = images(store, a, date!(2026 - 11 - 01)).await;

    // Out of scope: refused and logged, nothing changed.
    let only_camera = Scope::Activities(BTreeSet::from(["camera".to_string()]));
    let err = store
        .extend_retention(&p, record.id, &only_camera)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope { .. }), "{err:?}");

    let first = store
        .extend_retention(&p, record.id, &Scope::All)
        .await
        .unwrap();
    assert_eq!((first.extensions, first.max_extensions), (1, 2));
    assert_eq!(first.deadline, Some(date!(2027 - 03 - 01)));
    let second = store
        .extend_retention(&p, record.id, &Scope::All)
        .await
        .unwrap();
    assert_eq!(second.deadline, Some(date!(2028 - 03 - 01)));
    let err = store
        .extend_retention(&p, record.id, &Scope::All)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already extended 2 times"),
        "{err}"
    );
    // A fixed period is not extendable.
    let err = store
        .extend_retention(&p, camera, &Scope::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be extended"), "{err}");
    let err = store
        .extend_retention(&p, Uuid::nil(), &Scope::All)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // The stored deadline is the extended one: the sweep leaves the record alone.
    let view = store
        .subject(&p, a, &Scope::All)
        .await
        .unwrap()
        .expect("subject");
    let stored = view.records.iter().find(|r| r.id == record.id).unwrap();
    assert_eq!(stored.extensions, 2);
    assert_eq!(
        stored.deadline,
        kluis_domain::retention::Deadline::On(date!(2028 - 03 - 01))
    );
    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!(run.destroyed, 0);
    // Each extension is an Update in the processing log.
    let updates = store
        .log_entries(
            &LogSelector {
                activity: Some("werving".into()),
                ..LogSelector::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Update)
        .count();
    assert_eq!(updates, 2);
}

async fn the_plan_counts_due_held_and_to_review_per_activity(store: &Store) {
    register(store).await;
    let a = person(store, "a@example.be", &[]).await;
    let b = person(store, "b@example.be", &[]).await;
    images(store, a, date!(2026 - 09 - 01)).await; // due 2026-10-01
    images(store, a, date!(2026 - 10 - 10)).await; // due 2026-11-09
    images(store, a, date!(2026 - 11 - 20)).await; // due 2026-12-20
    let held = images(store, b, date!(2026 - 09 - 05)).await;
    let p = staff("jurist");
    store
        .place_hold(&p, &hold(HoldScope::Record, held.to_string()))
        .await
        .unwrap();
    let subsidy = RecordInput {
        activity: "subsidie".into(),
        schedule: None,
        category: DataCategory::Identification,
        fields: BTreeMap::new(),
        source: None,
        collected_on: date!(2026 - 01 - 01),
        events: BTreeMap::new(),
        provided_by_subject: false,
    };
    store.add_record(&p, a, &subsidy).await.unwrap();

    let plan = store
        .retention_plan(date!(2026 - 11 - 30), NOW.date())
        .await
        .unwrap();
    let camera = plan
        .activities
        .iter()
        .find(|l| l.activity == "camera")
        .unwrap();
    assert_eq!(
        (camera.due, camera.held, camera.earliest_deadline),
        (2, 1, Some(date!(2026 - 10 - 01)))
    );
    assert_eq!(
        (camera.to_erase, camera.to_anonymise),
        (2, 0),
        "the schedule does not anonymise: erased"
    );
    assert!(!camera.approval_required);
    let review = plan
        .activities
        .iter()
        .find(|l| l.activity == "subsidie")
        .unwrap();
    assert_eq!((review.due, review.to_review), (0, 1));
    let later = store
        .retention_plan(date!(2026 - 12 - 31), NOW.date())
        .await
        .unwrap();
    assert_eq!(later.activities[0].due, 3);
    // The plan changed nothing.
    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (2, 1));
}

async fn where_approval_is_required_only_approved_lists_are_destroyed(store: &Store) {
    register(store).await;
    store
        .create_user(
            "dpo",
            "Functionaris",
            "een lang wachtwoord",
            &[Role::Dpo],
            NOW,
        )
        .await
        .unwrap();
    store
        .create_user(
            "clerk",
            "Bediende",
            "een lang wachtwoord",
            &[Role::Caseworker],
            NOW,
        )
        .await
        .unwrap();
    let a = person(store, "a@example.be", &[]).await;
    let first = images(store, a, date!(2026 - 09 - 01)).await;
    let err = store
        .create_destruction_list("city", NOW.date(), "dpo", NOW)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not require approval"),
        "{err}"
    );
    let err = store
        .set_destruction_approval("nowhere", true, "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store
        .set_destruction_approval("city", true, "dpo", NOW)
        .await
        .unwrap();

    // Without an approved list nothing goes, and the run says how much waits.
    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.awaiting_approval), (0, 1));
    assert!(record_exists(store, first).await);

    let list = store
        .create_destruction_list("city", NOW.date(), "dpo", NOW)
        .await
        .unwrap();
    assert_eq!((list.records, list.state), (1, ListState::Proposed));
    // A record due after the list was drawn up is not on it.
    let second = images(store, a, date!(2026 - 09 - 02)).await;
    let err = store
        .approve_destruction_list(list.id, "clerk", NOW)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not the data protection officer"),
        "{err}"
    );
    let err = store
        .approve_destruction_list(Uuid::nil(), "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let approved = store
        .approve_destruction_list(list.id, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(approved.state, ListState::Approved);
    assert_eq!(approved.approved_by.as_deref(), Some("dpo"));
    let err = store
        .approve_destruction_list(list.id, "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let plan = store.retention_plan(NOW.date(), NOW.date()).await.unwrap();
    assert!(plan.activities[0].approval_required);
    assert_eq!(
        (plan.activities[0].due, plan.activities[0].approved),
        (2, 1)
    );

    let run = ran(store
        .sweep_retention(&job(NOW + Duration::hours(1)), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.awaiting_approval), (1, 1));
    assert!(!record_exists(store, first).await);
    assert!(record_exists(store, second).await);

    // A list whose record came under a hold after it was drawn up is refused.
    let list = store
        .create_destruction_list("city", NOW.date(), "dpo", NOW)
        .await
        .unwrap();
    store
        .place_hold(
            &staff("jurist"),
            &hold(HoldScope::Record, second.to_string()),
        )
        .await
        .unwrap();
    let err = store
        .approve_destruction_list(list.id, "dpo", NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("legal hold"), "{err}");
    assert_eq!(
        store.destruction_list(list.id).await.unwrap().state,
        ListState::Proposed
    );
    assert_eq!(store.destruction_lists().await.unwrap().len(), 2);

    // The DPO rejects it instead, with a reason; only the DPO, only with a reason, once.
    for (who, reason, expected) in [
        ("dpo", "  ", "say why"),
        ("clerk", "bewijs", "not the data protection officer"),
    ] {
        let err = store
            .reject_destruction_list(list.id, who, reason, NOW)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let rejected = store
        .reject_destruction_list(list.id, "dpo", "bewijs in een lopend dossier", NOW)
        .await
        .unwrap();
    assert_eq!(rejected.state, ListState::Rejected);
    assert_eq!(rejected.rejected_by.as_deref(), Some("dpo"));
    assert_eq!(
        rejected.rejection_reason.as_deref(),
        Some("bewijs in een lopend dossier")
    );
    for err in [
        store
            .reject_destruction_list(list.id, "dpo", "nogmaals", NOW)
            .await
            .unwrap_err(),
        store
            .approve_destruction_list(list.id, "dpo", NOW)
            .await
            .unwrap_err(),
    ] {
        assert!(err.to_string().contains("rejected"), "{err}");
    }
    let err = store
        .reject_destruction_list(Uuid::nil(), "dpo", "x", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

/// Every destroyed record is listed in exactly one destruction-log entry, and no surviving
/// record is.
async fn check_log_matches(store: &Store, records: &[Uuid]) -> usize {
    let listed: Vec<Uuid> = store
        .destruction_log(None, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|e| e.record_ids)
        .collect();
    let logged: BTreeSet<Uuid> = listed.iter().copied().collect();
    assert_eq!(
        logged.len(),
        listed.len(),
        "a record listed twice: {listed:?}"
    );
    let mut destroyed = 0;
    for r in records {
        let exists = record_exists(store, *r).await;
        assert_eq!(
            exists,
            !logged.contains(r),
            "record {r}: exists {exists}, logged {}",
            logged.contains(r)
        );
        destroyed += usize::from(!exists);
    }
    destroyed
}

async fn a_killed_sweep_resumes_and_every_destruction_has_its_log_entry(store: &Store) {
    register(store).await;
    let mut records = Vec::new();
    for i in 0..5 {
        let s = person(store, &format!("p{i}@example.be"), &[]).await;
        records.push(images(store, s, date!(2026 - 09 - 01) + Duration::days(i)).await);
    }
    let killed = SweepOptions {
        batch_size: 1,
        stop_after_batches: Some(2),
        ..SweepOptions::default()
    };
    let first = ran(store.sweep_retention(&job(NOW), &killed).await).await;
    assert_eq!(
        (first.state, first.destroyed, first.batches),
        (RunState::Running, 2, 2)
    );
    assert_eq!(check_log_matches(store, &records).await, 2);

    // Its lease still runs: another sweep finds the run taken.
    let again = store
        .sweep_retention(&job(NOW + Duration::minutes(1)), &SweepOptions::default())
        .await
        .unwrap();
    assert!(matches!(again, SweepOutcome::Taken { .. }), "{again:?}");

    // Once the lease ran out, the next run resumes and marks the killed one.
    let later = NOW + SweepOptions::default().lease + Duration::minutes(1);
    let second = ran(store
        .sweep_retention(&job(later), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((second.state, second.destroyed), (RunState::Finished, 3));
    assert_eq!(
        store.retention_run(first.id).await.unwrap().state,
        RunState::Interrupted
    );
    assert_eq!(check_log_matches(store, &records).await, 5);
    let entries = store
        .destruction_log(Some(second.id), 0, 100)
        .await
        .unwrap();
    // One entry per deadline in a batch: these three records each had their own.
    let record_entries: Vec<_> = entries.iter().filter(|e| e.table == "records").collect();
    assert_eq!(record_entries.len(), 3);
    for e in &record_entries {
        assert_eq!((e.system.as_str(), e.table.as_str()), ("kluis", "records"));
        assert_eq!((e.rows, e.record_ids.len(), e.record_id), (1, 1, None));
        assert_eq!(e.rule, "30 days after recording");
        assert_eq!(e.schedule, "beelden");
        assert_eq!(e.method, DestructionMethod::Erase);
        assert!(e.deadline.is_some());
    }
    // The subjects went too, counted, not named.
    let subjects: i64 = entries
        .iter()
        .filter(|e| e.table == "data_subjects")
        .map(|e| e.rows)
        .sum();
    assert_eq!(subjects, 3);
    let runs = store.retention_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs.iter().map(|r| r.destroyed).sum::<i64>(), 5);
    // The processing log says what was erased, by the job.
    let erased = store
        .log_entries(
            &LogSelector {
                activity: Some("camera".into()),
                ..LogSelector::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Erase)
        .collect::<Vec<_>>();
    assert_eq!(erased.len(), 5);
    assert!(erased.iter().all(|e| e.actor.kind == ActorKind::SystemJob));
    assert!(
        erased
            .iter()
            .all(|e| e.entry.data_categories.contains(&"sound_image".to_string()))
    );
    assert!(store.verify_log(None).await.unwrap().is_ok());
    // The daily job ran today already; a second one the same day does nothing.
    let daily = SweepOptions {
        once_per_day: true,
        ..SweepOptions::default()
    };
    let twice = store
        .sweep_retention(&job(later + Duration::minutes(2)), &daily)
        .await
        .unwrap();
    assert_eq!(twice, SweepOutcome::AlreadyRanToday(later.date()));
}

async fn two_sweeps_at_once_only_one_destroys(store: &Store) {
    register(store).await;
    let mut records = Vec::new();
    for i in 0..6 {
        let s = person(store, &format!("p{i}@example.be"), &[]).await;
        records.push(images(store, s, date!(2026 - 09 - 01)).await);
    }
    // Two instances of kluis with the daily job: each its own store on one database.
    let daily = SweepOptions {
        batch_size: 1,
        once_per_day: true,
        ..SweepOptions::default()
    };
    let other = store.clone();
    let sweeper = job(NOW);
    let (one, two) = tokio::join!(
        store.sweep_retention(&sweeper, &daily),
        other.sweep_retention(&sweeper, &daily)
    );
    let outcomes = [one.unwrap(), two.unwrap()];
    let ran: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            SweepOutcome::Ran(run) => Some(run),
            _ => None,
        })
        .collect();
    assert_eq!(ran.len(), 1, "{outcomes:?}");
    assert_eq!(ran[0].destroyed, 6);
    assert!(
        outcomes.iter().any(|o| matches!(
            o,
            SweepOutcome::Taken { .. } | SweepOutcome::AlreadyRanToday(_)
        )),
        "{outcomes:?}"
    );
    assert_eq!(check_log_matches(store, &records).await, 6);
}

/// A batch writes one destruction-log entry per activity, schedule and deadline, counting
/// and listing its records, never one per record.
async fn a_batch_logs_its_records_by_deadline_with_their_ids(store: &Store) {
    register(store).await;
    let mut same_day = BTreeSet::new();
    for i in 0..4 {
        let s = person(store, &format!("p{i}@example.be"), &[]).await;
        same_day.insert(images(store, s, date!(2026 - 09 - 01)).await);
    }
    let s = person(store, "later@example.be", &[]).await;
    let later = images(store, s, date!(2026 - 09 - 02)).await;
    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!(run.destroyed, 5);
    let entries = store.destruction_log(Some(run.id), 0, 100).await.unwrap();
    let records: Vec<_> = entries.iter().filter(|e| e.table == "records").collect();
    assert_eq!(records.len(), 2, "{entries:?}");
    assert_eq!(records[0].rows, 4);
    assert_eq!(records[0].record_id, None);
    assert_eq!(
        records[0]
            .record_ids
            .iter()
            .copied()
            .collect::<BTreeSet<_>>(),
        same_day
    );
    assert_eq!(records[0].deadline, Some(date!(2026 - 10 - 01)));
    assert_eq!(
        (records[1].rows, records[1].record_ids.clone()),
        (1, vec![later])
    );
    assert_eq!(records[1].deadline, Some(date!(2026 - 10 - 02)));
    // The five people went too, counted in one entry, not named.
    let subjects: Vec<_> = entries
        .iter()
        .filter(|e| e.table == "data_subjects")
        .collect();
    assert_eq!(subjects.len(), 1);
    assert_eq!((subjects[0].rows, subjects[0].record_ids.len()), (5, 0));
}

async fn subjects_left_with_nothing_are_deleted_and_others_kept(store: &Store) {
    register(store).await;
    let parent = person(store, "ouder@example.be", &[]).await;
    let child = person(store, "kind@example.be", &[parent]).await;
    let alone = person(store, "alleen@example.be", &[]).await;
    let busy = person(store, "druk@example.be", &[]).await;
    images(store, parent, date!(2026 - 09 - 01)).await;
    images(store, alone, date!(2026 - 09 - 01)).await;
    images(store, busy, date!(2026 - 09 - 01)).await;
    images(store, busy, date!(2026 - 11 - 20)).await;
    let alone_names = store.subject_pseudonyms_of(alone).await.unwrap();
    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.subjects_deleted), (3, 1));
    let p = staff("caseworker");
    assert!(
        store
            .subject(&p, alone, &Scope::All)
            .await
            .unwrap()
            .is_none()
    );
    // A guardian stays (the guardianship names them), and so does someone with records.
    assert!(
        store
            .subject(&p, parent, &Scope::All)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .subject(&p, child, &Scope::All)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .subject(&p, busy, &Scope::All)
            .await
            .unwrap()
            .is_some()
    );
    // The deleted person's erasure names the identity too.
    let erased = store
        .log_entries(
            &LogSelector {
                subjects: alone_names,
                ..LogSelector::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Erase)
        .collect::<Vec<_>>();
    assert_eq!(erased.len(), 1);
    assert_eq!(
        erased[0].entry.data_categories,
        vec!["identification".to_string(), "sound_image".to_string()]
    );
}

async fn destruction_of_rows_in_other_systems_is_logged_without_data(store: &Store) {
    register(store).await;
    let entry = NewDestruction {
        activity: "werving".into(),
        schedule: "werfreserve".into(),
        rule: "1 year after end_of_procedure".into(),
        what: Destroyed::SystemRows {
            system: "hr".into(),
            table: "applicants".into(),
            rows: 12,
        },
        method: DestructionMethod::Anonymise,
        deadline: Some(date!(2026 - 03 - 01)),
    };
    store
        .record_destruction(None, NOW, std::slice::from_ref(&entry))
        .await
        .unwrap();
    let bad = NewDestruction {
        what: Destroyed::SystemRows {
            system: " ".into(),
            table: "applicants".into(),
            rows: 1,
        },
        ..entry.clone()
    };
    let err = store
        .record_destruction(None, NOW, &[bad])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let log = store.destruction_log(None, 0, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].system.as_str(), log[0].table.as_str(), log[0].rows),
        ("hr", "applicants", 12)
    );
    assert_eq!(log[0].method, DestructionMethod::Anonymise);
    assert_eq!(log[0].record_id, None);
}

/// A schedule that anonymises: the record goes from the vault with its link to the person,
/// a copy with a new id keeps only the fields the schedule names, its category and dates,
/// and the destruction log says "anonymise". A held record is not touched.
async fn a_schedule_that_anonymises_keeps_only_its_fields_and_no_person(store: &Store) {
    register_with(
        store,
        Some(&["clip", "seen_at", "birth_date", "reported_by"]),
    )
    .await;
    let recorded = date!(2026 - 09 - 01);
    let a = person(store, "a@example.be", &[]).await;
    let input = RecordInput {
        activity: "camera".into(),
        schedule: None,
        category: DataCategory::SoundImage,
        fields: BTreeMap::from([
            ("clip".to_string(), serde_json::json!("cam-3/0915.mp4")),
            ("plate".to_string(), serde_json::json!("1-ABC-123")),
            (
                "seen_at".to_string(),
                serde_json::json!("2026-09-01T22:14:05Z"),
            ),
            ("birth_date".to_string(), serde_json::json!("1985-07-30")),
            (
                "reported_by".to_string(),
                serde_json::json!("buur@example.be"),
            ),
        ]),
        source: None,
        collected_on: recorded,
        events: BTreeMap::from([(RetentionEvent::Recording, recorded)]),
        provided_by_subject: false,
    };
    let record = store
        .add_record(&staff("caseworker"), a, &input)
        .await
        .unwrap()
        .id;
    let b = person(store, "b@example.be", &[]).await;
    let held = images(store, b, recorded).await;
    store
        .place_hold(&staff("jurist"), &hold(HoldScope::Record, held.to_string()))
        .await
        .unwrap();

    // The plan says the record will be anonymised, not erased; the held one is apart.
    let plan = store.retention_plan(NOW.date(), NOW.date()).await.unwrap();
    let camera = plan
        .activities
        .iter()
        .find(|l| l.activity == "camera")
        .unwrap();
    assert_eq!(
        (
            camera.due,
            camera.to_erase,
            camera.to_anonymise,
            camera.held
        ),
        (1, 0, 1, 1)
    );

    let run = ran(store
        .sweep_retention(&job(NOW), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (1, 1));
    assert!(!record_exists(store, record).await);
    assert!(record_exists(store, held).await);
    let copies = store.anonymised_records("camera").await.unwrap();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = &copies[0];
    assert_ne!(
        copy.id, record,
        "a new id: nothing leads back to the person"
    );
    assert_eq!(
        copy.fields,
        BTreeMap::from([
            ("clip".to_string(), serde_json::json!("cam-3/0915.mp4")),
            ("seen_at".to_string(), serde_json::json!("2026-09")),
            ("birth_date".to_string(), serde_json::json!("1985")),
        ]),
        "kept fields only, dates generalised, an e-mail address dropped though kept"
    );
    assert_eq!(
        (copy.schedule.as_str(), copy.category.as_str()),
        ("beelden", DataCategory::SoundImage.name())
    );
    assert_eq!(
        (
            copy.collected_in.as_str(),
            copy.deadline_in.as_deref(),
            copy.anonymised_in.as_str()
        ),
        ("2026-09", Some("2026-10"), "2026-11"),
        "dates to the month"
    );
    // No exact date survives anywhere in the copy.
    let text = serde_json::to_string(copy).unwrap();
    let exact_date = |w: &[u8]| {
        w.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
    };
    assert!(!text.as_bytes().windows(10).any(exact_date), "{text}");
    let entries = store.destruction_log(Some(run.id), 0, 100).await.unwrap();
    let records: Vec<_> = entries.iter().filter(|e| e.table == "records").collect();
    assert_eq!(records.len(), 1, "{entries:?}");
    assert_eq!(records[0].method, DestructionMethod::Anonymise);
    assert_eq!(records[0].record_ids, vec![record]);
    // The person, left with nothing, went as with an erasure; the log says so.
    assert!(
        entries.iter().any(|e| e.table == "data_subjects"),
        "{entries:?}"
    );

    // Nothing more to do the next time; the held record stays as it is.
    let run = ran(store
        .sweep_retention(&job(NOW + Duration::hours(1)), &SweepOptions::default())
        .await)
    .await;
    assert_eq!((run.destroyed, run.held), (0, 1));
    assert_eq!(store.anonymised_records("camera").await.unwrap().len(), 1);
}
