//! The DPO's back-office: server-rendered pages behind a staff login, to keep the register
//! of processing activities and publish the privacy statement without writing YAML.
//!
//! Staff sign in at `/admin/login` and get a session cookie; every form that changes
//! something is a POST that must come from this site and carry the session's CSRF token.
//! Pages need no JavaScript and follow WCAG 2.1 AA.

mod activities;
mod breaches;
mod compare;
mod csrf;
mod dashboard;
mod entities;
mod form;
mod kinds;
mod retention;
mod rights;
mod session;
mod statements;
mod view;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::{Session, StoreError};
use serde::Deserialize;

use crate::pages::{Translated, language_links, negotiate};
use crate::public::render;
use crate::state::AppState;

pub use session::StaffSession;

pub fn router() -> Router<AppState> {
    use entities::{create, edit_form, list, new_form, update, view};
    use kluis_domain::register::{Agreement, Controller, ProcessingActivity, Processor};
    Router::new()
        .route("/admin", get(dashboard::show))
        .route(
            "/admin/login",
            get(session::login_form).post(session::login),
        )
        .route("/admin/logout", axum::routing::post(session::logout))
        .route("/admin/controllers", get(list::<Controller>))
        .route(
            "/admin/controllers/new",
            get(new_form::<Controller>).post(create::<Controller>),
        )
        .route("/admin/controllers/{id}", get(view::<Controller>))
        .route(
            "/admin/controllers/{id}/edit",
            get(edit_form::<Controller>).post(update::<Controller>),
        )
        .route("/admin/processors", get(list::<Processor>))
        .route(
            "/admin/processors/new",
            get(new_form::<Processor>).post(create::<Processor>),
        )
        .route("/admin/processors/{id}", get(view::<Processor>))
        .route(
            "/admin/processors/{id}/edit",
            get(edit_form::<Processor>).post(update::<Processor>),
        )
        .route("/admin/agreements", get(list::<Agreement>))
        .route(
            "/admin/agreements/new",
            get(new_form::<Agreement>).post(create::<Agreement>),
        )
        .route("/admin/agreements/{id}", get(view::<Agreement>))
        .route(
            "/admin/agreements/{id}/edit",
            get(edit_form::<Agreement>).post(update::<Agreement>),
        )
        .route("/admin/activities", get(list::<ProcessingActivity>))
        .route(
            "/admin/activities/new",
            get(new_form::<ProcessingActivity>).post(create::<ProcessingActivity>),
        )
        .route("/admin/activities/{id}", get(view::<ProcessingActivity>))
        .route(
            "/admin/activities/{id}/edit",
            get(edit_form::<ProcessingActivity>).post(update::<ProcessingActivity>),
        )
        .route("/admin/activities/{id}/compare", get(compare::show))
        .route("/admin/statements", get(statements::show))
        .route("/admin/breaches", get(breaches::list))
        .route(
            "/admin/retention",
            get(retention::plan).post(retention::act),
        )
        .route("/admin/rights", get(rights::list))
        .route("/admin/rights/{id}", get(rights::view).post(rights::step))
        .route(
            "/admin/rights/{id}/access-package",
            get(rights::release::access_package),
        )
        .route(
            "/admin/rights/{id}/portability",
            get(rights::release::portability),
        )
        .route(
            "/admin/breaches/new",
            get(breaches::new_form).post(breaches::create),
        )
        .route(
            "/admin/breaches/{id}",
            get(breaches::view).post(breaches::step),
        )
        .route(
            "/admin/breaches/{id}/affected",
            axum::routing::post(breaches::affected),
        )
        .route(
            "/admin/statements/{controller}/preview",
            get(statements::preview),
        )
        .route(
            "/admin/statements/{controller}/publish",
            axum::routing::post(statements::publish),
        )
        .layer(middleware::from_fn(csrf::same_origin))
}

/// `?lang=` on every back-office page; other parameters are refused by no page.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The parts of a back-office page the layout needs.
pub struct Ctx {
    pub lang: Lang,
    pub title: String,
    pub language_links: Vec<(&'static str, &'static str, String)>,
    /// The signed-in staff member, absent on the login page.
    pub user: Option<UserBar>,
    /// Which menu entry is the current page ("" for none).
    pub current: &'static str,
}

pub struct UserBar {
    pub name: String,
    pub csrf: String,
    pub can_edit: bool,
    pub can_publish: bool,
}

impl Ctx {
    pub fn new(
        lang: Lang,
        session: Option<&Session>,
        path: &str,
        extra_query: &str,
        title: String,
    ) -> Self {
        Ctx {
            lang,
            title,
            language_links: language_links(path, extra_query),
            user: session.map(|s| UserBar {
                name: if s.user.display_name.is_empty() {
                    s.user.username.clone()
                } else {
                    s.user.display_name.clone()
                },
                csrf: s.csrf_token.clone(),
                can_edit: Permission::EditRegister.granted_to(&s.user.roles),
                can_publish: Permission::PublishStatement.granted_to(&s.user.roles),
            }),
            current: "",
        }
    }

