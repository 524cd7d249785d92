//! The people a data breach affects in the authority's connected systems, for the API and
//! the command line alike: the systems the query names, or that serve its activities, all
//! at once; per system the rows and people affected, and who they are when they must be
//! told, each listed person logged.
//!
//! A person found in the vault and in a system, or in two systems, is counted once when
//! that can be told: by a shared identifier (national number, BSN, e-mail, phone), which
//! needs the people listed. Counts alone are per place.

use std::collections::{BTreeMap, BTreeSet};

use kluis_connectors::{BreachScope, System, TableAffected, find_affected_all};
use kluis_domain::breach::{AffectedQuery, VAULT, people_notice};
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::IdentifierKind;
use kluis_domain::text::Lang;
use kluis_store::{Affected, Breach, NotifyOutcome, Processing, Store, StoreError};
use serde::Serialize;
use uuid::Uuid;

use crate::systems::SystemUrls;

/// People listed per system when the caller does not say how many.
pub const DEFAULT_LIST: usize = 1_000;

/// Whether the people a breach affects may be listed by who they are (art. 34): the risk
/// is high, or the DPO decided to tell them. Otherwise they are only counted.
pub fn may_list_people(b: &Breach) -> bool {
    b.facts.risk_level() == Some(kluis_domain::breach::RiskLevel::HighRisk)
        || b.art34.as_ref().is_some_and(|d| d.decision.inform)
}

/// What a search for the people a breach affects found, in the vault and the systems.
#[derive(Debug)]
pub struct AffectedEverywhere {
    pub vault: Affected,
    /// Whether the people are listed (see [`may_list_people`]).
    pub listed: bool,
    pub in_systems: AffectedInSystems,
}

/// Finds the people breach `b` affects, as the API, the back office and the command line
/// show them: the vault, then the connected systems, listing `page` (how many, from
/// which) per system when the people may be listed. The query and the systems it names
/// are checked before anything is read, so a refused query logs nothing.
pub async fn find_everywhere(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    b: &Breach,
    query: &AffectedQuery,
    page: (usize, usize),
) -> Result<AffectedEverywhere, StoreError> {
    check_query(store, query).await?;
    let vault = store.find_affected(processing, b.id, query).await?;
    let listed = may_list_people(b);
    let in_systems = search(
        store,
        urls,
        processing,
        b.id,
        query,
        listed.then_some(page),
        &vault,
    )
    .await?;
    Ok(AffectedEverywhere {
        vault,
        listed,
        in_systems,
    })
}

