//! The store's story suite, run against SQLite and PostgreSQL alike.
//!
//! PostgreSQL needs `TEST_DATABASE_URL` (see `kluis_store::testing`); each test gets a
//! database of its own, dropped afterwards.

use std::collections::BTreeSet;

use kluis_domain::access::Role;
use kluis_domain::category::{DataCategory, SubjectCategory};
use kluis_domain::legal::{LegalBasis, SupervisoryAuthority};
use kluis_domain::register::{
    ActivityStatus, Address, Agreement, AgreementKind, AutomatedDecisionMaking, Controller,
    Country, Dpo, LegalBasisClaim, ProcessingActivity, Processor, Register, RightsContact, Source,
};
use kluis_domain::retention::{RetentionRule, RetentionSchedule};
use kluis_domain::text::Text;
use kluis_store::testing::{postgres_store, sqlite_store};
use kluis_store::{Backend, ImportSummary, Store, StoreError};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

/// Runs each story once on a fresh SQLite store and once on a fresh PostgreSQL store.
macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    let store = kluis_store::testing::sqlite_store().await;
                    assert_eq!(store.backend(), kluis_store::Backend::Sqlite);
                    super::$story(&store).await;
                    store.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $story() {
                    let Some(store) = kluis_store::testing::postgres_store().await else {
                        return;
                    };
                    assert_eq!(store.backend(), kluis_store::Backend::Postgres);
                    super::$story(&store).await;
                    store.cleanup().await;
                }
            )*
        }
    };
}

#[path = "store/breaches.rs"]
mod breaches;
#[path = "store/consent.rs"]
mod consent;
#[path = "store/cookies.rs"]
mod cookies;
#[path = "store/fulfilment.rs"]
mod fulfilment;
#[path = "store/inventory.rs"]
mod inventory;
#[path = "store/mail.rs"]
mod mail;
#[path = "store/media.rs"]
mod media;
#[path = "store/restriction.rs"]
mod restriction;
#[path = "store/retention.rs"]
mod retention;
#[path = "store/rights.rs"]
mod rights;
#[path = "store/rights_assignment.rs"]
mod rights_assignment;
#[path = "store/statistics.rs"]
mod statistics;
#[path = "store/system_rectification.rs"]
mod system_rectification;

stories!(
    every_activity_write_moves_the_revision,
    register_round_trip_keeps_the_file_order,
    import_counts_created_updated_unchanged,
    import_is_all_or_nothing,
    prune_retires_and_removes_what_the_file_dropped,
    every_activity_edit_is_a_version,
    stale_writes_conflict_and_creates_do_not_overwrite,
    deletes_check_versions_and_references,
    statements_are_numbered_per_controller,
    passwords,
    api_tokens,
    sessions,
    the_database_answers_the_health_check,
);

/// `/healthz` asks the store; it must answer on both backends.
async fn the_database_answers_the_health_check(store: &Store) {
    store.ping().await.expect("the health check");
}

const T0: OffsetDateTime = datetime!(2026-01-05 09:00:00 UTC);

fn controller(id: &str, name: &str) -> Controller {
    Controller {
        id: id.into(),
        name: Text::nl(name),
        department: None,
        address: Address {
            street: "Universiteitslaan 1".into(),
            postcode: "3500".into(),
            city: "Hasselt".into(),
            country: Country::Be,
        },
        enterprise_number: None,
        kvk_number: None,
        email: Some(format!("info@{id}.be")),
        phone: None,
        website: None,
        representative: None,
        dpo: Dpo {
            name: None,
            email: format!("dpo@{id}.be"),
            phone: None,
            address: None,
        },
        supervisory_authorities: vec![SupervisoryAuthority::Vtc],
        rights_contact: RightsContact {
            email: Some(format!("privacy@{id}.be")),
            ..RightsContact::default()
        },
        joint_controllers: vec![],
        introduction: None,
        cookies: vec![],
        security_measures: vec![],
        change_notice: None,
    }
}

fn processor(id: &str) -> Processor {
    Processor {
        id: id.into(),
        name: id.to_uppercase(),
        country: "BE".into(),
        location: None,
        contact: None,
        sub_processors: vec![],
    }
}

