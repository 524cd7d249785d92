//! The people a breach affects, searched from the breach's page: in the vault and in the
//! connected systems, with the same search the API and `kluis breach affected` use.
//!
//! The search reads personal data and logs each person found, so it is a POST with the
//! CSRF token, and its result is the answer to that POST (200): showing it again after a
//! redirect would mean searching, and logging, again.
//!
//! When the DPO decided to tell the people (art. 34), the result offers to prepare and
//! send their notices: the same POST with `notify`, doing what the API's `notify` does
//! (`breach_systems::tell_people`), answered with what was done.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::access::Scope;
use kluis_domain::breach::{self, AffectedQuery, VAULT};
use kluis_domain::category::DataCategory;
use kluis_domain::i18n;
use kluis_domain::identifiers::IdentifierKind;
use kluis_domain::text::Lang;
use kluis_store::{Breach, StoreError};
use time::Date;
use uuid::Uuid;

use super::super::form::FormData;
use super::super::{
    Ctx, LangQuery, StaffSession, forbidden, lang_of, not_found, page, store_failure, translated,
};
use super::{label, recorder_refusal};
use crate::breach_systems::{self, AffectedEverywhere, SystemAffectedResult, Told};
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
    /// The form that tells the people found, when the DPO decided to tell them.
    pub notify: Option<NotifyForm>,
}

/// The form that prepares and sends the notices (art. 34) to the people a search found:
/// the same criteria again, with the language for people whose language is unknown.
pub struct NotifyForm {
    /// The search's criteria, as hidden fields.
    pub fields: Vec<(String, String)>,
    /// (code, name) of each language a notice can be written in.
    pub languages: Vec<(String, String)>,
    /// "Prepare and send the notices to these 3 people".
    pub button: String,
}

/// What telling the people did, as the page shows it.
pub struct ToldView {
    /// One sentence per outcome: mailed, to tell by post, told before, per place.
    pub lines: Vec<String>,
    /// (place, who) of each person to tell by post: the vault's people without an
    /// e-mail address by name and id, then those a system knows by no e-mail address by
    /// the identifiers it holds.
    pub by_post: Vec<(String, String)>,
    /// (system, why) of each system that could not be searched: its people are not told.
    pub errors: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/breach_affected.html")]
pub struct AffectedPage {
    ctx: Ctx,
    refused: Option<String>,
    search: SearchForm,
    shown: Shown,
    back: String,
}

/// What the page shows above the form: nothing (refused), what a search found, or what
/// telling the people did.
pub enum Shown {
    Nothing,
    Found(Results),
    Told(ToldView),
}

/// Why a post was refused: what to tell the DPO (422), or a store failure.
enum Refusal {
    Input(String),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) => Refusal::Input(message),
            other => Refusal::Store(other),
        }
    }
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

/// Why a post to the search is refused before anything is read: no CSRF token, or not
/// the DPO cleared for every processing activity ([`may_search`]). 403, nothing done.
async fn dpo_refusal(
    state: &AppState,
    staff: &StaffSession,
    form: &FormData,
    lang: Lang,
) -> Option<Response> {
    if let Some(refusal) = recorder_refusal(staff, form, lang) {
        return Some(refusal);
    }
    match may_search(state, &staff.session).await {
        Ok(true) => None,
        Ok(false) => Some(forbidden(lang, &staff.session)),
        Err(e) => Some(store_failure(lang, Some(&staff.session), e)),
    }
}

/// `POST /admin/breaches/{id}/affected`: searches and shows the people affected; with
/// `notify=yes`, prepares and sends their notices (art. 34) and shows what was done.
/// Bad input, or notices without a decision to tell the people, shows the form again,
/// saying why (422), with nothing searched, logged or queued.
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
    if let Some(refusal) = dpo_refusal(&state, &staff, &form, lang).await {
        return refusal;
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
    let mut processing = staff.processing(trace, state.now());
    processing.case_ref = Some(b.reference());
    let shown = match query_from_form(&form, &search, lang) {
        Err(message) => Err(Refusal::Input(message)),
        Ok(query) if form.get("notify") == "yes" => {
            tell(&state, &processing, lang, &b, &query, &form).await
        }
        Ok(query) => find(&state, &processing, lang, &b, &query, &form).await,
    };
    // One answer per request: the form again, with what was found or done, or why not.
    let (status, refused, shown) = match shown {
        Ok(shown) => (StatusCode::OK, None, shown),
        Err(Refusal::Input(message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
            Shown::Nothing,
        ),
        Err(Refusal::Store(e)) => return store_failure(lang, Some(&staff.session), e),
    };
    let p = AffectedPage {
        ctx: Ctx::new(
            lang,
            Some(&staff.session),
            &format!("/admin/breaches/{id}"),
            "",
            format!("{} {}", t(lang, "title"), b.reference()),
        ),
        refused,
        search,
        shown,
        back: format!("/admin/breaches/{id}?lang={}", lang.code()),
    };
    page(status, &p)
}

/// Searches the people affected, a page of `PAGE` per place from the form's `offset`.
async fn find(
    state: &AppState,
    processing: &kluis_store::Processing,
    lang: Lang,
    b: &Breach,
    query: &AffectedQuery,
    form: &FormData,
) -> Result<Shown, Refusal> {
    let offset = form.get("offset").trim().parse::<usize>().unwrap_or(0);
    let found = breach_systems::find_everywhere(
        &state.store,
        &state.settings.system_urls,
        processing,
        b,
        query,
        (PAGE, offset),
    )
    .await?;
    let decided = b.require_decision_to_tell().is_ok();
    Ok(Shown::Found(results(
        lang, query, form, offset, found, decided,
    )))
}

/// Prepares and sends the notices to the people the query finds, as the API's `notify`
/// does. Without a decision to tell them the page says so (as the API refuses), before
/// anything is read.
async fn tell(
    state: &AppState,
    processing: &kluis_store::Processing,
    lang: Lang,
    b: &Breach,
    query: &AffectedQuery,
    form: &FormData,
) -> Result<Shown, Refusal> {
    if b.require_decision_to_tell().is_err() {
        return Err(Refusal::Input(t(lang, "no_decision")));
    }
    // The API's default: Dutch, for people whose language kluis does not know.
    let unknown_language = match form.get("language").trim() {
        "" => Lang::Nl,
        code => code
            .parse::<Lang>()
            .map_err(|_| Refusal::Input(t(lang, "unknown_language")))?,
    };
    let told = breach_systems::tell_people(
        &state.store,
        &state.settings.system_urls,
        processing,
        b,
        query,
        unknown_language,
    )
    .await?;
    Ok(Shown::Told(told_view(lang, query, told)))
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
    decided: bool,
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
        let mut fields = criteria(form);
        fields.push(("offset".into(), (offset + PAGE).to_string()));
        fields
    });
    let in_systems = &found.in_systems;
    // Everyone once when that can be told, else per place (someone may count twice).
    let people: u64 = places.iter().map(|p| p.people).sum();
    let button = match in_systems.total_people {
        Some(n) => i18n::tf(
            lang,
            "admin.breach_affected.notify_button",
            &[("count", &n.to_string())],
        ),
        None => i18n::tf(
            lang,
            "admin.breach_affected.notify_button_per_place",
            &[("count", &people.to_string())],
        ),
    };
    let notify = (decided && people > 0).then(|| NotifyForm {
        fields: criteria(form),
        languages: Lang::ALL
            .into_iter()
            .map(|l| {
                let key = format!("form.lang.{}", l.code());
                (l.code().to_string(), i18n::t(lang, &key).to_string())
            })
            .collect(),
        button,
    });
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
        notify,
    }
}