/// What one system holds of the breach, or why it could not say.
#[derive(Debug, Serialize)]
pub struct SystemAffectedResult {
    pub system: String,
    /// The processing activities the system serves (those the query asked for).
    pub activities: Vec<String>,
    pub tables: Vec<TableAffected>,
    pub rows: u64,
    pub people: u64,
    /// The people, when they must be told: at most `cap`, from the offset asked on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listed: Vec<ListedPerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Set when the system could not be searched: its counts are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A person affected in a system, by the identifiers its dataset map lists.
#[derive(Debug, Serialize)]
pub struct ListedPerson {
    pub identifiers: BTreeMap<IdentifierKind, String>,
    pub categories: BTreeSet<DataCategory>,
    /// Also among the people the vault found for this breach: counted there.
    pub in_vault: bool,
    /// Also found in this system, listed before: counted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also_in: Option<String>,
}

/// The connected systems' part of a search for the people affected.
#[derive(Debug, Serialize)]
pub struct AffectedInSystems {
    pub systems: Vec<SystemAffectedResult>,
    /// The people in the vault and the systems, each once; None when that cannot be told
    /// (`total_note` says why).
    pub total_people: Option<u64>,
    pub total_note: String,
}

/// People listed per system and round when telling them: the systems are read in
/// pages of this size until everyone is listed.
const TELL_PAGE: usize = 1_000;

/// What telling the people found only in connected systems did (art. 34).
#[derive(Debug, Default, Serialize)]
pub struct ToldInSystems {
    /// Mails queued now, per system.
    pub queued: BTreeMap<String, i64>,
    /// Addresses told before for this breach, left alone.
    pub already_told: i64,
    /// People known in a system by no e-mail address: to tell by other means (post).
    pub to_tell_by_post: Vec<ByPost>,
    /// Systems that could not be searched: their people are not told yet.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

/// A person to tell by post, by the identifiers their system holds.
#[derive(Debug, Serialize)]
pub struct ByPost {
    pub system: String,
    pub identifiers: BTreeMap<IdentifierKind, String>,
}

/// The language of the notice to people found only in a system, whose language kluis
/// does not know: the controller's. The register keeps no language per controller, so
/// it is the first language the controller's name is written in (Dutch when it has a
/// Dutch name), else Dutch.
fn controller_language(controller: &kluis_domain::register::Controller) -> Lang {
    controller.name.languages().next().unwrap_or(Lang::Nl)
}

/// What telling the people a breach affects did (art. 34): the vault's people and
/// those found only in connected systems.
#[derive(Debug)]
pub struct Told {
    /// The vault's people: found, mailed now, without an e-mail address (who, for a
    /// letter), told before.
    pub vault: NotifyOutcome,
    pub in_systems: ToldInSystems,
}

/// Prepares and sends the notice (art. 34) to the people `query` finds for breach `b`,
/// for the API's `notify` and the back office alike: the vault's people get a mail in
/// their language (`unknown_language` when kluis does not know it) or are recorded to
/// be told by post; people found only in a connected system are mailed in the
/// controller's language, or listed to be told by post. Refused, with nothing read or
/// queued, without a decision to tell the people or with a query naming no known place.
///
/// Each person the vault holds is logged once as a search hit, and that finding also
/// leaves the vault's people out of the systems' list (it is not searched for again);
/// telling a person is logged by the store with the notice.
pub async fn tell_people(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    b: &Breach,
    query: &AffectedQuery,
    unknown_language: Lang,
) -> Result<Told, StoreError> {
    b.require_decision_to_tell()?;
    check_query(store, query).await?;
    let controller = store
        .controller(&b.facts.controller)
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "controller '{}' of this breach is no longer in the register: add it again \
                 to tell the people",
                b.facts.controller
            ))
        })?
        .value;
    let texts: BTreeMap<Lang, (String, String)> = Lang::ALL
        .into_iter()
        .map(|l| (l, people_notice(l, &b.facts, &controller)))
        .collect();
    let found = store.find_affected(processing, b.id, query).await?;
    let vault = store
        .notify_affected(processing, b.id, query, &texts, unknown_language)
        .await?;
    // People found only in a system: kluis does not know their language.
    let lang = controller_language(&controller);
    let notice = (lang, &texts[&lang]);
    let in_systems = tell_in_systems(store, urls, processing, b.id, query, &found, notice).await?;
    Ok(Told { vault, in_systems })
}