fn agreement(id: &str, controller: &str, processor: &str) -> Agreement {
    Agreement {
        id: id.into(),
        title: Text::nl(format!("Verwerkersovereenkomst {processor}")),
        kind: AgreementKind::ProcessorAgreement {
            processor: processor.into(),
        },
        controllers: vec![controller.into()],
        reference: Some(format!("REF-{id}")),
        signed_on: Some(date!(2024 - 05 - 01)),
        expires_on: None,
        document_url: None,
        public: true,
    }
}

fn activity(id: &str, controller: &str, name: &str) -> ProcessingActivity {
    ProcessingActivity {
        id: id.into(),
        controller: controller.into(),
        name: Text::nl(name),
        status: ActivityStatus::Active,
        purposes: vec![Text::nl(format!("Doel van {name}"))],
        legal_bases: vec![LegalBasisClaim {
            basis: LegalBasis::PublicInterest,
            reference: None,
        }],
        consent: None,
        data_categories: vec![DataCategory::Identification, DataCategory::Contact],
        data_description: None,
        special_categories: vec![],
        subject_categories: vec![SubjectCategory::Citizens],
        sources: vec![Source::DataSubject],
        recipients: Some(vec![]),
        processors: vec![],
        applications: vec![],
        transfers: vec![],
        agreements: vec![],
        retention: vec![RetentionSchedule {
            key: "dossier".into(),
            applies_to: None,
            rule: RetentionRule::Permanent,
            evidence_hold: None,
            note: None,
            anonymise: None,
        }],
        automated_decision_making: AutomatedDecisionMaking::None,
        security_measures: vec![],
        dpia: None,
        additional_information: None,
    }
}

/// Two controllers; activities deliberately not in alphabetical order.
fn sample() -> Register {
    let mut zeta = activity("zeta", "city", "Camerabewaking");
    zeta.processors = vec!["cipal".into()];
    zeta.agreements = vec!["city-cipal".into()];
    Register {
        controllers: vec![
            controller("city", "Stad Hasselt"),
            controller("province", "Provincie Limburg"),
        ],
        processors: vec![processor("cipal"), processor("unused")],
        agreements: vec![
            agreement("city-cipal", "city", "cipal"),
            agreement("city-old", "city", "unused"),
            agreement("province-old", "province", "unused"),
        ],
        activities: vec![
            zeta,
            activity("alpha", "city", "Bevolking"),
            activity("mid", "city", "Burgerlijke stand"),
            activity("pb", "province", "Subsidies"),
            activity("pa", "province", "Personeel"),
        ],
    }
}

fn ids(activities: &[ProcessingActivity]) -> Vec<&str> {
    activities.iter().map(|a| a.id.as_str()).collect()
}

async fn register_round_trip_keeps_the_file_order(store: &Store) {
    let register = sample();
    let summary = store
        .import_register(&register, false, "dpo", T0)
        .await
        .unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            created: 2 + 2 + 3 + 5,
            updated: 0,
            unchanged: 0,
            retired: 0
        }
    );
    assert_eq!(store.register().await.unwrap(), register);

    let city: Vec<_> = store.activities(Some("city")).await.unwrap();
    let city: Vec<_> = city.into_iter().map(|v| v.value).collect();
    assert_eq!(ids(&city), ["zeta", "alpha", "mid"]);
    let all = store.activities(None).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|a| a.version == 1 && a.updated_at == T0));
    assert!(store.activities(Some("nobody")).await.unwrap().is_empty());

    let c = store.controller("city").await.unwrap().unwrap();
    assert_eq!((c.version, c.updated_at), (1, T0));
    assert_eq!(c.value, register.controllers[0]);
    assert!(store.controller("nobody").await.unwrap().is_none());
    assert_eq!(store.processors().await.unwrap().len(), 2);
    assert_eq!(
        store.agreement("city-cipal").await.unwrap().unwrap().value,
        register.agreements[0]
    );

    // A new activity goes last in its controller's order.
    store
        .put_activity(&activity("aaa", "city", "Nieuw"), None, "dpo", T0)
        .await
        .unwrap();
    let register = store.register().await.unwrap();
    assert_eq!(
        ids(&register.activities),
        ["zeta", "alpha", "mid", "aaa", "pb", "pa"]
    );

    // Processors and agreements keep the file's order too, also when only the order changed.
    let mut reordered = sample();
    reordered.processors.reverse();
    reordered.agreements.reverse();
    store
        .import_register(&reordered, false, "dpo", T0)
        .await
        .unwrap();
    let back = store.register().await.unwrap();
    let order = |ps: &[Processor]| ps.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(order(&back.processors), order(&reordered.processors));
    assert_eq!(back.agreements, reordered.agreements);
    let listed: Vec<_> = store
        .processors()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(order(&listed), order(&reordered.processors));
    // A processor created afterwards goes last.
    store
        .put_processor(&processor("zzz-new"), None, "dpo", T0)
        .await
        .unwrap();
    store
        .put_processor(&processor("aaa-new"), None, "dpo", T0)
        .await
        .unwrap();
    let listed: Vec<_> = store
        .processors()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(order(&listed[2..]), ["zzz-new", "aaa-new"]);
}

