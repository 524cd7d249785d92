//! What a caseworker releases or changes from the request page, as the API and
//! `kluis request` do it: the access package (art. 15) and the portability export (art. 20)
//! to download, the export sent straight to another controller (art. 20(2)), and a
//! rectification in a connected system (art. 16). The work is the API's own functions; this
//! module only turns forms into their arguments and their errors into the page's refusals.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::access_package::{PackageKind, check_release};
use kluis_domain::text::Lang;
use kluis_store::{Processing, RightsRequest, StoreError};
use serde::Deserialize;
use uuid::Uuid;

use super::super::form::FormData;
use super::super::{StaffSession, lang_of, not_found, store_failure};
use super::{Notice, processing, refused, request_page, t};
use crate::access_package::{Format, PackageError, produce_gated};
use crate::portability::{Destination, Sent, TransmitError};
use crate::rectification::{RectificationError, RectificationOutcome, rectify_in_system};
use crate::state::AppState;
use crate::trace::Trace;

/// Why a step of this module was not done: refused with a status and what to tell the
/// caseworker, or the store failed.
pub(super) enum NotDone {
    Refused(StatusCode, String),
    Store(StoreError),
}

impl From<StoreError> for NotDone {
    fn from(e: StoreError) -> Self {
        NotDone::Store(e)
    }
}

fn unprocessable(why: String) -> NotDone {
    NotDone::Refused(StatusCode::UNPROCESSABLE_ENTITY, why)
}

/// The download links the request allows: (link, label), none before it may release data.
pub(super) fn downloads(lang: Lang, r: &RightsRequest) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for (kind, path, formats) in [
        (
            PackageKind::Access,
            "access-package",
            &["html", "pdf", "zip"][..],
        ),
        (
            PackageKind::Portability,
            "portability",
            &["json", "csv"][..],
        ),
    ] {
        if releasable(kind, r) {
            links.extend(formats.iter().map(|format| {
                (
                    format!(
                        "/admin/rights/{}/{path}?format={format}&lang={}",
                        r.id,
                        lang.code()
                    ),
                    t(lang, &format!("download_{path}_{format}")),
                )
            }));
        }
    }
    links
}

/// Whether the package of `kind` may be released now: the check the API's download makes.
pub(super) fn releasable(kind: PackageKind, r: &RightsRequest) -> bool {
    check_release(kind, r.stage, &r.rights, &r.decisions).is_ok()
}

#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    lang: Option<String>,
    format: Option<String>,
}

