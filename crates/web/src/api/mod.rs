//! The JSON API under `/api/v1/`, and the OpenAPI document that describes it.

mod breaches;
mod consent;
mod entity;
mod handlers;
mod inventory;
mod media;
mod openapi;
mod register;
mod restriction;
pub mod rights;
mod staff;

use axum::Router;
use axum::routing::{get, patch, post, put};
use kluis_domain::register::{Agreement, Controller, ProcessingActivity, Processor};

pub use consent::unsubscribe_url;
pub use entity::Entity;
pub use handlers::ApiJson;
pub use openapi::{OPERATIONS, Operation, document};
pub use register::publish_statement;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    use handlers::{create, delete, get as read, list, update};
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route(
            "/api/v1/controllers",
            get(list::<Controller>).post(create::<Controller>),
        )
        .route(
            "/api/v1/controllers/{id}",
            get(read::<Controller>)
                .put(update::<Controller>)
                .delete(delete::<Controller>),
        )
        .route(
            "/api/v1/processors",
            get(list::<Processor>).post(create::<Processor>),
        )
        .route(
            "/api/v1/processors/{id}",
            get(read::<Processor>)
                .put(update::<Processor>)
                .delete(delete::<Processor>),
        )
        .route(
            "/api/v1/agreements",
            get(list::<Agreement>).post(create::<Agreement>),
        )
        .route(
            "/api/v1/agreements/{id}",
            get(read::<Agreement>)
                .put(update::<Agreement>)
                .delete(delete::<Agreement>),
        )
        .route(
            "/api/v1/activities",
            get(register::list_activities).post(create::<ProcessingActivity>),
        )
        .route(
            "/api/v1/activities/{id}",
            get(read::<ProcessingActivity>).put(update::<ProcessingActivity>),
        )
        .route(
            "/api/v1/activities/{id}/versions",
            get(register::activity_versions),
        )
        .route(
            "/api/v1/activities/{id}/completeness",
            get(register::completeness),
        )
        .route("/api/v1/subjects", post(inventory::create_subject))
        .route("/api/v1/subjects/search", post(inventory::search))
        .route("/api/v1/subjects/{id}", get(inventory::get_subject))
        .route("/api/v1/subjects/{id}/records", post(inventory::add_record))
        .route(
            "/api/v1/subjects/{id}/disclosures",
            post(inventory::disclose),
        )
        .route(
            "/api/v1/subjects/{id}/restrictions/lift",
            post(restriction::lift),
        )
        .route(
            "/api/v1/subjects/{id}/objections/compelling-grounds",
            post(restriction::compelling_grounds),
        )
        .route("/api/v1/records/{id}", patch(inventory::change_record))
        .route(
            "/api/v1/subjects/{id}/consents",
            get(consent::of_subject).post(consent::give),
        )
        .route("/api/v1/consents/{id}", get(consent::get))
        .route("/api/v1/consents/{id}/withdrawal", post(consent::withdraw))
        .route("/api/v1/consents/{id}/iso27560", get(consent::iso27560))
        .route("/api/v1/consent/check", post(consent::check))
        .route(
            "/api/v1/rights-requests",
            post(rights::create).get(rights::list),
        )
        .route("/api/v1/rights-requests/{id}", get(rights::get))
        .route("/api/v1/rights-requests/{id}/changes", post(rights::change))
        .route("/api/v1/rights-requests/{id}/assignee", put(rights::assign))
        .route(
            "/api/v1/rights-requests/{id}/fulfilment",
            get(rights::fulfilment_status).post(rights::run_fulfilment),
        )
        .route(
            "/api/v1/rights-requests/{id}/rectifications",
            post(rights::rectify_in_system),
        )
        .route(
            "/api/v1/rights-requests/{id}/recipients-told",
            post(rights::recipients_told),
        )
        .route("/api/v1/rights-requests/{id}/letter", get(rights::letter))
        .route(
            "/api/v1/rights-requests/{id}/default-decisions",
            get(rights::default_decisions),
        )
        .route(
            "/api/v1/rights-requests/{id}/documents/{document}",
            get(rights::document),
        )
        .route(
            "/api/v1/rights-requests/{id}/access-package",
            get(rights::access_package),
        )
        .route(
            "/api/v1/rights-requests/{id}/portability",
            get(rights::portability),
        )
        .route(
            "/api/v1/rights-requests/{id}/portability/transmissions",
            post(rights::transmit_portability),
        )
        .route("/api/v1/media", post(media::create))
        .route("/api/v1/media/take-down", get(media::to_take_down))
        .route("/api/v1/media/{id}", get(media::get))
        .route("/api/v1/media/{id}/subjects", post(media::link))
        .route(
            "/api/v1/media/{id}/removal-requests",
            post(media::request_removal),
        )
        .route("/api/v1/media/{id}/taken-down", post(media::taken_down))
        .route(
            "/api/v1/breaches",
            get(breaches::list).post(breaches::create),
        )
        .route(
            "/api/v1/breaches/{id}",
            get(breaches::get).patch(breaches::update),
        )
        .route(
            "/api/v1/breaches/{id}/notifications",
            post(breaches::notify_authority),
        )
        .route(
            "/api/v1/breaches/{id}/art34-decision",
            put(breaches::decide_art34),
        )
        .route(
            "/api/v1/breaches/{id}/notification-draft",
            get(breaches::draft),
        )
        .route("/api/v1/breaches/{id}/affected", post(breaches::affected))
        .route("/api/v1/log", get(inventory::log))
        .route("/api/v1/log/head", get(inventory::log_head))
        .route(
            "/api/v1/users/{username}/activities/{activity}",
            put(staff::assign).delete(staff::unassign),
        )
        .route(
            "/api/v1/users/{username}/confidentiality-statements",
            post(staff::record_statement),
        )
        .route(
            "/api/v1/users/{username}/clearance",
            get(staff::get_clearance),
        )
        .route(
            "/api/v1/register",
            get(register::export).put(register::import),
        )
        .route(
            "/api/v1/controllers/{id}/statement",
            get(register::statement_preview),
        )
        .route(
            "/api/v1/controllers/{id}/statement/versions",
            get(register::statement_versions).post(register::publish),
        )
}