async fn import_counts_created_updated_unchanged(store: &Store) {
    let mut register = sample();
    store
        .import_register(&register, false, "dpo", T0)
        .await
        .unwrap();

    let t1 = T0 + Duration::days(1);
    let again = store
        .import_register(&register, false, "dpo", t1)
        .await
        .unwrap();
    assert_eq!(
        again,
        ImportSummary {
            unchanged: 12,
            ..ImportSummary::default()
        }
    );
    assert_eq!(store.activity_versions("alpha").await.unwrap().len(), 1);

    register.controllers[0].phone = Some("011 23 45 67".into());
    register.activities[1].purposes.push(Text::nl("Statistiek"));
    register
        .activities
        .push(activity("new", "province", "Archief"));
    // Reordering is not a change of content, but the new order is kept.
    register.activities.swap(3, 4);
    let t2 = T0 + Duration::days(2);
    let summary = store
        .import_register(&register, false, "importer", t2)
        .await
        .unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            created: 1,
            updated: 2,
            unchanged: 10,
            retired: 0
        }
    );
    assert_eq!(store.register().await.unwrap(), register);

    let city = store.controller("city").await.unwrap().unwrap();
    assert_eq!((city.version, city.updated_at), (2, t2));
    let versions = store.activity_versions("alpha").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[1].version, versions[1].valid_from), (2, t2));
    assert_eq!(versions[1].recorded_by, "importer");
    assert_eq!(versions[1].activity, register.activities[1]);
    assert_eq!(store.activity_versions("mid").await.unwrap().len(), 1);
}