/// `GET /admin/rights/{id}/access-package?format=html|pdf|zip`.
pub async fn access_package(
    State(state): State<AppState>,
    staff: StaffSession,
    trace: Trace,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Response {
    download(&state, &staff, trace, &id, q, &headers, PackageKind::Access).await
}

/// `GET /admin/rights/{id}/portability?format=json|csv`.
pub async fn portability(
    State(state): State<AppState>,
    staff: StaffSession,
    trace: Trace,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Response {
    download(
        &state,
        &staff,
        trace,
        &id,
        q,
        &headers,
        PackageKind::Portability,
    )
    .await
}

/// The package of `kind` as a file to save, made and logged as the API makes it; when it
/// may not be made, the request page saying why (nothing logged).
async fn download(
    state: &AppState,
    staff: &StaffSession,
    trace: Trace,
    id: &str,
    q: DownloadQuery,
    headers: &HeaderMap,
    kind: PackageKind,
) -> Response {
    let lang = lang_of(&super::super::LangQuery { lang: q.lang }, headers);
    if let Some(refusal) = refused(state, lang, &staff.session).await {
        return refusal;
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let refuse =
        |status, why: String| request_page(state, staff, lang, id, status, Notice::Refused(why));
    let default = match kind {
        PackageKind::Access => "html",
        PackageKind::Portability => "json",
    };
    let format = match Format::parse(kind, q.format.as_deref().unwrap_or(default)) {
        Ok(format) => format,
        Err(why) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, why).await,
    };
    let request = match state.store.rights_request(id).await {
        Ok(r) => r,
        Err(StoreError::NotFound { .. }) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let mut processing = processing(state, staff, trace);
    processing.case_ref = Some(request.reference.clone());
    match produce_gated(state, &processing, &request, kind, format).await {
        Ok(download) => download.into_attachment(),
        Err(PackageError::NotReleasable(why)) => {
            refuse(StatusCode::CONFLICT, why.to_string()).await
        }
        Err(PackageError::Store(e)) => store_failure(lang, Some(&staff.session), e),
        Err(e @ PackageError::Render(_)) => {
            refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).await
        }
    }
}

/// Sends the portability export to the controller the form names (art. 20(2)), as
/// `POST /api/v1/rights-requests/{id}/portability/transmissions` does: the export is made
/// with a turn at the bulk gate, the other controller's answer is awaited without one.
pub(super) async fn transmit(
    state: &AppState,
    mut processing: Processing,
    id: Uuid,
    form: &FormData,
) -> Result<Sent, NotDone> {
    let destination = Destination::parse(form.get("endpoint").trim(), form.get("recipient").trim())
        .map_err(unprocessable)?;
    let format =
        Format::parse(PackageKind::Portability, form.get("format")).map_err(unprocessable)?;
    let request = state.store.rights_request(id).await?;
    processing.case_ref = Some(request.reference.clone());
    crate::portability::transmit(state, &processing, &request, &destination, format)
        .await
        .map_err(not_sent)
}

/// A transmission's failure as the API answers it: 422 bad input or a refused endpoint,
/// 409 while nothing may be released, 502 when the other controller did not take it.
fn not_sent(e: TransmitError) -> NotDone {
    match e {
        TransmitError::Invalid(why) => unprocessable(why),
        TransmitError::NotReleasable(why) => {
            NotDone::Refused(StatusCode::CONFLICT, why.to_string())
        }
        TransmitError::Store(e) => NotDone::Store(e),
        e @ TransmitError::Render(_) => {
            NotDone::Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        e @ TransmitError::Refused { .. } => unprocessable(e.to_string()),
        e @ TransmitError::Failed { .. } => {
            NotDone::Refused(StatusCode::BAD_GATEWAY, e.to_string())
        }
    }
}

/// Rectifies one column of the person's rows in a connected system, as
/// `POST /api/v1/rights-requests/{id}/rectifications` does.
pub(super) async fn rectify(
    state: &AppState,
    processing: Processing,
    id: Uuid,
    form: &FormData,
    lang: Lang,
) -> Result<RectificationOutcome, NotDone> {
    // A field left empty by mistake would empty the column: the form asks for a value.
    let value = form.get("value").trim();
    if value.is_empty() {
        return Err(unprocessable(t(lang, "rectify_value_missing")));
    }
    rectify_in_system(
        &state.store,
        &state.settings.system_urls,
        &processing,
        id,
        form.get("system").trim(),
        form.get("table").trim(),
        form.get("column").trim(),
        value,
    )
    .await
    .map_err(|e| match e {
        RectificationError::Invalid(why) => unprocessable(why),
        RectificationError::Refused(why) => NotDone::Refused(StatusCode::CONFLICT, why),
        e @ RectificationError::System { .. } => {
            NotDone::Refused(StatusCode::BAD_GATEWAY, e.to_string())
        }
        RectificationError::Store(e) => NotDone::Store(e),
    })
}

/// The connected systems a rectification can be made in: those serving an activity
/// rectification was granted for, while the request may change data. Empty: no form.
pub(super) async fn rectification_systems(
    state: &AppState,
    r: &RightsRequest,
) -> Result<Vec<String>, StoreError> {
    use kluis_domain::rights::{Right, may_release_data};
    let granted: Vec<&str> = r
        .decisions
        .iter()
        .filter(|d| d.right == Right::Rectification && d.grants())
        .map(|d| d.activity.as_str())
        .collect();
    if granted.is_empty() || !may_release_data(r.stage, r.grants()) {
        return Ok(Vec::new());
    }
    Ok(state
        .store
        .systems()
        .await?
        .into_iter()
        .filter(|s| {
            s.map
                .activities
                .iter()
                .any(|a| granted.contains(&a.as_str()))
        })
        .map(|s| s.map.name)
        .collect())
}
