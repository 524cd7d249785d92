//! The consent API: staff record and withdraw consent, an application token checks it, and
//! a consent exports as an ISO/IEC TS 27560 record.

use axum::http::{Method, StatusCode};
use kluis_domain::access::Role;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::{Value, json};

use super::{Harness, problem};

const NEWSLETTER: &str = "limburg-nieuwsbrieven";
const RECRUITMENT: &str = "limburg-werving-selectie";

fn json_body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

fn consent_given() -> Value {
    json!({
        "activity": NEWSLETTER,
        "method": "paper_form",
        "affirmative_act": true,
        "notice_text": "Ja, ik wil de nieuwsbrief van de provincie ontvangen.",
        "language": "nl",
        "evidence": "scan 2026/118 (getekend formulier)",
    })
}

#[tokio::test]
async fn consent_api() {
    on_both_backends!(consent_story);
}

async fn consent_story(h: Harness) {
    h.limburg_with_a_dpo_who_may_read().await;
    // The newsletter tool gets an application account assigned to the newsletter only.
    let tool = h.staff("nieuwsbrieftool", Role::Application).await;
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/nieuwsbrieftool/activities/{NEWSLETTER}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/subjects",
            &h.dpo,
            Some(json!({"activity": NEWSLETTER, "email": "An.Peeters@example.be"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let an = json_body(&b)["id"].as_str().unwrap().to_string();
    let consents = format!("/api/v1/subjects/{an}/consents");

    // Bad input: another legal basis, no affirmative act, unknown fields. Nothing stored.
    let mut wrong_basis = consent_given();
    wrong_basis["activity"] = json!(RECRUITMENT);
    let (s, hd, b) = h
        .call(Method::POST, &consents, &h.dpo, Some(wrong_basis), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("not on consent"),
        "{p}"
    );
    let mut pre_ticked = consent_given();
    pre_ticked["affirmative_act"] = json!(false);
    let (s, hd, b) = h
        .call(Method::POST, &consents, &h.dpo, Some(pre_ticked), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("pre-ticked"), "{p}");
    let mut unknown = consent_given();
    unknown["implied"] = json!(true);
    let (s, hd, b) = h
        .call(Method::POST, &consents, &h.dpo, Some(unknown), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("implied"), "{p}");
    let (s, _, b) = h.call(Method::GET, &consents, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b), json!([]));

    // The application may not record consent; the DPO may.
    let (s, hd, b) = h
        .call(Method::POST, &consents, &tool, Some(consent_given()), &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(Method::POST, &consents, &h.dpo, Some(consent_given()), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let consent = json_body(&b);
    let id = consent["id"].as_str().unwrap().to_string();
    assert_eq!(hd["location"], format!("/api/v1/consents/{id}"));
    assert_eq!(consent["state"], "given");
    assert_eq!(consent["allowed"], true);
    assert_eq!(consent["events"][0]["method"], "paper_form");
    assert_eq!(
        consent["events"][0]["evidence"],
        "scan 2026/118 (getekend formulier)"
    );
    let unsubscribe = consent["unsubscribe_url"].as_str().unwrap();
    assert!(
        unsubscribe.starts_with("http://127.0.0.1:8080/consent/unsubscribe/"),
        "{unsubscribe}"
    );

    // The person gets a receipt that carries the one-click link.
    let queued = h
        .store
        .claim_due_mail(super::NOW, time::Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let receipt = &queued[0].mail;
    assert_eq!(receipt.to.as_str(), "an.peeters@example.be");
    assert!(
        receipt
            .subject
            .starts_with("Bevestiging van je toestemming"),
        "{receipt:?}"
    );
    assert!(
        receipt.body_text.contains("Ja, ik wil de nieuwsbrief"),
        "{receipt:?}"
    );
    assert_eq!(receipt.unsubscribe_url.as_deref(), Some(unsubscribe));
    assert_eq!(receipt.activity.as_deref(), Some(NEWSLETTER));

    // The newsletter tool asks about one known and one unknown address.
    let check = json!({
        "purpose": NEWSLETTER,
        "people": [{"email": "an.peeters@EXAMPLE.be"}, {"email": "nobody@example.be"}],
    });
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &tool,
            Some(check.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let answer = json_body(&b);
    assert_eq!(answer["results"][0]["allowed"], true);
    assert_eq!(answer["results"][0]["state"], "given");
    assert!(answer["results"][0]["unsubscribe_url"].is_string());
    assert_eq!(answer["results"][1]["allowed"], false);
    assert_eq!(answer["results"][1]["state"], Value::Null);
    assert!(answer["results"][1].get("unsubscribe_url").is_none());

    // Not assigned to recruitment; a caseworker not assigned either; bad requests.
    let mut other = check.clone();
    other["purpose"] = json!(RECRUITMENT);
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &tool,
            Some(other),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &h.caseworker,
            Some(check.clone()),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let mut recruitment = check.clone();
    recruitment["purpose"] = json!(RECRUITMENT);
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &h.dpo,
            Some(recruitment),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("not on consent"),
        "{p}"
    );
    for (body, needle) in [
        (json!({"purpose": NEWSLETTER, "people": []}), "1 to 1000"),
        (
            json!({"purpose": NEWSLETTER, "people": [{"email": "not-an-address"}]}),
            "people[0].email",
        ),
        (
            json!({"purpose": NEWSLETTER, "people": [{"email": "a@b.be", "subject": an}]}),
            "either",
        ),
    ] {
        let (s, hd, b) = h
            .call(
                Method::POST,
                "/api/v1/consent/check",
                &tool,
                Some(body),
                &[],
            )
            .await;
        let p = problem(s, &hd, &b, StatusCode::BAD_REQUEST);
        assert!(p["detail"].as_str().unwrap().contains(needle), "{p}");
    }
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"email": format!("p{i}@example.be")}))
        .collect();
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &tool,
            Some(json!({"purpose": NEWSLETTER, "people": many})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            "kluis_forged",
            Some(check.clone()),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);

    // The ISO/IEC TS 27560 record names the notice, purpose, controller and events, and
    // the person only by pseudonym.
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/consents/{id}/iso27560"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let record = json_body(&b);
    assert_eq!(record["schema_version"], "ISO/IEC TS 27560:2023");
    assert_eq!(record["record_id"], id.as_str());
    assert_eq!(record["consent_state"], "given");
    assert_eq!(record["purposes"][0]["processing_activity"], NEWSLETTER);
    assert_eq!(record["purposes"][0]["legal_basis"], "eu-gdpr:A6-1-a");
    assert_eq!(record["pii_controllers"][0]["id"], "limburg");
    assert_eq!(record["notice"]["language"], "nl");
    assert_eq!(record["events"][0]["collection_method"], "paper_form");
    assert_eq!(record["pii_principal_id"].as_str().unwrap().len(), 32);
    assert!(!b.contains("peeters"), "{b}");

    // Staff withdraw at the person's request, twice: the second changes nothing.
    let withdrawal = format!("/api/v1/consents/{id}/withdrawal");
    let (s, _, b) = h.call(Method::POST, &withdrawal, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let w = json_body(&b);
    assert_eq!(w["changed"], true);
    assert_eq!(w["consent"]["state"], "withdrawn");
    assert!(w["consent"].get("unsubscribe_url").is_none());
    assert_eq!(w["consent"]["events"][1]["channel"], "staff");
    let (s, _, b) = h.call(Method::POST, &withdrawal, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["changed"], false);
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &tool,
            Some(check),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["results"][0]["allowed"], false);
    assert_eq!(json_body(&b)["results"][0]["state"], "withdrawn");

    // The history stays, read through the API.
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/consents/{id}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let kinds: Vec<_> = json_body(&b)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["given", "withdrawn"]);
    let (s, hd, b) = h
        .call(
            Method::GET,
            "/api/v1/consents/00000000-0000-0000-0000-000000000000",
            &h.dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_check_sees_at_once_when_a_purpose_may_no_longer_ask_consent() {
    on_both_backends!(purpose_change_story);
}

/// The check remembers per register revision whether a purpose may ask consent: a change to
/// the register counts from the very next check.
async fn purpose_change_story(h: Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let check =
        |purpose: &str| json!({"purpose": purpose, "people": [{"email": "an.peeters@example.be"}]});
    for _ in 0..2 {
        let (s, _, b) = h
            .call(
                Method::POST,
                "/api/v1/consent/check",
                &h.dpo,
                Some(check(NEWSLETTER)),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(json_body(&b)["results"][0]["allowed"], false);
    }
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &h.dpo,
            Some(check("limburg-bestaat-niet")),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::NOT_FOUND);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("limburg-bestaat-niet"),
        "{p}"
    );

    // The newsletter is retired (pruned from the register): the next check refuses it.
    let mut register = h.store.register().await.unwrap();
    register.activities.retain(|a| a.id != NEWSLETTER);
    h.store
        .import_register(&register, true, "test", super::NOW)
        .await
        .unwrap();
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/consent/check",
            &h.dpo,
            Some(check(NEWSLETTER)),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
}
