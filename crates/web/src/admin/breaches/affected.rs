//! The people a breach affects, searched from the breach's page: in the vault and in the
//! connected systems, with the same search the API and `kluis breach affected` use.
//!
//! The search reads personal data and logs each person found, so it is a POST with the
//! CSRF token, and its result is the answer to that POST (200): showing it again after a
//! redirect would mean searching, and logging, again.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::access::Scope;
use kluis_domain::breach::{self, AffectedQuery, VAULT};
use kluis_domain::category::DataCategory;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::StoreError;
use time::Date;
use uuid::Uuid;

use super::super::form::FormData;
use super::super::{
    Ctx, LangQuery, StaffSession, forbidden, lang_of, not_found, page, store_failure, translated,
};
use super::label;
use crate::breach_systems::{self, AffectedEverywhere, SystemAffectedResult};
use crate::pages::Translated as _;
use crate::state::AppState;
use crate::trace::Trace;

/// People listed per place on one page of the result.
pub const PAGE: usize = 100;

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.breach_affected.{key}")).to_string()
}

/// The search form: where it posts, the choices it offers, and what was typed.
pub struct SearchForm {
    pub action: String,
    /// (value, label) of each choice; the empty value means "any".
    pub activities: Vec<(String, String)>,
    pub systems: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
    pub form: FormData,
}

/// One place searched: the vault or a connected system.
pub struct Place {
    pub name: String,
    pub people: u64,
    pub rows: u64,
    /// Why the system could not be searched: its counts are missing.
    pub error: Option<String>,
    pub notes: Vec<String>,
    /// The people on this page, when they may be listed.
    pub persons: Vec<Person>,
    /// "people 1 to 100 of 250", when listed.
    pub range: String,
}

pub struct Person {
    pub identifiers: String,
    pub categories: String,
    /// Where the person was counted already ("also in the vault"), or "".
    pub also: String,
}

pub struct Results {
    pub places: Vec<Place>,
    /// Whether the people are listed (high risk or a decision to tell them).
    pub listed: bool,
    pub total: String,
    /// The fields of the form for the next page, when there is one.
    pub next: Option<Vec<(String, String)>>,
}

#[derive(Template)]
#[template(path = "admin/breach_affected.html")]
pub struct AffectedPage {
    ctx: Ctx,
    refused: Option<String>,
    search: SearchForm,
    results: Option<Results>,
    back: String,
}

translated!(AffectedPage);

/// The search form for breach `id`, with what was typed; choices from the register and
/// the registered systems.
pub async fn search_form(
    state: &AppState,
    lang: Lang,
    id: Uuid,
    form: FormData,
) -> Result<SearchForm, StoreError> {
    let any = (String::new(), t(lang, "any"));
    let mut activities = vec![any.clone()];
    activities.extend(
        state
            .store
            .activities(None)
            .await?
            .into_iter()
            .map(|a| (a.value.id.to_string(), a.value.name.show(lang).to_string())),
    );
    let mut systems = vec![any.clone(), (VAULT.to_string(), t(lang, "vault"))];
    systems.extend(
        state
            .store
            .systems()
            .await?
            .into_iter()
            .map(|s| (s.map.name.clone(), s.map.name)),
    );
    let mut categories = vec![any];
    categories.extend(
        DataCategory::ALL
            .iter()
            .map(|c| (c.name().to_string(), label(lang, c.label_key()))),
    );
    Ok(SearchForm {
        action: format!("/admin/breaches/{id}/affected?lang={}", lang.code()),
        activities,
        systems,
        categories,
        form,
    })
}

/// Whether the staff member may search the people affected: the DPO (or an
/// administrator) who records breaches, and whose need-to-know covers every processing
/// activity (the DPO with a signed confidentiality statement), as over the API.
pub(super) async fn may_search(
    state: &AppState,
    session: &kluis_store::Session,
) -> Result<bool, StoreError> {
    if !breach::may_record(&session.user.roles) {
        return Ok(false);
    }
    let clearance = state.store.clearance(session.user.id).await?;
    Ok(clearance.scope() == Ok(Scope::All))
}

