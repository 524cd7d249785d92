//! The person's own consent pages: withdrawing with one click from a link in a mail
//! (RFC 8058), and the portal where a person confirms an e-mail address by a link and sees
//! and withdraws their consents (GDPR art. 7(3): as easy as giving).
//!
//! No login and no cookies: the signed token in the URL is the authorisation, so there is no
//! ambient authority for a cross-site request to abuse and the back-office's CSRF checks do
//! not apply. A one-click POST comes from a mail client without any Origin header and must
//! be accepted as it is. A GET never changes anything: mail scanners follow links.
//!
//! A refused link never tells whether a person or a consent exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use kluis_domain::consent::{
    ConsentEventKind, ConsentLink, ConsentState, LinkError, PORTAL_LINK_MINUTES, WithdrawalChannel,
};
use kluis_domain::i18n;
use kluis_domain::identifiers::{EmailAddress, EmailAddressError};
use kluis_domain::mail::OutgoingMail;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::text::Lang;
use kluis_store::{Consent, Processing, StoreError};
use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::pages::{Translated, language_links, negotiate};
use crate::public::render;
use crate::state::AppState;
use crate::trace::Trace;

/// The largest form these pages accept: an e-mail address or a one-click body.
const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consent", get(portal_form).post(request_link))
        .route(
            "/consent/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/consent/manage/{token}", get(manage_page))
        .route("/consent/manage/{token}/withdraw", post(manage_withdraw))
        .layer(Extension(LinkRequests::shared()))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

#[derive(Template)]
#[template(path = "consent/portal.html")]
struct PortalPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    intro: String,
    action: String,
    /// What the person typed, shown again with the error.
    value: String,
    error: Option<String>,
    /// The answer after a valid address: the same whether or not it is known.
    sent: Option<String>,
}

#[derive(Template)]
#[template(path = "consent/unsubscribe.html")]
struct UnsubscribePage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    message: String,
    withdrawn: bool,
    action: String,
    portal: String,
}

#[derive(Template)]
#[template(path = "consent/manage.html")]
struct ManagePage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    intro: String,
    status: Option<String>,
    error: Option<String>,
    consents: Vec<ConsentView>,
    action: String,
    portal: String,
}

/// One consent as the manage page lists it.
struct ConsentView {
    activity: String,
    purpose: String,
    /// The language the purpose's name is in, when the register lacks the page's language.
    purpose_lang: &'static str,
    organisation: String,
    state: String,
    history: Vec<String>,
    withdraw_label: Option<String>,
}

#[derive(Template)]
#[template(path = "consent/message.html")]
struct MessagePage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    message: String,
    link: (String, String),
}

macro_rules! translated {
    ($($page:ty),+) => { $(impl Translated for $page { fn lang(&self) -> Lang { self.lang } })+ };
}
translated!(PortalPage, UnsubscribePage, ManagePage, MessagePage);

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

#[derive(Debug, Default, Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    activity: String,
}

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("consent_portal.{key}")).to_string()
}

fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    i18n::tf(lang, &format!("consent_portal.{key}"), args)
}

/// A vocabulary term's label: `label(lang, "consent_state", "given")`.
fn label(lang: Lang, vocabulary: &str, name: &str) -> String {
    i18n::lookup2(lang, vocabulary, name)
        .unwrap_or(name)
        .to_string()
}

fn portal_url(lang: Lang) -> String {
    format!("/consent?lang={}", lang.code())
}

/// Renders a consent page: never cached (it may show personal data, its URL holds a token)
/// and never indexed.
fn page(status: StatusCode, lang: Lang, template: &impl Template) -> Response {
    let mut response = render(status, lang, template);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    response
}

fn message(
    status: StatusCode,
    lang: Lang,
    path: &str,
    title_key: &str,
    message: String,
    link: (String, String),
) -> Response {
    let template = MessagePage {
        lang,
        title: t(lang, title_key),
        language_links: language_links(path, ""),
        message,
        link,
    };
    page(status, lang, &template)
}

/// Why a consent page cannot do what was asked.
enum Refusal {
    Link(LinkError),
    /// The database or the keys failed: nothing changed.
    Unavailable(StoreError),
}

