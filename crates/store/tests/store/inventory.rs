//! The vault, need-to-know and the processing log, on both backends.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::access::{Role, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{
    Actor, ActorKind, ChainBreak, LogAction, LogSelector, NewLogEntry,
};
use kluis_domain::register::Register;
use kluis_domain::retention::{Deadline, Period, RetentionEvent, RetentionRule};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::TestStore;
use kluis_store::{Processing, RecordChange, Store, StoreError, SubjectQuery};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::{activity, controller};

stories!(
    subjects_are_recorded_once_and_found_by_blind_index,
    deadlines_follow_the_rule_and_the_events,
    caseworkers_see_only_their_activities,
    every_touch_of_personal_data_is_logged,
    log_queries_need_a_selector_and_respect_scope,
    tampering_with_the_log_is_detected,
    concurrent_appends_keep_one_chain,
    keys_rotate_without_losing_access,
    staff_clearance,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const AN: &str = "85.07.30-033.28";

fn processing(name: &str) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(format!("id-{name}")),
            name: name.into(),
        },
        trace: TraceContext::new_root([3; 16], [4; 8]),
        case_ref: Some("R-2026-0042".into()),
        now: NOW,
    }
}

/// A city with two activities: applicants (kept 1 year after the end of the procedure)
/// and camera images (30 days after recording).
async fn register(store: &Store) {
    let mut werving = activity("werving", "city", "Werving en selectie");
    werving.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::EndOfProcedure,
        period: Period::years(1),
    };
    let mut camera = activity("camera", "city", "Camerabewaking");
    camera.retention[0].key = "beelden".into();
    camera.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Recording,
        period: Period::days(30),
    };
    camera.data_categories.push(DataCategory::SoundImage);
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![werving, camera],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn an_identity() -> SubjectIdentity {
    SubjectIdentity {
        national_number: Some(AN.parse().unwrap()),
        email: Some("An.Peeters@example.be".parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        birth_date: Some(date!(1985 - 07 - 30)),
        ..Default::default()
    }
}

/// An, recorded under `werving`.
async fn record_an(store: &Store, p: &Processing) -> kluis_store::Subject {
    store
        .record_subject(p, "werving", &an_identity(), &[])
        .await
        .unwrap()
        .0
}

fn application() -> RecordInput {
    RecordInput {
        activity: "werving".into(),
        schedule: None,
        category: DataCategory::Identification,
        fields: BTreeMap::from([("cv".to_string(), serde_json::json!("cv-2026-17.pdf"))]),
        source: Some("de kandidaat".into()),
        collected_on: date!(2026 - 03 - 01),
        events: BTreeMap::new(),
        provided_by_subject: true,
    }
}

async fn subjects_are_recorded_once_and_found_by_blind_index(store: &Store) {
    register(store).await;
    let p = processing("caseworker");
    let (an, created) = store
        .record_subject(&p, "werving", &an_identity(), &[])
        .await
        .unwrap();
    assert!(created);
    // The same national number, written otherwise, is the same person.
    let again = SubjectIdentity {
        national_number: Some("85073003328".parse().unwrap()),
        ..Default::default()
    };
    let (same, created) = store
        .record_subject(&p, "camera", &again, &[])
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(same.id, an.id);
    assert_eq!(same.identity, an.identity);
    store.add_record(&p, an.id, &application()).await.unwrap();

    for query in [
        SubjectQuery::NationalNumber(AN.parse().unwrap()),
        SubjectQuery::Email("an.peeters@EXAMPLE.be".parse().unwrap()),
        SubjectQuery::Id(an.id),
    ] {
        let found = store.find_subjects(&p, &query, &Scope::All).await.unwrap();
        assert_eq!(found.len(), 1, "{query:?}");
        assert_eq!(found[0].subject.id, an.id);
        assert_eq!(found[0].records.len(), 1);
    }
    let nobody = store
        .find_subjects(
            &p,
            &SubjectQuery::NationalNumber("90.01.01-001.23".parse().unwrap()),
            &Scope::All,
        )
        .await
        .unwrap();
    assert!(nobody.is_empty());

    // A guardian must exist, and nobody is their own guardian.
    let child = SubjectIdentity {
        given_name: Some("Lies".into()),
        family_name: Some("Peeters".into()),
        birth_date: Some(date!(2015 - 05 - 05)),
        ..Default::default()
    };
    let (lies, _) = store
        .record_subject(&p, "werving", &child, &[an.id])
        .await
        .unwrap();
    assert_eq!(lies.guardians, vec![an.id]);
    let ghost = uuid::Uuid::now_v7();
    let other_child = SubjectIdentity {
        given_name: Some("Jan".into()),
        ..child.clone()
    };
    let err = store
        .record_subject(&p, "werving", &other_child, &[ghost])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // Bad input changes nothing.
    let err = store
        .record_subject(&p, "werving", &SubjectIdentity::default(), &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least one identifier"), "{err}");
    let err = store
        .record_subject(&p, "no-such-activity", &an_identity(), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn deadlines_follow_the_rule_and_the_events(store: &Store) {
    register(store).await;
    let p = processing("caseworker");
    let an = record_an(store, &p).await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    assert_eq!(
        record.deadline,
        Deadline::AwaitingEvent(RetentionEvent::EndOfProcedure)
    );
    // The procedure ends: one year later the data goes.
    let mut events = BTreeMap::new();
    events.insert(RetentionEvent::EndOfProcedure, date!(2026 - 06 - 30));
    let change = RecordChange {
        events: Some(events),
        ..Default::default()
    };
    let record = store
        .change_record(&p, record.id, 1, &change, &Scope::All)
        .await
        .unwrap();
    assert_eq!(record.deadline, Deadline::On(date!(2027 - 06 - 30)));
    assert_eq!(record.version, 2);
    // A stale version conflicts.
    let err = store
        .change_record(&p, record.id, 1, &change, &Scope::All)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    // The DPO shortens the period to 6 months: the stored deadline follows at once.
    let mut werving = store.activity("werving").await.unwrap().unwrap();
    werving.value.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::EndOfProcedure,
        period: Period::months(6),
    };
    store
        .put_activity(&werving.value, Some(werving.version), "dpo", NOW)
        .await
        .unwrap();
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.records[0].deadline,
        Deadline::On(date!(2026 - 12 - 30))
    );

    // A record must fit its activity: no category the register does not list.
    let mut wrong = application();
    wrong.category = DataCategory::Financial;
    let err = store.add_record(&p, an.id, &wrong).await.unwrap_err();
    assert!(err.to_string().contains("financial"), "{err}");
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.records.len(), 1, "nothing was added");
}

async fn caseworkers_see_only_their_activities(store: &Store) {
    register(store).await;
    let p = processing("caseworker");
    let an = record_an(store, &p).await;
    store.add_record(&p, an.id, &application()).await.unwrap();
    let camera_only = Scope::Activities(BTreeSet::from(["camera".to_string()]));
    let err = store.subject(&p, an.id, &camera_only).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::OutOfScope { activities } if activities == &["werving"]),
        "{err:?}"
    );
    // A search outside one's activities finds nobody, rather than telling who exists.
    let found = store
        .find_subjects(
            &p,
            &SubjectQuery::NationalNumber(AN.parse().unwrap()),
            &camera_only,
        )
        .await
        .unwrap();
    assert!(found.is_empty());
    let werving_only = Scope::Activities(BTreeSet::from(["werving".to_string()]));
    let view = store
        .subject(&p, an.id, &werving_only)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.records.len(), 1);
    let record = view.records[0].clone();
    let err = store
        .change_record(
            &p,
            record.id,
            record.version,
            &RecordChange::default(),
            &camera_only,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope { .. }), "{err:?}"); // Both refusals are in the log, under the activity that was out of reach.
    let refused: Vec<_> = store
        .log_entries(
            &LogSelector {
                subjects: store.subject_pseudonyms(&an.identity).unwrap(),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Refused)
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e.entry.activity == "werving"));
}

