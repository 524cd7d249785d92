//! Listing, viewing, creating and editing the entries of the register. Controllers,
//! processors, agreements and processing activities are handled alike; [`AdminEntity`]
//! says what differs: their fields, their form and how each is stored.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::register::Register;
use kluis_domain::text::Lang;
use kluis_domain::validate::{self, Section as RegisterSection};
use kluis_store::StoreError;
use serde::Deserialize;
use time::OffsetDateTime;

use super::form::{Builder, Control, FieldErrors, FormData, Section, attach_errors};
use super::view::Row;
use super::{Ctx, StaffSession, forbidden, not_found, page, store_failure, translated};
use crate::api::Entity;
use crate::pages::Translated as _;
use crate::pages::negotiate;
use crate::state::AppState;

/// The translation keys of one kind's pages.
pub struct Words {
    pub list_title: &'static str,
    pub new_title: &'static str,
    pub edit_title: &'static str,
    pub view_title: &'static str,
    pub new_button: &'static str,
    pub empty: &'static str,
}

/// A cell of a list table.
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub lang: Option<&'static str>,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            href: None,
            lang: None,
        }
    }
}

/// What a view page shows besides the fields (for activities: gaps and history).
#[derive(Default)]
pub struct Extras {
    pub gaps: Option<Vec<(&'static str, String)>>,
    pub history: Option<Vec<HistoryRow>>,
}

pub struct HistoryRow {
    pub version: i64,
    pub valid_from: String,
    pub recorded_by: String,
    /// Link comparing this version with the one before.
    pub compare: Option<String>,
}

/// How the back-office shows and edits one kind of register entry; storing and finding it
/// is the API's [`Entity`], shared so there is one way to do it.
pub trait AdminEntity: Entity {
    /// The path segment under `/admin` and the menu entry.
    const SEGMENT: &'static str;
    const SECTION: RegisterSection;
    const WORDS: Words;
    /// Form fields that must be filled.
    const REQUIRED: &'static [&'static str];

    /// How the entry is named in headings.
    fn title(&self, lang: Lang) -> String;

    /// The fields of an empty form (defaults that are not "nothing").
    fn blank() -> FormData {
        FormData::default()
    }
    /// The fields a browser would send for this value.
    fn to_form(&self) -> Result<FormData, String>;
    /// The value a form describes; `id` is fixed when editing.
    fn parse(data: &FormData, lang: Lang, id: Option<&str>) -> Result<Self, FieldErrors>;
    /// The form, filled from `b.data`.
    fn sections(b: &Builder, register: &Register, editing: bool) -> Vec<Section>;
    /// The form field a validation issue on register field `field` belongs to.
    fn issue_field(field: &'static str) -> &'static str {
        field
    }

    fn view_rows(&self, lang: Lang, register: &Register) -> Vec<Row>;
    fn list_head(lang: Lang) -> Vec<String>;
    fn list_row(&self, lang: Lang, register: &Register) -> Vec<Cell>;
    /// Whether the list can be narrowed to one controller (`?controller=`).
    fn controller_of(&self) -> Option<&str> {
        None
    }

    fn extras(
        _state: &AppState,
        _value: &Self,
        _lang: Lang,
    ) -> impl Future<Output = Result<Extras, StoreError>> + Send {
        async { Ok(Extras::default()) }
    }
}

fn path<K: AdminEntity>(id: Option<&str>, lang: Lang) -> String {
    match id {
        Some(id) => format!("/admin/{}/{id}?lang={}", K::SEGMENT, lang.code()),
        None => format!("/admin/{}?lang={}", K::SEGMENT, lang.code()),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    lang: Option<String>,
    controller: Option<String>,
}

/// The controllers to filter on: (id, name, selected).
pub type ControllerOptions = Vec<(String, String, bool)>;

#[derive(Template)]
#[template(path = "admin/list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub new_href: Option<(String, String)>,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub empty: String,
    /// The controller filter: (action, options as (value, label, selected)).
    pub filter: Option<(String, ControllerOptions)>,
}

#[derive(Template)]
#[template(path = "admin/view.html")]
pub struct ViewPage {
    pub ctx: Ctx,
    pub rows: Vec<Row>,
    pub edit_href: Option<String>,
    pub list_href: String,
    pub version: i64,
    pub updated_at: String,
    pub saved: bool,
    pub extras: Extras,
    pub id: String,
}

#[derive(Template)]
#[template(path = "admin/form.html")]
pub struct FormPage {
    pub ctx: Ctx,
    pub action: String,
    pub sections: Vec<Section>,
    /// The error summary: (anchor, text).
    pub summary: Vec<(String, String)>,
    /// Problems no field of the form owns.
    pub general: Vec<String>,
    /// Set when someone else saved meanwhile: the link to reload the current version.
    pub conflict: Option<String>,
    pub version: Option<i64>,
    pub cancel_href: String,
}

translated!(ListPage, ViewPage, FormPage);

pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

pub async fn list<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let mut register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let filter = q.controller.filter(|c| !c.is_empty());
    let entries = K::entries(&mut register).clone();
    let rows = entries
        .iter()
        .filter(|e| filter.is_none() || e.controller_of() == filter.as_deref())
        .map(|e| e.list_row(lang, &register))
        .collect();
    let filterable = entries.first().is_some_and(|e| e.controller_of().is_some());
    let extra = filter
        .as_ref()
        .map(|c| format!("&controller={c}"))
        .unwrap_or_default();
    let mut ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/{}", K::SEGMENT),
        &extra,
        i18n::t(lang, K::WORDS.list_title).to_string(),
    )
    .in_menu(K::SEGMENT);
    ctx.title = i18n::t(lang, K::WORDS.list_title).to_string();
    let new_href = ctx.can_edit().then(|| {
        (
            format!("/admin/{}/new?lang={}", K::SEGMENT, lang.code()),
            i18n::t(lang, K::WORDS.new_button).to_string(),
        )
    });
    let filter = filterable.then(|| {
        let options = register
            .controllers
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.name.show(lang).to_string(),
                    filter.as_deref() == Some(c.id.as_str()),
                )
            })
            .collect();
        (format!("/admin/{}", K::SEGMENT), options)
    });
    let p = ListPage {
        ctx,
        new_href,
        head: K::list_head(lang),
        rows,
        empty: i18n::t(lang, K::WORDS.empty).to_string(),
        filter,
    };
    page(StatusCode::OK, &p)
}

