//! The citizen's way to exercise their rights: the request form on kluis's public site
//! (`/rights`, "the fastest way"), its receipt, and the status page behind the secret link
//! (`/rights/status/{token}`).
//!
//! No login and no cookies. The form takes a copy of the front of the ID card: its type is
//! judged by its first bytes, never by its name or the browser's word, and its name is never
//! used. A status link that is not one shows the same page whatever was guessed.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, HeaderMap};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kluis_domain::i18n;
use kluis_domain::identifiers::{EmailAddress, NationalNumber};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::rights::{
    self, ActingFor, MAX_MESSAGE_CHARS, RequestChannel, RequestError, Requester, Right,
};
use kluis_domain::statement::date_in_words;
use kluis_domain::text::Lang;
use kluis_store::{MAX_DOCUMENT_BYTES, NewRequest};
use serde::Deserialize;
use time::Date;

use crate::api::rights::file;
use crate::pages::{Translated, language_links, negotiate};
use crate::public::render;
use crate::state::AppState;

/// The whole form. An ID copy over its own limit is read and dropped (so the fields typed
/// after it are still read and shown again), up to twice that limit; a larger body is cut
/// off by the server and then only what came before the upload is kept.
const MAX_FORM_BYTES: usize = 2 * MAX_DOCUMENT_BYTES + 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rights", get(form_page).post(submit))
        .route("/rights/status/{token}", get(status_page))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// What the person typed, shown again with the errors.
#[derive(Debug, Default)]
struct Filled {
    controller: String,
    rights: Vec<String>,
    acting_for: String,
    given_name: String,
    family_name: String,
    birth_date: String,
    national_number: String,
    email: String,
    parent_given_name: String,
    parent_family_name: String,
    postal_address: String,
    message: String,
}

#[derive(Template)]
#[template(path = "rights/form.html")]
struct FormPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    action: String,
    controllers: Vec<(String, String)>,
    /// Value, label, hint, checked.
    rights: Vec<(&'static str, String, String, bool)>,
    acting_for: Vec<(&'static str, String)>,
    /// Name, autocomplete, input type, value.
    person_fields: Vec<(&'static str, &'static str, &'static str, String)>,
    representative_fields: Vec<(&'static str, &'static str, String)>,
    form: Filled,
    /// Field id and message, in the order of the form.
    errors: Vec<(&'static str, String)>,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn has_error(&self, field: &str) -> bool {
        self.error(field).is_some()
    }
}

#[derive(Template)]
#[template(path = "rights/receipt.html")]
struct ReceiptPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    received: String,
    reference: String,
    due: String,
    status_url: String,
}

struct StatusView {
    reference: String,
    rights: String,
    status: String,
    received: String,
    due: String,
    extended: bool,
}

#[derive(Template)]
#[template(path = "rights/status.html")]
struct StatusPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    status: Option<StatusView>,
    form_url: String,
}

macro_rules! translated {
    ($($page:ty),+) => { $(impl Translated for $page { fn lang(&self) -> Lang { self.lang } })+ };
}
translated!(FormPage, ReceiptPage, StatusPage);

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("rights_portal.{key}")).to_string()
}

fn form_url(lang: Lang) -> String {
    format!("/rights?lang={}", lang.code())
}

/// A page that may show personal data or sits behind a secret URL: never cached, never
/// indexed.
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

async fn form(
    state: &AppState,
    lang: Lang,
    form: Filled,
    errors: Vec<(&'static str, String)>,
) -> FormPage {
    let controllers = match state.store.controllers().await {
        Ok(list) => list
            .into_iter()
            .map(|c| (c.value.id.clone(), c.value.name.show(lang).to_string()))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot list controllers for the rights form");
            Vec::new()
        }
    };
    let rights = Right::ALL
        .iter()
        .map(|r| {
            (
                r.name(),
                i18n::t(lang, &r.label_key()).to_string(),
                t(lang, &format!("hint_{}", r.name())),
                form.rights.iter().any(|c| c == r.name()),
            )
        })
        .collect();
    let acting_for = ActingFor::ALL
        .iter()
        .map(|a| (a.name(), i18n::t(lang, &a.label_key()).to_string()))
        .collect();
    let person_fields = vec![
        ("given_name", "given-name", "text", form.given_name.clone()),
        (
            "family_name",
            "family-name",
            "text",
            form.family_name.clone(),
        ),
        ("birth_date", "bday", "text", form.birth_date.clone()),
        (
            "national_number",
            "off",
            "text",
            form.national_number.clone(),
        ),
        ("email", "email", "email", form.email.clone()),
    ];
    let representative_fields = vec![
        (
            "parent_given_name",
            "given-name",
            form.parent_given_name.clone(),
        ),
        (
            "parent_family_name",
            "family-name",
            form.parent_family_name.clone(),
        ),
    ];
    FormPage {
        lang,
        title: t(lang, "title"),
        language_links: language_links("/rights", ""),
        action: form_url(lang),
        controllers,
        rights,
        acting_for,
        person_fields,
        representative_fields,
        form: Filled {
            acting_for: if form.acting_for.is_empty() {
                ActingFor::Themselves.name().to_string()
            } else {
                form.acting_for.clone()
            },
            ..form
        },
        errors,
    }
}