impl From<LinkError> for Refusal {
    fn from(e: LinkError) -> Self {
        Refusal::Link(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Unavailable(e)
    }
}

impl Refusal {
    /// The page for a refused link: the same for a forged link and for one naming a
    /// consent or address nobody has, so it tells nothing about who exists.
    fn page(self, lang: Lang, path: &str) -> Response {
        let to_portal = (portal_url(lang), t(lang, "go_to_portal"));
        let (status, key) = match self {
            Refusal::Link(LinkError::Invalid) => (StatusCode::NOT_FOUND, "link_invalid"),
            Refusal::Link(LinkError::Expired) => (StatusCode::GONE, "link_expired"),
            Refusal::Link(LinkError::Superseded) => (StatusCode::GONE, "link_superseded"),
            Refusal::Unavailable(e) => {
                tracing::error!(error = %e, "consent page failed");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        };
        message(
            status,
            lang,
            path,
            &format!("{key}_title"),
            t(lang, key),
            to_portal,
        )
    }
}

/// The person, acting through a link: who the processing log names.
fn citizen(state: &AppState, trace: Trace) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Citizen,
            id: None,
            name: "the person".into(),
        },
        trace: trace.0,
        case_ref: None,
        now: state.now(),
    }
}

/// "23 November 2026", as the privacy statement writes dates.
fn long_date(lang: Lang, date: Date) -> String {
    let day = if date.day() == 1 {
        i18n::t(lang, "statement.date_first").to_string()
    } else {
        date.day().to_string()
    };
    let month = label(lang, "statement.month", &u8::from(date.month()).to_string());
    i18n::tf(
        lang,
        "statement.date",
        &[
            ("day", &day),
            ("month", &month),
            ("year", &date.year().to_string()),
        ],
    )
}

/// What a person sees a purpose as: its name in the register and the organisation.
struct Names {
    purpose: String,
    purpose_lang: Lang,
    organisation: String,
}

/// The names of `activity_id` in `lang`; its id and "the organisation" when the register
/// cannot be read, so a withdrawal already made is still confirmed.
async fn names(state: &AppState, activity_id: &str, lang: Lang) -> Names {
    let mut names = Names {
        purpose: activity_id.to_string(),
        purpose_lang: lang,
        organisation: t(lang, "the_organisation"),
    };
    let activity = match state.store.activity(activity_id).await {
        Ok(Some(a)) => a.value,
        Ok(None) => return names,
        Err(e) => {
            tracing::error!(error = %e, activity = activity_id, "reading a purpose failed");
            return names;
        }
    };
    if let Some((name_lang, name)) = activity.name.get(lang) {
        names.purpose = name.to_string();
        names.purpose_lang = name_lang;
    }
    match state.store.controller(&activity.controller).await {
        Ok(Some(c)) => names.organisation = c.value.name.show(lang).to_string(),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "reading a controller failed"),
    }
    names
}

// --- One-click withdrawal ---------------------------------------------------------------

/// The consent and given event an unsubscribe token names; a portal token is no
/// unsubscribe link.
fn open_unsubscribe(state: &AppState, token: &str) -> Result<(Uuid, i64), Refusal> {
    match state.store.open_link(token, state.now())?? {
        ConsentLink::Unsubscribe {
            consent,
            given_event,
            ..
        } => Ok((Uuid::from_bytes(consent), given_event)),
        ConsentLink::Portal { .. } => Err(LinkError::Invalid.into()),
    }
}

/// `GET /consent/unsubscribe/{token}`: what the link withdraws, and a button that does it.
/// Withdraws nothing.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let path = format!("/consent/unsubscribe/{token}");
    match show_unsubscribe(&state, &token, lang, &path).await {
        Ok(response) => response,
        Err(refusal) => refusal.page(lang, &path),
    }
}

async fn show_unsubscribe(
    state: &AppState,
    token: &str,
    lang: Lang,
    path: &str,
) -> Result<Response, Refusal> {
    let (id, given_event) = open_unsubscribe(state, token)?;
    let consent = state
        .store
        .consent_behind_link(id, state.now())
        .await?
        .ok_or(LinkError::Invalid)?;
    if consent.last_given_event != given_event {
        return Err(LinkError::Superseded.into());
    }
    let withdrawn = consent.state == ConsentState::Withdrawn;
    Ok(unsubscribe_result(state, &consent, lang, path, withdrawn).await)
}

