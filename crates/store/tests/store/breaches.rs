//! The register of data breaches, on both backends: documentation with versions, the
//! 72-hour clock in lists, notification in phases, the art. 34 decision, and the people
//! affected found in the vault and told by mail.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::access::Scope;
use kluis_domain::breach::{
    AffectedQuery, Art34Decision, Art34Ground, AuthorityNotice, BreachChange, BreachFacts,
    ClockStatus, NotificationPhase, ReportedBy, RiskAssessment, RiskLevel,
};
use kluis_domain::category::{DataCategory, SubjectCategory};
use kluis_domain::identifiers::IdentifierKind;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::Register;
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::{
    BREACH_PURPOSE, BreachFilter, LetterRecipient, Processing, Store, StoreError, SystemRecipient,
};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::{activity, controller};

stories!(
    a_breach_is_documented_changed_with_versions_and_listed,
    a_breach_with_an_awareness_time_in_the_future_is_refused_and_nothing_is_stored,
    the_authority_is_notified_in_phases_and_late_notices_need_reasons,
    people_affected_are_found_in_the_inventory_and_told_once_with_their_log_entries,
    a_breach_search_names_its_places_and_logs_people_found_in_systems_for_breach_handling,
    people_found_only_in_systems_are_mailed_once_per_address_and_counted_per_system,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn facts(aware_at: OffsetDateTime) -> BreachFacts {
    BreachFacts {
        controller: "city".into(),
        detected_at: aware_at - Duration::hours(1),
        aware_at,
        reported_by: ReportedBy::Citizen { contact: None },
        description: "Verkeerd ontvangen post: een beslissing over een subsidie.".into(),
        data_categories: [DataCategory::Identification, DataCategory::Contact].into(),
        special_categories: BTreeSet::new(),
        subject_categories: [SubjectCategory::Citizens].into(),
        approx_subjects: Some(1),
        approx_records: Some(1),
        consequences: "De ontvanger kent naam en adres.".into(),
        measures_taken: "De brief is teruggestuurd.".into(),
        measures_proposed: String::new(),
        risk: None,
        closed_at: None,
    }
}

fn risk(level: RiskLevel) -> RiskAssessment {
    RiskAssessment {
        level,
        reasons: "Zie verslag.".into(),
    }
}

fn notice(phase: NotificationPhase, sent_at: OffsetDateTime) -> AuthorityNotice {
    AuthorityNotice {
        phase,
        sent_at,
        content: "Gemeld via het formulier van de toezichthouder.".into(),
        authority_reference: None,
        delay_reason: None,
    }
}

async fn register(store: &Store) {
    let mut subsidies = activity("subsidies", "city", "Subsidies");
    subsidies.data_categories.push(DataCategory::Financial);
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![subsidies, activity("werving", "city", "Werving")],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn invalid(e: StoreError) -> String {
    match e {
        StoreError::Invalid(message) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_breach_is_documented_changed_with_versions_and_listed(store: &Store) {
    register(store).await;
    let old = store
        .create_breach(&facts(NOW - Duration::hours(80)), "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(old.version, 1);
    assert!(old.reference().starts_with("DL-"));
    assert_eq!(old.clock(NOW), ClockStatus::Overdue);
    let fresh = store
        .create_breach(&facts(NOW - Duration::hours(2)), "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(fresh.clock(NOW), ClockStatus::NotDue);
    assert_eq!(store.breach(fresh.id).await.unwrap().unwrap(), fresh);

    // Overdue: only the one whose 72 hours passed.
    let overdue = store
        .breaches(
            BreachFilter {
                overdue: true,
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(overdue.iter().map(|b| b.id).collect::<Vec<_>>(), [old.id]);

    // Assessed as no risk: documented, never overdue.
    let change: BreachChange =
        serde_json::from_str(r#"{"risk": {"level": "no_risk", "reasons": "Ongeopend terug."}}"#)
            .unwrap();
    let assessed = store
        .update_breach(old.id, 1, &change, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(assessed.version, 2);
    assert_eq!(assessed.updated_by, "dpo");
    assert_eq!(assessed.clock(NOW), ClockStatus::NotRequired);
    let overdue = store
        .breaches(
            BreachFilter {
                overdue: true,
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(overdue.is_empty(), "{overdue:?}");

    // A stale version conflicts and changes nothing.
    let err = store
        .update_breach(old.id, 1, &BreachChange::default(), "other", NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.breach(old.id).await.unwrap().unwrap(), assessed);

    // Closing takes it off the open list; the register keeps it.
    let close = BreachChange {
        closed_at: Some(Some(NOW)),
        ..Default::default()
    };
    store
        .update_breach(old.id, 2, &close, "dpo", NOW)
        .await
        .unwrap();
    let open = store
        .breaches(
            BreachFilter {
                open: true,
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(open.iter().map(|b| b.id).collect::<Vec<_>>(), [fresh.id]);
    let all = store.breaches(BreachFilter::default(), NOW).await.unwrap();
    // Most recent awareness first.
    assert_eq!(
        all.iter().map(|b| b.id).collect::<Vec<_>>(),
        [fresh.id, old.id]
    );
    assert!(matches!(
        store
            .update_breach(Uuid::nil(), 1, &close, "dpo", NOW)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn a_breach_with_an_awareness_time_in_the_future_is_refused_and_nothing_is_stored(
    store: &Store,
) {
    register(store).await;
    let message = invalid(
        store
            .create_breach(&facts(NOW + Duration::hours(1)), "dpo", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("in the future"), "{message}");
    let mut unknown = facts(NOW);
    unknown.controller = "atlantis".into();
    let message = invalid(store.create_breach(&unknown, "dpo", NOW).await.unwrap_err());
    assert!(message.contains("atlantis"), "{message}");
    assert!(
        store
            .breaches(BreachFilter::default(), NOW)
            .await
            .unwrap()
            .is_empty()
    );

    // Nor can a change move the awareness into the future.
    let breach = store.create_breach(&facts(NOW), "dpo", NOW).await.unwrap();
    let change = BreachChange {
        aware_at: Some(NOW + Duration::days(1)),
        ..Default::default()
    };
    let message = invalid(
        store
            .update_breach(breach.id, 1, &change, "dpo", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("in the future"), "{message}");
    assert_eq!(store.breach(breach.id).await.unwrap().unwrap(), breach);
}

async fn the_authority_is_notified_in_phases_and_late_notices_need_reasons(store: &Store) {
    register(store).await;
    let aware = NOW - Duration::hours(100);
    let mut f = facts(aware);
    f.risk = Some(risk(RiskLevel::Risk));
    let breach = store.create_breach(&f, "dpo", NOW).await.unwrap();
    assert_eq!(breach.clock(NOW), ClockStatus::Overdue);

    // Sent 90 hours after awareness: late, and refused without the reasons.
    let mut late = notice(NotificationPhase::Initial, aware + Duration::hours(90));
    let message = invalid(
        store
            .record_breach_notice(breach.id, None, &late, "dpo", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("reasons for the delay"), "{message}");
    let unchanged = store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!(unchanged, breach, "a refused notice changes nothing");

    // A supplement before the initial notice is refused too.
    let supplement = notice(NotificationPhase::Supplement, NOW - Duration::hours(1));
    invalid(
        store
            .record_breach_notice(breach.id, None, &supplement, "dpo", NOW)
            .await
            .unwrap_err(),
    );

    late.delay_reason = Some("De melding kwam binnen op vrijdagavond.".into());
    late.authority_reference = Some("VTC-2026-117".into());
    let notified = store
        .record_breach_notice(breach.id, None, &late, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(notified.version, 2);
    assert_eq!(notified.clock(NOW), ClockStatus::NotifiedLate);
    assert_eq!(notified.notices.len(), 1);
    assert_eq!(notified.notices[0].notice, late);
    assert_eq!(notified.notices[0].recorded_by, "dpo");

    // At the version the caller saw: one that was changed since is a conflict, and
    // nothing is recorded.
    let stale = store
        .record_breach_notice(breach.id, Some(1), &supplement, "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict { .. }), "{stale:?}");
    let stale = store
        .record_art34_decision(
            breach.id,
            Some(1),
            &Art34Decision {
                inform: true,
                ground: None,
                reasons: "Hoog risico.".into(),
                public_communication: None,
            },
            "dpo",
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict { .. }), "{stale:?}");
    let unchanged = store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!((unchanged.version, unchanged.notices.len()), (2, 1));
    assert!(unchanged.art34.is_none());
    let with_more = store
        .record_breach_notice(breach.id, Some(2), &supplement, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(
        with_more
            .notices
            .iter()
            .map(|n| (n.seq, n.notice.phase))
            .collect::<Vec<_>>(),
        [
            (1, NotificationPhase::Initial),
            (2, NotificationPhase::Supplement)
        ]
    );
    // The awareness cannot move past the notice already sent.
    let later = BreachChange {
        aware_at: Some(late.sent_at + Duration::minutes(1)),
        ..Default::default()
    };
    let message = invalid(
        store
            .update_breach(breach.id, with_more.version, &later, "dpo", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("moment of awareness"), "{message}");
    // A second initial notice is refused: further information is a supplement.
    let message = invalid(
        store
            .record_breach_notice(breach.id, None, &late, "dpo", NOW)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("supplement"), "{message}");
    // Notified: not overdue any more.
    let overdue = store
        .breaches(
            BreachFilter {
                overdue: true,
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(overdue.is_empty());

    // No risk: no notice at all.
    let mut none = facts(NOW - Duration::hours(1));
    none.risk = Some(risk(RiskLevel::NoRisk));
    let documented = store.create_breach(&none, "dpo", NOW).await.unwrap();
    let message = invalid(
        store
            .record_breach_notice(
                documented.id,
                None,
                &notice(NotificationPhase::Initial, NOW),
                "dpo",
                NOW,
            )
            .await
            .unwrap_err(),
    );
    assert!(message.contains("not notified"), "{message}");
}

fn processing() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some("id-dpo".into()),
            name: "dpo".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: NOW,
    }
}

fn record(activity: &str, category: DataCategory, collected_on: Date) -> RecordInput {
    RecordInput {
        activity: activity.into(),
        schedule: None,
        category,
        fields: BTreeMap::from([("note".to_string(), serde_json::json!("x"))]),
        source: None,
        collected_on,
        events: BTreeMap::new(),
        provided_by_subject: true,
    }
}

async fn person(store: &Store, email: Option<&str>, name: &str) -> Uuid {
    let identity = SubjectIdentity {
        email: email.map(|e| e.parse().unwrap()),
        given_name: Some(name.into()),
        family_name: Some("Janssens".into()),
        birth_date: Some(date!(1980 - 01 - 01)),
        ..Default::default()
    };
    store
        .record_subject(&processing(), "subsidies", &identity, &[])
        .await
        .unwrap()
        .0
        .id
}

async fn people_affected_are_found_in_the_inventory_and_told_once_with_their_log_entries(
    store: &Store,
) {
    register(store).await;
    let p = processing();
    let an = person(store, Some("an@example.be"), "An").await;
    let bart = person(store, None, "Bart").await;
    let cis = person(store, Some("cis@example.be"), "Cis").await;
    let dirk = person(store, Some("dirk@example.be"), "Dirk").await;
    let in_window = date!(2026 - 10 - 15);
    for (who, activity, category, on) in [
        (an, "subsidies", DataCategory::Financial, in_window),
        (an, "subsidies", DataCategory::Contact, in_window),
        (bart, "subsidies", DataCategory::Financial, in_window),
        // Outside the window.
        (
            cis,
            "subsidies",
            DataCategory::Financial,
            date!(2026 - 01 - 10),
        ),
        // Another activity.
        (dirk, "werving", DataCategory::Contact, in_window),
    ] {
        store
            .add_record(&p, who, &record(activity, category, on))
            .await
            .unwrap();
    }
    let mut f = facts(NOW - Duration::hours(5));
    f.risk = Some(risk(RiskLevel::HighRisk));
    let breach = store.create_breach(&f, "dpo", NOW).await.unwrap();
    let query = AffectedQuery {
        activities: ["subsidies".to_string()].into(),
        data_categories: BTreeSet::new(),
        collected_from: Some(date!(2026 - 10 - 01)),
        collected_until: Some(date!(2026 - 10 - 31)),
        systems: BTreeSet::new(),
    };
    let affected = store.find_affected(&p, breach.id, &query).await.unwrap();
    let mut expected = vec![an, bart];
    expected.sort();
    assert_eq!(affected.subjects, expected);
    assert_eq!(affected.records, 3);
    assert_eq!(
        affected.by_activity,
        BTreeMap::from([("subsidies".into(), 2)])
    );

    // By category across activities, without a window.
    let by_category = AffectedQuery {
        data_categories: [DataCategory::Contact].into(),
        ..AffectedQuery::default()
    };
    let found = store
        .find_affected(&p, breach.id, &by_category)
        .await
        .unwrap();
    let mut expected = vec![an, dirk];
    expected.sort();
    assert_eq!(found.subjects, expected);

    // Each person found is logged as a search hit, with the breach as case.
    let hits = store
        .log_entries(
            &LogSelector {
                activity: Some("subsidies".into()),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap();
    let case = Some(breach.reference());
    let searched: Vec<_> = hits
        .iter()
        .filter(|e| e.entry.action == LogAction::SearchHit && e.entry.case_ref == case)
        .collect();
    assert_eq!(
        searched.len(),
        3,
        "An and Bart, then An again: {searched:?}"
    );

    // Bad input: no criterion, an unknown breach.
    invalid(
        store
            .find_affected(&p, breach.id, &AffectedQuery::default())
            .await
            .unwrap_err(),
    );
    assert!(matches!(
        store.find_affected(&p, Uuid::nil(), &query).await,
        Err(StoreError::NotFound { .. })
    ));

    let texts: BTreeMap<Lang, (String, String)> = Lang::ALL
        .into_iter()
        .map(|l| (l, (format!("Datalek {l:?}"), format!("Tekst {l:?}"))))
        .collect();
    // Without a decision to tell them, nothing is queued.
    let message = invalid(
        store
            .notify_affected(&p, breach.id, &query, &texts, Lang::Nl)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("art. 34"), "{message}");
    assert_eq!(store.mail_status(10).await.unwrap().pending, 0);

    // High risk: not telling needs an art. 34(3) ground.
    let silent = Art34Decision {
        inform: false,
        ground: None,
        reasons: "Liever niet.".into(),
        public_communication: None,
    };
    invalid(
        store
            .record_art34_decision(breach.id, None, &silent, "dpo", NOW)
            .await
            .unwrap_err(),
    );
    let encrypted = Art34Decision {
        ground: Some(Art34Ground::Unintelligible),
        reasons: "De schijf was versleuteld.".into(),
        ..silent
    };
    let exempt = store
        .record_art34_decision(breach.id, None, &encrypted, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(exempt.art34.as_ref().unwrap().decision, encrypted);
    invalid(
        store
            .notify_affected(&p, breach.id, &query, &texts, Lang::Nl)
            .await
            .unwrap_err(),
    );

    let inform = Art34Decision {
        inform: true,
        ground: None,
        reasons: "Inkomensgegevens: hoog risico.".into(),
        public_communication: None,
    };
    let decided = store
        .record_art34_decision(breach.id, None, &inform, "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(decided.art34.as_ref().unwrap().decided_by, "dpo");
    let outcome = store
        .notify_affected(&p, breach.id, &query, &texts, Lang::Fr)
        .await
        .unwrap();
    assert_eq!(outcome.affected.subjects.len(), 2);
    assert_eq!(outcome.queued, 1, "An has an e-mail address");
    assert_eq!(outcome.without_email, 1, "Bart has none");
    assert_eq!(
        outcome.to_tell_by_post,
        vec![LetterRecipient {
            subject_id: bart,
            given_name: Some("Bart".into()),
            family_name: Some("Janssens".into()),
        }],
        "Bart is to be sent a letter"
    );
    assert_eq!(outcome.already_told, 0);
    let status = store.mail_status(10).await.unwrap();
    assert_eq!(status.pending, 1);
    let queued = store
        .claim_due_mail(NOW, Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.to.as_str(), "an@example.be");
    assert_eq!(queued[0].mail.subject, "Datalek Fr");
    let told = store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!((told.people_told, told.people_mailed), (2, 0));
    store.mark_mail_sent(queued[0].id, NOW).await.unwrap();
    let mailed = store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!((mailed.people_told, mailed.people_mailed), (2, 1));

    // Telling each person is logged with the breach as case.
    let told = store
        .log_entries(
            &LogSelector {
                activity: Some("subsidies".into()),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == LogAction::Create && e.entry.case_ref == case)
        .count();
    assert_eq!(told, 2);

    // Again: nobody is told twice.
    let again = store
        .notify_affected(&p, breach.id, &query, &texts, Lang::Nl)
        .await
        .unwrap();
    assert_eq!((again.queued, again.already_told), (0, 2));
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.sent), (0, 1), "no second mail");
}

async fn a_breach_search_names_its_places_and_logs_people_found_in_systems_for_breach_handling(
    store: &Store,
) {
    register(store).await;
    let p = processing();
    let an = person(store, Some("an@example.be"), "An").await;
    store
        .add_record(
            &p,
            an,
            &record("subsidies", DataCategory::Financial, date!(2026 - 10 - 15)),
        )
        .await
        .unwrap();
    let breach = store.create_breach(&facts(NOW), "dpo", NOW).await.unwrap();
    let case = Some(breach.reference());

    // The vault: its people, with the identifiers that tell them apart from people in
    // connected systems, logged for breach handling.
    let query = AffectedQuery {
        activities: ["subsidies".to_string()].into(),
        ..AffectedQuery::default()
    };
    let found = store.find_affected(&p, breach.id, &query).await.unwrap();
    assert_eq!(found.subjects, [an]);
    assert!(
        found
            .identifiers
            .contains(&(IdentifierKind::Email, "an@example.be".to_string())),
        "{:?}",
        found.identifiers
    );

    // A search of named systems only leaves the vault alone; a system alone is a
    // criterion.
    let elsewhere = AffectedQuery {
        systems: ["hr".to_string()].into(),
        ..AffectedQuery::default()
    };
    let none = store
        .find_affected(&p, breach.id, &elsewhere)
        .await
        .unwrap();
    assert!(none.subjects.is_empty() && none.identifiers.is_empty());
    let vault = AffectedQuery {
        systems: ["kluis".to_string()].into(),
        ..AffectedQuery::default()
    };
    assert_eq!(
        store
            .find_affected(&p, breach.id, &vault)
            .await
            .unwrap()
            .subjects,
        [an]
    );

    // People found in a connected system: one search hit each, under the system's name.
    let people = vec![
        (
            vec![(IdentifierKind::Email, "bram@example.be".to_string())],
            BTreeSet::from([DataCategory::Financial]),
        ),
        (
            vec![(IdentifierKind::NationalNumber, "85073003328".to_string())],
            BTreeSet::from([DataCategory::Financial]),
        ),
    ];
    store
        .log_breach_system_hits(&p, breach.id, "accounting", &["subsidies".into()], &people)
        .await
        .unwrap();
    let entries = store
        .log_entries(
            &LogSelector {
                activity: Some("subsidies".into()),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap();
    let searched: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.action == LogAction::SearchHit && e.entry.case_ref == case)
        .collect();
    assert_eq!(
        searched.len(),
        4,
        "An twice in the vault, two in accounting"
    );
    assert!(searched.iter().all(|e| e.entry.purpose == BREACH_PURPOSE));
    let in_system: Vec<_> = searched
        .iter()
        .filter(|e| e.entry.system == "accounting")
        .collect();
    assert_eq!(in_system.len(), 2);
    assert!(
        in_system
            .iter()
            .all(|e| !e.entry.subject.contains("example") && !e.entry.subject.contains("8507")),
        "pseudonyms, never the identifier"
    );
    assert_eq!(in_system[1].entry.subject_type, "national_number");
}

async fn people_found_only_in_systems_are_mailed_once_per_address_and_counted_per_system(
    store: &Store,
) {
    register(store).await;
    let p = processing();
    let mut high = facts(NOW);
    high.risk = Some(risk(RiskLevel::HighRisk));
    let breach = store.create_breach(&high, "dpo", NOW).await.unwrap();
    let recipient = |system: &str, email: &str| SystemRecipient {
        system: system.into(),
        activities: vec!["subsidies".into()],
        email: email.parse().unwrap(),
    };
    // Bram twice (once in capitals), Chloé in another system.
    let recipients = [
        recipient("accounting", "bram@example.be"),
        recipient("accounting", "Bram@Example.be"),
        recipient("hr", "chloe@example.be"),
    ];
    let text = ("Datalek".to_string(), "Wat er gebeurde.".to_string());

    // Without the decision to tell them (a high risk alone is not it), nothing is queued.
    let message = invalid(
        store
            .notify_system_people(&p, breach.id, &recipients, &text, Lang::Nl)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("art. 34"), "{message}");
    assert_eq!(store.mail_status(10).await.unwrap().pending, 0);
    let inform = Art34Decision {
        inform: true,
        ground: None,
        reasons: "Hoog risico.".into(),
        public_communication: None,
    };
    store
        .record_art34_decision(breach.id, None, &inform, "dpo", NOW)
        .await
        .unwrap();

    // One mail per address, in the language given, counted per system.
    let outcome = store
        .notify_system_people(&p, breach.id, &recipients, &text, Lang::Nl)
        .await
        .unwrap();
    assert_eq!(
        outcome.queued,
        BTreeMap::from([("accounting".to_string(), 1), ("hr".to_string(), 1)])
    );
    assert_eq!(
        outcome.already_told, 1,
        "Bram's second address is his first"
    );
    let mail = store
        .claim_due_mail(NOW, Duration::minutes(5), 10)
        .await
        .unwrap();
    let mut to: Vec<&str> = mail.iter().map(|m| m.mail.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["bram@example.be", "chloe@example.be"]);
    assert!(mail.iter().all(|m| m.mail.subject == "Datalek"));
    let told = store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!(
        told.people_told_in_systems,
        BTreeMap::from([("accounting".to_string(), 1), ("hr".to_string(), 1)])
    );
    assert_eq!(told.people_told, 0, "nobody from the vault");

    // Again: nothing new is queued.
    let again = store
        .notify_system_people(&p, breach.id, &recipients, &text, Lang::Nl)
        .await
        .unwrap();
    assert!(again.queued.is_empty(), "{again:?}");
    assert_eq!(again.already_told, 3);
    let status = store.mail_status(10).await.unwrap();
    assert_eq!(status.pending, 2, "the two mails of the first run only");

    // Each mail is logged under the system's activity, for the address's pseudonym.
    let entries = store
        .log_entries(
            &LogSelector {
                activity: Some("subsidies".into()),
                ..Default::default()
            },
            &Scope::All,
            100,
        )
        .await
        .unwrap();
    let mailed: Vec<_> = entries
        .iter()
        .filter(|e| {
            e.entry.action == LogAction::Create && e.entry.case_ref == Some(told.reference())
        })
        .collect();
    assert_eq!(mailed.len(), 2);
    assert!(
        mailed
            .iter()
            .all(|e| e.entry.subject_type == "email" && !e.entry.subject.contains('@')),
        "pseudonyms, never the address"
    );
    assert_eq!(
        mailed
            .iter()
            .map(|e| e.entry.system.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["accounting", "hr"])
    );
}