    pub fn in_menu(mut self, current: &'static str) -> Self {
        self.current = current;
        self
    }

    /// `lang=xx`, to append to links so the chosen language stays.
    pub fn lq(&self) -> String {
        format!("lang={}", self.lang.code())
    }

    pub fn can_edit(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.can_edit)
    }

    pub fn can_publish(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.can_publish)
    }

    pub fn csrf(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.csrf.as_str())
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key).to_string()
    }

    /// The menu: (key of the entry, link, label).
    pub fn menu(&self) -> Vec<(&'static str, String, String)> {
        [
            ("dashboard", "/admin", "admin.nav.dashboard"),
            ("controllers", "/admin/controllers", "admin.nav.controllers"),
            ("activities", "/admin/activities", "admin.nav.activities"),
            ("processors", "/admin/processors", "admin.nav.processors"),
            ("agreements", "/admin/agreements", "admin.nav.agreements"),
            ("statements", "/admin/statements", "admin.nav.statements"),
        ]
        .into_iter()
        .map(|(key, path, label)| (key, format!("{path}?{}", self.lq()), self.t(label)))
        .collect()
    }
}

/// A page with a heading and one message: refusals, not found, unavailable.
#[derive(Template)]
#[template(path = "admin/message.html")]
pub struct MessagePage {
    pub ctx: Ctx,
    pub message: String,
    /// A link that helps onwards: (href, label).
    pub link: Option<(String, String)>,
}

/// Makes back-office pages translatable: `self.t(key)` from the layout, and `self.tf` /
/// `self.tf2` for translations with one or two `{placeholders}`.
macro_rules! translated {
    ($($page:ty),+ $(,)?) => { $(
        impl crate::pages::Translated for $page {
            fn lang(&self) -> kluis_domain::text::Lang { self.ctx.lang }
        }
        #[allow(dead_code)]
        impl $page {
            fn tf(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
                kluis_domain::i18n::tf(self.ctx.lang, key, &[(name, &value.to_string())])
            }
            fn tf2(&self, key: &str, n1: &str, v1: impl std::fmt::Display, n2: &str, v2: impl std::fmt::Display) -> String {
                kluis_domain::i18n::tf(self.ctx.lang, key, &[(n1, &v1.to_string()), (n2, &v2.to_string())])
            }
        }
    )+ };
}
pub(crate) use translated;

translated!(MessagePage);

/// Renders a back-office page with its status.
pub fn page(status: StatusCode, page: &(impl Template + Translated)) -> Response {
    render(status, page.lang(), page)
}

/// A message page: `title_key` as heading, `message` as text.
pub fn message(
    status: StatusCode,
    lang: Lang,
    session: Option<&Session>,
    title_key: &str,
    message: String,
    link: Option<(String, String)>,
) -> Response {
    let ctx = Ctx::new(
        lang,
        session,
        "/admin",
        "",
        i18n::t(lang, title_key).to_string(),
    );
    page(status, &MessagePage { ctx, message, link })
}

/// The page for a staff member whose roles do not allow what they tried.
pub fn forbidden(lang: Lang, session: &Session) -> Response {
    message(
        StatusCode::FORBIDDEN,
        lang,
        Some(session),
        "admin.forbidden.title",
        i18n::t(lang, "admin.forbidden.message").to_string(),
        Some((
            format!("/admin?lang={}", lang.code()),
            i18n::t(lang, "admin.nav.dashboard").to_string(),
        )),
    )
}

pub fn not_found(lang: Lang, session: &Session) -> Response {
    message(
        StatusCode::NOT_FOUND,
        lang,
        Some(session),
        "admin.not_found.title",
        i18n::t(lang, "admin.not_found.message").to_string(),
        Some((
            format!("/admin?lang={}", lang.code()),
            i18n::t(lang, "admin.nav.dashboard").to_string(),
        )),
    )
}

/// The page for a store failure: the database is down, or a bug (logged).
pub fn store_failure(lang: Lang, session: Option<&Session>, e: StoreError) -> Response {
    let status = match &e {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::error!(error = %e, "back-office request failed");
    message(
        status,
        lang,
        session,
        "admin.unavailable.title",
        i18n::t(lang, "admin.unavailable.message").to_string(),
        None,
    )
}

/// The language of a back-office page.
pub fn lang_of(q: &LangQuery, headers: &HeaderMap) -> Lang {
    negotiate(q.lang.as_deref(), headers)
}

#[cfg(test)]
mod tests;