/// The page before the button (`withdrawn` false) or after it.
async fn unsubscribe_result(
    state: &AppState,
    consent: &Consent,
    lang: Lang,
    path: &str,
    withdrawn: bool,
) -> Response {
    let names = names(state, &consent.activity, lang).await;
    let args = [
        ("purpose", names.purpose.as_str()),
        ("organisation", names.organisation.as_str()),
    ];
    let (title, message) = if withdrawn {
        (t(lang, "withdrawn_title"), tf(lang, "withdrawn", &args))
    } else {
        (
            t(lang, "unsubscribe_title"),
            tf(lang, "unsubscribe_intro", &args),
        )
    };
    let template = UnsubscribePage {
        lang,
        title,
        language_links: language_links(path, ""),
        message,
        withdrawn,
        action: format!("{path}?lang={}", lang.code()),
        portal: portal_url(lang),
    };
    page(StatusCode::OK, lang, &template)
}

/// `POST /consent/unsubscribe/{token}` with `List-Unsubscribe=One-Click`: from a mail
/// client (RFC 8058) or the page's own button. Withdraws exactly the consent the link names,
/// once; a second POST shows the same confirmation and changes nothing.
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    trace: Trace,
    request: Request,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), request.headers());
    let path = format!("/consent/unsubscribe/{token}");
    match withdraw_by_link(&state, &token, lang, trace, &path, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.page(lang, &path),
    }
}

async fn withdraw_by_link(
    state: &AppState,
    token: &str,
    lang: Lang,
    trace: Trace,
    path: &str,
    request: Request,
) -> Result<Response, Refusal> {
    let (id, given_event) = open_unsubscribe(state, token)?;
    if !asks_one_click(request).await {
        return Ok(message(
            StatusCode::BAD_REQUEST,
            lang,
            path,
            "not_one_click_title",
            t(lang, "not_one_click"),
            (
                format!("{path}?lang={}", lang.code()),
                t(lang, "back_to_link"),
            ),
        ));
    }
    let withdrawal = state
        .store
        .withdraw_by_link(&citizen(state, trace), id, given_event)
        .await??;
    if withdrawal.changed {
        confirm_by_mail(state, &withdrawal.consent).await;
    }
    Ok(unsubscribe_result(state, &withdrawal.consent, lang, path, true).await)
}

/// Whether the body says `List-Unsubscribe=One-Click`, form-encoded or as multipart form
/// data (RFC 8058 section 3.2 allows both).
async fn asks_one_click(request: Request) -> bool {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if starts_with_ignore_case(&content_type, "multipart/form-data") {
        match axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await {
            Ok(body) => multipart_says_one_click(&content_type, &body),
            Err(_) => false,
        }
    } else {
        match Form::<Vec<(String, String)>>::from_request(request, &()).await {
            Ok(Form(pairs)) => pairs
                .iter()
                .any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click"),
            Err(_) => false,
        }
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// Whether a multipart/form-data body has the field `List-Unsubscribe` with the value
/// `One-Click`. Written here rather than with a multipart library: one fixed text field, no
/// files, nothing else to read.
fn multipart_says_one_click(content_type: &str, body: &[u8]) -> bool {
    let boundary = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
    });
    let (Some(boundary), Ok(body)) = (boundary, std::str::from_utf8(body)) else {
        return false;
    };
    if boundary.is_empty() {
        return false;
    }
    body.split(&format!("--{boundary}")).any(|part| {
        let Some((head, value)) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))
        else {
            return false;
        };
        let named = head.lines().any(|line| {
            let line = line.to_ascii_lowercase();
            line.starts_with("content-disposition:") && line.contains("name=\"list-unsubscribe\"")
        });
        named && value.trim_end_matches(['\r', '\n']) == "One-Click"
    })
}

