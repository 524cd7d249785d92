//! Rectification in a connected system, as the request records it, on both backends: the
//! old and new values sealed with the store's keys and read back unsealed, the request's
//! rectification action for the system marked done (only where it was granted whole), more
//! columns rectified after that, and the values gone once the person's rows were erased.

use std::collections::BTreeMap;

use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::{self, DatasetMap};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::register::Register;
use kluis_domain::rights::{
    ActingFor, Decision, Outcome, RefusalGround, RequestChannel, Requester, Right, Stage,
};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::TestStore;
use kluis_store::{
    ActionStatus, NewRequest, Processing, RequestChange, RowValue, StoreError, SystemRectification,
    TableCounts,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::{activity, controller};

stories!(
    a_rectification_in_a_system_keeps_old_and_new_values_and_marks_its_action_done,
    the_values_go_when_the_persons_rows_in_the_system_are_erased,
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

fn identity() -> SubjectIdentity {
    SubjectIdentity {
        email: Some("an.peeters@example.be".parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    }
}

/// Recruitment and camera images, of one controller; An is a subject of recruitment.
async fn an(store: &TestStore) -> Uuid {
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![
                    activity("werving", "city", "Werving en selectie"),
                    activity("camera", "city", "Camerabewaking"),
                ],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
    store
        .record_subject(&staff(), "werving", &identity(), &[])
        .await
        .unwrap()
        .0
        .id
}

/// HR serves recruitment; the shared system serves recruitment and camera images.
fn maps() -> [DatasetMap; 2] {
    let map = |name: &str, activities: &str| {
        dataset_map::parse(
            "test.yaml",
            &format!(
                "name: {name}\nkind: postgres\nactivities: [{activities}]\ntables:\n  \
                 applicants:\n    columns:\n      email: {{category: contact, identifies: \
                 email}}\n      last_name: identification\n      motivation: employment\n    \
                 erasure: delete_row\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    [map("hr", "werving"), map("shared", "werving, camera")]
}

fn decision(right: Right, activity: &str, outcome: Outcome) -> Decision {
    Decision {
        right,
        activity: activity.into(),
        outcome,
        grounds: if outcome == Outcome::Granted {
            vec![]
        } else {
            vec![RefusalGround::ManifestlyUnfounded]
        },
        motivation: "Na onderzoek van uw dossier.".into(),
    }
}

/// A request by An, verified against `subject`, decided with `decisions` and planned.
async fn planned(store: &TestStore, subject: Uuid, decisions: Vec<Decision>) -> (Uuid, String) {
    let rights = decisions.iter().map(|d| d.right).collect();
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
    let status = store.plan_fulfilment(filed.id, &maps()).await.unwrap();
    (filed.id, status.reference)
}

fn old(id: &str, value: Option<&str>) -> RowValue {
    RowValue {
        key: BTreeMap::from([("id".to_string(), id.to_string())]),
        value: value.map(str::to_string),
    }
}

/// What the connector reported for one column, as the web layer passes it on.
fn rectified(
    system: &str,
    column: &str,
    activities: &[&str],
    new_value: &str,
    old_values: Vec<RowValue>,
) -> SystemRectification {
    SystemRectification {
        system: system.into(),
        table: "applicants".into(),
        column: column.into(),
        category: DataCategory::Identification,
        activities: activities.iter().map(|a| a.to_string()).collect(),
        rows: 2,
        changed: old_values.len() as u64,
        new_value: new_value.into(),
        old_values,
    }
}

async fn action(store: &TestStore, id: Uuid, activity: &str, target: &str) -> ActionStatus {
    store
        .fulfilment_status(id)
        .await
        .unwrap()
        .actions
        .iter()
        .find(|a| a.right == Right::Rectification && a.activity == activity && a.target == target)
        .unwrap_or_else(|| panic!("no rectification for {activity} in {target}"))
        .status
}

async fn a_rectification_in_a_system_keeps_old_and_new_values_and_marks_its_action_done(
    store: &TestStore,
) {
    let an = an(store).await;
    let (id, reference) = planned(
        store,
        an,
        vec![
            decision(Right::Rectification, "werving", Outcome::Granted),
            decision(Right::Rectification, "camera", Outcome::PartlyGranted),
        ],
    )
    .await;
    // The plan says how: the command and the API route, with the system named.
    let status = store.fulfilment_status(id).await.unwrap();
    let hr = status
        .actions
        .iter()
        .find(|a| a.right == Right::Rectification && a.target == "hr")
        .unwrap();
    let how = hr.instruction.as_deref().unwrap();
    assert!(
        how.contains("kluis request rectify <reference>")
            && how.contains("--system hr")
            && how.contains("/api/v1/rights-requests/<id>/rectifications"),
        "{how}"
    );
    assert_eq!(
        action(store, id, "werving", "hr").await,
        ActionStatus::Pending
    );

    // Two rows: one held "Peeters", the other nothing (NULL), which is not "".
    let last_name = rectified(
        "hr",
        "last_name",
        &["werving"],
        "Peeters-Claes",
        vec![old("1", Some("Peeters")), old("2", None)],
    );
    store
        .record_system_rectification(&staff(), id, &identity(), &last_name)
        .await
        .unwrap();
    let kept = store.rectifications_in_systems(&reference).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (
            kept[0].system.as_str(),
            kept[0].table.as_str(),
            kept[0].column.as_str()
        ),
        ("hr", "applicants", "last_name")
    );
    assert_eq!(kept[0].new_value, "Peeters-Claes");
    assert_eq!(
        kept[0].old_values,
        [old("1", Some("Peeters")), old("2", None)]
    );
    assert_eq!(kept[0].rectified_by, "caseworker");
    let sealed = store
        .raw_bytes("SELECT sealed FROM system_rectifications")
        .await;
    assert_eq!(sealed.len(), 1);
    let plain = String::from_utf8_lossy(&sealed[0]);
    assert!(!plain.contains("Peeters"), "sealed, not readable: {plain}");
    // Granted whole for recruitment: HR's action is done, with where and how much.
    assert_eq!(action(store, id, "werving", "hr").await, ActionStatus::Done);
    let status = store.fulfilment_status(id).await.unwrap();
    let report = status
        .actions
        .iter()
        .find(|a| a.right == Right::Rectification && a.target == "hr")
        .and_then(|a| a.report.clone())
        .unwrap();
    assert_eq!(report["rectified"][0]["column"], "last_name", "{report}");
    assert!(!report.to_string().contains("Peeters"), "never the value");
    let summary = kluis_store::fulfilment_summary(&status);
    assert!(
        summary.contains("rectification / werving / hr: applicants.last_name rectified: 2 of 2"),
        "{summary}"
    );
    assert_eq!(
        action(store, id, "werving", "vault").await,
        ActionStatus::Pending,
        "the vault is not the system"
    );

    // Done does not stop a further column; an empty text stays an empty text.
    let motivation = rectified(
        "hr",
        "motivation",
        &["werving"],
        "Verbeterd",
        vec![old("2", Some(""))],
    );
    store
        .record_system_rectification(&staff(), id, &identity(), &motivation)
        .await
        .unwrap();
    let kept = store.rectifications_in_systems(&reference).await.unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    // Both at the same instant here, so found by column rather than by order.
    let second = kept.iter().find(|k| k.column == "motivation").unwrap();
    assert_eq!(second.old_values, [old("2", Some(""))]);
    // Again, nothing left to change: on the timeline, but no values to keep.
    let again = rectified("hr", "motivation", &["werving"], "Verbeterd", vec![]);
    store
        .record_system_rectification(&staff(), id, &identity(), &again)
        .await
        .unwrap();
    assert_eq!(
        store
            .rectifications_in_systems(&reference)
            .await
            .unwrap()
            .len(),
        2
    );
    let request = store.rights_request(id).await.unwrap();
    let steps = request
        .timeline
        .iter()
        .filter(|s| s.step == "rectified_in_system")
        .count();
    assert_eq!(steps, 3);
    assert_eq!(request.stage, Stage::Decided);

    // The shared system serves both; camera images were granted in part only: that part
    // stays for staff to confirm, recruitment's is done.
    let shared = rectified(
        "shared",
        "last_name",
        &["werving", "camera"],
        "Peeters-Claes",
        vec![old("7", Some("Peeters"))],
    );
    store
        .record_system_rectification(&staff(), id, &identity(), &shared)
        .await
        .unwrap();
    assert_eq!(
        action(store, id, "werving", "shared").await,
        ActionStatus::Done
    );
    assert_eq!(
        action(store, id, "camera", "shared").await,
        ActionStatus::Pending
    );

    // The sealed values are bound to their row: moved to another, they do not open.
    store
        .execute_raw(
            "UPDATE system_rectifications SET sealed = (SELECT sealed FROM \
             system_rectifications WHERE column_name = 'motivation') \
             WHERE column_name = 'last_name' AND system = 'hr'",
        )
        .await
        .unwrap();
    let err = store
        .rectifications_in_systems(&reference)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    // Nothing is recorded for an unknown request.
    let unknown = store
        .record_system_rectification(&staff(), Uuid::nil(), &identity(), &shared)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, StoreError::NotFound { .. }),
        "{unknown:?}"
    );
    assert_eq!(
        store
            .raw_bytes("SELECT sealed FROM system_rectifications")
            .await
            .len(),
        3
    );
}

async fn the_values_go_when_the_persons_rows_in_the_system_are_erased(store: &TestStore) {
    let an = an(store).await;
    let (rectification, reference) = planned(
        store,
        an,
        vec![decision(Right::Rectification, "werving", Outcome::Granted)],
    )
    .await;
    for (system, column) in [("hr", "last_name"), ("shared", "last_name")] {
        let done = rectified(
            system,
            column,
            &["werving"],
            "Peeters-Claes",
            vec![old("1", Some("Peeters"))],
        );
        store
            .record_system_rectification(&staff(), rectification, &identity(), &done)
            .await
            .unwrap();
    }
    // Another request of hers erases her rows in HR: the values about them go.
    let (erasure, erasure_reference) = planned(
        store,
        an,
        vec![decision(Right::Erasure, "werving", Outcome::Granted)],
    )
    .await;
    let tables = [TableCounts {
        table: "applicants".into(),
        deleted: 1,
        anonymised: 0,
        kept: 0,
        kept_because: vec![],
        failed: 0,
    }];
    store
        .record_system_erasure(
            &staff(),
            erasure,
            &erasure_reference,
            "hr",
            &["werving".to_string()],
            Some(&identity()),
            &[DataCategory::Contact],
            &tables,
            &serde_json::json!({ "system": "hr", "tables": tables }),
        )
        .await
        .unwrap();
    let kept = store.rectifications_in_systems(&reference).await.unwrap();
    assert_eq!(
        kept.iter().map(|k| k.system.as_str()).collect::<Vec<_>>(),
        ["shared"],
        "HR's values went with her rows there"
    );
    // Rows the law keeps keep their values too.
    let tables = [TableCounts {
        table: "applicants".into(),
        deleted: 0,
        anonymised: 0,
        kept: 1,
        kept_because: vec!["kept by law".into()],
        failed: 0,
    }];
    store
        .record_system_erasure(
            &staff(),
            erasure,
            &erasure_reference,
            "shared",
            &["werving".to_string()],
            Some(&identity()),
            &[DataCategory::Contact],
            &tables,
            &serde_json::json!({ "system": "shared", "tables": tables }),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .rectifications_in_systems(&reference)
            .await
            .unwrap()
            .len(),
        1
    );
}