async fn import_is_all_or_nothing(store: &Store) {
    let register = sample();
    store
        .import_register(&register, false, "dpo", T0)
        .await
        .unwrap();
    let t1 = T0 + Duration::days(1);

    // The second activity repeats the first one's id: the error comes after the
    // controllers, processors and first activity were written, and must undo them.
    let mut bad = register.clone();
    bad.controllers[0].phone = Some("changed".into());
    bad.processors.push(processor("newcomer"));
    bad.activities = vec![
        activity("fresh", "city", "Eerste"),
        activity("fresh", "city", "Twee"),
    ];
    let err = store
        .import_register(&bad, true, "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { what: "processing activity", id } if id == "fresh"),
        "{err:?}"
    );
    assert_eq!(store.register().await.unwrap(), register);
    assert_eq!(store.controller("city").await.unwrap().unwrap().version, 1);
    assert!(store.activity_versions("fresh").await.unwrap().is_empty());

    // An activity of a controller that exists nowhere.
    let mut bad = register.clone();
    bad.activities[0].name = Text::nl("Gewijzigd");
    bad.activities
        .push(activity("stray", "atlantis", "Nergens"));
    let err = store
        .import_register(&bad, false, "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "controller", id } if id == "atlantis"),
        "{err:?}"
    );
    assert_eq!(store.register().await.unwrap(), register);
    assert_eq!(store.activity_versions("zeta").await.unwrap().len(), 1);

    // A duplicate controller.
    let mut bad = register.clone();
    bad.controllers.push(controller("city", "Nog eens"));
    let err = store
        .import_register(&bad, false, "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                what: "controller",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.register().await.unwrap(), register);
}

async fn prune_retires_and_removes_what_the_file_dropped(store: &Store) {
    let register = sample();
    store
        .import_register(&register, false, "dpo", T0)
        .await
        .unwrap();

    // The city's file without "zeta", the processors and the city's old agreement.
    let city_file = Register {
        controllers: vec![register.controllers[0].clone()],
        processors: vec![],
        agreements: vec![],
        activities: vec![
            register.activities[1].clone(),
            register.activities[2].clone(),
        ],
    };
    let t1 = T0 + Duration::days(1);
    let without_prune = store
        .import_register(&city_file, false, "dpo", t1)
        .await
        .unwrap();
    assert_eq!(without_prune.retired, 0);
    assert_eq!(store.register().await.unwrap().activities.len(), 5);

    let summary = store
        .import_register(&city_file, true, "dpo", t1)
        .await
        .unwrap();
    // zeta retired; "unused" processor and "city-old" agreement deleted. "cipal" and
    // "city-cipal" stay: the retired zeta still refers to them. The province's agreement
    // and activities are not the city's to prune.
    assert_eq!(summary.retired, 3, "{summary:?}");
    assert_eq!(summary.unchanged, 3);
    let zeta = store.activity("zeta").await.unwrap().unwrap();
    assert_eq!(zeta.value.status, ActivityStatus::Retired);
    assert_eq!((zeta.version, zeta.updated_at), (2, t1));
    assert_eq!(
        store.activity_versions("zeta").await.unwrap()[0]
            .activity
            .status,
        ActivityStatus::Active
    );
    let after = store.register().await.unwrap();
    // What the file dropped goes after what it holds.
    assert_eq!(ids(&after.activities), ["alpha", "mid", "zeta", "pb", "pa"]);
    let processors: Vec<_> = after.processors.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(processors, ["cipal"]);
    let agreements: Vec<_> = after.agreements.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(agreements, ["city-cipal", "province-old"]);
    assert!(
        after
            .activities
            .iter()
            .filter(|a| a.controller == "province")
            .all(|a| a.status == ActivityStatus::Active)
    );

    // Pruning again retires nothing more.
    let again = store
        .import_register(&city_file, true, "dpo", T0 + Duration::days(2))
        .await
        .unwrap();
    assert_eq!(again.retired, 0);
    assert_eq!(store.activity("zeta").await.unwrap().unwrap().version, 2);
}

async fn every_activity_write_moves_the_revision(store: &Store) {
    store
        .put_controller(&controller("city", "Stad"), None, "dpo", T0)
        .await
        .unwrap();
    let r0 = store.activities_revision().await.unwrap();
    let mut a = activity("cctv", "city", "Camerabewaking");
    store.put_activity(&a, None, "anna", T0).await.unwrap();
    let r1 = store.activities_revision().await.unwrap();
    assert!(r1 > r0, "a new activity moves the revision");
    a.purposes.push(Text::nl("Vaststellen van overlast"));
    store.put_activity(&a, Some(1), "anna", T0).await.unwrap();
    let r2 = store.activities_revision().await.unwrap();
    assert!(r2 > r1, "an edit moves the revision");
    assert!(store.put_activity(&a, Some(1), "anna", T0).await.is_err());
    store
        .put_processor(&processor("unused"), None, "dpo", T0)
        .await
        .unwrap();
    assert_eq!(
        store.activities_revision().await.unwrap(),
        r2,
        "refused edits and other tables leave it"
    );
}

async fn every_activity_edit_is_a_version(store: &Store) {
    store
        .put_controller(&controller("city", "Stad"), None, "dpo", T0)
        .await
        .unwrap();
    // Times with nanoseconds and an offset: stored in UTC to the microsecond.
    let t1 = datetime!(2026-02-01 10:00:00.123456789 +01:00);
    let t2 = datetime!(2026-03-01 12:00:00.5 UTC);
    let t3 = datetime!(2026-04-01 12:00:00 UTC);
    let mut a = activity("cctv", "city", "Camerabewaking");
    let v1 = store.put_activity(&a, None, "anna", t1).await.unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.updated_at, datetime!(2026-02-01 09:00:00.123456 UTC));
    a.purposes.push(Text::nl("Vaststellen van overlast"));
    let v2 = store.put_activity(&a, Some(1), "bert", t2).await.unwrap();
    assert_eq!(v2.version, 2);
    a.status = ActivityStatus::Retired;
    store.put_activity(&a, Some(2), "carla", t3).await.unwrap();

    let versions = store.activity_versions("cctv").await.unwrap();
    let summary: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.recorded_by.as_str()))
        .collect();
    assert_eq!(summary, [(1, "anna"), (2, "bert"), (3, "carla")]);
    assert_eq!(versions[0].valid_from, v1.updated_at);
    assert_eq!(versions[0].activity.purposes.len(), 1);
    assert_eq!(versions[2].activity, a);
    assert_eq!(store.activity("cctv").await.unwrap().unwrap().value, a);

    let at = |t| store.activity_at("cctv", t);
    assert_eq!(at(t1 - Duration::seconds(1)).await.unwrap(), None);
    assert_eq!(at(t1).await.unwrap().unwrap().version, 1);
    assert_eq!(
        at(t2 - Duration::microseconds(1))
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(at(t2).await.unwrap().unwrap().version, 2);
    assert_eq!(
        at(t3 + Duration::days(365)).await.unwrap().unwrap().version,
        3
    );
    assert_eq!(store.activity_at("nothing", t3).await.unwrap(), None);
    assert!(store.activity_versions("nothing").await.unwrap().is_empty());
}

