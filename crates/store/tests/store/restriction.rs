//! Restriction (GDPR art. 18), objection (art. 21) and rectification (art. 16) in the vault,
//! enforced by the vault itself, on both backends.

use std::collections::BTreeMap;

use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogEntry, LogSelector};
use kluis_domain::register::Register;
use kluis_domain::retention::{Period, RetentionEvent, RetentionRule};
use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::TestStore;
use kluis_store::{
    NewRequest, Processing, RecordChange, RequestChange, Store, StoreError, Subject, SubjectQuery,
    SweepOptions, SweepOutcome,
};
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{activity, controller};

stories!(
    a_restricted_record_is_only_stored,
    a_restriction_is_lifted_once_the_person_was_told,
    an_objection_stops_processing_under_its_activity_only,
    a_rectification_keeps_old_and_new_sealed_and_logs_the_change,
    bad_requests_change_nothing,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn processing(name: &str) -> Processing {
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

/// Applicants (kept a year after the procedure) and camera images (30 days).
async fn register(store: &Store) {
    let mut werving = activity("werving", "city", "Werving en selectie");
    werving.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::EndOfProcedure,
        period: Period::years(1),
    };
    let mut camera = activity("camera", "city", "Camerabewaking");
    camera.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Recording,
        period: Period::days(30),
    };
    camera.data_categories.push(DataCategory::SoundImage);
    store
        .import_register(
            &Register {
                controllers: vec![
                    controller("city", "Stad Hasselt"),
                    controller("province", "Provincie Limburg"),
                ],
                processors: vec![],
                agreements: vec![],
                activities: vec![
                    werving,
                    camera,
                    activity("subsidie", "province", "Subsidies"),
                ],
            },
            false,
            "test",
            NOW - Duration::days(400),
        )
        .await
        .unwrap();
}

