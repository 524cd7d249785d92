//! HTTP for kluis: the JSON API with its OpenAPI document, the public privacy statements,
//! and the staff back-office.

// The OpenAPI document's schemas are one `json!` literal, deeper than the default allows.
#![recursion_limit = "512"]

pub mod access_package;
pub mod admin;
pub mod api;
pub mod auth;
pub mod breach_pages;
pub mod breach_systems;
pub mod consent_pages;
pub mod cookies;
pub mod error;
pub mod fulfilment;
pub mod letters;
pub mod pages;
pub mod pdf_text;
pub mod portability;
pub mod public;
pub mod rectification;
pub mod retention_systems;
pub mod rights_pages;
pub mod state;
pub mod statements;
pub mod system_marks;
pub mod systems;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

pub use state::{AppState, BulkGate, Clock, Settings, system_clock};

/// Largest request body accepted: a register of a few thousand activities fits.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    Router::new()
        .merge(api::router())
        .merge(public::router())
        .merge(cookies::router())
        .merge(consent_pages::router())
        .merge(rights_pages::router())
        .merge(breach_pages::router())
        .merge(admin::router())
        .layer(axum::middleware::from_fn(trace::trace_context))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("referrer-policy", "same-origin"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header(
            "content-security-policy",
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address, for the throttle of the public forms.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
