//! Rights requests over the API: staff register a request, the receipt is queued, and the
//! request goes through identity, decisions (with the register's defaults), fulfilment and
//! closing; bad input and illegal steps are refused and change nothing.

use axum::http::{Method, StatusCode, header};
use kluis_domain::access::Role;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::{Value, json};

use super::{Harness, problem};

fn json_body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

fn letter() -> Value {
    json!({
        "controller": "limburg",
        "rights": ["access", "erasure"],
        "channel": "letter",
        "requester": {
            "identity": {"email": "an.peeters@example.be", "given_name": "An", "family_name": "Peeters"},
            "acting_for": "themselves",
            "email": "an.peeters@example.be",
            "message": "Ik wil weten welke gegevens u over mij hebt, en ze laten wissen."
        },
        "language": "nl",
        "received_on": "2026-11-23"
    })
}

#[tokio::test]
async fn rights_requests_api() {
    on_both_backends!(rights_story);
}

async fn rights_story(h: Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let requests = "/api/v1/rights-requests";

    // Who may: not anonymous, not an auditor, not a caseworker without a signed
    // confidentiality statement.
    let (s, hd, b) = h
        .send(
            h.request(Method::GET, requests, None)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let auditor = h.staff("auditor", Role::Auditor).await;
    let (s, hd, b) = h.call(Method::GET, requests, &auditor, None, &[]).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(Method::POST, requests, &h.caseworker, Some(letter()), &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert_eq!(h.store.mail_status(0).await.unwrap().pending, 0);
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-001"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // Bad requests are refused and nothing is stored.
    let mut no_contact = letter();
    no_contact["requester"]["email"] = Value::Null;
    let mut unknown_right = letter();
    unknown_right["rights"] = json!(["everything"]);
    let mut unknown_field = letter();
    unknown_field["priority"] = json!("high");
    let mut tomorrow = letter();
    tomorrow["received_on"] = json!("2026-11-24");
    for (what, body, expected) in [
        ("no contact", no_contact, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "unknown right",
            unknown_right,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown field",
            unknown_field,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "received tomorrow",
            tomorrow,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, hd, b) = h
            .call(Method::POST, requests, &h.dpo, Some(body), &[])
            .await;
        let p = problem(s, &hd, &b, expected);
        assert!(!p["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    let mut elsewhere = letter();
    elsewhere["controller"] = json!("nergens");
    let (s, hd, b) = h
        .call(Method::POST, requests, &h.dpo, Some(elsewhere), &[])
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("{requests}?filter=all"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "[]"));
    assert_eq!(
        h.store.mail_status(0).await.unwrap().pending,
        0,
        "no receipt"
    );

    // A letter registered on Monday 23 November 2026: due Wednesday 23 December.
    let (s, hd, b) = h
        .call(Method::POST, requests, &h.dpo, Some(letter()), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let filed = json_body(&b);
    let id = filed["id"].as_str().unwrap().to_string();
    let one = format!("{requests}/{id}");
    assert_eq!(hd[header::LOCATION], one.as_str());
    assert_eq!(filed["due_on"], "2026-12-23");
    assert!(
        filed["status_url"]
            .as_str()
            .unwrap()
            .contains("/rights/status/"),
        "{filed}"
    );
    let mail = h.store.mail_status(0).await.unwrap();
    assert_eq!(mail.pending, 1, "the receipt is queued");

    let (s, hd, b) = h.call(Method::GET, &one, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"1\"");
    let r = json_body(&b);
    assert_eq!(r["stage"], "acknowledged");
    assert_eq!(r["status_dpv"], "dpv:RequestAcknowledged");
    assert_eq!(
        r["requester"]["family_name"],
        Value::Null,
        "the person's identity is nested"
    );
    assert_eq!(r["requester"]["identity"]["family_name"], "Peeters");
    assert_eq!(r["reference"], filed["reference"]);

    let (s, hd, b) = h
        .call(
            Method::GET,
            &format!("{requests}?filter=sometime"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("{requests}?filter=due_soon"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "[]"), "a month left");

    // Steps: If-Match required; no fulfilment before the identity is verified.
    let changes = format!("{one}/changes");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "verify_identity"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "fulfil", "note": "te vroeg"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    // Carrying out is its own resource, never a bare "fulfil" step.
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("{one}/fulfilment"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("identity is verified"),
        "{p}"
    );
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "verify_identity"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        hd[header::ETAG],
        "\"2\"",
        "the refused step changed nothing"
    );

    // The register's defaults: erasure refused where a legal obligation keeps the data.
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("{one}/default-decisions"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let defaults = json_body(&b);
    let procurement = defaults
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["right"] == "erasure" && d["activity"] == "limburg-overheidsopdrachten")
        .unwrap_or_else(|| panic!("a default for procurement: {defaults}"));
    assert_eq!(procurement["outcome"], "refused");
    assert_eq!(procurement["ground"], "legal_obligation");
    assert_eq!(procurement["article"], "art. 17(3)(b)");
    assert!(
        procurement["motivation"]
            .as_str()
            .unwrap()
            .contains("wettelijke")
    );

    let decide = json!({"change": "decide", "decisions": [
        {"right": "access", "activity": "limburg-nieuwsbrieven", "outcome": "granted",
         "motivation": "U krijgt al uw gegevens."},
        {"right": "erasure", "activity": "limburg-overheidsopdrachten", "outcome": "refused",
         "grounds": ["legal_obligation"], "motivation": procurement["motivation"]},
    ]});
    // Stale version: 409.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(decide.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    // A refusal without a ground: 422.
    let mut groundless = decide.clone();
    groundless["decisions"][1]["grounds"] = json!([]);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(groundless),
            &[("if-match", "\"2\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(decide),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"3\"");
    assert_eq!(json_body(&b)["status"], "accepted");
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{one}/fulfilment"),
            &h.dpo,
            Some(json!({"done_by_hand": "toegangspakket verstuurd"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["stage"], "fulfilled", "{b}");
    // The letter to print: none before anything was written to the person, then the
    // closing letter.
    let letter = format!("{one}/letter");
    let (s, hd, b) = h.call(Method::GET, &letter, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{p}"
    );
    let (s, _, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "close", "note": "afsluitbrief verstuurd"})),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, hd, pdf) = h.download(&letter).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.starts_with(b"%PDF"));
    // pdf-writer leaves content streams uncompressed: the lines are readable in the file.
    let text = String::from_utf8_lossy(&pdf);
    for expected in ["(An Peeters)", "toegekend", "rechtbank"] {
        assert!(text.contains(expected), "{expected} is in the letter");
    }
    let (_, _, b) = h.call(Method::GET, &one, &h.dpo, None, &[]).await;
    let r = json_body(&b);
    assert_eq!(r["stage"], "closed");
    assert_eq!(r["status_dpv"], "dpv:RequestFulfilled");
    let steps: Vec<&str> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "acknowledged",
            "identity_verified",
            "decided",
            "fulfilled",
            "closed",
            "requester_told"
        ]
    );
    assert_eq!(r["timeline"][2]["actor"], "dpo");
    // Closed: any further step is refused.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "close", "note": "nog eens"})),
            &[("if-match", "\"5\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, hd, b) = h
        .call(
            Method::GET,
            &format!("{requests}/00000000-0000-7000-8000-000000000000"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    h.store.cleanup().await;
}

#[tokio::test]
async fn rights_request_assignment_api() {
    on_both_backends!(assignment_story);
}

/// The DPO assigns a request to a caseworker: If-Match required, only staff who may handle
/// rights requests, the assignee shown in the request and the list.
async fn assignment_story(h: Harness) {
    h.limburg_with_a_dpo_who_may_read().await;
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/rights-requests",
            &h.dpo,
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = json_body(&b)["id"].as_str().unwrap().to_string();
    let assignee = format!("/api/v1/rights-requests/{id}/assignee");
    h.staff("auditor", Role::Auditor).await;
    let to = |who: &str| Some(json!({ "username": who }));

    let (s, hd, b) = h.call(Method::PUT, &assignee, &h.dpo, to("cw"), &[]).await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let v1 = [("if-match", "\"1\"")];
    let (s, hd, b) = h
        .call(Method::PUT, &assignee, &h.dpo, to("auditor"), &v1)
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("may not handle rights requests"),
        "{p}"
    );
    let (s, hd, b) = h
        .call(Method::PUT, &assignee, &h.dpo, to("nobody"), &v1)
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let (s, hd, b) = h
        .call(
            Method::PUT,
            &assignee,
            &h.dpo,
            Some(json!({"username": "cw", "extra": 1})),
            &v1,
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, hd, b) = h.call(Method::PUT, &assignee, &h.dpo, to("cw"), &v1).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"2\"");
    let body = json_body(&b);
    assert_eq!(body["assignee"], "cw");
    assert_eq!(
        body["timeline"].as_array().unwrap().last().unwrap()["step"],
        "assigned"
    );
    let (s, hd, b) = h.call(Method::PUT, &assignee, &h.dpo, to("dpo"), &v1).await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    let (s, _, b) = h
        .call(Method::GET, "/api/v1/rights-requests", &h.dpo, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_body(&b)[0]["assignee"], "cw");
}
