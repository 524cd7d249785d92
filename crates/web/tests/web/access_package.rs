//! The access package (art. 15) and the portability export (art. 20) over the API: refused
//! (409, nothing logged) until the identity is verified and access granted; then only the
//! granted activities' data from the vault and the connected systems (the HR system on
//! PostgreSQL, the accounting system on MariaDB, when TEST_DATABASE_URL and TEST_MYSQL_URL
//! are set), the art. 15 items and who consulted the data, as HTML, PDF and a zip of JSON
//! and CSV; portability only what the person provided under consent or contract (in the HR
//! system, the rows of the tables its map marks provided_by_subject, not the interview
//! notes). Every download is logged as an export to the data subject.

use std::collections::BTreeMap;
use std::io::Read;

use axum::body::{Body, to_bytes};
use axum::http::{Method, StatusCode, header};
use kluis_connectors::testing::{
    TestSystem, accounting_map, accounting_mariadb, hr_map, hr_postgres, people,
};
use kluis_domain::access::{Role, Scope};
use kluis_domain::access_package::AccessPackage;
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::Settings;
use kluis_web::systems::SystemUrls;
use serde_json::{Value, json};
use time::macros::date;
use tower::ServiceExt;
use uuid::Uuid;

use super::{Harness, NOW, problem};

const WERVING: &str = "limburg-werving-selectie";
const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";
const BOEKHOUDING: &str = "limburg-boekhouding";
/// The staff member who read An's file before she asked: never in her package.
const READER: &str = "Karel Geheimhouder";

fn json_body(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

impl Harness {
    /// A GET with the DPO's token, the body as bytes (packages are binary).
    pub(crate) async fn download(&self, uri: &str) -> (StatusCode, header::HeaderMap, Vec<u8>) {
        let req = self
            .request(Method::GET, uri, Some(&self.dpo))
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, body.to_vec())
    }
}

#[tokio::test]
async fn access_package_and_portability() {
    package_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        package_story(pg).await;
    }
}

fn staff(name: &str) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: name.into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    }
}

/// The test systems and their URLs, when both databases are there.
async fn test_systems() -> (Option<(TestSystem, TestSystem)>, SystemUrls) {
    let (Some(hr), Some(accounting)) = (hr_postgres().await, accounting_mariadb().await) else {
        return (None, SystemUrls::default());
    };
    let urls = BTreeMap::from([
        (hr_map().name, hr.url().to_string()),
        (accounting_map().name, accounting.url().to_string()),
    ]);
    (Some((hr, accounting)), SystemUrls(urls))
}

/// The systems' maps, each serving the activity a DPO would map it to.
async fn map_systems(store: &TestStore) {
    for (mut map, activity) in [(hr_map(), WERVING), (accounting_map(), BOEKHOUDING)] {
        map.activities = vec![activity.to_string()];
        store.put_system(&map, "test", NOW).await.unwrap();
    }
}