/// Queues a confirmation of a withdrawal to the person's address, in the language they
/// consented in. The withdrawal is already stored: a failure here is logged, never shown.
async fn confirm_by_mail(state: &AppState, consent: &Consent) {
    let to = match state.store.consent_email(consent.id).await {
        Ok(Some(to)) => to,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, consent = %consent.id, "no confirmation mail: reading the address failed; the withdrawal is stored");
            return;
        }
    };
    let lang = consent
        .events
        .iter()
        .rev()
        .find_map(|e| e.given.as_ref().map(|g| g.language))
        .unwrap_or(Lang::Nl);
    let names = names(state, &consent.activity, lang).await;
    let now = state.now();
    let mail = OutgoingMail {
        to,
        subject: t(lang, "mail_withdrawn_subject"),
        body_text: tf(
            lang,
            "mail_withdrawn_body",
            &[
                ("purpose", &names.purpose),
                ("organisation", &names.organisation),
                ("date", &long_date(lang, now.date())),
                (
                    "portal",
                    &format!("{}{}", state.settings.public_url, portal_url(lang)),
                ),
            ],
        ),
        activity: None,
        unsubscribe_url: None,
    };
    if let Err(e) = state.store.enqueue_mail(&mail, now).await {
        tracing::error!(error = %e, consent = %consent.id, "queueing the withdrawal confirmation failed; the withdrawal is stored");
    }
}

// --- The portal -------------------------------------------------------------------------

/// When each address last asked for a portal link, in this process: at most one mail per
/// address per minute, so the form cannot flood someone's mailbox. Per process, like the
/// login throttle: several instances each allow one.
#[derive(Default)]
struct LinkRequests {
    last: HashMap<String, OffsetDateTime>,
}

impl LinkRequests {
    const INTERVAL: Duration = Duration::minutes(1);
    /// Beyond this many addresses, those past the interval are dropped.
    const CAPACITY: usize = 10_000;

    fn shared() -> Arc<Mutex<LinkRequests>> {
        Arc::default()
    }

    /// Whether `email` may get a mail now; if so, counts it.
    fn allow(&mut self, email: &EmailAddress, now: OffsetDateTime) -> bool {
        if self.last.len() >= Self::CAPACITY {
            self.last.retain(|_, at| now - *at < Self::INTERVAL);
        }
        match self.last.get(email.as_str()) {
            Some(at) if now - *at < Self::INTERVAL => false,
            _ => {
                self.last.insert(email.as_str().to_string(), now);
                true
            }
        }
    }

    /// Lets `email` ask again at once: its mail could not be queued.
    fn forget(&mut self, email: &EmailAddress) {
        self.last.remove(email.as_str());
    }
}

fn portal_page(lang: Lang, value: String, error: Option<String>, sent: bool) -> PortalPage {
    let minutes = PORTAL_LINK_MINUTES.to_string();
    PortalPage {
        lang,
        title: t(lang, if sent { "sent_title" } else { "portal_title" }),
        language_links: language_links("/consent", ""),
        intro: tf(lang, "portal_intro", &[("minutes", &minutes)]),
        action: portal_url(lang),
        value,
        error,
        sent: sent.then(|| tf(lang, "sent", &[("minutes", &minutes)])),
    }
}

/// `GET /consent`: asks for the e-mail address to send a link to.
async fn portal_form(Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    page(
        StatusCode::OK,
        lang,
        &portal_page(lang, String::new(), None, false),
    )
}

fn email_error(lang: Lang, value: &str, error: EmailAddressError) -> String {
    let key = match error {
        _ if value.trim().is_empty() => "email_missing",
        EmailAddressError::TooLong => "email_too_long",
        EmailAddressError::Blank => "email_blank",
        EmailAddressError::At => "email_at",
        EmailAddressError::Local => "email_local",
        EmailAddressError::Domain => "email_domain",
    };
    t(lang, key)
}

