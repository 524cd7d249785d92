//! The breach register in the back-office: the list with the 72-hour clock (all, open,
//! overdue) and one breach in full. The DPO and administrators record a new breach (art.
//! 33(5)), the notices to the supervisory authority (initial, supplements) and the art. 34
//! decision, as with the API and `kluis breach`: the same store operations check the same
//! rules. Auditors read.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::breach::{
    self, Art34Decision, Art34Ground, AuthorityNotice, BreachFacts, ClockStatus, NotificationPhase,
    ReportedBy, RiskAssessment, RiskLevel, show_time,
};
use kluis_domain::category::{DataCategory, SpecialCategory, SubjectCategory};
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::{Breach, BreachFilter, StoreError};
use serde::Deserialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::form::FormData;
use super::{Ctx, StaffSession, forbidden, lang_of, not_found, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::state::AppState;

mod affected;

pub use affected::affected;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    lang: Option<String>,
    #[serde(default)]
    show: Option<String>,
}

pub struct Row {
    reference: String,
    /// The start of what happened.
    summary: String,
    href: String,
    controller: String,
    aware_at: String,
    due: String,
    risk: String,
    clock: String,
    /// Due soon or overdue: shown in bold.
    alert: bool,
    file: String,
}

#[derive(Template)]
#[template(path = "admin/breaches.html")]
pub struct ListPage {
    ctx: Ctx,
    /// The link to the form for a new breach, for those who record.
    new: Option<String>,
    /// (link, label, current).
    filters: Vec<(String, String, bool)>,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/breach.html")]
pub struct BreachPage {
    ctx: Ctx,
    clock: String,
    alert: bool,
    /// The step just taken.
    done: Option<String>,
    /// Why the step just tried was refused.
    refused: Option<String>,
    /// The DPO or an administrator: the forms are offered.
    may_record: bool,
    /// Where the forms post.
    action: String,
    /// The version the forms were made for.
    version: i64,
    /// What was typed in the forms, shown again when refused.
    form: FormData,
    phases: Vec<(String, String)>,
    grounds: Vec<(String, String)>,
    rows: Vec<(String, String)>,
    notifications: Vec<String>,
    people: Vec<String>,
    /// The search for the people affected, for the DPO who may see them.
    search: Option<affected::SearchForm>,
    back: String,
}

/// The form for a new breach.
#[derive(Template)]
#[template(path = "admin/breach_new.html")]
pub struct NewPage {
    ctx: Ctx,
    /// Why the breach was not recorded.
    refused: Option<String>,
    action: String,
    form: FormData,
    /// (register id, name).
    controllers: Vec<(String, String)>,
    reporters: Vec<(String, String)>,
    /// (value, label) of each vocabulary.
    data_categories: Vec<(String, String)>,
    special_categories: Vec<(String, String)>,
    subject_categories: Vec<(String, String)>,
    risks: Vec<(String, String)>,
    back: String,
}

translated!(ListPage, BreachPage, NewPage);

impl NewPage {
    fn checked(&self, name: &str, value: &str) -> bool {
        self.form.all(name).contains(&value)
    }
}

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.breaches.{key}")).to_string()
}

fn label(lang: Lang, key: String) -> String {
    i18n::t(lang, &key).to_string()
}

/// How much of the description the list shows.
const SUMMARY_CHARS: usize = 80;

fn alerting(clock: ClockStatus) -> bool {
    matches!(clock, ClockStatus::DueSoon | ClockStatus::Overdue)
}

fn risk(lang: Lang, b: &Breach) -> String {
    b.facts
        .risk_level()
        .map_or_else(|| t(lang, "not_assessed"), |r| label(lang, r.label_key()))
}

fn row(lang: Lang, b: &Breach, now: OffsetDateTime) -> Row {
    let clock = b.clock(now);
    let mut summary: String = b.facts.description.chars().take(SUMMARY_CHARS).collect();
    if b.facts.description.chars().count() > SUMMARY_CHARS {
        summary.push('…');
    }
    Row {
        summary,
        reference: b.reference(),
        href: format!("/admin/breaches/{}?lang={}", b.id, lang.code()),
        controller: b.facts.controller.clone(),
        aware_at: show_time(b.facts.aware_at),
        due: show_time(b.facts.notification_due()),
        risk: risk(lang, b),
        clock: label(lang, clock.label_key()),
        alert: alerting(clock),
        file: t(
            lang,
            if b.facts.is_open() {
                "file_open"
            } else {
                "file_closed"
            },
        ),
    }
}