/// `GET /rights`: the request form.
async fn form_page(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let template = form(&state, lang, Filled::default(), Vec::new()).await;
    page(StatusCode::OK, lang, &template)
}

/// The type of an uploaded ID copy, from its first bytes; None for anything else. Three
/// signatures do not justify a dependency.
fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The fields and the upload of a multipart form; a field that is not one of ours is
/// ignored, and an unreadable body leaves what was read so far.
async fn read_form(mut multipart: Multipart) -> (Filled, Option<Vec<u8>>, bool) {
    let mut filled = Filled::default();
    let mut upload = None;
    let mut too_big = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                // The body limit cuts an oversized upload short.
                too_big = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "id_document" {
            match read_upload(field).await {
                Ok(Some(bytes)) => upload = Some(bytes),
                Ok(None) => {}
                Err(Oversized) => too_big = true,
                Err(Cut) => {
                    too_big = true;
                    break;
                }
            }
            continue;
        }
        let Ok(value) = field.text().await else {
            break;
        };
        let value = value.trim().to_string();
        match name.as_str() {
            "controller" => filled.controller = value,
            "rights" => filled.rights.push(value),
            "acting_for" => filled.acting_for = value,
            "given_name" => filled.given_name = value,
            "family_name" => filled.family_name = value,
            "birth_date" => filled.birth_date = value,
            "national_number" => filled.national_number = value,
            "email" => filled.email = value,
            "parent_given_name" => filled.parent_given_name = value,
            "parent_family_name" => filled.parent_family_name = value,
            "postal_address" => filled.postal_address = value,
            "message" => filled.message = value,
            _ => {}
        }
    }
    (filled, upload, too_big)
}

/// Why an upload was not kept.
enum UploadError {
    /// Over [`MAX_DOCUMENT_BYTES`]: read to its end and dropped, the form goes on.
    Oversized,
    /// The body ended or was cut off (over [`MAX_FORM_BYTES`]): nothing more can be read.
    Cut,
}
use UploadError::{Cut, Oversized};