/// `POST /consent`: mails a portal link to the address if anyone has it. The answer is the
/// same page whether or not the address is known.
async fn request_link(
    State(state): State<AppState>,
    Extension(requests): Extension<Arc<Mutex<LinkRequests>>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let value = form.map(|Form(f)| f.email).unwrap_or_default();
    let email = match value.parse::<EmailAddress>() {
        Ok(email) => email,
        Err(e) => {
            let error = email_error(lang, &value, e);
            let template = portal_page(lang, value, Some(error), false);
            return page(StatusCode::UNPROCESSABLE_ENTITY, lang, &template);
        }
    };
    let now = state.now();
    let allowed = requests
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .allow(&email, now);
    if allowed && let Err(e) = send_portal_link(&state, &email, lang, now).await {
        requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .forget(&email);
        return Refusal::Unavailable(e).page(lang, "/consent");
    }
    page(
        StatusCode::OK,
        lang,
        &portal_page(lang, String::new(), None, true),
    )
}

/// Queues the portal link for `email` when a data subject has it. Only a failure to look
/// the address up is an error: one to queue the mail would tell that the address is known,
/// so it is logged and the page stays the same.
async fn send_portal_link(
    state: &AppState,
    email: &EmailAddress,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if !state.store.email_is_known(email).await? {
        return Ok(());
    }
    let queued = async {
        let token = state.store.portal_link(email, now)?;
        let url = format!(
            "{}/consent/manage/{token}?lang={}",
            state.settings.public_url,
            lang.code()
        );
        let mail = OutgoingMail {
            to: email.clone(),
            subject: t(lang, "mail_link_subject"),
            body_text: tf(
                lang,
                "mail_link_body",
                &[("url", &url), ("minutes", &PORTAL_LINK_MINUTES.to_string())],
            ),
            activity: None,
            unsubscribe_url: None,
        };
        state.store.enqueue_mail(&mail, now).await
    };
    if let Err(e) = queued.await {
        tracing::error!(error = %e, "queueing a portal link failed");
    }
    Ok(())
}

/// The confirmed address a portal token names; an unsubscribe token opens no portal.
fn open_portal(state: &AppState, token: &str) -> Result<EmailAddress, Refusal> {
    match state.store.open_link(token, state.now())?? {
        ConsentLink::Portal { email, .. } => email.parse().map_err(|_| LinkError::Invalid.into()),
        ConsentLink::Unsubscribe { .. } => Err(LinkError::Invalid.into()),
    }
}

/// `GET /consent/manage/{token}`: the consents of the confirmed address.
async fn manage_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    trace: Trace,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let path = format!("/consent/manage/{token}");
    let shown = async {
        let email = open_portal(&state, &token)?;
        let outcome = Outcome::default();
        show_consents(&state, &email, lang, trace, &path, outcome).await
    };
    match shown.await {
        Ok(response) => response,
        Err(refusal) => refusal.page(lang, &path),
    }
}

/// `POST /consent/manage/{token}/withdraw` with `activity`: withdraws the address's
/// consents for that purpose, then shows the list again with what happened.
async fn manage_withdraw(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    trace: Trace,
    form: Result<Form<WithdrawForm>, FormRejection>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let path = format!("/consent/manage/{token}");
    let activity = form.map(|Form(f)| f.activity).unwrap_or_default();
    let done = async {
        let email = open_portal(&state, &token)?;
        let withdrawn = state
            .store
            .withdraw_for_email(
                &citizen(&state, trace),
                &email,
                &activity,
                WithdrawalChannel::Portal,
            )
            .await?;
        let outcome = if withdrawn.is_empty() {
            Outcome {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                notice: None,
                error: Some(t(lang, "nothing_to_withdraw")),
            }
        } else {
            let names = names(&state, &activity, lang).await;
            Outcome {
                status: StatusCode::OK,
                notice: Some(tf(lang, "withdrawn_status", &[("purpose", &names.purpose)])),
                error: None,
            }
        };
        show_consents(&state, &email, lang, trace, &path, outcome).await
    };
    match done.await {
        Ok(response) => response,
        Err(refusal) => refusal.page(lang, &path),
    }
}

/// What a withdrawal on the manage page did, to show above the list.
#[derive(Default)]
struct Outcome {
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
}

