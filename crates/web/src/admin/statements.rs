//! The privacy statements in the back-office: preview what would be published, see the
//! published versions, and publish a new version with its effective date.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::{StatementVersion, StoreError};
use serde::Deserialize;
use time::Date;

use super::form::{FormData, control_id, format_date, parse_date};
use super::{Ctx, StaffSession, forbidden, not_found, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::pages::negotiate;
use crate::state::AppState;
use crate::statements::{self as statement_use_cases, Format};

/// One controller's statement on the overview page.
pub struct StatementRow {
    pub id: String,
    pub name: String,
    pub preview_href: String,
    /// (version, effective date, published by, link)
    pub versions: Vec<(i64, String, String, String)>,
    pub action: String,
    pub field_id: String,
    pub date: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/statements.html")]
pub struct StatementsPage {
    pub ctx: Ctx,
    pub rows: Vec<StatementRow>,
    pub notice: Option<String>,
    /// The error summary: (anchor, text).
    pub summary: Vec<(String, String)>,
    pub general: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/preview.html")]
pub struct PreviewPage {
    pub ctx: Ctx,
    pub body: String,
    pub back_href: String,
}

translated!(StatementsPage, PreviewPage);

#[derive(Deserialize, Default)]
pub struct StatementsQuery {
    lang: Option<String>,
    published: Option<String>,
}

/// Why an effective date cannot be used, or the date.
pub fn effective_date(raw: &str, today: Date, lang: Lang) -> Result<Date, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(i18n::t(lang, "form.error.required").to_string());
    }
    let date =
        parse_date(raw).ok_or_else(|| i18n::tf(lang, "form.error.date", &[("value", raw)]))?;
    if date < today {
        return Err(i18n::tf(
            lang,
            "admin.statements.date_past",
            &[("today", &format_date(today))],
        ));
    }
    Ok(date)
}

/// The overview, with `failed` = (controller, typed date, message) re-shown after a refusal.
async fn overview(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    failed: Option<(&str, &str, String)>,
    published: Option<&str>,
) -> Result<StatementsPage, StoreError> {
    let today = format_date(state.now().date());
    let mut rows = Vec::new();
    let mut notice = None;
    for c in state.store.controllers().await? {
        let id = c.value.id.clone();
        let versions = state.store.statement_versions(&id).await?;
        let name = c.value.name.show(lang).to_string();
        if published == Some(id.as_str())
            && let Some(last) = versions.last()
        {
            notice = Some(i18n::tf(
                lang,
                "admin.statements.published",
                &[
                    ("name", &name),
                    ("version", &last.version.to_string()),
                    ("date", &format_date(last.effective_date)),
                ],
            ));
        }
        let (date, error) = match failed {
            Some((failed_id, typed, ref message)) if failed_id == id => {
                (typed.to_string(), Some(message.clone()))
            }
            _ => (today.clone(), None),
        };
        rows.push(StatementRow {
            preview_href: format!("/admin/statements/{id}/preview?lang={}", lang.code()),
            versions: versions.iter().map(|v| version_row(v, lang)).collect(),
            action: format!("/admin/statements/{id}/publish?lang={}", lang.code()),
            field_id: control_id(&format!("{id}.effective_date")),
            date,
            error,
            name,
            id,
        });
    }
    let summary = rows
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| (r.field_id.clone(), format!("{}: {e}", r.name)))
        })
        .collect();
    let title = i18n::t(lang, "admin.statements.title").to_string();
    let ctx =
        Ctx::new(lang, Some(&staff.session), "/admin/statements", "", title).in_menu("statements");
    Ok(StatementsPage {
        ctx,
        rows,
        notice,
        summary,
        general: Vec::new(),
    })
}

fn version_row(v: &StatementVersion, lang: Lang) -> (i64, String, String, String) {
    let href = format!(
        "/privacy/{}?version={}&lang={}",
        v.controller,
        v.version,
        lang.code()
    );
    (
        v.version,
        format_date(v.effective_date),
        v.published_by.clone(),
        href,
    )
}

pub async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<StatementsQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    match overview(&state, &staff, lang, None, q.published.as_deref()).await {
        Ok(p) => page(StatusCode::OK, &p),
        Err(e) => store_failure(lang, Some(&staff.session), e),
    }
}

pub async fn preview(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(controller): Path<String>,
    Query(q): Query<StatementsQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let prepared =
        match statement_use_cases::preview(&state.store, &controller, state.now().date()).await {
            Ok(Some(p)) => p,
            Ok(None) => return not_found(lang, &staff.session),
            Err(e) => return store_failure(lang, Some(&staff.session), e),
        };
    let Ok(body) = prepared.render(&controller, lang, Format::Html) else {
        return not_found(lang, &staff.session);
    };
    let name = prepared
        .snapshot
        .controller(&controller)
        .map(|c| c.name.show(lang).to_string())
        .unwrap_or_default();
    let title = i18n::tf(lang, "admin.statements.preview_title", &[("name", &name)]);
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/statements/{controller}/preview"),
        "",
        title,
    )
    .in_menu("statements");
    page(
        StatusCode::OK,
        &PreviewPage {
            ctx,
            body,
            back_href: format!("/admin/statements?lang={}", lang.code()),
        },
    )
}

pub async fn publish(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(controller): Path<String>,
    Query(q): Query<StatementsQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let data = FormData(fields);
    let s = Some(&staff.session);
    if !Permission::PublishStatement.granted_to(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    if let Some(refusal) = staff.csrf_refusal(&data, lang) {
        return refusal;
    }
    let now = state.now();
    let typed = data.get("effective_date");
    let date = match effective_date(typed, now.date(), lang) {
        Ok(d) => d,
        Err(message) => {
            return match overview(
                &state,
                &staff,
                lang,
                Some((&controller, typed, message)),
                None,
            )
            .await
            {
                Ok(p) if p.rows.iter().any(|r| r.id == controller) => {
                    page(StatusCode::UNPROCESSABLE_ENTITY, &p)
                }
                Ok(_) => not_found(lang, &staff.session),
                Err(e) => store_failure(lang, s, e),
            };
        }
    };
    match crate::statements::publish(&state.store, &controller, date, staff.actor(), now).await {
        Ok(Some(_)) => Redirect::to(&format!(
            "/admin/statements?lang={}&published={controller}",
            lang.code()
        ))
        .into_response(),
        Ok(None) => not_found(lang, &staff.session),
        Err(e) => store_failure(lang, s, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_effective_date_is_today_or_later() {
        let today = date!(2026 - 11 - 20);
        assert_eq!(effective_date("2026-11-20", today, Lang::En), Ok(today));
        assert_eq!(
            effective_date(" 2027-01-01 ", today, Lang::En),
            Ok(date!(2027 - 01 - 01))
        );
        assert!(effective_date("2026-11-19", today, Lang::En).is_err());
        assert!(effective_date("", today, Lang::En).is_err());
        assert!(effective_date("20/11/2026", today, Lang::En).is_err());
    }
}