/// An Peeters in the vault: an application she sent and an assessment of it (recruitment,
/// contract), her newsletter subscription (consent) and a supplier record (accounting).
async fn seed_an(store: &TestStore) -> Uuid {
    let p = staff("seed");
    let identity = SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    for (activity, schedule, category, field, value, provided) in [
        (
            WERVING,
            Some("niet-weerhouden"),
            DataCategory::Education,
            "diploma",
            "Master rechten",
            true,
        ),
        (
            WERVING,
            Some("niet-weerhouden"),
            DataCategory::Employment,
            "beoordeling",
            "sterk dossier",
            false,
        ),
        (
            NIEUWSBRIEVEN,
            None,
            DataCategory::Contact,
            "nieuwsbrief_email",
            "an.peeters@example.be",
            true,
        ),
        (
            BOEKHOUDING,
            None,
            DataCategory::Financial,
            "iban",
            "BE71096123456769",
            // She gave her bank account herself, but bookkeeping rests on a legal
            // obligation: not portable whatever the decision says.
            true,
        ),
    ] {
        store
            .add_record(
                &p,
                an.id,
                &RecordInput {
                    activity: activity.into(),
                    schedule: schedule.map(str::to_string),
                    category,
                    fields: BTreeMap::from([(field.to_string(), json!(value))]),
                    source: Some("de persoon".into()),
                    collected_on: date!(2026 - 10 - 01),
                    events: BTreeMap::new(),
                    provided_by_subject: provided,
                },
            )
            .await
            .unwrap();
    }
    // A caseworker consulted her file before she asked.
    store
        .subject(&staff(READER), an.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    an.id
}

async fn package_story(store: TestStore) {
    let (systems, urls) = test_systems().await;
    let h = Harness::with_settings(
        store,
        Settings {
            system_urls: urls,
            ..Settings::default()
        },
    )
    .await;
    h.limburg_with_a_dpo_who_may_read().await;
    if systems.is_some() {
        map_systems(&h.store).await;
    }
    let an = seed_an(&h.store).await;

    let letter = json!({
        "controller": "limburg",
        "rights": ["access", "portability"],
        "channel": "letter",
        "requester": {
            "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
            "acting_for": "themselves",
            "email": people::AN_EMAIL,
            "message": "Quelles données avez-vous sur moi ?"
        },
        "language": "fr",
        "received_on": "2026-11-23"
    });
    let filed = h.filed_request(letter.clone()).await;
    let id = filed["id"].as_str().unwrap().to_string();
    let reference = filed["reference"].as_str().unwrap().to_string();
    let one = format!("/api/v1/rights-requests/{id}");
    let package = format!("{one}/access-package");
    let portability = format!("{one}/portability");

    // Before the identity is verified, and before a decision: 409, nothing logged.
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = h.download(&format!("{package}?format=zip")).await;
    let p = problem(s, &hd, &String::from_utf8_lossy(&b), StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("identity"), "{p}");
    h.request_step(
        &one,
        json!({"change": "verify_identity", "subject_id": an}),
        1,
    )
    .await;
    let (s, hd, b) = h.download(&format!("{portability}?format=json")).await;
    let p = problem(s, &hd, &String::from_utf8_lossy(&b), StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("decide"), "{p}");
    assert_eq!(
        h.store.log_head().await.unwrap(),
        head,
        "a refusal logs nothing"
    );

    // Access and portability granted for recruitment and the newsletter; the accounting
    // file is refused (it names others), and is not portable.
    let decide = json!({"change": "decide", "decisions": [
        {"right": "access", "activity": WERVING, "outcome": "granted", "motivation": "Vous recevez tout."},
        {"right": "access", "activity": NIEUWSBRIEVEN, "outcome": "granted", "motivation": "Vous recevez tout."},
        {"right": "access", "activity": BOEKHOUDING, "outcome": "refused", "grounds": ["rights_of_others"],
         "motivation": "Le dossier comptable contient des données de tiers."},
        {"right": "portability", "activity": WERVING, "outcome": "granted", "motivation": "Vos données."},
        {"right": "portability", "activity": NIEUWSBRIEVEN, "outcome": "granted", "motivation": "Vos données."},
        {"right": "portability", "activity": BOEKHOUDING, "outcome": "granted",
         "motivation": "Accordé par erreur : la base légale l'exclut quand même."},
    ]});
    h.request_step(&one, decide, 2).await;

    // Bad input: an unknown format (400), an unknown request (404); nothing logged.
    let head = h.store.log_head().await.unwrap();
    for uri in [
        format!("{package}?format=docx"),
        format!("{package}?format=json"),
        format!("{portability}?format=pdf"),
    ] {
        let (s, hd, b) = h.download(&uri).await;
        problem(
            s,
            &hd,
            &String::from_utf8_lossy(&b),
            StatusCode::BAD_REQUEST,
        );
    }
    let (s, hd, b) = h
        .download(&format!(
            "/api/v1/rights-requests/{}/access-package?format=zip",
            Uuid::nil()
        ))
        .await;
    problem(s, &hd, &String::from_utf8_lossy(&b), StatusCode::NOT_FOUND);
    let auditor = h.staff("auditor", Role::Auditor).await;
    let (s, hd, b) = h
        .call(
            Method::GET,
            &format!("{package}?format=zip"),
            &auditor,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert_eq!(h.store.log_head().await.unwrap(), head);

    // Her newsletter record is restricted (art. 18): her own package still holds it.
    h.store
        .restrict(an, NIEUWSBRIEVEN, &reference, "dpo", NOW)
        .await
        .unwrap();

    // The zip: JSON of everything and one CSV per table.
    let (s, hd, zip) = h.download(&format!("{package}?format=zip")).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(hd[header::CONTENT_TYPE], "application/zip");
    let disposition = hd[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".zip\""),
        "{disposition}"
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut file = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let json = file("package.json");
    let records_csv = file("records.csv");
    let rows_csv = file("system_rows.csv");
    let log_csv = file("log.csv");
    let package_json: AccessPackage = serde_json::from_str(&json).unwrap();
    assert_eq!(package_json.reference, reference);
    let mut activities: Vec<&str> = package_json
        .records
        .iter()
        .map(|r| r.activity.as_str())
        .collect();
    activities.sort();
    assert_eq!(
        activities,
        [NIEUWSBRIEVEN, WERVING, WERVING],
        "the granted activities' records only"
    );
    assert!(
        json.contains("\"nieuwsbrief_email\": \"an.peeters@example.be\""),
        "the restricted record with its fields"
    );
    assert!(
        !json.contains("BE71096123456769"),
        "nothing of the refused accounting file"
    );
    let refused = package_json
        .activities
        .iter()
        .find(|a| a.id == BOEKHOUDING)
        .expect("the refusal is named");
    assert!(refused.facts.is_empty());
    assert!(refused.motivation.contains("tiers"));
    let werving = package_json
        .activities
        .iter()
        .find(|a| a.id == WERVING)
        .unwrap();
    let labels: Vec<&str> = werving.facts.iter().map(|f| f.label.as_str()).collect();
    // Purposes, categories, recipients, retention, source, automated decisions.
    for art15 in [
        "Dans quel but",
        "Quelles données",
        "Partagées avec",
        "Durée de conservation",
        "Comment les obtenons-nous",
        "Prise de décision automatisée",
    ] {
        assert!(
            labels.iter().any(|l| l.contains(art15)),
            "{art15} in {labels:?}"
        );
    }
    assert!(!werving.automated_decisions);
    assert!(!package_json.rights.is_empty());
    assert!(
        package_json
            .complaint
            .iter()
            .any(|c| c.contains("Autorité de protection des données")),
        "{:?}",
        package_json.complaint
    );
    // Who consulted her data: the earlier read, without the reader.
    assert!(
        package_json
            .consultations
            .iter()
            .any(|c| c.action == LogAction::Read && c.organisation == "limburg"),
        "{:?}",
        package_json.consultations
    );
    assert!(!json.contains(READER));
    // The systems: the HR system serves recruitment (granted), accounting does not.
    if systems.is_some() {
        let tables: Vec<(&str, &str)> = package_json
            .system_rows
            .iter()
            .map(|r| (r.system.as_str(), r.table.as_str()))
            .collect();
        assert_eq!(tables.len(), 6, "An's 6 HR rows: {tables:?}");
        assert!(tables.iter().all(|(s, _)| *s == "hr"), "{tables:?}");
        assert!(
            package_json.incomplete.is_empty(),
            "{:?}",
            package_json.incomplete
        );
    }
    // The CSV files parse back to the same data.
    let mut reader = csv::Reader::from_reader(records_csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .any(|r| &r[7] == "diploma" && &r[8] == "Master rechten")
    );
    let mut reader = csv::Reader::from_reader(rows_csv.as_bytes());
    let fields = reader.records().map(Result::unwrap).count();
    assert_eq!(fields > 0, systems.is_some(), "{rows_csv}");
    let mut reader = csv::Reader::from_reader(log_csv.as_bytes());
    assert_eq!(
        reader.records().map(Result::unwrap).count(),
        package_json.consultations.len()
    );

    // Each download is logged: one export per activity with data, with the reference.
    let pseudonyms = h.store.subject_pseudonyms_of(an).await.unwrap();
    let exports = || async {
        h.store
            .log_entries(
                &LogSelector {
                    subjects: pseudonyms.clone(),
                    ..LogSelector::default()
                },
                &Scope::All,
                10_000,
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.entry.action == LogAction::Export
                    && e.entry.case_ref.as_deref() == Some(reference.as_str())
            })
            .collect::<Vec<_>>()
    };
    let first = exports().await;
    let mut logged: Vec<&str> = first.iter().map(|e| e.entry.activity.as_str()).collect();
    logged.sort();
    assert_eq!(logged, [NIEUWSBRIEVEN, WERVING]);
    assert_eq!(first[0].entry.recipient.as_deref(), Some("data subject"));

    // The PDF and the page: again allowed, again logged.
    let (s, hd, pdf) = h.download(&format!("{package}?format=pdf")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.starts_with(b"%PDF"));
    assert!(
        pdf.windows(reference.len())
            .any(|w| w == reference.as_bytes()),
        "the reference is in the PDF"
    );
    let (s, hd, html) = h.download(&package).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("<html lang=\"fr\">"),
        "the request's language"
    );
    assert!(html.contains("Vos données personnelles"));
    assert!(html.contains("<caption>Données dans nos fichiers</caption>"));
    assert!(html.contains("<th scope=\"col\">"));
    assert!(html.contains("Master rechten"));
    assert!(html.contains("Qui a consulté vos données"));
    assert!(!html.contains(READER) && !html.contains("BE71096123456769"));
    assert_eq!(
        exports().await.len(),
        3 * first.len(),
        "three downloads, three times logged"
    );

    // Portability: only what she provided, under consent or contract: her records in the
    // vault and, in the HR system, her rows of the tables its map marks as provided by her.
    let (s, hd, b) = h.download(&format!("{portability}?format=json")).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert_eq!(hd[header::CONTENT_TYPE], "application/json");
    let ported: AccessPackage = serde_json::from_slice(&b).unwrap();
    let mut fields: Vec<&str> = ported
        .records
        .iter()
        .flat_map(|r| r.fields.keys().map(String::as_str))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["diploma", "nieuwsbrief_email"],
        "not the assessment (not provided), not the bank account (legal obligation)"
    );
    assert!(ported.records.iter().all(|r| r.provided_by_subject));
    assert!(ported.consultations.is_empty() && ported.incomplete.is_empty());
    let ported_text = String::from_utf8_lossy(&b).to_string();
    // The HR rows in the export: (table, field lines) for the CSV below.
    let hr_lines = if systems.is_some() {
        ported_hr_rows(&ported, &ported_text)
    } else {
        assert!(ported.system_rows.is_empty());
        0
    };
    let (s, hd, b) = h.download(&format!("{portability}?format=csv")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(&b[..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "system",
            "table",
            "record",
            "activity",
            "category",
            "source",
            "collected_on",
            "retention",
            "provided_by_subject",
            "field",
            "value"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2 + hr_lines);
    assert!(rows.iter().all(|r| &r[8] == "true"));
    assert_eq!(rows.iter().filter(|r| &r[0] == "kluis").count(), 2);
    if systems.is_some() {
        assert!(rows.iter().any(|r| &r[0] == "hr"
            && &r[1] == "applications"
            && &r[9] == "motivation"
            && &r[10] == "Ik werk graag met mensen."));
        assert!(rows.iter().all(|r| &r[1] != "interview_notes"));
    }
    let ported_exports: Vec<_> = exports()
        .await
        .into_iter()
        .filter(|e| e.entry.legal_ground.as_deref() == Some("GDPR art. 20"))
        .collect();
    assert_eq!(
        ported_exports.len(),
        4,
        "two exports of two activities each"
    );
    // The HR rows are logged as exported under recruitment, with their categories.
    let werving_categories = &ported_exports
        .iter()
        .find(|e| e.entry.activity == WERVING)
        .unwrap()
        .entry
        .data_categories;
    assert_eq!(
        werving_categories.iter().any(|c| c == "case_file"),
        systems.is_some(),
        "{werving_categories:?}"
    );

    // A request whose access is refused everywhere: 409, nothing logged.
    let mut other = letter;
    other["rights"] = json!(["access"]);
    let other = h
        .decided_request(
            other,
            Some(an),
            json!([
                {"right": "access", "activity": WERVING, "outcome": "refused",
                 "grounds": ["manifestly_unfounded"], "motivation": "Déjà reçu la semaine passée."},
            ]),
        )
        .await;
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = h
        .download(&format!("{other}/access-package?format=html"))
        .await;
    let p = problem(s, &hd, &String::from_utf8_lossy(&b), StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("refused"), "{p}");
    assert_eq!(h.store.log_head().await.unwrap(), head);

    if let Some((hr, accounting)) = systems {
        hr.cleanup().await;
        accounting.cleanup().await;
    }
}

/// Checks An's HR rows in her portability export (`json` is its text): those of the tables
/// marked provided_by_subject (her applicant row, her 2 applications, her 2 documents),
/// with the mapped columns only, and nothing of the interview note the authority wrote.
/// Returns the number of CSV lines they make (one per field).
fn ported_hr_rows(ported: &AccessPackage, json: &str) -> usize {
    let mut tables: Vec<&str> = ported
        .system_rows
        .iter()
        .map(|r| r.table.as_str())
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            "applicants",
            "applications",
            "applications",
            "documents",
            "documents"
        ],
        "not the interview note"
    );
    assert!(
        ported
            .system_rows
            .iter()
            .all(|r| r.system == "hr" && r.activities == [WERVING])
    );
    let applicant = ported
        .system_rows
        .iter()
        .find(|r| r.table == "applicants")
        .unwrap();
    assert_eq!(
        applicant.fields.keys().collect::<Vec<_>>(),
        [
            "birth_date",
            "email",
            "first_name",
            "last_name",
            "national_number",
            "phone"
        ],
        "the mapped columns only"
    );
    assert_eq!(applicant.fields["first_name"], json!("An"));
    assert!(
        ported
            .system_rows
            .iter()
            .any(|r| r.fields.get("motivation") == Some(&json!("Ik werk graag met mensen.")))
    );
    assert!(
        !json.contains("Sterk in communicatie") && !json.contains("Vermeersch"),
        "nothing of the interview note"
    );
    ported.system_rows.iter().map(|r| r.fields.len()).sum()
}

