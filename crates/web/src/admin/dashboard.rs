//! The back-office home page: each controller with its activities and how many of them the
//! art. 30 completeness check finds lacking.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::completeness;
use kluis_domain::i18n;

use super::{Ctx, LangQuery, StaffSession, lang_of, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::state::AppState;

pub struct ControllerSummary {
    pub name: String,
    pub href: String,
    pub activities: usize,
    pub activities_href: String,
    pub incomplete: usize,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    pub ctx: Ctx,
    pub greeting: String,
    pub controllers: Vec<ControllerSummary>,
    pub incomplete: usize,
}

translated!(DashboardPage);

pub async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let register = match state.store.register().await {
        Ok(r) => r,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let controllers: Vec<ControllerSummary> = register
        .controllers
        .iter()
        .map(|c| {
            let activities: Vec<_> = register.activities_of(&c.id).collect();
            ControllerSummary {
                name: c.name.show(lang).to_string(),
                href: format!("/admin/controllers/{}?lang={}", c.id, lang.code()),
                activities: activities.len(),
                activities_href: format!(
                    "/admin/activities?lang={}&controller={}",
                    lang.code(),
                    c.id
                ),
                incomplete: activities
                    .iter()
                    .filter(|a| !completeness::check(a, Some(c)).is_empty())
                    .count(),
            }
        })
        .collect();
    let incomplete = register
        .activities
        .iter()
        .filter(|a| !completeness::check(a, register.controller(&a.controller)).is_empty())
        .count();
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        "/admin",
        "",
        i18n::t(lang, "admin.dashboard.title").to_string(),
    )
    .in_menu("dashboard");
    let name = ctx
        .user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let p = DashboardPage {
        greeting: i18n::tf(lang, "admin.dashboard.greeting", &[("name", &name)]),
        ctx,
        controllers,
        incomplete,
    };
    page(StatusCode::OK, &p)
}
