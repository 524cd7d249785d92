//! The media database API: targeted items show only people who consent, a withdrawal
//! lists what must come down, overview items come down on request, need-to-know holds.

use axum::http::{Method, StatusCode};
use kluis_domain::access::Role;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::{Value, json};

use super::{Harness, problem};

const PROMOTION: &str = "limburg-promotiebeelden";
const CAMERA: &str = "limburg-camerabewaking";

fn body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

fn photo(kind: &str, published_on: Option<&str>) -> Value {
    let mut item = json!({
        "title": "Opening van het provinciehuis",
        "kind": kind,
        "activity": PROMOTION,
        "taken_on": "2026-11-20",
        "reference": "https://mediahaven.limburg.be/MH-2026-0042",
    });
    if let Some(date) = published_on {
        item["published_on"] = json!(date);
    }
    item
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

impl Harness {
    /// POSTs `value` as the DPO and returns the created (201) body.
    async fn created(&self, uri: &str, value: Value) -> Value {
        let (s, _, b) = self
            .call(Method::POST, uri, &self.dpo, Some(value), &[])
            .await;
        assert_eq!(s, StatusCode::CREATED, "{uri}: {b}");
        body(&b)
    }

    async fn take_down_list(&self, token: &str) -> Value {
        let (s, _, b) = self
            .call(Method::GET, "/api/v1/media/take-down", token, None, &[])
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        body(&b)
    }
}

#[tokio::test]
async fn media_api() {
    on_both_backends!(media_story);
}

async fn media_story(h: Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let dpo = h.dpo.clone();
    let camera_cw = h.staff("camera-cw", Role::Caseworker).await;
    let auditor = h.staff("auditor", Role::Auditor).await;
    for user in ["dpo", "camera-cw"] {
        h.created(
            &format!("/api/v1/users/{user}/confidentiality-statements"),
            json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-001"}),
        )
        .await;
    }
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/camera-cw/activities/{CAMERA}"),
            &dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let an = h
        .created(
            "/api/v1/subjects",
            json!({"activity": PROMOTION, "email": "an.peeters@example.be", "given_name": "An"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A targeted, published photo.
    let item = h
        .created("/api/v1/media", photo("targeted", Some("2026-11-21")))
        .await;
    assert_eq!(item["kind"], "targeted");
    assert_eq!(item["published"], true);
    assert_eq!(item["take_down"], json!([]));
    let item_id = item["id"].as_str().unwrap().to_string();
    let item_uri = format!("/api/v1/media/{item_id}");
    let subjects_uri = format!("{item_uri}/subjects");

    // Linking An without her consent: 422 saying what to do, and nothing linked.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &subjects_uri,
            &dpo,
            Some(json!({"subject": an})),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("no valid consent"), "{detail}");
    assert!(detail.contains("record their explicit consent"), "{detail}");
    let (s, _, b) = h.call(Method::GET, &item_uri, &dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(body(&b)["subjects"], json!([]));

    // With her consent: 201, and 200 when linked again.
    let consent = h
        .created(
            &format!("/api/v1/subjects/{an}/consents"),
            json!({
                "activity": PROMOTION,
                "method": "oral",
                "affirmative_act": true,
                "notice_text": "Mogen we deze foto van jou maken en publiceren?",
                "language": "nl",
                "evidence": "fotograaf J. Janssens",
            }),
        )
        .await;
    let (s, _, b) = h
        .call(
            Method::POST,
            &subjects_uri,
            &dpo,
            Some(json!({"subject": an})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _, b) = h
        .call(
            Method::POST,
            &subjects_uri,
            &dpo,
            Some(json!({"subject": an})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, _, b) = h.call(Method::GET, &item_uri, &dpo, None, &[]).await;
    let read = body(&b);
    assert_eq!(read["subjects"].as_array().unwrap().len(), 1);
    assert_eq!(read["subjects"][0]["subject_id"], an.as_str());
    assert_eq!(read["subjects"][0]["consent_allows"], true);
    assert_eq!(h.take_down_list(&dpo).await, json!([]));

    // She withdraws at the desk: the answer lists the photo, and so does the list.
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!(
                "/api/v1/consents/{}/withdrawal",
                consent["id"].as_str().unwrap()
            ),
            &dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let withdrawal = body(&b);
    assert_eq!(ids(&withdrawal["take_down"]), [item_id.as_str()]);
    assert_eq!(
        withdrawal["take_down"][0]["take_down"],
        json!(["consent_ended"])
    );
    let list = h.take_down_list(&dpo).await;
    assert_eq!(ids(&list), [item_id.as_str()]);

    // An overview photo: linking without consent is fine; a removal request puts it on
    // the list.
    let crowd = h
        .created("/api/v1/media", photo("overview", Some("2026-11-21")))
        .await;
    let crowd_id = crowd["id"].as_str().unwrap().to_string();
    let crowd_uri = format!("/api/v1/media/{crowd_id}");
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{crowd_uri}/subjects"),
            &dpo,
            Some(json!({"subject": an})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(body(&b)["take_down"], json!([]));
    let asked = h
        .created(
            &format!("{crowd_uri}/removal-requests"),
            json!({"channel": "on_the_spot", "note": "de man met de rode jas, links"}),
        )
        .await;
    assert_eq!(asked["take_down"], json!(["removal_requested"]));
    let mut expected = vec![item_id.as_str(), crowd_id.as_str()];
    expected.sort();
    let list = h.take_down_list(&dpo).await;
    let mut listed = ids(&list);
    listed.sort();
    assert_eq!(listed, expected);
    let (_, _, b) = h.call(Method::GET, &crowd_uri, &dpo, None, &[]).await;
    let read = body(&b);
    assert_eq!(read["removal_requests"][0]["channel"], "on_the_spot");
    assert_eq!(
        read["removal_requests"][0]["note"],
        "de man met de rode jas, links"
    );

    // Bad input: unknown kind, unknown channel, unknown person, unknown item, a targeted
    // photo under an activity not based on consent, taking down an unpublished item.
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/media",
            &dpo,
            Some(photo("closeup", None)),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("targeted"), "{p}");
    let mut camera = photo("targeted", None);
    camera["activity"] = json!(CAMERA);
    let (s, hd, b) = h
        .call(Method::POST, "/api/v1/media", &dpo, Some(camera), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("overview"), "{p}");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("{crowd_uri}/removal-requests"),
            &dpo,
            Some(json!({"channel": "pigeon"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let nobody = "00000000-0000-7000-8000-000000000000";
    let (s, hd, b) = h
        .call(
            Method::POST,
            &subjects_uri,
            &dpo,
            Some(json!({"subject": nobody})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let (s, hd, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/media/{nobody}"),
            &dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let draft = h.created("/api/v1/media", photo("overview", None)).await;
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/media/{}/taken-down", draft["id"].as_str().unwrap()),
            &dpo,
            None,
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("never published"),
        "{p}"
    );

    // Outside need-to-know: the camera caseworker neither reads nor changes promotional
    // photos, and sees none on the list; an auditor records nothing.
    let (s, hd, b) = h.call(Method::GET, &item_uri, &camera_cw, None, &[]).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    for (uri, value) in [
        (subjects_uri.clone(), Some(json!({"subject": an}))),
        (
            format!("{crowd_uri}/removal-requests"),
            Some(json!({"channel": "email"})),
        ),
        (format!("{crowd_uri}/taken-down"), None),
        ("/api/v1/media".to_string(), Some(photo("overview", None))),
    ] {
        let (s, hd, b) = h.call(Method::POST, &uri, &camera_cw, value, &[]).await;
        problem(s, &hd, &b, StatusCode::FORBIDDEN);
    }
    assert_eq!(h.take_down_list(&camera_cw).await, json!([]));
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/media",
            &auditor,
            Some(photo("overview", None)),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    // Nothing of that changed the items.
    let (_, _, b) = h.call(Method::GET, &crowd_uri, &dpo, None, &[]).await;
    let read = body(&b);
    assert_eq!(read["removal_requests"].as_array().unwrap().len(), 1);
    assert_eq!(read["published"], true);

    // Staff take both down: the list empties; marking again changes nothing.
    for uri in [&item_uri, &crowd_uri] {
        let (s, _, b) = h
            .call(Method::POST, &format!("{uri}/taken-down"), &dpo, None, &[])
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let down = body(&b);
        assert_eq!(down["published"], false);
        assert!(down["taken_down_at"].is_string(), "{down}");
        assert_eq!(down["take_down"], json!([]));
    }
    assert_eq!(h.take_down_list(&dpo).await, json!([]));
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{item_uri}/taken-down"),
            &dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    h.store.cleanup().await;
}