/// A package with something in every table, in Dutch, rendered as the page.
fn rendered_page() -> String {
    use kluis_domain::access_package::{
        ActivityPart, Consultation, Fact, PackageKind, PackageRecord, SystemGap, SystemRow,
    };
    use kluis_domain::rights::Outcome;
    let fact = |label: &str, text: &str| Fact {
        label: label.into(),
        text: vec![text.into()],
    };
    let package = AccessPackage {
        kind: PackageKind::Access,
        reference: "RQ-ABCD-EFGH-JKMN".into(),
        language: kluis_domain::text::Lang::Nl,
        controller: "Provincie Limburg".into(),
        produced_at: NOW,
        identity: Some(SubjectIdentity {
            email: Some(people::AN_EMAIL.parse().unwrap()),
            given_name: Some("An".into()),
            family_name: Some("Peeters".into()),
            ..Default::default()
        }),
        activities: vec![
            ActivityPart {
                id: WERVING.into(),
                name: "Werving en selectie".into(),
                outcome: Outcome::Granted,
                motivation: "U krijgt al uw gegevens.".into(),
                facts: vec![
                    fact("Waarvoor?", "Personeel aanwerven"),
                    fact("Bewaartermijn", "4 weken na de procedure"),
                ],
                automated_decisions: false,
            },
            ActivityPart {
                id: BOEKHOUDING.into(),
                name: "Boekhouding".into(),
                outcome: Outcome::Refused,
                motivation: "Het dossier bevat gegevens van derden.".into(),
                facts: Vec::new(),
                automated_decisions: false,
            },
        ],
        records: vec![PackageRecord {
            id: "r1".into(),
            activity: WERVING.into(),
            category: DataCategory::Education,
            fields: BTreeMap::from([("diploma".to_string(), json!("Master rechten"))]),
            source: Some("de persoon".into()),
            collected_on: date!(2026 - 10 - 01),
            retention: "tot 29 april 2027".into(),
            provided_by_subject: true,
        }],
        system_rows: vec![SystemRow {
            system: "hr".into(),
            activities: vec![WERVING.into()],
            table: "applicants".into(),
            key: "id=1".into(),
            fields: BTreeMap::from([("email".to_string(), json!(people::AN_EMAIL))]),
            categories: vec![DataCategory::Contact],
        }],
        incomplete: vec![SystemGap {
            system: "archief".into(),
            reason: "connection refused".into(),
        }],
        consultations: vec![Consultation {
            at: NOW,
            organisation: "limburg".into(),
            activity: "Werving en selectie".into(),
            action: LogAction::Read,
            categories: vec!["education".into()],
            system: "kluis".into(),
        }],
        rights: vec![fact("Inzage", "U mag uw gegevens inzien.")],
        complaint: vec!["U kunt klacht indienen bij de Vlaamse Toezichtcommissie.".into()],
    };
    kluis_web::access_package::html(&package).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_package_page_in_chromium_passes_an_accessibility_audit() {
    if !super::support::browser::require_browser() {
        return;
    }
    let page = rendered_page();
    assert!(page.contains("<html lang=\"nl\">"));
    // Served as the person opens the saved file: the page alone, its own style included.
    let app = axum::Router::new().route(
        "/package.html",
        axum::routing::get(move || {
            let page = page.clone();
            async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let steps = json!([
        {"goto": "/package.html", "expect_status": 200},
        {"expect_text": "Uw persoonsgegevens: inzagepakket"},
        {"expect_text": "Master rechten"},
        {"expect_text": "Wie uw gegevens raadpleegde"},
        {"axe": true},
    ]);
    super::support::browser::run_scenario(&base, steps).unwrap();
}

/// The bulk gate (issue 4): with one permit taken, package, portability and fulfilment
/// requests wait their turn (none runs, none is refused) while a person lookup still
/// answers; once the permit is free, they run and give it back. No timings: a request that
/// ran without a turn would have finished before the permit was given back.
#[tokio::test]
async fn heavy_rights_work_waits_at_the_bulk_gate_and_a_lookup_does_not() {
    let mut h = Harness::new(sqlite_store().await).await;
    let settings = Settings {
        bulk_concurrency: 1,
        ..Settings::default()
    };
    let state = kluis_web::AppState::new((*h.store).clone(), std::sync::Arc::new(|| NOW), settings);
    let gate = state.bulk.clone();
    h.app = kluis_web::app(state);
    h.limburg_with_a_dpo_who_may_read().await;
    seed_an(&h.store).await;
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/rights-requests",
            &h.dpo,
            Some(json!({
                "controller": "limburg",
                "rights": ["access", "portability"],
                "channel": "letter",
                "requester": {
                    "identity": {"email": people::AN_EMAIL},
                    "acting_for": "themselves",
                    "email": people::AN_EMAIL,
                },
                "language": "nl",
                "received_on": "2026-11-23"
            })),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = json_body(b.as_bytes())["id"].as_str().unwrap().to_string();

    let held = gate.admit().await;
    assert_eq!(gate.available(), 0);
    let mut waiting = Vec::new();
    for (method, uri) in [
        (
            Method::GET,
            format!("/api/v1/rights-requests/{id}/access-package?format=zip"),
        ),
        (
            Method::GET,
            format!("/api/v1/rights-requests/{id}/access-package?format=pdf"),
        ),
        (
            Method::GET,
            format!("/api/v1/rights-requests/{id}/portability?format=json"),
        ),
        (
            Method::POST,
            format!("/api/v1/rights-requests/{id}/fulfilment"),
        ),
    ] {
        let req = h
            .request(method, &uri, Some(&h.dpo))
            .body(Body::empty())
            .unwrap();
        let app = h.app.clone();
        waiting.push((
            uri,
            tokio::spawn(async move { app.oneshot(req).await.unwrap().status() }),
        ));
    }
    // A person lookup answers while the heavy work waits.
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects/search",
            &h.dpo,
            Some(json!({"email": people::AN_EMAIL})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        json_body(b.as_bytes())["subjects"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{b}"
    );
    let (s, _, b) = h.get(&format!("/api/v1/rights-requests/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for (uri, task) in &waiting {
        assert!(!task.is_finished(), "{uri} ran without a turn at the gate");
    }
    drop(held);
    // Each then runs: the request is not releasable yet, so each is answered 409.
    for (uri, task) in waiting {
        assert_eq!(task.await.unwrap(), StatusCode::CONFLICT, "{uri}");
    }
    assert_eq!(gate.available(), 1, "every turn was given back");
}