/// The search's criteria as the form posted them, for the next page or the notices.
fn criteria(form: &FormData) -> Vec<(String, String)> {
    ["activity", "system", "category", "from", "until"]
        .into_iter()
        .map(|name| (name.to_string(), form.get(name).to_string()))
        .collect()
}

/// What telling the people did, in the page's language: the vault's people mailed, to
/// tell by post and told before; the people found only in connected systems likewise;
/// and the systems that could not be searched, whose people are not told yet. Those to
/// tell by post are listed, the vault's first.
fn told_view(lang: Lang, query: &AffectedQuery, told: Told) -> ToldView {
    let count = |key: &str, n: i64| {
        i18n::tf(
            lang,
            &format!("admin.breach_affected.{key}"),
            &[("count", &n.to_string())],
        )
    };
    let mut lines = Vec::new();
    let vault = &told.vault;
    if query.searches_vault() {
        lines.push(count("told_vault_mailed", vault.queued));
    }
    if vault.without_email > 0 {
        lines.push(count("told_vault_by_post", vault.without_email));
    }
    if vault.already_told > 0 {
        lines.push(count("told_vault_before", vault.already_told));
    }
    let systems = &told.in_systems;
    let mailed: i64 = systems.queued.values().sum();
    if mailed > 0 {
        let per_system = systems
            .queued
            .iter()
            .map(|(system, n)| format!("{system}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(i18n::tf(
            lang,
            "admin.breach_affected.told_in_systems",
            &[("count", &mailed.to_string()), ("systems", &per_system)],
        ));
    } else if query.searches_systems() {
        lines.push(t(lang, "told_systems_none"));
    }
    if systems.already_told > 0 {
        lines.push(count("told_systems_before", systems.already_told));
    }
    if !systems.to_tell_by_post.is_empty() {
        let n = i64::try_from(systems.to_tell_by_post.len()).unwrap_or(i64::MAX);
        lines.push(count("told_systems_by_post", n));
    }
    let vault_place = t(lang, "vault");
    let by_post = told
        .vault
        .to_tell_by_post
        .iter()
        .map(|p| (vault_place.clone(), letter_recipient(lang, p)))
        .chain(
            told.in_systems
                .to_tell_by_post
                .into_iter()
                .map(|p| (p.system, identifiers(lang, &p.identifiers))),
        )
        .collect();
    ToldView {
        lines,
        by_post,
        errors: told.in_systems.errors.into_iter().collect(),
    }
}

/// A person of the vault to send a letter: "Bart Peeters (person 0193…)".
fn letter_recipient(lang: Lang, p: &kluis_store::LetterRecipient) -> String {
    let person = format!("{} {}", t(lang, "subject_id"), p.subject_id);
    let name = [&p.given_name, &p.family_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        person
    } else {
        format!("{name} ({person})")
    }
}

/// A person's identifiers as "E-mail address: an@example.be, National number: …".
fn identifiers(lang: Lang, ids: &std::collections::BTreeMap<IdentifierKind, String>) -> String {
    ids.iter()
        .map(|(kind, value)| format!("{}: {value}", label(lang, kind.label_key())))
        .collect::<Vec<_>>()
        .join(", ")
}

fn system_place(lang: Lang, listed: bool, offset: usize, s: &SystemAffectedResult) -> Place {
    let persons: Vec<Person> = s
        .listed
        .iter()
        .map(|p| Person {
            identifiers: identifiers(lang, &p.identifiers),
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
