//! The inventory API: need-to-know, refusals that are logged, traces that continue, and
//! the log's audit and caseworker views.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use kluis_domain::access::Role;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::{Value, json};

use super::{Harness, NOW, problem};

const WERVING: &str = "limburg-werving-selectie";
const CAMERA: &str = "limburg-camerabewaking";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

impl Harness {
    pub(super) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (StatusCode, header::HeaderMap, String) {
        let mut b = self.request(method, uri, Some(token));
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    pub(super) async fn staff(&self, username: &str, role: Role) -> String {
        let user = self
            .store
            .create_user(username, username, "a long password here", &[role], NOW)
            .await
            .unwrap();
        self.store
            .create_api_token(user.id, "tests", NOW)
            .await
            .unwrap()
            .0
    }
}

fn json_body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

#[tokio::test]
async fn inventory_api() {
    on_both_backends!(inventory_story);
}

async fn inventory_story(h: Harness) {
    let yaml = include_str!("../../../../examples/limburg.yaml");
    let (s, _, b) = h.import(yaml, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let cw = h.caseworker.clone();
    let camera_cw = h.staff("camera-cw", Role::Caseworker).await;
    let auditor = h.staff("auditor", Role::Auditor).await;
    let an = json!({
        "activity": WERVING,
        "national_number": "85.07.30-033.28",
        "email": "An.Peeters@example.be",
        "given_name": "An",
        "family_name": "Peeters",
        "birth_date": "1985-07-30",
    });

    // Nobody opens personal data before signing a confidentiality statement.
    let (s, hd, b) = h
        .call(Method::POST, "/api/v1/subjects", &cw, Some(an.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert!(
        p["detail"].as_str().unwrap().contains("confidentiality"),
        "{p}"
    );

    // The DPO records statements and assigns; caseworkers may not.
    for user in ["cw", "camera-cw", "dpo"] {
        let (s, _, b) = h
            .call(
                Method::POST,
                &format!("/api/v1/users/{user}/confidentiality-statements"),
                &h.dpo,
                Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-001"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/users/cw/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2030-01-05", "reference": "X"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/cw/activities/{WERVING}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/camera-cw/activities/{CAMERA}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, hd, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/cw/activities/{CAMERA}"),
            &cw,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, _, b) = h
        .call(Method::GET, "/api/v1/users/cw/clearance", &cw, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["activities"], json!([WERVING]));

    // A malformed national number is refused with the reason, and nothing is recorded.
    let mut typo = an.clone();
    typo["national_number"] = json!("85.07.30-033.29");
    let (s, hd, b) = h
        .call(Method::POST, "/api/v1/subjects", &cw, Some(typo), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("check digits"),
        "{p}"
    );

    // Recording continues the caller's trace.
    let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects",
            &cw,
            Some(an.clone()),
            &[("traceparent", &traceparent), ("kluis-case", "R-2026-0042")],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let echoed = hd["traceparent"].to_str().unwrap();
    assert!(echoed.starts_with(&format!("00-{TRACE}-")), "{echoed}");
    assert!(
        !echoed.contains("00f067aa0ba902b7"),
        "kluis works in a span of its own"
    );
    let subject = json_body(&b);
    let id = subject["id"].as_str().unwrap().to_string();
    assert_eq!(subject["national_number"], "85.07.30-033.28");
    // The same person again is the same subject.
    let (s, _, b) = h
        .call(Method::POST, "/api/v1/subjects", &cw, Some(an.clone()), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["id"], id.as_str());

    // Out of one's activities: 403, and no subject under that activity.
    let mut camera = an.clone();
    camera["activity"] = json!(CAMERA);
    let (s, hd, b) = h
        .call(Method::POST, "/api/v1/subjects", &cw, Some(camera), &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // A record with its computed retention.
    let record = json!({
        "activity": WERVING,
        "schedule": "niet-weerhouden",
        "category": "education",
        "fields": {"diploma": "Master industriële wetenschappen"},
        "source": "de kandidaat",
        "collected_on": "2026-03-01",
        "events": {"end_of_procedure": "2026-04-15"},
        "provided_by_subject": true,
    });
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/subjects/{id}/records"),
            &cw,
            Some(record.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(hd[header::ETAG], "\"1\"");
    let created = json_body(&b);
    assert_eq!(
        created["retention"],
        json!({"kind": "on", "date": "2026-05-13"})
    );
    let record_id = created["id"].as_str().unwrap().to_string();
    let mut unknown = record.clone();
    unknown["category"] = json!("financial");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/subjects/{id}/records"),
            &cw,
            Some(unknown),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    // The end of the procedure moves: the deadline follows. If-Match is required.
    let patch = json!({"events": {"end_of_procedure": "2026-05-01"}});
    let uri = format!("/api/v1/records/{record_id}");
    let (s, hd, b) = h
        .call(Method::PATCH, &uri, &cw, Some(patch.clone()), &[])
        .await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let (s, _, b) = h
        .call(
            Method::PATCH,
            &uri,
            &cw,
            Some(patch.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["retention"]["date"], "2026-05-29");
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &uri,
            &camera_cw,
            Some(patch),
            &[("if-match", "\"2\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // Reading: the assigned caseworker sees the subject, the camera caseworker does not,
    // and the refusal is logged.
    let subject_uri = format!("/api/v1/subjects/{id}");
    let (s, _, b) = h.call(Method::GET, &subject_uri, &cw, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["records"].as_array().unwrap().len(), 1);
    let (s, hd, b) = h
        .call(Method::GET, &subject_uri, &camera_cw, None, &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h.call(Method::GET, &subject_uri, &auditor, None, &[]).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // Searching: by a checked identifier, within need-to-know.
    let search = json!({"national_number": "85073003328"});
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects/search",
            &cw,
            Some(search.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["subjects"].as_array().unwrap().len(), 1);
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects/search",
            &camera_cw,
            Some(search),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["subjects"], json!([]));
    for bad in [
        json!({}),
        json!({"email": "a@b.be", "bsn": "111222333"}),
        json!({"bsn": "111222334"}),
    ] {
        let (s, hd, b) = h
            .call(Method::POST, "/api/v1/subjects/search", &cw, Some(bad), &[])
            .await;
        problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // A disclosure to the police is recorded with its recipient and ground.
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/subjects/{id}/disclosures"),
            &h.dpo,
            Some(json!({
                "activity": WERVING,
                "categories": ["identification"],
                "recipient": "Politiezone Hasselt",
                "legal_ground": "vordering PV 2026/123",
            })),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // The log: a selector is required; the audit view names the staff member, the
    // caseworker's view does not and shows only their activities.
    let (s, hd, b) = h
        .call(Method::GET, "/api/v1/log", &auditor, None, &[])
        .await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/log?subject={id}"),
            &auditor,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let audit = json_body(&b);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "create",
        "search_hit",
        "update",
        "read",
        "refused",
        "disclose",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    // Refused: camera-cw's change and read, the auditor's read.
    let refused: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "refused")
        .map(|e| e["actor"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["camera-cw", "camera-cw", "auditor"], "{audit}");
    let disclosure = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "disclose")
        .unwrap();
    assert_eq!(disclosure["recipient"], "Politiezone Hasselt");
    assert!(!b.contains("85073003328"), "the log holds pseudonyms only");
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/log?subject={id}"),
            &cw,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mine = json_body(&b);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("actor").is_none())
    );
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|e| e["activity"] == WERVING)
    );
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/log?trace={TRACE}"),
            &auditor,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let traced = json_body(&b);
    assert_eq!(traced.as_array().unwrap().len(), 1, "{traced}");
    assert_eq!(traced[0]["action"], "create");
    assert_eq!(traced[0]["case_ref"], "R-2026-0042");
    let (s, _, b) = h
        .call(Method::GET, "/api/v1/log/head", &auditor, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(json_body(&b)["anchor"].as_str().unwrap().contains(':'));
    let (s, hd, b) = h
        .call(Method::GET, "/api/v1/log/head", &cw, None, &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    h.store.verify_log(None).await.unwrap().unwrap();
}

/// `POST /api/v1/subjects/search` reaches the connected systems of the caller's
/// activities, and logs every system that held the person.
#[tokio::test]
async fn search_reaches_connected_systems() {
    use kluis_connectors::testing::{hr_map, hr_postgres, people};
    let Some(hr) = hr_postgres().await else {
        return;
    };
    let mut urls = std::collections::BTreeMap::new();
    urls.insert("hr".to_string(), hr.url().to_string());
    let settings = kluis_web::Settings {
        system_urls: kluis_web::systems::SystemUrls(urls),
        ..Default::default()
    };
    let h = Harness::with_settings(sqlite_store().await, settings).await;
    let yaml = include_str!("../../../../examples/limburg.yaml");
    let (s, _, b) = h.import(yaml, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut map = hr_map();
    map.activities = vec![WERVING.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();
    for user in ["dpo", "cw"] {
        let (s, _, b) = h
            .call(
                Method::POST,
                &format!("/api/v1/users/{user}/confidentiality-statements"),
                &h.dpo,
                Some(json!({"signed_on": "2026-01-05", "reference": "DOC"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let search = json!({"email": people::AN_EMAIL});
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects/search",
            &h.dpo,
            Some(search.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let result = json_body(&b);
    assert_eq!(result["subjects"], json!([]));
    let hr_result = &result["systems"][0];
    assert_eq!(hr_result["system"], "hr");
    assert!(hr_result.get("error").is_none(), "{hr_result}");
    let tables: std::collections::BTreeSet<&str> = hr_result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains("applicants") && tables.contains("interview_notes"),
        "{tables:?}"
    );
    assert!(!b.contains(hr.url()), "the connection URL is never shown");
    // The caseworker of no activity sees no system.
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects/search",
            &h.caseworker,
            Some(search),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["systems"], json!([]));
    // The hit is in the log, under the system's activity.
    let pseudonym = h
        .store
        .subject_pseudonym(
            kluis_domain::identifiers::IdentifierKind::Email,
            people::AN_EMAIL,
        )
        .unwrap();
    let entries = h
        .store
        .log_entries(
            &kluis_domain::processing_log::LogSelector {
                subjects: vec![pseudonym],
                ..Default::default()
            },
            &kluis_domain::access::Scope::All,
            10,
        )
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entry.system, "hr");
    assert_eq!(entries[0].entry.activity, WERVING);
    hr.cleanup().await;
    h.store.verify_log(None).await.unwrap().unwrap();
}