/// Tells the people breach `breach_id` affects who were found only in a connected
/// system (not among the vault's people `vault`, not counted in a system before): the
/// `notice` (language, subject and body) mailed to each address (once per breach), and
/// the list of those to tell by post. The caller checked the decision to tell them and the query.
async fn tell_in_systems(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    breach_id: Uuid,
    query: &AffectedQuery,
    vault: &Affected,
    (lang, text): (Lang, &(String, String)),
) -> Result<ToldInSystems, StoreError> {
    let mut told = ToldInSystems::default();
    if !query.searches_systems() {
        return Ok(told);
    }
    let mut recipients = Vec::new();
    let mut offset = 0;
    loop {
        let found = search(
            store,
            urls,
            processing,
            breach_id,
            query,
            Some((TELL_PAGE, offset)),
            vault,
        )
        .await?;
        let mut more = false;
        for s in found.systems {
            if let Some(error) = s.error {
                told.errors.insert(s.system, error);
                continue;
            }
            more |= !s.listed.is_empty()
                && u64::try_from(offset + s.listed.len()).unwrap_or(u64::MAX) < s.people;
            for person in s.listed {
                if person.in_vault || person.also_in.is_some() {
                    continue;
                }
                match person
                    .identifiers
                    .get(&IdentifierKind::Email)
                    .and_then(|e| e.parse().ok())
                {
                    Some(email) => recipients.push(kluis_store::SystemRecipient {
                        system: s.system.clone(),
                        activities: s.activities.clone(),
                        email,
                    }),
                    None => told.to_tell_by_post.push(ByPost {
                        system: s.system.clone(),
                        identifiers: person.identifiers,
                    }),
                }
            }
        }
        if !more {
            break;
        }
        offset += TELL_PAGE;
    }
    let outcome = store
        .notify_system_people(processing, breach_id, &recipients, text, lang)
        .await?;
    told.queued = outcome.queued;
    told.already_told = outcome.already_told;
    Ok(told)
}

/// Checks a query and the places it names before anything is read.
pub async fn check_query(store: &Store, query: &AffectedQuery) -> Result<(), StoreError> {
    query
        .check()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    check_named(&store.systems().await?, query)
}

/// Searches the connected systems for the people `query` concerns. `list` is (how many,
/// from which) people to list per system, None for counts only; `vault` is what the
/// vault found, to count people in both once. A system without a configured URL, or one
/// that cannot be reached, gives an error in its result and does not hold up the others.
pub async fn search(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    breach_id: Uuid,
    query: &AffectedQuery,
    list: Option<(usize, usize)>,
    vault: &Affected,
) -> Result<AffectedInSystems, StoreError> {
    let (mut results, searchable) = systems_for(store, urls, query).await?;
    let scope = BreachScope {
        categories: query.data_categories.clone(),
        from: query.collected_from,
        until: query.collected_until,
        list: list.map(|(n, _)| n),
        offset: list.map_or(0, |(_, from)| from),
    };
    let systems: Vec<System> = searchable.iter().map(|(s, _)| s.clone()).collect();
    let found = find_affected_all(&systems, &scope).await;
    for ((name, result), (_, activities)) in found.into_iter().zip(searchable) {
        let result = match result {
            Ok(found) => {
                let people: Vec<_> = found
                    .listed
                    .iter()
                    .map(|p| {
                        (
                            p.identifiers.clone().into_iter().collect(),
                            p.categories.clone(),
                        )
                    })
                    .collect();
                store
                    .log_breach_system_hits(processing, breach_id, &name, &activities, &people)
                    .await?;
                SystemAffectedResult {
                    rows: found.rows(),
                    system: name,
                    activities,
                    people: found.people,
                    listed: found
                        .listed
                        .into_iter()
                        .map(|p| ListedPerson {
                            identifiers: p.identifiers,
                            categories: p.categories,
                            in_vault: false,
                            also_in: None,
                        })
                        .collect(),
                    cap: found.cap,
                    notes: found.notes,
                    tables: found.tables,
                    error: None,
                }
            }
            Err(e) => failed(name, activities, e.to_string()),
        };
        results.push(result);
    }
    results.sort_by(|a, b| a.system.cmp(&b.system));
    let duplicates = mark_duplicates(&mut results, &vault.identifiers);
    let (total_people, total_note) = total(&results, vault, duplicates);
    Ok(AffectedInSystems {
        systems: results,
        total_people,
        total_note,
    })
}

