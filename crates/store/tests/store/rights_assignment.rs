//! Rights requests assigned to caseworkers, and the daily reminder of what is overdue or
//! due soon, once a day across instances.

use kluis_domain::access::Role;
use kluis_domain::rights::Right;
use kluis_domain::text::Lang;
use kluis_store::testing::TestStore;
use kluis_store::{ReminderRun, RequestFilter, StoreError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::rights::{receipt, register, request};

stories!(
    requests_are_assigned_to_staff_who_may_handle_them,
    caseworkers_get_one_reminder_a_day_of_what_is_late_or_due_soon,
);

const NOW: OffsetDateTime = datetime!(2026-03-05 10:00:00 UTC);
const URL: &str = "https://kluis.stad.be/admin/rights";

async fn staff(store: &TestStore, username: &str, roles: &[Role]) {
    store
        .create_user(username, username, "correct horse battery", roles, NOW)
        .await
        .unwrap();
}

async fn file(store: &TestStore, rights: Vec<Right>, received: OffsetDateTime) -> uuid::Uuid {
    let mut new = request(rights);
    new.received_on = received.date();
    store
        .file_request(&new, receipt("an@example.be"), "requester", received)
        .await
        .unwrap()
        .id
}

async fn requests_are_assigned_to_staff_who_may_handle_them(store: &TestStore) {
    register(store).await;
    staff(store, "els", &[Role::Caseworker]).await;
    staff(store, "aud", &[Role::Auditor]).await;
    let id = file(store, vec![Right::Access], NOW).await;
    let before = store.rights_request(id).await.unwrap();
    assert_eq!(before.assignee, None);

    let assigned = store
        .assign_request(id, before.version, "els", "dpo", NOW)
        .await
        .unwrap();
    assert_eq!(assigned.assignee.as_deref(), Some("els"));
    let read = store.rights_request(id).await.unwrap();
    assert_eq!(read.assignee.as_deref(), Some("els"));
    assert_eq!(read.version, before.version + 1);
    assert_eq!(
        read.stage, before.stage,
        "assigning is not a step of the procedure"
    );
    let step = read.timeline.last().unwrap();
    assert_eq!(
        (
            step.step.as_str(),
            step.actor.as_str(),
            step.note.as_deref()
        ),
        ("assigned", "dpo", Some("els"))
    );
    let listed = store
        .rights_requests(RequestFilter::Open, NOW.date())
        .await
        .unwrap();
    assert_eq!(listed[0].assignee.as_deref(), Some("els"));

    // Refused, changing nothing: an auditor, an unknown user, a stale version.
    let err = store
        .assign_request(id, read.version, "aud", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("may not handle rights requests")),
        "{err:?}"
    );
    let err = store
        .assign_request(id, read.version, "nobody", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
    let err = store
        .assign_request(id, before.version, "els", "dpo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(store.rights_request(id).await.unwrap(), read);
}

async fn caseworkers_get_one_reminder_a_day_of_what_is_late_or_due_soon(store: &TestStore) {
    register(store).await;
    staff(store, "els", &[Role::Caseworker]).await;
    staff(store, "jan", &[Role::Caseworker]).await;
    staff(store, "dpo", &[Role::Dpo]).await;
    store
        .set_staff_mail("els", Some(&"els@stad.be".parse().unwrap()), Lang::Nl)
        .await
        .unwrap();
    store
        .set_staff_mail("dpo", Some(&"dpo@stad.be".parse().unwrap()), Lang::Fr)
        .await
        .unwrap();
    let err = store
        .set_staff_mail("nobody", None, Lang::Nl)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );

    // Received 5 March: due 7 April. On 2 April it is due soon, on 8 April overdue.
    let late = file(store, vec![Right::Erasure], NOW - Duration::days(40)).await;
    let soon = file(store, vec![Right::Access], NOW).await;
    let later = file(store, vec![Right::Access], NOW + Duration::days(20)).await;
    let for_jan = file(store, vec![Right::Access], NOW - Duration::days(40)).await;
    for (id, who) in [
        (late, "els"),
        (soon, "els"),
        (later, "els"),
        (for_jan, "jan"),
    ] {
        let version = store.rights_request(id).await.unwrap().version;
        store
            .assign_request(id, version, who, "dpo", NOW)
            .await
            .unwrap();
    }
    let day = datetime!(2026-04-02 07:30:00 UTC);
    let run = store
        .send_daily_rights_reminders("instance a", URL, day)
        .await
        .unwrap();
    // Jan has no mail address and the DPO nothing assigned: only Els is reminded.
    let ReminderRun::Sent(reminders) = run else {
        panic!("the first run of the day sends: {run:?}");
    };
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(
        (
            reminders[0].username.as_str(),
            reminders[0].requests,
            reminders[0].overdue
        ),
        ("els", 2, 1)
    );
    let mails = store
        .claim_due_mail(day, Duration::minutes(5), 50)
        .await
        .unwrap();
    let reminder: Vec<_> = mails
        .iter()
        .filter(|m| m.mail.to.as_str() == "els@stad.be")
        .collect();
    assert_eq!(reminder.len(), 1);
    let body = &reminder[0].mail.body_text;
    let late_ref = store.rights_request(late).await.unwrap().reference;
    let soon_ref = store.rights_request(soon).await.unwrap().reference;
    let later_ref = store.rights_request(later).await.unwrap().reference;
    assert!(
        body.contains(&late_ref) && body.contains(&soon_ref),
        "{body}"
    );
    assert!(!body.contains(&later_ref), "not yet due soon:\n{body}");
    assert!(body.contains(URL), "{body}");
    assert!(
        reminder[0].mail.subject.contains("1 te laat"),
        "Dutch for Els"
    );

    // A second instance the same day, or the same one later, sends nothing more.
    let queued = store.mail_status(0).await.unwrap().pending;
    for holder in ["instance b", "instance a"] {
        let again = store
            .send_daily_rights_reminders(holder, URL, day + Duration::hours(3))
            .await
            .unwrap();
        assert_eq!(again, ReminderRun::NotDue);
    }
    assert_eq!(
        store.mail_status(0).await.unwrap().pending,
        queued,
        "no second reminder today"
    );

    // The next day it comes again.
    let next_day = day + Duration::days(1);
    let ReminderRun::Sent(reminders) = store
        .send_daily_rights_reminders("instance b", URL, next_day)
        .await
        .unwrap()
    else {
        panic!("the next day sends again");
    };
    assert_eq!(reminders.len(), 1);
    assert_eq!(store.mail_status(0).await.unwrap().pending, queued + 1);
}
