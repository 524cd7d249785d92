//! Fulfilment of rights requests on both backends: erasure in the vault (granted activities
//! only, legal holds honoured, destruction and processing logs in the same transaction),
//! consent withdrawal, the per-target status of connected systems, by-hand actions, and
//! the recipients to tell before closing (art. 19).

use std::collections::BTreeMap;

use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::consent::{ConsentGiven, ConsentMethod, ConsentState};
use kluis_domain::dataset_map::{self, DatasetMap};
use kluis_domain::destruction::{HoldScope, NewHold};
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::legal::LegalBasis;
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::{ConsentTerms, LegalBasisClaim, Recipient, RecipientKind, Register};
use kluis_domain::retention::{Period, RetentionEvent, RetentionRule};
use kluis_domain::rights::{
    ActingFor, Decision, Outcome, RefusalGround, RequestChannel, Requester, Right, Stage,
};
use kluis_domain::text::{Lang, Text};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::TestStore;
use kluis_store::{
    ActionStatus, Backend, CarriedOutBy, NewRequest, PACKAGE, Processing, RequestChange,
    StoreError, TableCounts, VAULT, plan_actions,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::{activity, controller};

stories!(
    erasure_in_the_vault_takes_granted_activities_only_and_honours_holds,
    a_failed_vault_erasure_changes_nothing,
    consent_withdrawal_withdraws_the_consents_of_the_granted_activity,
    system_erasures_are_recorded_per_table_and_failures_stay_visible,
    recipients_are_told_before_the_request_closes,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn staff() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some("id-caseworker".into()),
            name: "caseworker".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: NOW,
    }
}