/// The systems to search: named by the query, or serving one of its activities (every
/// system when it names neither), each reachable or with its error.
async fn systems_for(
    store: &Store,
    urls: &SystemUrls,
    query: &AffectedQuery,
) -> Result<(Vec<SystemAffectedResult>, Vec<(System, Vec<String>)>), StoreError> {
    let registered = store.systems().await?;
    check_named(&registered, query)?;
    let mut failures = Vec::new();
    let mut searchable = Vec::new();
    for stored in registered {
        let name = stored.map.name.clone();
        if !query.systems.is_empty() && !query.systems.contains(&name) {
            continue;
        }
        let activities: Vec<String> = stored
            .map
            .activities
            .iter()
            .filter(|a| query.activities.is_empty() || query.activities.contains(*a))
            .cloned()
            .collect();
        if activities.is_empty() {
            continue;
        }
        let system = match urls.0.get(&name) {
            None => Err(format!(
                "no connection is configured for system '{name}': set [systems.{name}] url in \
                 the configuration or KLUIS_SYSTEM_{}_URL",
                name.to_uppercase().replace('-', "_")
            )),
            Some(url) => System::new(stored.map, url).map_err(|e| e.to_string()),
        };
        match system {
            Ok(system) => searchable.push((system, activities)),
            Err(error) => failures.push(failed(name, activities, error)),
        }
    }
    Ok((failures, searchable))
}

/// Refuses a query naming a place that is neither the vault nor a registered system.
fn check_named(
    registered: &[kluis_store::StoredSystem],
    query: &AffectedQuery,
) -> Result<(), StoreError> {
    for name in &query.systems {
        if name != VAULT && !registered.iter().any(|s| &s.map.name == name) {
            return Err(StoreError::Invalid(format!(
                "there is no system '{name}': name a system registered with `kluis systems \
                 add`, or '{VAULT}' for kluis's own records"
            )));
        }
    }
    Ok(())
}

fn failed(system: String, activities: Vec<String>, error: String) -> SystemAffectedResult {
    SystemAffectedResult {
        system,
        activities,
        tables: Vec::new(),
        rows: 0,
        people: 0,
        listed: Vec::new(),
        cap: None,
        notes: Vec::new(),
        error: Some(error),
    }
}

/// Marks each listed person already found in the vault or in a system listed before, by
/// a shared identifier; returns how many were.
fn mark_duplicates(
    results: &mut [SystemAffectedResult],
    vault: &BTreeSet<(IdentifierKind, String)>,
) -> u64 {
    let mut seen: BTreeMap<(IdentifierKind, String), String> = BTreeMap::new();
    let mut duplicates = 0;
    for result in results.iter_mut() {
        for person in &mut result.listed {
            let ids: Vec<(IdentifierKind, String)> = person
                .identifiers
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            person.in_vault = ids.iter().any(|id| vault.contains(id));
            person.also_in = ids.iter().find_map(|id| seen.get(id).cloned());
            if person.in_vault || person.also_in.is_some() {
                duplicates += 1;
            }
            for id in ids {
                seen.entry(id).or_insert_with(|| result.system.clone());
            }
        }
    }
    duplicates
}

/// Everyone once, when every system answered and listed all its people.
fn total(
    results: &[SystemAffectedResult],
    vault: &Affected,
    duplicates: u64,
) -> (Option<u64>, String) {
    let in_vault = u64::try_from(vault.subjects.len()).unwrap_or(u64::MAX);
    if results.is_empty() {
        return (
            Some(in_vault),
            "no connected system concerns this search".into(),
        );
    }
    if results.iter().any(|r| r.error.is_some()) {
        return (
            None,
            "a system could not be searched: the people there are not counted".into(),
        );
    }
    let complete = results
        .iter()
        .all(|r| u64::try_from(r.listed.len()).unwrap_or(u64::MAX) == r.people);
    if !complete {
        return (
            None,
            "counted per place: someone in the vault and in a system, or in two systems, \
             counts in each; people are told apart only when all of them are listed (when \
             the risk is high, with a list large enough)"
                .into(),
        );
    }
    let people: u64 = results.iter().map(|r| r.people).sum();
    (
        Some(in_vault + people - duplicates),
        "each person once, matched on national number, BSN, e-mail or phone; someone known \
         by different identifiers in two places still counts twice"
            .into(),
    )
}