async fn show_consents(
    state: &AppState,
    email: &EmailAddress,
    lang: Lang,
    trace: Trace,
    path: &str,
    outcome: Outcome,
) -> Result<Response, Refusal> {
    let consents = state
        .store
        .consents_of_email(&citizen(state, trace), email)
        .await?;
    let mut views = Vec::with_capacity(consents.len());
    for consent in &consents {
        views.push(consent_view(state, consent, lang).await);
    }
    let template = ManagePage {
        lang,
        title: t(lang, "manage_title"),
        language_links: language_links(path, ""),
        intro: tf(lang, "manage_intro", &[("email", email.as_str())]),
        status: outcome.notice,
        error: outcome.error,
        consents: views,
        action: format!("{path}/withdraw?lang={}", lang.code()),
        portal: portal_url(lang),
    };
    Ok(page(outcome.status, lang, &template))
}

async fn consent_view(state: &AppState, consent: &Consent, lang: Lang) -> ConsentView {
    let names = names(state, &consent.activity, lang).await;
    let state_text = match (consent.state, consent.events.last()) {
        (ConsentState::Expired, _) => tf(
            lang,
            "state_expired",
            &[(
                "date",
                &consent
                    .valid_until
                    .map(|d| long_date(lang, d))
                    .unwrap_or_default(),
            )],
        ),
        (state, Some(last)) => tf(
            lang,
            "state_since",
            &[
                ("state", &label(lang, "consent_state", state.name())),
                ("date", &long_date(lang, last.at.date())),
            ],
        ),
        (state, None) => label(lang, "consent_state", state.name()),
    };
    let history = consent
        .events
        .iter()
        .map(|event| {
            let how = match event.kind {
                ConsentEventKind::Withdrawn => event
                    .channel
                    .map(|c| label(lang, "withdrawal_channel", c.name())),
                _ => event
                    .given
                    .as_ref()
                    .map(|g| label(lang, "consent_method", g.method.name())),
            };
            tf(
                lang,
                "history_event",
                &[
                    ("event", &label(lang, "consent_event", event.kind.name())),
                    ("date", &long_date(lang, event.at.date())),
                    ("how", how.as_deref().unwrap_or("")),
                ],
            )
        })
        .collect();
    ConsentView {
        activity: consent.activity.clone(),
        withdraw_label: consent
            .state
            .allows_processing()
            .then(|| tf(lang, "withdraw_button", &[("purpose", &names.purpose)])),
        purpose: names.purpose,
        purpose_lang: names.purpose_lang.code(),
        organisation: names.organisation,
        state: state_text,
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const FORM: &str = "multipart/form-data; boundary=\"----b0undary\"";

    #[test]
    fn multipart_one_click_bodies_are_recognised() {
        let body = "------b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n------b0undary--\r\n";
        assert!(multipart_says_one_click(FORM, body.as_bytes()));
        let unquoted = "multipart/form-data; charset=utf-8; BOUNDARY=----b0undary";
        assert!(multipart_says_one_click(unquoted, body.as_bytes()));
    }

    #[test]
    fn other_multipart_bodies_are_not_one_click() {
        let wrong_value = "------b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nYes\r\n------b0undary--\r\n";
        let wrong_name = "------b0undary\r\nContent-Disposition: form-data; name=\"unsubscribe\"\r\n\r\nOne-Click\r\n------b0undary--\r\n";
        let other_boundary = "--other\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--other--\r\n";
        for body in [wrong_value, wrong_name, other_boundary, ""] {
            assert!(!multipart_says_one_click(FORM, body.as_bytes()), "{body}");
        }
        assert!(!multipart_says_one_click(
            "multipart/form-data",
            b"One-Click"
        ));
        assert!(!multipart_says_one_click(
            "multipart/form-data; boundary=",
            b"One-Click"
        ));
    }

    #[test]
    fn an_address_gets_one_link_a_minute() {
        let t0 = datetime!(2026-11-23 10:00 UTC);
        let an: EmailAddress = "an@example.be".parse().unwrap();
        let bert: EmailAddress = "bert@example.be".parse().unwrap();
        let mut requests = LinkRequests::default();
        assert!(requests.allow(&an, t0));
        assert!(!requests.allow(&an, t0 + Duration::seconds(59)));
        assert!(requests.allow(&bert, t0), "other addresses are not held up");
        assert!(requests.allow(&an, t0 + Duration::minutes(1)));
        requests.forget(&bert);
        assert!(
            requests.allow(&bert, t0),
            "a forgotten address may ask again"
        );
    }
}