/// `POST /admin/breaches/{id}/affected`: searches and shows the people affected; bad
/// input shows the form again, saying why (422), with nothing searched or logged.
pub async fn affected(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    trace: Trace,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let form = FormData(fields);
    if let Some(refusal) = staff.csrf_refusal(&form, lang) {
        return refusal;
    }
    match may_search(&state, &staff.session).await {
        Ok(true) => {}
        Ok(false) => return forbidden(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let b = match state.store.breach(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let search = match search_form(&state, lang, id, form.clone()).await {
        Ok(search) => search,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let query = query_from_form(&form, &search, lang);
    let reference = b.reference();
    // One answer per request: the form again, with the results or why it was refused.
    let respond = |status, refused, results| {
        let p = AffectedPage {
            ctx: Ctx::new(
                lang,
                Some(&staff.session),
                &format!("/admin/breaches/{id}"),
                "",
                format!("{} {reference}", t(lang, "title")),
            ),
            refused,
            search,
            results,
            back: format!("/admin/breaches/{id}?lang={}", lang.code()),
        };
        page(status, &p)
    };
    let query = match query {
        Ok(query) => query,
        Err(message) => return respond(StatusCode::UNPROCESSABLE_ENTITY, Some(message), None),
    };
    let offset = form.get("offset").trim().parse::<usize>().unwrap_or(0);
    let mut processing = staff.processing(trace, state.now());
    processing.case_ref = Some(b.reference());
    match breach_systems::find_everywhere(
        &state.store,
        &state.settings.system_urls,
        &processing,
        &b,
        &query,
        (PAGE, offset),
    )
    .await
    {
        Ok(found) => {
            let results = results(lang, &query, &form, offset, found);
            respond(StatusCode::OK, None, Some(results))
        }
        Err(StoreError::Invalid(message)) => {
            respond(StatusCode::UNPROCESSABLE_ENTITY, Some(message), None)
        }
        Err(e) => store_failure(lang, Some(&staff.session), e),
    }
}

/// The query the form asks for, or what is wrong with it in the page's language: a
/// choice the form did not offer, a date that is not one, a window that ends before it
/// starts, or nothing to search by.
fn query_from_form(
    form: &FormData,
    search: &SearchForm,
    lang: Lang,
) -> Result<AffectedQuery, String> {
    let offered =
        |choices: &[(String, String)], value: &str| choices.iter().any(|(v, _)| v == value);
    let activity = form.get("activity").trim();
    if !offered(&search.activities, activity) {
        return Err(t(lang, "unknown_activity"));
    }
    let system = form.get("system").trim();
    if !offered(&search.systems, system) {
        return Err(i18n::tf(
            lang,
            "admin.breach_affected.unknown_system",
            &[("system", system)],
        ));
    }
    let category = match form.get("category").trim() {
        "" => None,
        c => Some(
            c.parse::<DataCategory>()
                .map_err(|_| t(lang, "unknown_category"))?,
        ),
    };
    let date = |name: &str| -> Result<Option<Date>, String> {
        match form.get(name).trim() {
            "" => Ok(None),
            d => Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                .map(Some)
                .map_err(|_| {
                    i18n::tf(
                        lang,
                        "admin.breach_affected.bad_date",
                        &[("field", &t(lang, name)), ("value", d)],
                    )
                }),
        }
    };
    let (from, until) = (date("from")?, date("until")?);
    if let (Some(from), Some(until)) = (from, until)
        && until < from
    {
        return Err(t(lang, "bad_window"));
    }
    if activity.is_empty() && system.is_empty() && category.is_none() {
        return Err(t(lang, "empty_query"));
    }
    let one = |v: &str| (!v.is_empty()).then(|| v.to_string()).into_iter().collect();
    Ok(AffectedQuery {
        activities: one(activity),
        data_categories: category.into_iter().collect(),
        collected_from: from,
        collected_until: until,
        systems: one(system),
    })
}

/// What the page shows of a search: per place the counts, the errors, and the people on
/// this page when they may be listed.
fn results(
    lang: Lang,
    query: &AffectedQuery,
    form: &FormData,
    offset: usize,
    found: AffectedEverywhere,
) -> Results {
    let listed = found.listed;
    let mut places = Vec::new();
    if query.searches_vault() {
        let vault = &found.vault;
        let people = vault.subjects.len() as u64;
        let persons: Vec<Person> = if listed {
            vault
                .subjects
                .iter()
                .skip(offset)
                .take(PAGE)
                .map(|id| Person {
                    identifiers: format!("{} {id}", t(lang, "subject_id")),
                    categories: String::new(),
                    also: String::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        places.push(Place {
            range: range(lang, listed, offset, persons.len(), people),
            name: t(lang, "vault"),
            people,
            rows: u64::try_from(vault.records).unwrap_or(0),
            error: None,
            notes: Vec::new(),
            persons,
        });
    }
    for s in &found.in_systems.systems {
        places.push(system_place(lang, listed, offset, s));
    }
    let more = listed
        && places
            .iter()
            .any(|p| p.error.is_none() && (offset + p.persons.len()) < p.people as usize);
    let next = more.then(|| {
        let mut fields: Vec<(String, String)> = ["activity", "system", "category", "from", "until"]
            .into_iter()
            .map(|name| (name.to_string(), form.get(name).to_string()))
            .collect();
        fields.push(("offset".into(), (offset + PAGE).to_string()));
        fields
    });
    let in_systems = &found.in_systems;
    let total = match in_systems.total_people {
        Some(n) => i18n::tf(
            lang,
            "admin.breach_affected.total_once",
            &[("count", &n.to_string())],
        ),
        None if in_systems.systems.iter().any(|s| s.error.is_some()) => {
            t(lang, "total_unreachable")
        }
        None => t(lang, "total_per_place"),
    };
    Results {
        places,
        listed,
        total,
        next,
    }
}

fn system_place(lang: Lang, listed: bool, offset: usize, s: &SystemAffectedResult) -> Place {
    let persons: Vec<Person> = s
        .listed
        .iter()
        .map(|p| Person {
            identifiers: p
                .identifiers
                .iter()
                .map(|(kind, value)| format!("{}: {value}", label(lang, kind.label_key())))
                .collect::<Vec<_>>()
                .join(", "),
            categories: p
                .categories
                .iter()
                .map(|c| label(lang, c.label_key()))
                .collect::<Vec<_>>()
                .join(", "),
            also: match (p.in_vault, &p.also_in) {
                (true, _) => t(lang, "also_in_vault"),
                (false, Some(other)) => {
                    i18n::tf(lang, "admin.breach_affected.also_in", &[("system", other)])
                }
                (false, None) => String::new(),
            },
        })
        .collect();
    Place {
        range: range(
            lang,
            listed && s.error.is_none(),
            offset,
            persons.len(),
            s.people,
        ),
        name: s.system.clone(),
        people: s.people,
        rows: s.rows,
        error: s.error.clone(),
        notes: s.notes.clone(),
        persons,
    }
}

/// Which of the people this page lists, e.g. "People 101 to 200 of 250".
fn range(lang: Lang, listed: bool, offset: usize, shown: usize, people: u64) -> String {
    if !listed || people == 0 {
        return String::new();
    }
    if shown == 0 {
        return i18n::tf(
            lang,
            "admin.breach_affected.none_on_page",
            &[("count", &people.to_string())],
        );
    }
    i18n::tf(
        lang,
        "admin.breach_affected.range",
        &[
            ("first", &(offset + 1).to_string()),
            ("last", &(offset + shown).to_string()),
            ("count", &people.to_string()),
        ],
    )
}
