//! Comparing two versions of a processing activity, field by field.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::i18n;
use kluis_domain::register::ProcessingActivity;
use kluis_domain::text::Lang;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Ctx, StaffSession, not_found, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::pages::negotiate;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct CompareQuery {
    lang: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// One field that differs: its label and its value in each version ("" when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    pub label: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "admin/compare.html")]
pub struct ComparePage {
    pub ctx: Ctx,
    pub id: String,
    pub from: i64,
    pub to: i64,
    pub versions: Vec<i64>,
    pub differences: Vec<Difference>,
    pub back_href: String,
}

translated!(ComparePage);

/// The translation key of an activity field's label in the comparison.
fn label_key(field: &str) -> &'static str {
    match field {
        "id" => "form.field.id",
        "controller" => "form.field.controller",
        "name" => "form.field.activity_name",
        "status" => "form.field.status",
        "purposes" => "form.field.purposes",
        "legal_bases" => "form.field.legal_bases",
        "consent" => "form.field.consent",
        "data_categories" => "form.field.data_categories",
        "data_description" => "form.field.data_description",
        "special_categories" => "form.field.special_categories",
        "subject_categories" => "form.field.subject_categories",
        "sources" => "form.field.sources",
        "recipients" => "form.field.recipients",
        "processors" => "form.field.processors",
        "applications" => "form.field.applications",
        "transfers" => "form.field.transfers",
        "agreements" => "form.field.agreements",
        "retention" => "form.field.retention",
        "automated_decision_making" => "form.field.adm",
        "security_measures" => "form.field.activity_security_measures",
        "dpia" => "form.field.dpia",
        "additional_information" => "form.field.additional_information",
        _ => "form.field.other",
    }
}

fn display(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => serde_saphyr::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| other.to_string()),
    }
}

fn fields(activity: &ProcessingActivity) -> Map<String, Value> {
    match serde_json::to_value(activity) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The fields whose values differ between two versions, in the register's field order.
pub fn differences(
    from: &ProcessingActivity,
    to: &ProcessingActivity,
    lang: Lang,
) -> Vec<Difference> {
    let (a, b) = (fields(from), fields(to));
    let mut keys: Vec<&String> = a.keys().collect();
    keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
    // serde_json's map sorts keys; the label order of the form reads better.
    let order = |k: &str| {
        FIELD_ORDER
            .iter()
            .position(|f| *f == k)
            .unwrap_or(FIELD_ORDER.len())
    };
    keys.sort_by_key(|k| order(k));
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let field = label_key(k);
            Difference {
                field,
                label: i18n::t(lang, field).to_string(),
                from: display(a.get(k)),
                to: display(b.get(k)),
            }
        })
        .collect()
}

const FIELD_ORDER: [&str; 22] = [
    "id",
    "controller",
    "name",
    "status",
    "purposes",
    "legal_bases",
    "consent",
    "data_categories",
    "data_description",
    "special_categories",
    "subject_categories",
    "sources",
    "recipients",
    "processors",
    "applications",
    "transfers",
    "agreements",
    "retention",
    "automated_decision_making",
    "security_measures",
    "dpia",
    "additional_information",
];

pub async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let versions = match state.store.activity_versions(&id).await {
        Ok(v) => v,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let Some(last) = versions.last() else {
        return not_found(lang, &staff.session);
    };
    let pick = |raw: Option<&str>, default: i64| match raw.filter(|s| !s.is_empty()) {
        None => Some(default),
        Some(s) => s.parse::<i64>().ok(),
    };
    let (Some(from), Some(to)) = (
        pick(q.from.as_deref(), (last.version - 1).max(1)),
        pick(q.to.as_deref(), last.version),
    ) else {
        return not_found(lang, &staff.session);
    };
    let find = |n: i64| versions.iter().find(|v| v.version == n);
    let (Some(a), Some(b)) = (find(from), find(to)) else {
        return not_found(lang, &staff.session);
    };
    let name = last.activity.name.show(lang).to_string();
    let title = i18n::tf(
        lang,
        "admin.compare.title",
        &[
            ("from", &from.to_string()),
            ("to", &to.to_string()),
            ("name", &name),
        ],
    );
    let extra = format!("&from={from}&to={to}");
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/activities/{id}/compare"),
        &extra,
        title,
    )
    .in_menu("activities");
    let p = ComparePage {
        differences: differences(&a.activity, &b.activity, lang),
        versions: versions.iter().map(|v| v.version).collect(),
        back_href: format!("/admin/activities/{id}?lang={}", lang.code()),
        id,
        from,
        to,
        ctx,
    };
    page(StatusCode::OK, &p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kluis_domain::text::Text;

    fn activity() -> ProcessingActivity {
        let yaml = "id: camera\ncontroller: stad\nname: Camerabewaking\npurposes: [Bescherming]\nlegal_bases: [{basis: public_interest}]\ndata_categories: [sound_image]\nsubject_categories: [visitors]\nsources: [data_subject]\nretention: []\n";
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn only_changed_fields_are_listed_in_form_order() {
        let a = activity();
        let mut b = a.clone();
        b.purposes.push(Text::nl("Opsporing"));
        b.recipients = Some(Vec::new());
        b.name = Text::nl("Camera's");
        let d = differences(&a, &b, Lang::En);
        let fields: Vec<&str> = d.iter().map(|x| x.field).collect();
        assert_eq!(
            fields,
            vec![
                "form.field.activity_name",
                "form.field.purposes",
                "form.field.recipients"
            ]
        );
        assert_eq!(d[0].from, "Camerabewaking");
        assert_eq!(d[0].to, "Camera's");
        assert_eq!(d[2].from, "", "absent before");
        assert!(differences(&a, &a, Lang::En).is_empty());
    }
}