fn identity(email: &str) -> SubjectIdentity {
    SubjectIdentity {
        email: Some(email.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    }
}

async fn person(store: &Store, email: &str) -> Subject {
    store
        .record_subject(&processing("intake"), "werving", &identity(email), &[])
        .await
        .unwrap()
        .0
}

/// An application whose procedure ended on 1 January 2025: due for destruction a year later.
fn application() -> RecordInput {
    RecordInput {
        activity: "werving".into(),
        schedule: None,
        category: DataCategory::Contact,
        fields: BTreeMap::from([
            ("address".to_string(), json!("Oude Markt 1, Hasselt")),
            ("cv".to_string(), json!("cv-2024-17.pdf")),
        ]),
        source: Some("de kandidaat".into()),
        collected_on: date!(2024 - 10 - 01),
        events: BTreeMap::from([(RetentionEvent::EndOfProcedure, date!(2025 - 01 - 01))]),
        provided_by_subject: true,
    }
}

fn images() -> RecordInput {
    RecordInput {
        activity: "camera".into(),
        schedule: None,
        category: DataCategory::SoundImage,
        fields: BTreeMap::from([("clip".to_string(), json!("cam-3/2026-11-20.mp4"))]),
        source: None,
        collected_on: date!(2026 - 11 - 20),
        events: BTreeMap::from([(RetentionEvent::Recording, date!(2026 - 11 - 20))]),
        provided_by_subject: false,
    }
}

/// A rights request by `email`, its identity verified and linked to `subject` (None: no
/// vault subject linked). Returns its reference.
async fn request(store: &Store, email: &str, subject: Option<Uuid>) -> String {
    let email: EmailAddress = email.parse().unwrap();
    let filed = store
        .file_request(
            &NewRequest {
                controller: "city".into(),
                rights: vec![Right::Restriction, Right::Objection, Right::Rectification],
                channel: RequestChannel::Email,
                requester: Requester {
                    identity: SubjectIdentity {
                        email: Some(email.clone()),
                        ..Default::default()
                    },
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: Some(email),
                    postal_address: None,
                    message: "Mijn adres klopt niet.".into(),
                },
                language: Lang::Nl,
                received_on: NOW.date(),
            },
            |_| None,
            "desk",
            NOW,
        )
        .await
        .unwrap();
    let r = store.rights_request(filed.id).await.unwrap();
    store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::VerifyIdentity {
                subject_id: subject,
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    filed.reference
}

async fn log_of(store: &Store, subject: &Subject) -> Vec<LogEntry> {
    store
        .log_entries(
            &LogSelector {
                subjects: store.subject_pseudonyms(&subject.identity).unwrap(),
                ..Default::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap()
}

fn refusals(log: &[LogEntry], activity: &str) -> usize {
    log.iter()
        .filter(|e| e.entry.action == LogAction::Refused && e.entry.activity == activity)
        .count()
}

async fn a_restricted_record_is_only_stored(store: &TestStore) {
    register(store).await;
    let p = processing("caseworker");
    let an = person(store, "an@example.be").await;
    let applied = store.add_record(&p, an.id, &application()).await.unwrap();
    let clip = store.add_record(&p, an.id, &images()).await.unwrap();
    let reference = request(store, "an@example.be", Some(an.id)).await;

    // The reference is found however it is typed.
    let report = store
        .restrict(
            an.id,
            "werving",
            &format!(" {} ", reference.to_lowercase()),
            "dpo",
            NOW,
        )
        .await
        .unwrap();
    assert!(report.changed);
    assert_eq!(report.records, 1);
    assert_eq!(report.restriction.request_reference, reference);
    assert_eq!(report.restriction.since, NOW);
    let again = store
        .restrict(
            an.id,
            "werving",
            &reference,
            "dpo",
            NOW + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(!again.changed, "asked again: nothing new");
    assert_eq!(again.restriction, report.restriction);

    // The view shows the record as restricted, with its category, without its fields;
    // the other activity's record is untouched.
    let before = refusals(&log_of(store, &an).await, "werving");
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    let shown = view.records.iter().find(|r| r.id == applied.id).unwrap();
    assert!(shown.fields.is_empty(), "fields shown: {:?}", shown.fields);
    assert_eq!(shown.category, DataCategory::Contact);
    let restriction = shown.restriction.as_ref().expect("marked restricted");
    assert_eq!(
        (restriction.request_reference.as_str(), restriction.since),
        (reference.as_str(), NOW)
    );
    let other = view.records.iter().find(|r| r.id == clip.id).unwrap();
    assert_eq!(other.fields, images().fields);
    assert!(other.restriction.is_none());
    // The withheld read is logged as refused, with the category; the read of the identity
    // under the activity does not name that category.
    let log = log_of(store, &an).await;
    assert_eq!(refusals(&log, "werving"), before + 1);
    let refused = log
        .iter()
        .rev()
        .find(|e| e.entry.action == LogAction::Refused)
        .unwrap();
    assert_eq!(refused.entry.data_categories, ["contact"]);
    let read = log
        .iter()
        .rev()
        .find(|e| e.entry.action == LogAction::Read && e.entry.activity == "werving")
        .unwrap();
    assert_eq!(read.entry.data_categories, ["identification"]);
    // A search withholds them too.
    let found = store
        .find_subjects(&p, &SubjectQuery::Id(an.id), &Scope::All)
        .await
        .unwrap();
    let shown = found[0]
        .records
        .iter()
        .find(|r| r.id == applied.id)
        .unwrap();
    assert!(shown.fields.is_empty() && shown.restriction.is_some());
    assert_eq!(refusals(&log_of(store, &an).await, "werving"), before + 2);
    // The person's own request (access) gets the data: that is not another purpose. The
    // read is logged under the request, with the category.
    let own = store
        .subject_for_request(&p, an.id, &Scope::All, &reference)
        .await
        .unwrap()
        .unwrap();
    let shown = own.records.iter().find(|r| r.id == applied.id).unwrap();
    assert_eq!(shown.fields, application().fields);
    assert!(shown.restriction.is_some());
    let log = log_of(store, &an).await;
    assert_eq!(refusals(&log, "werving"), before + 2);
    let read = log.last().unwrap();
    assert_eq!(
        (read.entry.action, read.entry.case_ref.as_deref()),
        (LogAction::Read, Some(reference.as_str()))
    );
    assert!(read.entry.data_categories.contains(&"contact".to_string()));
    // Not on someone else's request.
    let bo = person(store, "bo@example.be").await;
    let bos = request(store, "bo@example.be", Some(bo.id)).await;
    let err = store
        .subject_for_request(&p, an.id, &Scope::All, &bos)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // A change is refused with the request named, logged, and nothing changes.
    let change = RecordChange {
        fields: Some(BTreeMap::from([("address".to_string(), json!("elders"))])),
        ..Default::default()
    };
    let err = store
        .change_record(&p, applied.id, 1, &change, &Scope::All)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Restricted { activity, reference: r, .. }
            if activity == "werving" && *r == reference),
        "{err:?}"
    );
    assert!(err.to_string().contains(&reference), "{err}");
    assert_eq!(refusals(&log_of(store, &an).await, "werving"), before + 3);
    // Rectification is the change allowed, at the request that restricted (art. 18(1)(a)).
    let other_request = request(store, "an@example.be", Some(an.id)).await;
    let err = store
        .rectify_record(
            &p,
            applied.id,
            &BTreeMap::from([("address".to_string(), json!("Nieuwe Markt 2"))]),
            &other_request,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Restricted { reference: r, .. } if *r == reference),
        "{err:?}"
    );
    assert!(
        store
            .rectifications(&other_request)
            .await
            .unwrap()
            .is_empty()
    );
    let rectified = store
        .rectify_record(
            &p,
            applied.id,
            &BTreeMap::from([("address".to_string(), json!("Nieuwe Markt 2"))]),
            &reference,
        )
        .await
        .unwrap();
    assert_eq!(
        (rectified.rectified.as_slice(), rectified.record_version),
        (["address".to_string()].as_slice(), 2)
    );
    // Storing a new record is still allowed, and it is restricted at once.
    let stored = store.add_record(&p, an.id, &application()).await.unwrap();
    assert_eq!(
        stored.restriction.map(|r| r.request_reference),
        Some(reference.clone())
    );
    // The other activity is not restricted.
    let changed = store
        .change_record(
            &p,
            clip.id,
            1,
            &RecordChange {
                source: Some(Some("camera 3".into())),
                ..Default::default()
            },
            &Scope::All,
        )
        .await
        .unwrap();
    assert_eq!(changed.version, 2);

    // Erasure stays possible: the retention sweep destroys the restricted records past their
    // deadline, and the restriction stays on record.
    let sweep = Processing {
        actor: Actor {
            kind: ActorKind::SystemJob,
            id: None,
            name: "retention sweep".into(),
        },
        ..processing("sweep")
    };
    match store
        .sweep_retention(&sweep, &SweepOptions::default())
        .await
        .unwrap()
    {
        SweepOutcome::Ran(run) => assert_eq!(run.destroyed, 2, "{run:?}"),
        other => panic!("the sweep did not run: {other:?}"),
    }
    assert!(!store.record_exists(applied.id).await.unwrap());
    assert!(!store.record_exists(stored.id).await.unwrap());
    assert!(store.record_exists(clip.id).await.unwrap());
    let restrictions = store.restrictions(an.id).await.unwrap();
    assert_eq!(restrictions.len(), 1);
    assert!(restrictions[0].lifted_at.is_none());
    // The rectification's old and new values went with the record.
    assert!(
        store
            .raw_bytes("SELECT sealed FROM rectifications")
            .await
            .is_empty()
    );
    assert!(store.verify_log(None).await.unwrap().is_ok());
}

async fn a_restriction_is_lifted_once_the_person_was_told(store: &TestStore) {
    register(store).await;
    let p = processing("caseworker");
    let an = person(store, "an@example.be").await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    let reference = request(store, "an@example.be", Some(an.id)).await;
    store
        .restrict(an.id, "werving", &reference, "dpo", NOW)
        .await
        .unwrap();
    let later = NOW + Duration::days(10);

    // Art. 18(3): told first. Not tomorrow, not before the restriction began, and a reason.
    for (told_on, reason) in [
        (later.date() + Duration::days(1), "juistheid nagekeken"),
        (NOW.date() - Duration::days(1), "juistheid nagekeken"),
        (later.date(), "  "),
    ] {
        let err = store
            .lift_restriction(an.id, "werving", told_on, reason, "dpo", later)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    let err = store
        .lift_restriction(
            an.id,
            "camera",
            later.date(),
            "juistheid nagekeken",
            "dpo",
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert!(view.records[0].restriction.is_some(), "still restricted");

    let told_on = later.date() - Duration::days(3);
    let report = store
        .lift_restriction(
            an.id,
            "werving",
            told_on,
            "juistheid nagekeken: het adres klopt",
            "dpo",
            later,
        )
        .await
        .unwrap();
    assert_eq!(report.records, 1);
    assert_eq!(report.restriction.told_on, Some(told_on));
    assert_eq!(report.restriction.lifted_at, Some(later));
    assert_eq!(report.restriction.lifted_by.as_deref(), Some("dpo"));
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.records[0].fields, application().fields);
    assert!(view.records[0].restriction.is_none());
    store
        .change_record(&p, record.id, 1, &RecordChange::default(), &Scope::All)
        .await
        .unwrap();
    let err = store
        .lift_restriction(an.id, "werving", told_on, "nogmaals", "dpo", later)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    // Restricting again starts a new restriction; the lifted one stays on record.
    let again = store
        .restrict(an.id, "werving", &reference, "dpo", later)
        .await
        .unwrap();
    assert!(again.changed);
    assert_eq!(store.restrictions(an.id).await.unwrap().len(), 2);
}

async fn an_objection_stops_processing_under_its_activity_only(store: &TestStore) {
    register(store).await;
    let p = processing("caseworker");
    let an = person(store, "an@example.be").await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    let reference = request(store, "an@example.be", Some(an.id)).await;
    let report = store
        .record_objection(an.id, "werving", &reference, "dpo", NOW)
        .await
        .unwrap();
    assert!(report.changed && report.objection.in_force());
    assert_eq!(report.records, 1);
    let again = store
        .record_objection(an.id, "werving", &reference, "dpo", NOW)
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.objection.id, report.objection.id);

    // Adding and changing under that activity are refused, naming the request, and logged.
    let before = refusals(&log_of(store, &an).await, "werving");
    let err = store
        .add_record(&p, an.id, &application())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Objected { activity, reference: r } if activity == "werving" && *r == reference),
        "{err:?}"
    );
    assert!(err.to_string().contains(&reference), "{err}");
    let err = store
        .change_record(&p, record.id, 1, &RecordChange::default(), &Scope::All)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Objected { .. }), "{err:?}");
    assert_eq!(refusals(&log_of(store, &an).await, "werving"), before + 2);
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.records.len(), 1, "nothing was added");
    assert_eq!(view.records[0].version, 1, "nothing was changed");
    // Stored data stays readable: an objection stops processing, it does not hide data.
    assert_eq!(view.records[0].fields, application().fields);

    // Another activity goes on.
    let clip = store.add_record(&p, an.id, &images()).await.unwrap();
    store
        .change_record(&p, clip.id, 1, &RecordChange::default(), &Scope::All)
        .await
        .unwrap();
    // Another person under the same activity too.
    let bo = person(store, "bo@example.be").await;
    store.add_record(&p, bo.id, &application()).await.unwrap();

    // Compelling grounds let processing continue; they are not rewritten afterwards.
    let err = store
        .record_compelling_grounds(an.id, "camera", &reference, "x", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let grounds = "lopende procedure: de aanstelling moet kunnen worden gemotiveerd";
    let report = store
        .record_compelling_grounds(an.id, "werving", &reference, grounds, "dpo", NOW)
        .await
        .unwrap();
    assert!(report.changed && !report.objection.in_force());
    assert_eq!(
        report.objection.compelling_grounds.as_deref(),
        Some(grounds)
    );
    let same = store
        .record_compelling_grounds(an.id, "werving", &reference, grounds, "dpo", NOW)
        .await
        .unwrap();
    assert!(!same.changed);
    let err = store
        .record_compelling_grounds(an.id, "werving", &reference, "iets anders", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    store.add_record(&p, an.id, &application()).await.unwrap();
    store
        .change_record(&p, record.id, 1, &RecordChange::default(), &Scope::All)
        .await
        .unwrap();
    let objections = store.objections(an.id).await.unwrap();
    assert_eq!(objections.len(), 1);
    assert_eq!(objections[0].compelling_grounds.as_deref(), Some(grounds));
}

async fn a_rectification_keeps_old_and_new_sealed_and_logs_the_change(store: &TestStore) {
    register(store).await;
    let p = processing("caseworker");
    let an = person(store, "an@example.be").await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    let reference = request(store, "an@example.be", Some(an.id)).await;
    let logged = log_of(store, &an).await.len();

    let changes = BTreeMap::from([
        ("address".to_string(), json!("Nieuwe Markt 2, Hasselt")),
        ("phone".to_string(), json!("+32 11 23 45 67")),
        ("cv".to_string(), json!("cv-2024-17.pdf")),
    ]);
    let report = store
        .rectify_record(&p, record.id, &changes, &reference)
        .await
        .unwrap();
    assert_eq!(report.rectified, ["address"]);
    assert_eq!(report.completed, ["phone"]);
    assert_eq!(report.unchanged, ["cv"]);
    assert_eq!((report.record_version, report.records_affected()), (2, 1));
    assert_eq!(report.subject_id, an.id);

    // The vault holds the new values.
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.records[0].fields.get("address"),
        Some(&json!("Nieuwe Markt 2, Hasselt"))
    );
    assert_eq!(view.records[0].version, 2);

    // Old and new are kept for the request, sealed: not in plain text in the database.
    let kept = store.rectifications(&reference).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].record_id, record.id);
    assert_eq!(kept[0].rectified_by, "caseworker");
    let address = &kept[0].changes["address"];
    assert_eq!(address.old, Some(json!("Oude Markt 1, Hasselt")));
    assert_eq!(address.new, json!("Nieuwe Markt 2, Hasselt"));
    assert_eq!(kept[0].changes["phone"].old, None);
    assert!(
        !kept[0].changes.contains_key("cv"),
        "unchanged is not a change"
    );
    let raw = store
        .raw_bytes("SELECT sealed FROM rectifications")
        .await
        .concat();
    for plain in ["Oude Markt", "Nieuwe Markt", "23 45 67"] {
        assert!(
            !raw.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "'{plain}' stored in plain text"
        );
    }

    // One log entry: a change, at the request, naming the fields.
    let log = log_of(store, &an).await;
    let change = log
        .iter()
        .find(|e| e.entry.action == LogAction::Update)
        .expect("the change is logged");
    assert_eq!(change.entry.case_ref.as_deref(), Some(reference.as_str()));
    assert_eq!(change.entry.data_categories, ["contact"]);
    let ground = change.entry.legal_ground.as_deref().unwrap();
    assert!(
        ground.contains("address, phone") && ground.contains("art. 16"),
        "{ground}"
    );
    assert!(!ground.contains("Markt"), "values in the log: {ground}");
    // (1 update + 1 read by the view above.)
    assert_eq!(log.len(), logged + 2);

    // Run again: nothing changes, nothing more is kept or logged.
    let again = store
        .rectify_record(&p, record.id, &changes, &reference)
        .await
        .unwrap();
    assert_eq!(again.unchanged, ["address", "cv", "phone"]);
    assert_eq!((again.records_affected(), again.record_version), (0, 2));
    assert_eq!(store.rectifications(&reference).await.unwrap().len(), 1);
    assert_eq!(log_of(store, &an).await.len(), logged + 2);

    // Under an objection, rectifying is still the person's right.
    store
        .record_objection(an.id, "werving", &reference, "dpo", NOW)
        .await
        .unwrap();
    store
        .rectify_record(
            &p,
            record.id,
            &BTreeMap::from([("cv".to_string(), json!("cv-2026.pdf"))]),
            &reference,
        )
        .await
        .unwrap();
    assert_eq!(store.rectifications(&reference).await.unwrap().len(), 2);
    assert!(store.verify_log(None).await.unwrap().is_ok());
}