async fn stale_writes_conflict_and_creates_do_not_overwrite(store: &Store) {
    let mut city = controller("city", "Stad");
    let v1 = store.put_controller(&city, None, "dpo", T0).await.unwrap();
    assert_eq!(v1.version, 1);
    let err = store
        .put_controller(&city, None, "dpo", T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { what: "controller", id } if id == "city"),
        "{err:?}"
    );

    city.phone = Some("011".into());
    let t1 = T0 + Duration::hours(1);
    let v2 = store
        .put_controller(&city, Some(1), "dpo", t1)
        .await
        .unwrap();
    assert_eq!((v2.version, v2.updated_at), (2, t1));
    city.phone = Some("012".into());
    let err = store
        .put_controller(&city, Some(1), "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Conflict {
                what: "controller",
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("reload"), "{err}");
    assert_eq!(
        store
            .controller("city")
            .await
            .unwrap()
            .unwrap()
            .value
            .phone
            .as_deref(),
        Some("011")
    );
    let err = store
        .put_controller(&controller("ghost", "x"), Some(1), "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "controller",
                ..
            }
        ),
        "{err:?}"
    );

    let p = processor("cipal");
    store.put_processor(&p, None, "dpo", T0).await.unwrap();
    assert!(matches!(
        store.put_processor(&p, None, "dpo", T0).await.unwrap_err(),
        StoreError::AlreadyExists {
            what: "processor",
            ..
        }
    ));
    assert_eq!(
        store
            .put_processor(&p, Some(1), "dpo", T0)
            .await
            .unwrap()
            .version,
        2
    );
    let ag = agreement("dpa", "city", "cipal");
    store.put_agreement(&ag, None, "dpo", T0).await.unwrap();
    assert!(matches!(
        store
            .put_agreement(&ag, Some(7), "dpo", T0)
            .await
            .unwrap_err(),
        StoreError::Conflict {
            what: "agreement",
            expected: 7,
            actual: 1,
            ..
        }
    ));

    let mut a = activity("cctv", "city", "Camerabewaking");
    store.put_activity(&a, None, "dpo", T0).await.unwrap();
    let err = store.put_activity(&a, None, "dpo", T0).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                what: "processing activity",
                ..
            }
        ),
        "{err:?}"
    );
    a.name = Text::nl("Bewaking");
    store.put_activity(&a, Some(1), "dpo", t1).await.unwrap();
    let err = store
        .put_activity(&a, Some(1), "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                what: "processing activity",
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    // A refused write leaves no trace in the history.
    assert_eq!(store.activity_versions("cctv").await.unwrap().len(), 2);

    let err = store
        .put_activity(&activity("x", "atlantis", "x"), None, "dpo", T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "controller", id } if id == "atlantis"),
        "{err:?}"
    );
    a.controller = "atlantis".into();
    let err = store
        .put_activity(&a, Some(2), "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "controller",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .put_activity(&activity("ghost", "city", "x"), Some(1), "dpo", t1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "processing activity",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn deletes_check_versions_and_references(store: &Store) {
    store
        .import_register(&sample(), false, "dpo", T0)
        .await
        .unwrap();

    let err = store.delete_processor("cipal", 5).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 5,
                actual: 1,
                ..
            }
        ),
        "{err:?}"
    );
    store.delete_processor("cipal", 1).await.unwrap();
    assert!(store.processor("cipal").await.unwrap().is_none());
    let err = store.delete_processor("cipal", 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "processor",
                ..
            }
        ),
        "{err:?}"
    );
    store.delete_agreement("city-old", 1).await.unwrap();
    assert_eq!(store.agreements().await.unwrap().len(), 2);

    // A controller with activities keeps them: the delete is refused.
    let err = store.delete_controller("city", 1).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InUse { what: "controller", id, .. } if id == "city"),
        "{err:?}"
    );
    assert!(store.controller("city").await.unwrap().is_some());

    store
        .put_controller(&controller("empty", "Leeg"), None, "dpo", T0)
        .await
        .unwrap();
    store.delete_controller("empty", 1).await.unwrap();
    assert!(store.controller("empty").await.unwrap().is_none());
}