/// The uploaded file, None when empty. Read in chunks so an oversized one is never held
/// whole in memory.
async fn read_upload(
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<Option<Vec<u8>>, UploadError> {
    let mut bytes = Vec::new();
    let mut oversized = false;
    while let Some(chunk) = field.chunk().await.map_err(|_| Cut)? {
        if oversized {
            continue;
        }
        if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            oversized = true;
            bytes = Vec::new();
        } else {
            bytes.extend_from_slice(&chunk);
        }
    }
    match (oversized, bytes.is_empty()) {
        (true, _) => Err(Oversized),
        (false, true) => Ok(None),
        (false, false) => Ok(Some(bytes)),
    }
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// Errors per field: the field's id and the message, in the order of the form.
type FieldErrors = Vec<(&'static str, String)>;

/// The request the form describes, or the errors per field.
fn request_from(
    lang: Lang,
    filled: &Filled,
    upload: Option<&[u8]>,
    too_big: bool,
    today: Date,
) -> Result<(NewRequest, Vec<u8>, &'static str), FieldErrors> {
    let mut errors: BTreeMap<usize, (&'static str, String)> = BTreeMap::new();
    // Keyed by the field's place in the form, so the summary follows the page.
    let mut error = |order: usize, field: &'static str, key: &str| {
        errors.entry(order).or_insert((field, t(lang, key)));
    };
    if filled.controller.is_empty() {
        error(0, "controller", "error_controller");
    }
    let asked: Vec<Right> = filled
        .rights
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    let acting_for = filled.acting_for.parse().unwrap_or(ActingFor::Themselves);
    let national_number = match filled.national_number.parse::<NationalNumber>() {
        Ok(n) => Some(n),
        Err(_) if filled.national_number.is_empty() => None,
        Err(_) => {
            error(5, "national_number", "error_national_number");
            None
        }
    };
    let birth_date = match Date::parse(
        &filled.birth_date,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        Ok(d) => Some(d),
        Err(_) if filled.birth_date.is_empty() => None,
        Err(_) => {
            error(4, "birth_date", "error_birth_date");
            None
        }
    };
    let email = match filled.email.parse::<EmailAddress>() {
        Ok(e) => Some(e),
        Err(_) if filled.email.is_empty() => None,
        Err(_) => {
            error(6, "email", "error_email");
            None
        }
    };
    let identity = SubjectIdentity {
        national_number,
        email: email.clone(),
        given_name: optional(&filled.given_name),
        family_name: optional(&filled.family_name),
        birth_date,
        ..Default::default()
    };
    let filed_by = (!filled.parent_given_name.is_empty() || !filled.parent_family_name.is_empty())
        .then(|| SubjectIdentity {
            given_name: optional(&filled.parent_given_name),
            family_name: optional(&filled.parent_family_name),
            // A parent is known by name and the contact address of the request.
            email: email.clone(),
            ..Default::default()
        });
    let requester = Requester {
        identity,
        acting_for,
        filed_by: if acting_for == ActingFor::Themselves {
            None
        } else {
            filed_by
        },
        email,
        postal_address: optional(&filled.postal_address),
        message: filled.message.clone(),
    };
    if let Err(e) = rights::check_request(&asked, &requester, today) {
        match e {
            RequestError::NoRight => error(1, "rights", "error_rights"),
            RequestError::Identity(_) => error(2, "given_name", "error_identity"),
            RequestError::NoRepresentative
            | RequestError::Representative(_)
            | RequestError::RepresentativeForThemselves => {
                error(7, "parent_given_name", "error_representative")
            }
            RequestError::NoContact => error(6, "email", "error_contact"),
            RequestError::MessageTooLong => error(9, "message", "error_message"),
        }
    }
    if filled.message.chars().count() > MAX_MESSAGE_CHARS {
        error(9, "message", "error_message");
    }
    let document = match upload {
        _ if too_big => {
            error(10, "id_document", "error_id_size");
            None
        }
        None => {
            error(10, "id_document", "error_id_missing");
            None
        }
        Some(bytes) => match sniff(bytes) {
            Some(media_type) => Some((bytes.to_vec(), media_type)),
            None => {
                error(10, "id_document", "error_id_type");
                None
            }
        },
    };
    match document {
        Some((content, media_type)) if errors.is_empty() => Ok((
            NewRequest {
                controller: filled.controller.clone(),
                rights: asked,
                channel: RequestChannel::Portal,
                requester,
                language: lang,
                received_on: today,
            },
            content,
            media_type,
        )),
        _ => Err(errors.into_values().collect()),
    }
}

/// `POST /rights`: files the request and its ID copy, then shows the receipt with the
/// status link (once). A form with errors comes back with them, nothing stored.
async fn submit(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let (filled, upload, too_big) = match multipart {
        Ok(m) => read_form(m).await,
        Err(_) => (Filled::default(), None, false),
    };
    let now = state.now();
    let (new, content, media_type) =
        match request_from(lang, &filled, upload.as_deref(), too_big, now.date()) {
            Ok(request) => request,
            Err(errors) => {
                let template = form(&state, lang, filled, errors).await;
                return page(StatusCode::UNPROCESSABLE_ENTITY, lang, &template);
            }
        };
    let filed = match file(&state, &new, "requester", now).await {
        Ok(filed) => filed,
        Err(crate::error::ApiError::NotFound { .. }) => {
            let errors = vec![("controller", t(lang, "error_controller"))];
            let template = form(&state, lang, filled, errors).await;
            return page(StatusCode::UNPROCESSABLE_ENTITY, lang, &template);
        }
        Err(e) => return unavailable(&state, lang, filled, &e.to_string()).await,
    };
    if let Err(e) = state
        .store
        .attach_identity_document(filed.id, media_type, &content, "requester", now)
        .await
    {
        // The request stands; the caseworker asks for the ID again.
        tracing::error!(error = %e, reference = %filed.reference, "cannot keep the ID copy");
    }
    let template = ReceiptPage {
        lang,
        title: t(lang, "received_title"),
        language_links: language_links("/rights", ""),
        received: t(lang, "received"),
        reference: filed.reference,
        due: date_in_words(lang, filed.due_on),
        status_url: crate::api::rights::status_url(&state, &filed.status_token),
    };
    page(StatusCode::CREATED, lang, &template)
}

async fn unavailable(state: &AppState, lang: Lang, filled: Filled, cause: &str) -> Response {
    tracing::error!(%cause, "cannot file a rights request");
    let errors = vec![("controller", t(lang, "unavailable"))];
    let template = form(state, lang, filled, errors).await;
    page(StatusCode::SERVICE_UNAVAILABLE, lang, &template)
}

/// `GET /rights/status/{token}`: where the request stands. A link that is not one shows the
/// same page, 404, whatever was guessed.
async fn status_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let status = match state.store.request_status(&token).await {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a request's status");
            None
        }
    };
    let code = if status.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let template = StatusPage {
        lang,
        title: t(lang, "status_title"),
        language_links: language_links(&format!("/rights/status/{token}"), ""),
        status: status.map(|s| StatusView {
            reference: s.reference,
            rights: s
                .rights
                .iter()
                .map(|r| i18n::t(lang, &r.label_key()).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            status: i18n::t(lang, &s.status.label_key()).to_string(),
            received: date_in_words(lang, s.received_on),
            due: date_in_words(lang, s.due_on),
            extended: s.extended,
        }),
        form_url: form_url(lang),
    };
    page(code, lang, &template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_judged_by_their_first_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0 jfif"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        for other in [
            &b"<html><script>"[..],
            b"GIF89a",
            b"PK\x03\x04",
            b"",
            b"%PD",
        ] {
            assert_eq!(sniff(other), None, "{other:?}");
        }
    }
}