#[derive(Deserialize, Default)]
pub struct ViewQuery {
    lang: Option<String>,
    saved: Option<String>,
}

pub async fn view<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let s = Some(&staff.session);
    let current = match K::get(&state.store, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, s, e),
    };
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, s, e),
    };
    let extras = match K::extras(&state, &current.value, lang).await {
        Ok(x) => x,
        Err(e) => return store_failure(lang, s, e),
    };
    let title = format!(
        "{}: {}",
        i18n::t(lang, K::WORDS.view_title),
        current.value.title(lang)
    );
    let ctx =
        Ctx::new(lang, s, &format!("/admin/{}/{id}", K::SEGMENT), "", title).in_menu(K::SEGMENT);
    let edit_href = ctx
        .can_edit()
        .then(|| format!("/admin/{}/{id}/edit?lang={}", K::SEGMENT, lang.code()));
    let p = ViewPage {
        rows: current.value.view_rows(lang, &register),
        edit_href,
        list_href: path::<K>(None, lang),
        version: current.version,
        updated_at: format_time(current.updated_at),
        saved: q.saved.is_some(),
        extras,
        id,
        ctx,
    };
    page(StatusCode::OK, &p)
}

/// What a form page shows besides its fields.
struct FormState {
    errors: FieldErrors,
    general: Vec<String>,
    conflict: Option<String>,
    version: Option<i64>,
}

fn form_page<K: AdminEntity>(
    lang: Lang,
    staff: &StaffSession,
    data: &FormData,
    register: &Register,
    id: Option<&str>,
    state: FormState,
) -> FormPage {
    let (title, page_path, action) = match id {
        Some(id) => (
            format!("{}: {id}", i18n::t(lang, K::WORDS.edit_title)),
            format!("/admin/{}/{id}/edit", K::SEGMENT),
            format!("/admin/{}/{id}/edit?lang={}", K::SEGMENT, lang.code()),
        ),
        None => (
            i18n::t(lang, K::WORDS.new_title).to_string(),
            format!("/admin/{}/new", K::SEGMENT),
            format!("/admin/{}/new?lang={}", K::SEGMENT, lang.code()),
        ),
    };
    let b = Builder::new(data, lang);
    let mut sections = K::sections(&b, register, id.is_some());
    let mut general = state.general;
    general.extend(attach_errors(&mut sections, K::REQUIRED, state.errors));
    let summary = sections
        .iter()
        .flat_map(|s| s.fields.iter())
        .filter_map(|f| {
            f.error
                .as_ref()
                .map(|e| (f.anchor(), format!("{}: {e}", f.label)))
        })
        .collect();
    FormPage {
        ctx: Ctx::new(lang, Some(&staff.session), &page_path, "", title).in_menu(K::SEGMENT),
        action,
        sections,
        summary,
        general,
        conflict: state.conflict,
        version: state.version,
        cancel_href: path::<K>(id, lang),
    }
}

fn clean(version: Option<i64>) -> FormState {
    FormState {
        errors: FieldErrors::new(),
        general: Vec::new(),
        conflict: None,
        version,
    }
}

pub async fn new_form<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    if !Permission::EditRegister.granted_to(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    page(
        StatusCode::OK,
        &form_page::<K>(lang, &staff, &K::blank(), &register, None, clean(None)),
    )
}

pub async fn edit_form<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let s = Some(&staff.session);
    if !Permission::EditRegister.granted_to(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let current = match K::get(&state.store, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, s, e),
    };
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, s, e),
    };
    let data = match current.value.to_form() {
        Ok(d) => d,
        Err(e) => return store_failure(lang, s, StoreError::Corrupt(e)),
    };
    page(
        StatusCode::OK,
        &form_page::<K>(
            lang,
            &staff,
            &data,
            &register,
            Some(&id),
            clean(Some(current.version)),
        ),
    )
}