/// `GET /admin/breaches?show=open|overdue`.
pub async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(
        &super::LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    if !breach::may_read(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let show = q.show.as_deref().unwrap_or("");
    let filter = BreachFilter {
        open: show == "open",
        overdue: show == "overdue",
    };
    let now = state.now();
    let list = match state.store.breaches(filter, now).await {
        Ok(list) => list,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let filters = [("", "all"), ("open", "open"), ("overdue", "overdue")]
        .into_iter()
        .map(|(value, key)| {
            let href = if value.is_empty() {
                format!("/admin/breaches?lang={}", lang.code())
            } else {
                format!("/admin/breaches?lang={}&show={value}", lang.code())
            };
            (href, t(lang, key), show == value)
        })
        .collect();
    let extra = if show.is_empty() {
        String::new()
    } else {
        format!("&show={show}")
    };
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        "/admin/breaches",
        &extra,
        t(lang, "title"),
    );
    let p = ListPage {
        new: breach::may_record(&staff.session.user.roles)
            .then(|| format!("/admin/breaches/new?lang={}", lang.code())),
        ctx,
        filters,
        rows: list.iter().map(|b| row(lang, b, now)).collect(),
    };
    page(StatusCode::OK, &p)
}

#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    lang: Option<String>,
    /// The step just taken, to confirm it.
    done: Option<String>,
}

/// The steps the breach page's forms post, by the `step` field; `created` comes from
/// the form for a new breach.
const STEPS: &[&str] = &["notice", "art34", "created"];

/// What the page says above the breach: a step done, or why the last one was refused.
enum Notice {
    Done(Option<String>),
    Refused(String, FormData),
}

/// `GET /admin/breaches/{id}`: one breach in full.
pub async fn view(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&super::LangQuery { lang: q.lang }, &headers);
    if !breach::may_read(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let done = q
        .done
        .filter(|d| STEPS.contains(&d.as_str()))
        .map(|d| t(lang, &format!("done_{d}")));
    breach_page(&state, &staff, lang, id, StatusCode::OK, Notice::Done(done)).await
}