async fn statements_are_numbered_per_controller(store: &Store) {
    let register = sample();
    store
        .import_register(&register, false, "dpo", T0)
        .await
        .unwrap();
    let snapshot = register.for_controller("city").unwrap();

    let first = store
        .publish_statement("city", date!(2026 - 02 - 01), &snapshot, "dpo", T0)
        .await
        .unwrap();
    assert_eq!((first.version, first.controller.as_str()), (1, "city"));
    let t1 = T0 + Duration::days(3);
    let second = store
        .publish_statement("city", date!(2026 - 03 - 01), &register, "anna", t1)
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    let other = store
        .publish_statement("province", date!(2026 - 02 - 01), &register, "dpo", T0)
        .await
        .unwrap();
    assert_eq!(other.version, 1);

    // Concurrent publishes each get a number of their own.
    let publish = || store.publish_statement("city", date!(2026 - 04 - 01), &snapshot, "dpo", t1);
    let (a, b, c, d) = tokio::join!(publish(), publish(), publish(), publish());
    let numbers: BTreeSet<i64> = [a, b, c, d]
        .into_iter()
        .map(|r| r.unwrap().version)
        .collect();
    assert_eq!(numbers, BTreeSet::from([3, 4, 5, 6]));

    let versions = store.statement_versions("city").await.unwrap();
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    assert_eq!(versions[0], first);
    assert_eq!(versions[1], second);

    let (version, stored) = store.statement_version("city", 1).await.unwrap().unwrap();
    assert_eq!(version, first);
    assert_eq!(version.effective_date, date!(2026 - 02 - 01));
    assert_eq!(stored, snapshot);
    assert_eq!(
        store.statement_version("city", 2).await.unwrap().unwrap().1,
        register
    );
    assert!(store.statement_version("city", 99).await.unwrap().is_none());
    assert!(store.statement_versions("nobody").await.unwrap().is_empty());

    let err = store
        .publish_statement("atlantis", date!(2026 - 01 - 01), &snapshot, "dpo", T0)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "controller",
                ..
            }
        ),
        "{err:?}"
    );
    // Published history keeps its controller.
    let err = store.delete_controller("province", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
}