/// Camera images (shared with the police), recruitment (kept by law) and a newsletter on
/// consent.
async fn register(store: &TestStore) {
    let mut camera = activity("camera", "city", "Camerabewaking");
    camera.retention[0].key = "beelden".into();
    camera.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Recording,
        period: Period::days(30),
    };
    camera.data_categories.push(DataCategory::SoundImage);
    camera.recipients = Some(vec![
        Recipient {
            name: Text::nl("Politiezone Hasselt"),
            kind: RecipientKind::PoliceJustice,
            country: None,
        },
        Recipient {
            name: Text::nl("De betrokkene"),
            kind: RecipientKind::DataSubject,
            country: None,
        },
    ]);
    let werving = activity("werving", "city", "Werving en selectie");
    let mut newsletter = activity("nieuwsbrief", "city", "Nieuwsbrief");
    newsletter.legal_bases = vec![LegalBasisClaim {
        basis: LegalBasis::Consent,
        reference: None,
    }];
    newsletter.consent = Some(ConsentTerms {
        withdrawal: Text::nl("Via de link in elke nieuwsbrief"),
        explicit: false,
        parental_for_minors: true,
    });
    newsletter.retention[0].rule = RetentionRule::UntilWithdrawal { grace: None };
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![camera, werving, newsletter],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn identity() -> SubjectIdentity {
    SubjectIdentity {
        email: Some("an.peeters@example.be".parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    }
}

async fn record(store: &TestStore, subject: Uuid, activity: &str) -> Uuid {
    let (category, events) = if activity == "camera" {
        (
            DataCategory::SoundImage,
            BTreeMap::from([(RetentionEvent::Recording, NOW.date())]),
        )
    } else {
        (DataCategory::Contact, BTreeMap::new())
    };
    store
        .add_record(
            &staff(),
            subject,
            &RecordInput {
                activity: activity.into(),
                schedule: None,
                category,
                fields: BTreeMap::from([("note".to_string(), serde_json::json!("x"))]),
                source: None,
                collected_on: NOW.date(),
                events,
                provided_by_subject: false,
            },
        )
        .await
        .unwrap()
        .id
}

fn decision(right: Right, activity: &str, outcome: Outcome) -> Decision {
    Decision {
        right,
        activity: activity.into(),
        outcome,
        grounds: if outcome == Outcome::Granted {
            vec![]
        } else {
            vec![RefusalGround::LegalObligation]
        },
        motivation: "Na onderzoek van uw dossier.".into(),
    }
}

/// A request for `rights` by An, verified against `subject` and decided with `decisions`.
async fn decided(
    store: &TestStore,
    rights: Vec<Right>,
    subject: Uuid,
    decisions: Vec<Decision>,
) -> Uuid {
    let filed = store
        .file_request(
            &NewRequest {
                controller: "city".into(),
                rights,
                channel: RequestChannel::Desk,
                requester: Requester {
                    identity: identity(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: None,
                    postal_address: Some("Grote Markt 1, 3500 Hasselt".into()),
                    message: String::new(),
                },
                language: Lang::Nl,
                received_on: NOW.date(),
            },
            |_| None,
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    let r = store
        .change_request(
            filed.id,
            1,
            &RequestChange::VerifyIdentity {
                subject_id: Some(subject),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Decide { decisions },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    filed.id
}

async fn count(store: &TestStore, sql: &str) -> usize {
    store.raw_bytes(sql).await.len()
}

async fn erasure_in_the_vault_takes_granted_activities_only_and_honours_holds(store: &TestStore) {
    register(store).await;
    let an = store
        .record_subject(&staff(), "camera", &identity(), &[])
        .await
        .unwrap()
        .0
        .id;
    let clip = record(store, an, "camera").await;
    let held = record(store, an, "camera").await;
    let application = record(store, an, "werving").await;
    store
        .place_hold(
            &staff(),
            &NewHold {
                scope: HoldScope::Record,
                target: held.to_string(),
                reason: "onderzoek parket PV-2026-117".into(),
                from: NOW.date(),
                until: None,
            },
        )
        .await
        .unwrap();
    let id = decided(
        store,
        vec![Right::Erasure],
        an,
        vec![
            decision(Right::Erasure, "camera", Outcome::Granted),
            decision(Right::Erasure, "werving", Outcome::Refused),
        ],
    )
    .await;
    let status = store.plan_fulfilment(id, &[]).await.unwrap();
    assert_eq!(status.actions.len(), 1, "{status:?}");
    let action = &status.actions[0];
    assert_eq!(
        (
            action.right,
            action.activity.as_str(),
            action.target.as_str()
        ),
        (Right::Erasure, "camera", VAULT)
    );
    assert_eq!(
        (action.status, action.carried_out_by),
        (ActionStatus::Pending, CarriedOutBy::Kluis)
    );
    let log_before = store.destruction_log(None, 0, 1000).await.unwrap().len();

    let mut processing = staff();
    processing.case_ref = Some(status.reference.clone());
    let report = store
        .erase_in_vault(&processing, id, &status.reference, Some(an), "camera")
        .await
        .unwrap();
    let tables = kluis_store::report_tables(&report);
    assert_eq!(tables.len(), 1);
    assert_eq!(
        (tables[0].deleted, tables[0].kept),
        (1, 1),
        "the held clip is kept: {report}"
    );
    assert_eq!(
        tables[0].kept_because,
        ["legal hold: onderzoek parket PV-2026-117"]
    );
    assert!(!store.record_exists(clip).await.unwrap(), "granted: erased");
    assert!(store.record_exists(held).await.unwrap(), "held: kept");
    assert!(
        store.record_exists(application).await.unwrap(),
        "refused activity: kept"
    );
    // One destruction-log entry for the clip, naming the request and no personal data.
    let log = store.destruction_log(None, 0, 1000).await.unwrap();
    assert_eq!(log.len(), log_before + 1);
    let entry = log.last().unwrap();
    assert_eq!(entry.record_id, Some(clip));
    assert_eq!(
        (entry.system.as_str(), entry.table.as_str()),
        ("kluis", "records")
    );
    assert!(entry.rule.contains(&status.reference), "{}", entry.rule);
    assert!(!entry.rule.contains("Peeters"));
    // One processing-log entry for An, an erasure under camera with the request as case.
    let pseudonyms = store.subject_pseudonyms_of(an).await.unwrap();
    let erased: Vec<_> = store
        .log_entries(
            &LogSelector {
                subjects: pseudonyms,
                ..LogSelector::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Erase)
        .collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].entry.activity, "camera");
    assert_eq!(
        erased[0].entry.case_ref.as_deref(),
        Some(status.reference.as_str())
    );
    assert!(
        erased[0]
            .entry
            .data_categories
            .contains(&"sound_image".to_string())
    );

    // Done is done: a second run erases and logs nothing more and gives the same report.
    let again = store
        .erase_in_vault(&processing, id, &status.reference, Some(an), "camera")
        .await
        .unwrap();
    assert_eq!(again, report);
    assert_eq!(
        store.destruction_log(None, 0, 1000).await.unwrap().len(),
        log.len()
    );
    let status = store.fulfilment_status(id).await.unwrap();
    assert!(status.all_done(), "{status:?}");
    assert_eq!(status.actions[0].status, ActionStatus::Done);
    // The identity stays while the request refers to it.
    assert!(
        store
            .subject(&staff(), an, &Scope::All)
            .await
            .unwrap()
            .is_some()
    );
    // An activity that was not granted is not an action.
    let refused = store
        .erase_in_vault(&processing, id, &status.reference, Some(an), "werving")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Invalid(m) if m.contains("not an action")),
        "{refused}"
    );
    assert!(store.record_exists(application).await.unwrap());
}

async fn a_failed_vault_erasure_changes_nothing(store: &TestStore) {
    register(store).await;
    let an = store
        .record_subject(&staff(), "camera", &identity(), &[])
        .await
        .unwrap()
        .0
        .id;
    let clip = record(store, an, "camera").await;
    let id = decided(
        store,
        vec![Right::Erasure],
        an,
        vec![decision(Right::Erasure, "camera", Outcome::Granted)],
    )
    .await;
    let status = store.plan_fulfilment(id, &[]).await.unwrap();
    let destroyed = destroyed_count(store).await;
    let logged = count(store, "SELECT hash FROM processing_log").await;
    // Break the processing log's head: the log entry cannot be written, so the erasure
    // that comes before it in the transaction must not stay either.
    let head = store
        .raw_bytes("SELECT hash FROM processing_log_head")
        .await
        .remove(0);
    let (broken, restore) = match store.backend() {
        Backend::Sqlite => (
            "UPDATE processing_log_head SET hash = x'00'".to_string(),
            format!("UPDATE processing_log_head SET hash = x'{}'", hex(&head)),
        ),
        Backend::Postgres => (
            "UPDATE processing_log_head SET hash = '\\x00'::bytea".to_string(),
            format!(
                "UPDATE processing_log_head SET hash = '\\x{}'::bytea",
                hex(&head)
            ),
        ),
    };
    store.execute_raw(&broken).await.unwrap();
    let failed = store
        .erase_in_vault(&staff(), id, &status.reference, Some(an), "camera")
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(store.record_exists(clip).await.unwrap(), "rolled back");
    assert_eq!(destroyed_count(store).await, destroyed);
    assert_eq!(
        count(store, "SELECT hash FROM processing_log").await,
        logged
    );
    let status = store.fulfilment_status(id).await.unwrap();
    assert_eq!(status.actions[0].status, ActionStatus::Pending);
    // Repaired, the same call completes it.
    store.execute_raw(&restore).await.unwrap();
    store
        .erase_in_vault(&staff(), id, &status.reference, Some(an), "camera")
        .await
        .unwrap();
    assert!(!store.record_exists(clip).await.unwrap());
    assert_eq!(destroyed_count(store).await, destroyed + 1);
    assert!(store.verify_log(None).await.unwrap().is_ok());
}

async fn destroyed_count(store: &TestStore) -> usize {
    store.destruction_log(None, 0, 10_000).await.unwrap().len()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn consent_withdrawal_withdraws_the_consents_of_the_granted_activity(store: &TestStore) {
    register(store).await;
    let an = store
        .record_subject(&staff(), "nieuwsbrief", &identity(), &[])
        .await
        .unwrap()
        .0
        .id;
    let given = ConsentGiven {
        method: ConsentMethod::WebForm,
        affirmative_act: true,
        notice_text: "Ja, ik wil de nieuwsbrief ontvangen.".into(),
        language: Lang::Nl,
        statement_version: None,
        evidence: "inschrijvingsformulier 2026-118".into(),
        valid_until: None,
    };
    let consent = store
        .give_consent(&staff(), an, "nieuwsbrief", &given, None)
        .await
        .unwrap();
    let id = decided(
        store,
        vec![Right::ConsentWithdrawal],
        an,
        vec![decision(
            Right::ConsentWithdrawal,
            "nieuwsbrief",
            Outcome::Granted,
        )],
    )
    .await;
    let status = store.plan_fulfilment(id, &[]).await.unwrap();
    assert_eq!(status.actions.len(), 1);
    assert_eq!(status.actions[0].right, Right::ConsentWithdrawal);
    let report = store
        .withdraw_consents_for_request(&staff(), id, Some(an), "nieuwsbrief")
        .await
        .unwrap();
    assert_eq!(report["consents_withdrawn"], 1, "{report}");
    let now = store.consent(&staff(), consent.id).await.unwrap().unwrap();
    assert_eq!(now.state, ConsentState::Withdrawn);
    assert!(store.fulfilment_status(id).await.unwrap().all_done());
    // Again: nothing more is withdrawn, the report stays.
    let again = store
        .withdraw_consents_for_request(&staff(), id, Some(an), "nieuwsbrief")
        .await
        .unwrap();
    assert_eq!(again, report);
    let events = store.consent(&staff(), consent.id).await.unwrap().unwrap();
    assert_eq!(events.events.len(), 2, "given, withdrawn once");
}

fn map(name: &str, activities: &str) -> DatasetMap {
    dataset_map::parse(
        "test.yaml",
        &format!(
            "name: {name}\nkind: postgres\nactivities: [{activities}]\ntables:\n  people:\n    \
             columns:\n      email: {{category: contact, identifies: email}}\n    \
             erasure: delete_row\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn system_erasures_are_recorded_per_table_and_failures_stay_visible(store: &TestStore) {
    register(store).await;
    let an = store
        .record_subject(&staff(), "camera", &identity(), &[])
        .await
        .unwrap()
        .0
        .id;
    let decisions = vec![
        decision(Right::Erasure, "camera", Outcome::Granted),
        decision(Right::Erasure, "werving", Outcome::Refused),
        decision(Right::Access, "camera", Outcome::Granted),
        decision(Right::Rectification, "werving", Outcome::Granted),
    ];
    // The plan, on its own: kluis erases in a system only what it may erase whole.
    let maps = [
        map("vms", "camera"),
        map("hr", "werving"),
        map("shared", "camera, werving"),
    ];
    let plan = plan_actions(&decisions, &maps);
    let find = |right: Right, target: &str| {
        plan.iter()
            .find(|p| p.right == right && p.target == target)
            .unwrap_or_else(|| panic!("no {right} in {target}: {plan:?}"))
    };
    assert_eq!(find(Right::Erasure, VAULT).by, CarriedOutBy::Kluis);
    assert_eq!(find(Right::Erasure, "vms").by, CarriedOutBy::Kluis);
    let shared = find(Right::Erasure, "shared");
    assert_eq!(shared.by, CarriedOutBy::Staff);
    assert!(
        shared
            .instruction
            .as_deref()
            .unwrap()
            .contains("also serves werving"),
        "{shared:?}"
    );
    assert!(
        !plan
            .iter()
            .any(|p| p.right == Right::Erasure && p.target == "hr"),
        "refused: nothing to do in hr"
    );
    assert_eq!(find(Right::Access, PACKAGE).by, CarriedOutBy::Staff);
    for instruction in plan.iter().filter_map(|p| p.instruction.as_deref()) {
        assert!(
            !instruction.contains("  "),
            "one sentence, no gaps: {instruction:?}"
        );
    }
    let rectification = find(Right::Rectification, "hr");
    assert_eq!(rectification.by, CarriedOutBy::Staff);
    assert!(
        rectification
            .instruction
            .as_deref()
            .unwrap()
            .contains("kluis request rectify <reference> --as <you> --system hr")
    );
    assert!(
        find(Right::Rectification, VAULT)
            .instruction
            .as_deref()
            .unwrap()
            .contains("kluis record rectify")
    );

    // Partly granted: kluis cannot tell which part, so all of it is by hand.
    let partly = plan_actions(
        &[decision(Right::Erasure, "camera", Outcome::PartlyGranted)],
        &maps,
    );
    assert_eq!(partly.len(), 3, "vault, vms and shared: {partly:?}");
    assert!(
        partly.iter().all(|p| p.by == CarriedOutBy::Staff
            && p.instruction.as_deref().unwrap().contains("partly granted")),
        "{partly:?}"
    );

    let id = decided(
        store,
        vec![Right::Erasure, Right::Access, Right::Rectification],
        an,
        decisions,
    )
    .await;
    let status = store.plan_fulfilment(id, &maps).await.unwrap();
    assert_eq!(status.actions.len(), plan.len());
    let reference = status.reference.clone();
    // The system failed: its action says so, with the error, and is not done.
    store
        .start_action(id, Right::Erasure, "camera", "vms", NOW)
        .await
        .unwrap();
    store
        .fail_action(
            id,
            Right::Erasure,
            "camera",
            "vms",
            "system vms cannot be reached: connection refused",
            None,
            NOW,
        )
        .await
        .unwrap();
    let status = store.fulfilment_status(id).await.unwrap();
    let vms = status.actions.iter().find(|a| a.target == "vms").unwrap();
    assert_eq!(vms.status, ActionStatus::Failed);
    assert_eq!(vms.attempts, 1);
    assert!(vms.error.as_deref().unwrap().contains("connection refused"));
    assert!(!status.all_done());
    // A report with failed rows is never recorded as done.
    let failed_rows = [TableCounts {
        table: "people".into(),
        deleted: 0,
        anonymised: 0,
        kept: 0,
        kept_because: vec![],
        failed: 1,
    }];
    let refused = store
        .record_system_erasure(
            &staff(),
            id,
            &reference,
            "vms",
            &["camera".to_string()],
            Some(&identity()),
            &[DataCategory::Contact],
            &failed_rows,
            &serde_json::json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("did not complete"),
        "{refused}"
    );
    let before = store.destruction_log(None, 0, 1000).await.unwrap().len();
    // Repaired: the erasure completes and is recorded per table, with what the law keeps.
    let tables = [
        TableCounts {
            table: "people".into(),
            deleted: 1,
            anonymised: 0,
            kept: 0,
            kept_because: vec![],
            failed: 0,
        },
        TableCounts {
            table: "invoices".into(),
            deleted: 0,
            anonymised: 2,
            kept: 1,
            kept_because: vec!["invoices.iban: bookkeeping, 10 years".into()],
            failed: 0,
        },
    ];
    let report = serde_json::json!({ "system": "vms", "tables": tables, "error": null });
    for _ in 0..2 {
        store
            .record_system_erasure(
                &staff(),
                id,
                &reference,
                "vms",
                &["camera".to_string()],
                Some(&identity()),
                &[DataCategory::Contact],
                &tables,
                &report,
            )
            .await
            .unwrap();
    }
    let log = store.destruction_log(None, 0, 1000).await.unwrap();
    assert_eq!(log.len(), before + 2, "recorded once: {log:?}");
    let people = log.iter().find(|e| e.table == "people").unwrap();
    assert_eq!((people.system.as_str(), people.rows), ("vms", 1));
    assert_eq!(people.method.name(), "erase");
    let invoices = log.iter().find(|e| e.table == "invoices").unwrap();
    assert_eq!((invoices.rows, invoices.method.name()), (2, "anonymise"));
    let status = store.fulfilment_status(id).await.unwrap();
    let vms = status.actions.iter().find(|a| a.target == "vms").unwrap();
    assert_eq!(vms.status, ActionStatus::Done);
    assert_eq!(vms.error, None);
    let counted = kluis_store::report_tables(vms.report.as_ref().unwrap());
    assert_eq!(
        counted[1].kept_because,
        ["invoices.iban: bookkeeping, 10 years"]
    );
    let summary = kluis_store::fulfilment_summary(&status);
    assert!(
        summary.contains("erasure / camera / vms: people: 1 deleted"),
        "{summary}"
    );

    // The by-hand actions wait for a staff member, who says what they did.
    assert!(!status.all_done());
    let blank = store.confirm_by_hand(id, "  ", "caseworker", NOW).await;
    assert!(matches!(blank, Err(StoreError::Invalid(_))), "{blank:?}");
    store
        .erase_in_vault(&staff(), id, &reference, Some(an), "camera")
        .await
        .unwrap();
    let confirmed = store
        .confirm_by_hand(
            id,
            "pakket verstuurd; adres verbeterd in HR",
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        confirmed, 5,
        "package, erasure in shared, rectification in the vault, hr and shared"
    );
    let status = store.fulfilment_status(id).await.unwrap();
    assert!(status.all_done(), "{status:?}");
    let access = status.actions.iter().find(|a| a.target == PACKAGE).unwrap();
    assert_eq!(
        access.report.as_ref().unwrap()["confirmed_by"],
        "caseworker"
    );
    // A done action is never reopened by planning again.
    let replanned = store.plan_fulfilment(id, &maps).await.unwrap();
    assert!(replanned.all_done());
    assert_eq!(replanned.stage, Stage::Decided);
}

async fn recipients_are_told_before_the_request_closes(store: &TestStore) {
    register(store).await;
    let an = store
        .record_subject(&staff(), "camera", &identity(), &[])
        .await
        .unwrap()
        .0
        .id;
    record(store, an, "camera").await;
    let id = decided(
        store,
        vec![Right::Erasure],
        an,
        vec![decision(Right::Erasure, "camera", Outcome::Granted)],
    )
    .await;
    let status = store.plan_fulfilment(id, &[]).await.unwrap();
    // The police are listed; the person themselves is not a recipient to tell.
    assert_eq!(status.recipients.len(), 1, "{:?}", status.recipients);
    assert_eq!(status.recipients[0].recipient, "Politiezone Hasselt");
    assert_eq!(status.recipients[0].told_at, None);
    // Not before the erasure is carried out.
    let early = store
        .record_recipient_told(id, "Politiezone Hasselt", "brief", "caseworker", NOW)
        .await
        .unwrap_err();
    assert!(early.to_string().contains("not done yet"), "{early}");
    store
        .erase_in_vault(&staff(), id, &status.reference, Some(an), "camera")
        .await
        .unwrap();
    let r = store.rights_request(id).await.unwrap();
    let r = store
        .change_request(
            id,
            r.version,
            &RequestChange::Fulfil {
                note: "gewist".into(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    // Closing is refused while the police were not told, and changes nothing.
    let refused = store
        .change_request(
            id,
            r.version,
            &RequestChange::Close {
                note: "afgesloten".into(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("art. 19") && message.contains("Politiezone Hasselt"),
        "{message}"
    );
    let unchanged = store.rights_request(id).await.unwrap();
    assert_eq!(
        (unchanged.stage, unchanged.version),
        (Stage::Fulfilled, r.version)
    );
    // Bad input: someone who is not a recipient, no way of telling.
    let stranger = store
        .record_recipient_told(id, "Krant van West-Vlaanderen", "brief", "caseworker", NOW)
        .await
        .unwrap_err();
    assert!(
        stranger.to_string().contains("Politiezone Hasselt"),
        "{stranger}"
    );
    let how = store
        .record_recipient_told(id, "Politiezone Hasselt", " ", "caseworker", NOW)
        .await
        .unwrap_err();
    assert!(how.to_string().contains("say how"), "{how}");
    let told = store
        .record_recipient_told(
            id,
            "politiezone hasselt",
            "aangetekende brief 2026-11-23",
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert!(told.untold().is_empty());
    assert_eq!(told.recipients[0].told_by.as_deref(), Some("caseworker"));
    assert_eq!(
        told.recipients[0].how.as_deref(),
        Some("aangetekende brief 2026-11-23")
    );
    let closed = store
        .change_request(
            id,
            r.version,
            &RequestChange::Close {
                note: "afgesloten".into(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(closed.stage, Stage::Closed);
}