async fn breach_page(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    id: Uuid,
    status: StatusCode,
    notice: Notice,
) -> Response {
    let b = match state.store.breach(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let now = state.now();
    let clock = b.clock(now);
    let f = &b.facts;
    let names = |v: Vec<String>| v.join(", ");
    let reporter = match &f.reported_by {
        ReportedBy::Staff { name } => {
            format!("{} ({name})", label(lang, "breach_reporter.staff".into()))
        }
        ReportedBy::Processor { name } => {
            format!(
                "{} ({name})",
                label(lang, "breach_reporter.processor".into())
            )
        }
        ReportedBy::Citizen { contact } => match contact {
            Some(c) => format!("{} ({c})", label(lang, "breach_reporter.citizen".into())),
            None => label(lang, "breach_reporter.citizen".into()),
        },
    };
    let rows = vec![
        (t(lang, "controller"), f.controller.clone()),
        (t(lang, "detected_at"), show_time(f.detected_at)),
        (t(lang, "aware_at"), show_time(f.aware_at)),
        (t(lang, "due"), show_time(f.notification_due())),
        (t(lang, "reported_by"), reporter),
        (t(lang, "description"), f.description.clone()),
        (
            t(lang, "data_categories"),
            names(
                f.data_categories
                    .iter()
                    .map(|c| label(lang, c.label_key()))
                    .collect(),
            ),
        ),
        (
            t(lang, "subject_categories"),
            names(
                f.subject_categories
                    .iter()
                    .map(|c| label(lang, c.label_key()))
                    .collect(),
            ),
        ),
        (
            t(lang, "approx_subjects"),
            f.approx_subjects.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (
            t(lang, "approx_records"),
            f.approx_records.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (t(lang, "consequences"), f.consequences.clone()),
        (t(lang, "measures_taken"), f.measures_taken.clone()),
        (t(lang, "measures_proposed"), f.measures_proposed.clone()),
        (t(lang, "risk"), risk(lang, &b)),
        (
            t(lang, "risk_reasons"),
            f.risk
                .as_ref()
                .map(|r| r.reasons.clone())
                .unwrap_or_default(),
        ),
        (
            t(lang, "file"),
            t(
                lang,
                if f.is_open() {
                    "file_open"
                } else {
                    "file_closed"
                },
            ),
        ),
    ];
    let notifications = b
        .notices
        .iter()
        .map(|n| {
            let mut text = format!(
                "{}, {}: {}",
                label(lang, n.notice.phase.label_key()),
                show_time(n.notice.sent_at),
                n.notice.content
            );
            if let Some(reason) = &n.notice.delay_reason {
                text.push_str(&format!(" ({}: {reason})", t(lang, "delay_reason")));
            }
            text
        })
        .collect();
    let mut people = Vec::new();
    match &b.art34 {
        Some(d) if d.decision.inform => people.push(i18n::tf(
            lang,
            "admin.breaches.people_inform",
            &[("reasons", &d.decision.reasons)],
        )),
        Some(d) => {
            let article = d.decision.ground.map_or_else(String::new, |g| {
                format!("{} ({})", g.article(), label(lang, g.label_key()))
            });
            people.push(i18n::tf(
                lang,
                "admin.breaches.people_exempt",
                &[("article", &article), ("reasons", &d.decision.reasons)],
            ));
        }
        None if breach::people_must_be_told(f, None) => people.push(t(lang, "people_must")),
        None => people.push(t(lang, "people_undecided")),
    }
    if b.people_told > 0 {
        people.push(i18n::tf(
            lang,
            "admin.breaches.people_told",
            &[("count", &b.people_told.to_string())],
        ));
        people.push(i18n::tf(
            lang,
            "admin.breaches.people_mailed",
            &[("count", &b.people_mailed.to_string())],
        ));
    }
    if !b.people_told_in_systems.is_empty() {
        let total: i64 = b.people_told_in_systems.values().sum();
        let systems = b
            .people_told_in_systems
            .iter()
            .map(|(system, n)| format!("{system}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        people.push(i18n::tf(
            lang,
            "admin.breach_affected.told_in_systems",
            &[("count", &total.to_string()), ("systems", &systems)],
        ));
    }
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/breaches/{id}"),
        "",
        format!("{} {}", t(lang, "title"), b.reference()),
    );
    let search = match affected::may_search(state, &staff.session).await {
        Ok(true) => match affected::search_form(state, lang, id, FormData::default()).await {
            Ok(search) => Some(search),
            Err(e) => return store_failure(lang, Some(&staff.session), e),
        },
        Ok(false) => None,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let (done, refused, form) = match notice {
        Notice::Done(done) => (done, None, FormData::default()),
        Notice::Refused(message, form) => (None, Some(message), form),
    };
    let p = BreachPage {
        ctx,
        clock: label(lang, clock.label_key()),
        alert: alerting(clock),
        done,
        refused,
        may_record: breach::may_record(&staff.session.user.roles),
        action: format!("/admin/breaches/{id}?lang={}", lang.code()),
        version: b.version,
        form,
        phases: NotificationPhase::ALL
            .iter()
            .map(|p| (p.name().to_string(), label(lang, p.label_key())))
            .collect(),
        grounds: Art34Ground::ALL
            .iter()
            .map(|g| {
                (
                    g.name().to_string(),
                    format!("{} — {}", g.article(), label(lang, g.label_key())),
                )
            })
            .collect(),
        rows,
        notifications,
        people,
        search,
        back: format!("/admin/breaches?lang={}", lang.code()),
    };
    page(status, &p)
}

/// Why a form post about breaches is refused before anything is read: without the
/// session's CSRF token, or from staff who do not record breaches (the DPO or an
/// administrator). 403 either way, with nothing done.
fn recorder_refusal(staff: &StaffSession, form: &FormData, lang: Lang) -> Option<Response> {
    if let Some(refusal) = staff.csrf_refusal(form, lang) {
        return Some(refusal);
    }
    (!breach::may_record(&staff.session.user.roles)).then(|| forbidden(lang, &staff.session))
}

/// A moment from a `datetime-local` field (`YYYY-MM-DDTHH:MM`, seconds optional), in UTC
/// as the register shows it.
fn parse_moment(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    PrimitiveDateTime::parse(
        s,
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            s,
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
    })
    .ok()
    .map(PrimitiveDateTime::assume_utc)
}

/// A moment as a `datetime-local` field shows it.
fn format_moment(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]"))
        .unwrap_or_default()
}

/// `GET /admin/breaches/new`: the form for a new breach, for the DPO and administrators.
pub async fn new_form(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    if !breach::may_record(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let now = format_moment(state.now());
    let mut form = FormData::default();
    form.push("detected_at", now.clone());
    form.push("aware_at", now);
    form.push("reporter", "staff");
    form.push("reporter_name", staff.session.user.display_name.clone());
    new_page(&state, &staff, lang, StatusCode::OK, None, form).await
}

async fn new_page(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    status: StatusCode,
    refused: Option<String>,
    form: FormData,
) -> Response {
    let controllers = match state.store.controllers().await {
        Ok(list) => list
            .into_iter()
            .map(|c| (c.value.id.clone(), c.value.name.show(lang).to_string()))
            .collect(),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let vocabulary = |items: Vec<(&'static str, String)>| {
        items
            .into_iter()
            .map(|(name, key)| (name.to_string(), label(lang, key)))
            .collect::<Vec<_>>()
    };
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        "/admin/breaches/new",
        "",
        t(lang, "new_title"),
    );
    let p = NewPage {
        ctx,
        refused,
        action: format!("/admin/breaches/new?lang={}", lang.code()),
        form,
        controllers,
        reporters: ["staff", "processor", "citizen"]
            .into_iter()
            .map(|r| (r.to_string(), label(lang, format!("breach_reporter.{r}"))))
            .collect(),
        data_categories: vocabulary(
            DataCategory::ALL
                .iter()
                .map(|c| (c.name(), c.label_key()))
                .collect(),
        ),
        special_categories: vocabulary(
            SpecialCategory::ALL
                .iter()
                .map(|c| (c.name(), c.label_key()))
                .collect(),
        ),
        subject_categories: vocabulary(
            SubjectCategory::ALL
                .iter()
                .map(|c| (c.name(), c.label_key()))
                .collect(),
        ),
        risks: vocabulary(
            RiskLevel::ALL
                .iter()
                .map(|r| (r.name(), r.label_key()))
                .collect(),
        ),
        back: format!("/admin/breaches?lang={}", lang.code()),
    };
    page(status, &p)
}

/// `POST /admin/breaches/new`: records the breach and shows it; refused, the form again
/// with what was typed and why (422), nothing recorded.
pub async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let form = FormData(fields);
    if let Some(refusal) = recorder_refusal(&staff, &form, lang) {
        return refusal;
    }
    let facts = match facts_from_form(&form, lang) {
        Ok(facts) => facts,
        Err(message) => {
            return new_page(
                &state,
                &staff,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                form,
            )
            .await;
        }
    };
    match state
        .store
        .create_breach(&facts, staff.actor(), state.now())
        .await
    {
        Ok(b) => Redirect::to(&format!(
            "/admin/breaches/{}?lang={}&done=created",
            b.id,
            lang.code()
        ))
        .into_response(),
        Err(StoreError::Invalid(message)) => {
            new_page(
                &state,
                &staff,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                form,
            )
            .await
        }
        Err(e) => store_failure(lang, Some(&staff.session), e),
    }
}

/// The breach the form describes, or what is wrong with the form; the rules of a breach
/// (times, reasons, lengths) are the store's to check.
fn facts_from_form(form: &FormData, lang: Lang) -> Result<BreachFacts, String> {
    let moment = |name: &str| {
        parse_moment(form.get(name)).ok_or_else(|| {
            i18n::tf(
                lang,
                "admin.breaches.bad_moment",
                &[("field", &t(lang, name)), ("value", form.get(name))],
            )
        })
    };
    let number = |name: &str| -> Result<Option<u64>, String> {
        match form.get(name).trim() {
            "" => Ok(None),
            n => n.parse().map(Some).map_err(|_| {
                i18n::tf(
                    lang,
                    "admin.breaches.bad_number",
                    &[("field", &t(lang, name)), ("value", n)],
                )
            }),
        }
    };
    let name = form.get("reporter_name").trim().to_string();
    let reported_by = match form.get("reporter") {
        "staff" => ReportedBy::Staff { name },
        "processor" => ReportedBy::Processor { name },
        "citizen" => ReportedBy::Citizen {
            contact: (!name.is_empty()).then_some(name),
        },
        _ => return Err(t(lang, "bad_reporter")),
    };
    let risk = match form.get("risk") {
        "" => None,
        level => Some(RiskAssessment {
            level: level.parse().map_err(|_| t(lang, "bad_risk"))?,
            reasons: form.get("risk_reasons").to_string(),
        }),
    };
    Ok(BreachFacts {
        controller: form.get("controller").trim().to_string(),
        detected_at: moment("detected_at")?,
        aware_at: moment("aware_at")?,
        reported_by,
        description: form.get("description").to_string(),
        data_categories: terms(form, "data_categories", lang)?,
        special_categories: terms(form, "special_categories", lang)?,
        subject_categories: terms(form, "subject_categories", lang)?,
        approx_subjects: number("approx_subjects")?,
        approx_records: number("approx_records")?,
        consequences: form.get("consequences").to_string(),
        measures_taken: form.get("measures_taken").to_string(),
        measures_proposed: form.get("measures_proposed").to_string(),
        risk,
        closed_at: None,
    })
}

/// `POST /admin/breaches/{id}`: a notice to the authority or the art. 34 decision, named by
/// the form's `step` field, at the version the page showed. Done: back to the page, which
/// confirms it. Refused: the page again, saying why, with nothing changed.
pub async fn step(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let form = FormData(fields);
    if let Some(refusal) = recorder_refusal(&staff, &form, lang) {
        return refusal;
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let name = form.get("step").to_string();
    let refuse = |status, message: String, form: FormData| {
        breach_page(
            &state,
            &staff,
            lang,
            id,
            status,
            Notice::Refused(message, form),
        )
    };
    // The store takes the step only on the version the page showed: a change made since,
    // which the DPO has not seen, makes it a conflict.
    let Ok(version) = form.get("version").parse::<i64>() else {
        return refuse(StatusCode::CONFLICT, t(lang, "stale"), form).await;
    };
    let now = state.now();
    let result = match name.as_str() {
        "notice" => match notice_from_form(&form, lang) {
            Ok(notice) => {
                state
                    .store
                    .record_breach_notice(id, Some(version), &notice, staff.actor(), now)
                    .await
            }
            Err(message) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, form).await,
        },
        "art34" => match art34_from_form(&form, lang) {
            Ok(decision) => {
                state
                    .store
                    .record_art34_decision(id, Some(version), &decision, staff.actor(), now)
                    .await
            }
            Err(message) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, form).await,
        },
        _ => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                t(lang, "unknown_step"),
                form,
            )
            .await;
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/admin/breaches/{id}?lang={}&done={name}",
            lang.code()
        ))
        .into_response(),
        Err(StoreError::Invalid(message)) => {
            refuse(StatusCode::UNPROCESSABLE_ENTITY, message, form).await
        }
        Err(StoreError::Conflict { .. }) => {
            refuse(StatusCode::CONFLICT, t(lang, "stale"), form).await
        }
        Err(StoreError::NotFound { .. }) => not_found(lang, &staff.session),
        Err(e) => store_failure(lang, Some(&staff.session), e),
    }
}