/// The issues of the register with `value` in place (or added): per form field for this
/// entry, the rest as general messages.
fn register_issues<K: AdminEntity>(
    mut register: Register,
    value: &K,
) -> (FieldErrors, Vec<String>) {
    let entries = K::entries(&mut register);
    let index = match entries.iter().position(|e| e.id() == value.id()) {
        Some(i) => {
            entries[i] = value.clone();
            i
        }
        None => {
            entries.push(value.clone());
            entries.len() - 1
        }
    };
    let mut errors = FieldErrors::new();
    let mut general = Vec::new();
    for issue in validate::validate(&register) {
        match issue.at.field {
            Some(f) if issue.at.section == K::SECTION && issue.at.index == index => {
                errors
                    .entry(K::issue_field(f).to_string())
                    .and_modify(|m| {
                        m.push(' ');
                        m.push_str(&issue.message);
                    })
                    .or_insert(issue.message);
            }
            _ => general.push(issue.message),
        }
    }
    (errors, general)
}

/// The refusal page when a form post lacks the permission or the CSRF token.
fn edit_refusal(staff: &StaffSession, data: &FormData, lang: Lang) -> Option<Response> {
    if !Permission::EditRegister.granted_to(&staff.session.user.roles) {
        return Some(forbidden(lang, &staff.session));
    }
    staff.csrf_refusal(data, lang)
}

fn saved_redirect<K: AdminEntity>(id: &str, lang: Lang) -> Response {
    Redirect::to(&format!(
        "/admin/{}/{id}?lang={}&saved=1",
        K::SEGMENT,
        lang.code()
    ))
    .into_response()
}

pub async fn create<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let data = FormData(fields);
    if let Some(refusal) = edit_refusal(&staff, &data, lang) {
        return refusal;
    }
    let s = Some(&staff.session);
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, s, e),
    };
    let rejected = |st: FormState, status| {
        page(
            status,
            &form_page::<K>(lang, &staff, &data, &register, None, st),
        )
    };
    let value = match K::parse(&data, lang, None) {
        Ok(v) => v,
        Err(errors) => {
            return rejected(
                FormState {
                    errors,
                    ..clean(None)
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let id_taken = || {
        let mut errors = FieldErrors::new();
        errors.insert(
            "id".into(),
            i18n::tf(lang, "form.error.id_taken", &[("id", value.id())]),
        );
        FormState {
            errors,
            ..clean(None)
        }
    };
    if K::entries(&mut register.clone())
        .iter()
        .any(|e| e.id() == value.id())
    {
        return rejected(id_taken(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (errors, general) = register_issues(register.clone(), &value);
    if !errors.is_empty() || !general.is_empty() {
        return rejected(
            FormState {
                errors,
                general,
                ..clean(None)
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match K::put(&state.store, &value, None, staff.actor(), state.now()).await {
        Ok(_) => saved_redirect::<K>(value.id(), lang),
        Err(StoreError::AlreadyExists { .. }) => {
            rejected(id_taken(), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => store_failure(lang, s, e),
    }
}

pub async fn update<K: AdminEntity>(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let data = FormData(fields);
    if let Some(refusal) = edit_refusal(&staff, &data, lang) {
        return refusal;
    }
    let s = Some(&staff.session);
    match K::get(&state.store, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, s, e),
    }
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, s, e),
    };
    let version: Option<i64> = data.get("version").parse().ok();
    let rejected = |st: FormState, status| {
        page(
            status,
            &form_page::<K>(lang, &staff, &data, &register, Some(&id), st),
        )
    };
    let Some(expected) = version else {
        let general = vec![i18n::t(lang, "form.error.version_missing").to_string()];
        let conflict = Some(format!(
            "/admin/{}/{id}/edit?lang={}",
            K::SEGMENT,
            lang.code()
        ));
        return rejected(
            FormState {
                general,
                conflict,
                ..clean(None)
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let value = match K::parse(&data, lang, Some(&id)) {
        Ok(v) => v,
        Err(errors) => {
            return rejected(
                FormState {
                    errors,
                    ..clean(version)
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let (errors, general) = register_issues(register.clone(), &value);
    if !errors.is_empty() || !general.is_empty() {
        return rejected(
            FormState {
                errors,
                general,
                ..clean(version)
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match K::put(
        &state.store,
        &value,
        Some(expected),
        staff.actor(),
        state.now(),
    )
    .await
    {
        Ok(_) => saved_redirect::<K>(&id, lang),
        Err(StoreError::Conflict { .. }) => {
            // Keep the user's input and the version they started from, so saving again
            // only succeeds after they reload and look at the other change.
            let conflict = Some(format!(
                "/admin/{}/{id}/edit?lang={}",
                K::SEGMENT,
                lang.code()
            ));
            rejected(
                FormState {
                    conflict,
                    ..clean(version)
                },
                StatusCode::CONFLICT,
            )
        }
        Err(StoreError::NotFound { .. }) => not_found(lang, &staff.session),
        Err(e) => store_failure(lang, s, e),
    }
}