async fn passwords(store: &Store) {
    let alice = store
        .create_user(
            "alice",
            "Alice Peeters",
            "correct horse",
            &[Role::Dpo, Role::Admin],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(alice.roles, [Role::Dpo, Role::Admin]);
    assert!(!alice.disabled);
    let err = store
        .create_user("alice", "Other Alice", "x", &[], T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { what: "user", id } if id == "alice"),
        "{err:?}"
    );
    store
        .create_user("bob", "Bob", "hunter22", &[Role::Auditor], T0)
        .await
        .unwrap();

    assert_eq!(
        store
            .verify_password("alice", "correct horse")
            .await
            .unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .verify_password("alice", "Correct horse")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.verify_password("alice", "").await.unwrap(), None);
    assert_eq!(
        store
            .verify_password("nobody", "correct horse")
            .await
            .unwrap(),
        None
    );

    store.set_password("alice", "battery staple").await.unwrap();
    assert_eq!(
        store
            .verify_password("alice", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .verify_password("alice", "battery staple")
            .await
            .unwrap()
            .is_some()
    );
    let err = store.set_password("nobody", "x").await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );

    store.set_user_disabled("alice", true).await.unwrap();
    assert_eq!(
        store
            .verify_password("alice", "battery staple")
            .await
            .unwrap(),
        None
    );
    let users = store.users().await.unwrap();
    let names: Vec<_> = users
        .iter()
        .map(|u| (u.username.as_str(), u.disabled))
        .collect();
    assert_eq!(names, [("alice", true), ("bob", false)]);
    store.set_user_disabled("alice", false).await.unwrap();
    assert!(
        store
            .verify_password("alice", "battery staple")
            .await
            .unwrap()
            .is_some()
    );
}

async fn api_tokens(store: &Store) {
    let user = store
        .create_user("script", "Import script", "pw", &[Role::Dpo], T0)
        .await
        .unwrap();
    let (secret, token) = store
        .create_api_token(user.id, "nightly import", T0)
        .await
        .unwrap();
    assert!(secret.starts_with("kluis_"), "{secret}");
    assert_eq!(secret.len(), "kluis_".len() + 64);
    assert_eq!(
        (token.user_id, token.name.as_str(), token.last_used_at),
        (user.id, "nightly import", None)
    );

    let t1 = T0 + Duration::minutes(5);
    assert_eq!(
        store.user_for_api_token(&secret, t1).await.unwrap(),
        Some(user.clone())
    );
    let listed = store.api_tokens(user.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].created_at, listed[0].last_used_at),
        (token.id, T0, Some(t1))
    );
    // Uses within a minute are not each written; a later one is.
    store
        .user_for_api_token(&secret, t1 + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(
        store.api_tokens(user.id).await.unwrap()[0].last_used_at,
        Some(t1)
    );
    let t2 = t1 + Duration::minutes(2);
    store.user_for_api_token(&secret, t2).await.unwrap();
    assert_eq!(
        store.api_tokens(user.id).await.unwrap()[0].last_used_at,
        Some(t2)
    );

    let (other, _) = store.create_api_token(user.id, "second", T0).await.unwrap();
    assert_ne!(other, secret);
    let mut wrong = secret.clone();
    wrong.replace_range(10..12, if &secret[10..12] == "00" { "11" } else { "00" });
    assert_eq!(store.user_for_api_token(&wrong, t1).await.unwrap(), None);
    assert_eq!(
        store
            .user_for_api_token(&secret["kluis_".len()..], t1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.user_for_api_token("", t1).await.unwrap(), None);

    store.revoke_api_token(token.id).await.unwrap();
    assert_eq!(store.user_for_api_token(&secret, t1).await.unwrap(), None);
    assert!(
        store
            .user_for_api_token(&other, t1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.api_tokens(user.id).await.unwrap().len(), 1);
    let err = store.revoke_api_token(uuid::Uuid::nil()).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "API token",
                ..
            }
        ),
        "{err:?}"
    );

    store.set_user_disabled("script", true).await.unwrap();
    assert_eq!(store.user_for_api_token(&other, t1).await.unwrap(), None);
    let err = store
        .create_api_token(uuid::Uuid::nil(), "x", T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
}