async fn bad_requests_change_nothing(store: &TestStore) {
    register(store).await;
    let p = processing("caseworker");
    let an = person(store, "an@example.be").await;
    let bo = person(store, "bo@example.be").await;
    let record = store.add_record(&p, an.id, &application()).await.unwrap();
    let reference = request(store, "an@example.be", Some(an.id)).await;
    let bos = request(store, "bo@example.be", Some(bo.id)).await;
    let unlinked = request(store, "an@example.be", None).await;
    let logged = log_of(store, &an).await.len();
    let ghost = Uuid::now_v7();

    let not_found = |err: StoreError, what: &str| {
        assert!(
            matches!(&err, StoreError::NotFound { what: w, .. } if *w == what),
            "{what}: {err:?}"
        );
    };
    not_found(
        store
            .restrict(ghost, "werving", &reference, "dpo", NOW)
            .await
            .unwrap_err(),
        "data subject",
    );
    not_found(
        store
            .restrict(an.id, "nergens", &reference, "dpo", NOW)
            .await
            .unwrap_err(),
        "processing activity",
    );
    not_found(
        store
            .restrict(an.id, "werving", "R-BESTAAT-NIET", "dpo", NOW)
            .await
            .unwrap_err(),
        "rights request",
    );
    not_found(
        store
            .record_objection(ghost, "werving", &reference, "dpo", NOW)
            .await
            .unwrap_err(),
        "data subject",
    );
    let one = BTreeMap::from([("address".to_string(), json!("Elders 3"))]);
    not_found(
        store
            .rectify_record(&p, ghost, &one, &reference)
            .await
            .unwrap_err(),
        "record",
    );
    not_found(
        store
            .rectify_record(&p, record.id, &one, "R-BESTAAT-NIET")
            .await
            .unwrap_err(),
        "rights request",
    );

    // Someone else's request, or one whose identity was not matched to this person.
    for other in [&bos, &unlinked] {
        let err = store
            .restrict(an.id, "werving", other, "dpo", NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains(other.as_str())),
            "{err:?}"
        );
        let err = store
            .record_objection(an.id, "werving", other, "dpo", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = store
            .rectify_record(&p, record.id, &one, other)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    // A request to the city does not restrict or object to the province's processing.
    for err in [
        store
            .restrict(an.id, "subsidie", &reference, "dpo", NOW)
            .await
            .unwrap_err(),
        store
            .record_objection(an.id, "subsidie", &reference, "dpo", NOW)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("province")),
            "{err:?}"
        );
    }
    // Empty requests, no actor, bad changes.
    let err = store
        .restrict(an.id, "werving", "  ", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .restrict(an.id, "werving", &reference, "", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let long = "x".repeat(65);
    let too_many: BTreeMap<String, Value> =
        (0..70).map(|i| (format!("veld{i}"), json!(i))).collect();
    for changes in [
        BTreeMap::new(),
        BTreeMap::from([("address".to_string(), Value::Null)]),
        BTreeMap::from([(String::new(), json!("x"))]),
        BTreeMap::from([(long, json!("x"))]),
        too_many,
    ] {
        let err = store
            .rectify_record(&p, record.id, &changes, &reference)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{changes:?}: {err:?}"
        );
    }

    // Nothing was recorded or changed, and nothing logged.
    assert!(store.restrictions(an.id).await.unwrap().is_empty());
    assert!(store.objections(an.id).await.unwrap().is_empty());
    assert!(store.rectifications(&reference).await.unwrap().is_empty());
    assert_eq!(log_of(store, &an).await.len(), logged);
    let view = store
        .subject(&p, an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (view.records[0].version, &view.records[0].fields),
        (1, &application().fields)
    );
}
