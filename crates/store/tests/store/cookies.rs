//! Proof of cookie choices, on both backends.

use std::collections::BTreeSet;

use kluis_domain::cookie_consent::{Banner, ChoiceSource, VisitorId};
use kluis_domain::register::{Cookie, CookieType};
use kluis_domain::text::Text;
use kluis_store::{CookieChoiceCount, Store};
use time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;

use super::controller;

stories!(
    the_latest_choice_of_a_visitor_is_found,
    choices_are_counted_per_banner_version_and_source,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

/// A city whose website sets a session cookie, analytics and social media cookies.
fn banner() -> Banner {
    let mut city = controller("city", "Stad Hasselt");
    for (name, kind) in [
        ("sessie", CookieType::Functional),
        ("Matomo", CookieType::Analytics),
        ("YouTube", CookieType::Social),
    ] {
        city.cookies.push(Cookie {
            name: name.into(),
            kind,
            purpose: Text::nl(format!("Doel van {name}")),
            provider: None,
            lifetime: Text::nl("13 maanden"),
        });
    }
    Banner::of(&city)
}

fn visitor(s: &str) -> VisitorId {
    s.parse().unwrap()
}

fn types(t: &[CookieType]) -> BTreeSet<CookieType> {
    t.iter().copied().collect()
}

async fn the_latest_choice_of_a_visitor_is_found(store: &Store) {
    let banner = banner();
    let anna = visitor("0a1b2c3d4e5f60718293a4b5c6d7e8f9");
    assert_eq!(
        store.latest_cookie_choice("city", &anna).await.unwrap(),
        None
    );

    let refused = banner.choose(&banner.version, &[], false).unwrap();
    let first = store
        .record_cookie_choice("city", &anna, &banner.version, &refused, NOW)
        .await
        .unwrap();
    assert_eq!(
        first.choice.refused,
        types(&[CookieType::Analytics, CookieType::Social])
    );
    assert_eq!(
        store.latest_cookie_choice("city", &anna).await.unwrap(),
        Some(first.clone()),
        "what was written is what is read"
    );

    // She changes her mind in the settings: the new choice is the latest, the old one stays.
    let analytics = banner
        .choose(&banner.version, &["analytics".into()], false)
        .unwrap();
    let second = store
        .record_cookie_choice(
            "city",
            &anna,
            &banner.version,
            &analytics,
            NOW + Duration::minutes(5),
        )
        .await
        .unwrap();
    let latest = store
        .latest_cookie_choice("city", &anna)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest, second);
    assert_eq!(
        latest.choice.accepted,
        types(&[CookieType::Functional, CookieType::Analytics])
    );
    assert_eq!(latest.choice.source, ChoiceSource::Banner);
    assert_ne!(first.id, second.id);

    // A browser with Global Privacy Control in the same instant: the later write is latest.
    let gpc = banner
        .choose(&banner.version, &["analytics".into()], true)
        .unwrap();
    for choice in [&refused, &gpc] {
        store
            .record_cookie_choice(
                "city",
                &anna,
                &banner.version,
                choice,
                NOW + Duration::minutes(5),
            )
            .await
            .unwrap();
    }
    let latest = store
        .latest_cookie_choice("city", &anna)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.choice, gpc);

    // Another browser, or the same id on another controller's websites, has no choice yet.
    let bert = visitor("ffffffffffffffffffffffffffffffff");
    assert_eq!(
        store.latest_cookie_choice("city", &bert).await.unwrap(),
        None
    );
    assert_eq!(
        store.latest_cookie_choice("ocmw", &anna).await.unwrap(),
        None
    );
}

async fn choices_are_counted_per_banner_version_and_source(store: &Store) {
    assert!(store.cookie_choice_counts(None).await.unwrap().is_empty());
    let banner = banner();
    let refuse = banner.choose(&banner.version, &[], false).unwrap();
    let accept_all: Vec<String> = vec!["analytics".into(), "social".into()];
    let accept = banner.choose(&banner.version, &accept_all, false).unwrap();
    let gpc = banner.choose(&banner.version, &accept_all, true).unwrap();
    let choices = [
        (&refuse, 0),
        (&refuse, 1),
        (&accept, 2),
        (&gpc, 3),
        (&refuse, 4),
    ];
    for (i, (choice, minutes)) in choices.iter().enumerate() {
        let id = visitor(&format!("visitor-{i:0>24}"));
        store
            .record_cookie_choice(
                "city",
                &id,
                &banner.version,
                choice,
                NOW + Duration::minutes(*minutes),
            )
            .await
            .unwrap();
    }
    // Another controller's choices are counted apart, and left out when asked for one.
    store
        .record_cookie_choice(
            "ocmw",
            &visitor("ocmw-visitor-000000000000"),
            "0000000000000000",
            &refuse,
            NOW,
        )
        .await
        .unwrap();

    let counts = store.cookie_choice_counts(Some("city")).await.unwrap();
    let row = |source, accepted: &[CookieType], count, first: i64, last: i64| CookieChoiceCount {
        controller: "city".into(),
        banner_version: banner.version.clone(),
        source,
        accepted: types(accepted),
        refused: types(
            &[CookieType::Analytics, CookieType::Social]
                .into_iter()
                .filter(|t| !accepted.contains(t))
                .collect::<Vec<_>>(),
        ),
        count,
        first_at: NOW + Duration::minutes(first),
        last_at: NOW + Duration::minutes(last),
    };
    assert_eq!(
        counts,
        vec![
            row(ChoiceSource::Banner, &[CookieType::Functional], 3, 0, 4),
            row(
                ChoiceSource::Banner,
                &[
                    CookieType::Functional,
                    CookieType::Analytics,
                    CookieType::Social
                ],
                1,
                2,
                2
            ),
            row(ChoiceSource::Gpc, &[CookieType::Functional], 1, 3, 3),
        ]
    );
    let all = store.cookie_choice_counts(None).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].controller, "ocmw");
}