async fn sessions(store: &Store) {
    let user = store
        .create_user("carla", "Carla", "pw", &[Role::Caseworker], T0)
        .await
        .unwrap();
    let ttl = Duration::hours(8);
    let (secret, session) = store.create_session(user.id, T0, ttl).await.unwrap();
    assert_eq!(session.user, user);
    assert_eq!(session.expires_at, T0 + ttl);
    assert_eq!(session.csrf_token.len(), 64);
    assert_eq!(secret.len(), 64);
    assert_ne!(secret, session.csrf_token);

    let found = store
        .session(&secret, T0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(found, Some(session.clone()));
    assert_eq!(
        store.session(&secret, T0 + ttl).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.session("not-a-session", T0).await.unwrap(), None);

    let (second, other) = store.create_session(user.id, T0, ttl).await.unwrap();
    assert_ne!((&second, &other.csrf_token), (&secret, &session.csrf_token));
    store.delete_session(&secret).await.unwrap();
    assert_eq!(store.session(&secret, T0).await.unwrap(), None);
    store.delete_session(&secret).await.unwrap();
    assert!(store.session(&second, T0).await.unwrap().is_some());

    store.set_user_disabled("carla", true).await.unwrap();
    assert_eq!(store.session(&second, T0).await.unwrap(), None);
    let err = store
        .create_session(uuid::Uuid::nil(), T0, ttl)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
}

// ---- Not per backend ----

fn migration_files(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = migration_files("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_files("postgres"));
}

#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = sqlite_store().await;
    let Some(postgres) = postgres_store().await else {
        sqlite.cleanup().await;
        return;
    };
    let (a, b) = (sqlite.columns().await, postgres.columns().await);
    sqlite.cleanup().await;
    postgres.cleanup().await;
    assert!(a.len() > 20, "{a:?}");
    assert_eq!(a, b);
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_data_across_queries() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store
        .import_register(&sample(), false, "dpo", T0)
        .await
        .unwrap();
    store
        .create_user("dora", "Dora", "pw", &[Role::Dpo], T0)
        .await
        .unwrap();
    assert_eq!(store.register().await.unwrap(), sample());
    assert!(store.verify_password("dora", "pw").await.unwrap().is_some());
    store.close().await;
}

#[tokio::test]
async fn unreachable_databases_say_where_and_what_to_check() {
    let err = Store::connect("postgres://kluis:geheim@127.0.0.1:1/kluis")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        message.contains("kluis:****@127.0.0.1:1/kluis"),
        "{message}"
    );
    assert!(!message.contains("geheim"), "{message}");
    assert!(message.contains("check"), "{message}");

    let missing_dir = std::env::temp_dir()
        .join("kluis-no-such-dir")
        .join("sub")
        .join("k.db");
    let err = Store::connect(&format!("sqlite://{}", missing_dir.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("directory exists"), "{err}");

    let err = Store::connect("sqlite://k.db?mode=bogus")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
}

#[tokio::test]
async fn a_sqlite_file_keeps_the_register_across_connections() {
    let store = sqlite_store().await;
    store
        .import_register(&sample(), false, "dpo", T0)
        .await
        .unwrap();
    let reopened = Store::connect(store.url()).await.unwrap();
    assert_eq!(reopened.register().await.unwrap(), sample());
    reopened.close().await;
    store.cleanup().await;
}

#[tokio::test]
async fn dropping_a_test_store_removes_its_database() {
    let store = sqlite_store().await;
    let path = store.url().trim_start_matches("sqlite://").to_string();
    assert!(std::path::Path::new(&path).exists());
    drop(store);
    assert!(!std::path::Path::new(&path).exists(), "{path} left behind");

    let Some(store) = postgres_store().await else {
        return;
    };
    let name = store.url().rsplit('/').next().unwrap().to_string();
    drop(store);
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "database {name} left behind");
}