/// Every ticked term of a vocabulary, or what is wrong.
fn terms<T: std::str::FromStr + Ord>(
    form: &FormData,
    name: &str,
    lang: Lang,
) -> Result<std::collections::BTreeSet<T>, String> {
    form.all(name)
        .into_iter()
        .map(|c| c.parse().map_err(|_| t(lang, "bad_category")))
        .collect()
}

fn optional(form: &FormData, name: &str) -> Option<String> {
    Some(form.get(name).trim().to_string()).filter(|v| !v.is_empty())
}

fn notice_from_form(form: &FormData, lang: Lang) -> Result<AuthorityNotice, String> {
    Ok(AuthorityNotice {
        phase: form
            .get("phase")
            .parse()
            .map_err(|_| t(lang, "bad_phase"))?,
        sent_at: parse_moment(form.get("sent_at")).ok_or_else(|| {
            i18n::tf(
                lang,
                "admin.breaches.bad_moment",
                &[
                    ("field", &t(lang, "sent_at")),
                    ("value", form.get("sent_at")),
                ],
            )
        })?,
        content: {
            let content = form.get("content").trim();
            if content.is_empty() {
                return Err(t(lang, "content_missing"));
            }
            content.to_string()
        },
        authority_reference: optional(form, "authority_reference"),
        delay_reason: optional(form, "delay_reason"),
    })
}

fn art34_from_form(form: &FormData, lang: Lang) -> Result<Art34Decision, String> {
    let inform = match form.get("inform") {
        "yes" => true,
        "no" => false,
        _ => return Err(t(lang, "inform_missing")),
    };
    let ground = match form.get("ground") {
        "" => None,
        g => Some(g.parse().map_err(|_| t(lang, "bad_ground"))?),
    };
    let reasons = form.get("reasons").trim();
    if reasons.is_empty() {
        return Err(t(lang, "reasons_missing"));
    }
    Ok(Art34Decision {
        inform,
        ground,
        reasons: reasons.to_string(),
        public_communication: optional(form, "public_communication"),
    })
}