async fn every_touch_of_personal_data_is_logged(store: &TestStore) {
    register(store).await;
    let p = processing("els");
    let an = record_an(store, &p).await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    store.subject(&p, an.id, &Scope::All).await.unwrap();
    store
        .find_subjects(&p, &SubjectQuery::Id(an.id), &Scope::All)
        .await
        .unwrap();
    store
        .change_record(&p, record.id, 1, &RecordChange::default(), &Scope::All)
        .await
        .unwrap();
    store
        .record_disclosure(
            &p,
            an.id,
            "werving",
            &[DataCategory::Identification],
            "Politiezone Hasselt",
            "vordering PV 2026/123",
        )
        .await
        .unwrap();
    let err = store
        .record_disclosure(&p, an.id, "werving", &[], " ", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let pseudonyms = store.subject_pseudonyms(&an.identity).unwrap();
    let entries = store
        .log_entries(
            &LogSelector {
                subjects: pseudonyms.clone(),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap();
    let actions: Vec<LogAction> = entries.iter().map(|e| e.entry.action).collect();
    assert_eq!(
        actions,
        [
            LogAction::Create,
            LogAction::Create,
            LogAction::Read,
            LogAction::SearchHit,
            LogAction::Update,
            LogAction::Disclose
        ]
    );
    for e in &entries {
        // Pseudonymised: the national number is nowhere in the entry.
        assert_eq!(e.entry.subject, pseudonyms[0]);
        assert_eq!(e.entry.subject_type, "national_number");
        assert!(!format!("{e:?}").contains("85073003328"));
        assert_eq!(e.entry.activity, "werving");
        assert_eq!(e.entry.activity_version, 1);
        assert_eq!(e.entry.organisation, "city");
        assert_eq!(e.entry.case_ref.as_deref(), Some("R-2026-0042"));
        assert_eq!(e.actor.name, "els");
        assert_eq!(e.trace_id, "03".repeat(16));
    }
    let disclosure = entries.last().unwrap();
    assert_eq!(
        disclosure.entry.recipient.as_deref(),
        Some("Politiezone Hasselt")
    );
    // The national number is stored encrypted, not in plain digits.
    let stored = store
        .raw_bytes("SELECT national_number FROM data_subjects")
        .await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].windows(11).any(|w| w == b"85073003328"),
        "the national number is stored in plain digits"
    );
    let verified = store.verify_log(None).await.unwrap();
    assert_eq!(verified.map(|h| h.seq), Ok(entries.len() as i64));
}

async fn log_queries_need_a_selector_and_respect_scope(store: &Store) {
    register(store).await;
    let p = processing("els");
    let an = record_an(store, &p).await;
    store
        .record_subject(&p, "camera", &an_identity(), &[])
        .await
        .unwrap();
    let err = store
        .log_entries(&LogSelector::default(), &Scope::All, 100)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must name"), "{err}");
    let subject = LogSelector {
        subjects: store.subject_pseudonyms(&an.identity).unwrap(),
        ..Default::default()
    };
    assert_eq!(
        store
            .log_entries(&subject, &Scope::All, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let camera_only = Scope::Activities(BTreeSet::from(["camera".to_string()]));
    let seen = store
        .log_entries(&subject, &camera_only, 100)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].entry.activity, "camera");
    let by_trace = LogSelector {
        trace_id: Some("03".repeat(16)),
        ..Default::default()
    };
    assert_eq!(
        store
            .log_entries(&by_trace, &Scope::All, 1)
            .await
            .unwrap()
            .len(),
        1,
        "the limit holds"
    );
}

fn hit(subject: &str) -> NewLogEntry {
    NewLogEntry {
        action: LogAction::SearchHit,
        organisation: "city".into(),
        activity: "werving".into(),
        activity_version: 1,
        purpose: "Werving".into(),
        legal_basis: "public_interest".into(),
        subject: subject.into(),
        subject_type: "email".into(),
        data_categories: vec!["contact".into()],
        system: "hr".into(),
        case_ref: None,
        recipient: None,
        legal_ground: None,
    }
}

async fn tampering_with_the_log_is_detected(store: &TestStore) {
    let test = store;
    let p = processing("els");
    let entries = (0..5).map(|i| hit(&format!("s{i}"))).collect();
    let head = store.append_log(&p, entries).await.unwrap();
    assert_eq!(head.seq, 5);
    assert_eq!(store.verify_log(Some(head)).await.unwrap(), Ok(head));

    // The database refuses edits and deletes through its triggers...
    let err = test
        .execute_raw("UPDATE processing_log SET purpose = 'x' WHERE seq = 3")
        .await
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    // ...and someone who disables them is still caught.
    test.without_log_triggers("UPDATE processing_log SET purpose = 'iets anders' WHERE seq = 3")
        .await;
    assert_eq!(
        store.verify_log(None).await.unwrap(),
        Err(ChainBreak::HashMismatch { seq: 3 })
    );
    test.without_log_triggers("UPDATE processing_log SET purpose = 'Werving' WHERE seq = 3")
        .await;
    assert_eq!(store.verify_log(None).await.unwrap(), Ok(head));
    test.without_log_triggers(
        "UPDATE processing_log_actors SET actor_name = 'nobody' WHERE seq = 2",
    )
    .await;
    assert_eq!(
        store.verify_log(None).await.unwrap(),
        Err(ChainBreak::HashMismatch { seq: 2 })
    );
    test.without_log_triggers("UPDATE processing_log_actors SET actor_name = 'els' WHERE seq = 2")
        .await;
    test.without_log_triggers(
        "DELETE FROM processing_log_actors WHERE seq = 5; DELETE FROM processing_log WHERE seq = 5",
    )
    .await;
    assert_eq!(
        store.verify_log(None).await.unwrap(),
        Err(ChainBreak::Truncated { last: 4, head: 5 })
    );
}

async fn concurrent_appends_keep_one_chain(store: &Store) {
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let p = processing(&format!("worker-{t}"));
                for i in 0..10 {
                    let entries = (0..20).map(|j| hit(&format!("{t}-{i}-{j}"))).collect();
                    store.append_log(&p, entries).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let verified = store.verify_log(None).await.unwrap();
    assert_eq!(verified.map(|h| h.seq), Ok(8 * 10 * 20));
}

async fn keys_rotate_without_losing_access(store: &TestStore) {
    register(store).await;
    let p = processing("els");
    let an = record_an(store, &p).await;
    let old_keys = store.keys();
    let rotated = std::sync::Arc::new(old_keys.with_new_current_key().unwrap());
    let store2 = Store::clone(store).with_keys(rotated.clone());
    // Before the rewrite, lookups still find the subject under the old key's index.
    let query = SubjectQuery::NationalNumber(AN.parse().unwrap());
    assert_eq!(
        store2
            .find_subjects(&p, &query, &Scope::All)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store2.rotate_keys().await.unwrap(), 1);
    assert_eq!(store2.rotate_keys().await.unwrap(), 0, "idempotent");
    let found = store2.find_subjects(&p, &query, &Scope::All).await.unwrap();
    assert_eq!(found[0].subject.id, an.id);
    assert_eq!(
        found[0].subject.identity.national_number,
        an.identity.national_number
    );
    // The log's pseudonyms do not change with the keys.
    assert_eq!(
        store2.subject_pseudonyms(&an.identity).unwrap(),
        store.subject_pseudonyms(&an.identity).unwrap()
    );
    // The old keyring alone can no longer read what was rewritten.
    let err = store
        .find_subjects(&p, &SubjectQuery::Id(an.id), &Scope::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("decrypt"), "{err}");
}

async fn staff_clearance(store: &Store) {
    register(store).await;
    let user = store
        .create_user("els", "Els", "a-long-password-1", &[Role::Caseworker], NOW)
        .await
        .unwrap();
    let c = store.clearance(user.id).await.unwrap();
    assert!(c.activities.is_empty());
    assert_eq!(c.confidentiality_signed_on, None);
    store
        .assign_activity(user.id, "werving", "dpo", NOW)
        .await
        .unwrap();
    let err = store
        .assign_activity(user.id, "werving", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    let err = store
        .assign_activity(user.id, "nope", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .record_confidentiality_statement(user.id, date!(2027 - 01 - 01), "DOC-1", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("future"), "{err}");
    store
        .record_confidentiality_statement(user.id, date!(2026 - 01 - 05), "DOC-1", "dpo", NOW)
        .await
        .unwrap();
    let c = store.clearance(user.id).await.unwrap();
    assert_eq!(c.activities, BTreeSet::from(["werving".to_string()]));
    assert_eq!(c.confidentiality_signed_on, Some(date!(2026 - 01 - 05)));
    assert_eq!(c.check("werving"), Ok(()));
    store.unassign_activity(user.id, "werving").await.unwrap();
    assert!(store.unassign_activity(user.id, "werving").await.is_err());
    store.set_user_disabled("els", true).await.unwrap();
    assert_eq!(
        store.clearance(user.id).await.unwrap(),
        Default::default(),
        "a disabled account has no clearance"
    );
}
