//! Searching the authority's other systems for one person, for the API and the command
//! line alike: the systems of the caller's activities, all at once, every hit logged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kluis_connectors::{Hit, PersonQuery, System, find_all, mask_password};
use kluis_domain::access::Scope;
use kluis_domain::dataset_map::DatasetMap;
use kluis_domain::identifiers::IdentifierKind;
use kluis_domain::inventory::SubjectIdentity;
use kluis_store::{Processing, Store, StoreError, SubjectQuery};
use serde::Serialize;

/// Connection URLs by system name. Debug masks the passwords.
#[derive(Clone, Default)]
pub struct SystemUrls(pub BTreeMap<String, String>);

impl fmt::Debug for SystemUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, mask_password(v))))
            .finish()
    }
}

/// What one system holds on the person, or why it could not say.
#[derive(Debug, Serialize)]
pub struct SystemResult {
    pub system: String,
    /// The processing activities the system serves (those the caller may see).
    pub activities: Vec<String>,
    pub rows: Vec<Hit>,
    /// Set when the system could not be searched: the result is incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The identifiers to search the systems by: the one asked for, plus every identifier of
/// the people the vault found by it. The first is the one the log's pseudonym uses.
pub fn person_query(
    query: &SubjectQuery,
    found: &[&SubjectIdentity],
) -> (PersonQuery, Option<(IdentifierKind, String)>) {
    let mut person = PersonQuery::new();
    let mut primary = None;
    match query {
        SubjectQuery::NationalNumber(n) => {
            person = person.national_number(n);
            primary = Some((IdentifierKind::NationalNumber, n.digits()));
        }
        SubjectQuery::Bsn(b) => {
            person = person.bsn(b);
            primary = Some((IdentifierKind::Bsn, b.digits()));
        }
        SubjectQuery::Email(e) => {
            person = person.email(e);
            primary = Some((IdentifierKind::Email, e.as_str().to_string()));
        }
        SubjectQuery::Phone(p) => {
            person = person.phone(p);
            primary = Some((IdentifierKind::Phone, p.as_str().to_string()));
        }
        SubjectQuery::Id(_) => {}
    }
    for identity in found {
        if let Some(n) = &identity.national_number {
            person = person.national_number(n);
        }
        if let Some(b) = &identity.bsn {
            person = person.bsn(b);
        }
        if let Some(e) = &identity.email {
            person = person.email(e);
        }
        if let Some(p) = &identity.phone {
            person = person.phone(p);
        }
        if primary.is_none() {
            primary = identity.identifiers().into_iter().next();
        }
    }
    (person, primary)
}

/// Searches every system serving an activity in `scope`. A system without a configured
/// URL, or one that cannot be reached, gives an error in its result and does not hold up
/// the others. Every system with rows gets its log entries.
pub async fn search(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    person: &PersonQuery,
    primary: Option<&(IdentifierKind, String)>,
    scope: &Scope,
) -> Result<Vec<SystemResult>, StoreError> {
    search_part(store, urls, processing, person, primary, scope, Some).await
}

/// As [`search`], each system searched by the part of its map `part` gives; a system
/// it gives none of is not searched (nor named).
pub async fn search_part(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    person: &PersonQuery,
    primary: Option<&(IdentifierKind, String)>,
    scope: &Scope,
    part: impl Fn(DatasetMap) -> Option<DatasetMap>,
) -> Result<Vec<SystemResult>, StoreError> {
    if person.is_empty() {
        return Ok(Vec::new());
    }
    let mut results = Vec::new();
    let mut searchable = Vec::new();
    for stored in store.systems().await? {
        let Some(map) = part(stored.map) else {
            continue;
        };
        let activities: Vec<String> = map
            .activities
            .iter()
            .filter(|a| scope.allows(a))
            .cloned()
            .collect();
        if activities.is_empty() {
            continue;
        }
        let name = map.name.clone();
        let system = match urls.0.get(&name) {
            None => Err(format!(
                "no connection is configured for system '{name}': set [systems.{name}] url in \
                 the configuration or KLUIS_SYSTEM_{}_URL",
                name.to_uppercase().replace('-', "_")
            )),
            Some(url) => System::new(map, url).map_err(|e| e.to_string()),
        };
        match system {
            Ok(system) => searchable.push((system, activities)),
            Err(error) => results.push(SystemResult {
                system: name,
                activities,
                rows: Vec::new(),
                error: Some(error),
            }),
        }
    }
    let systems: Vec<System> = searchable.iter().map(|(s, _)| s.clone()).collect();
    let found = find_all(&systems, person, Some(&processing.trace)).await;
    for (hits, (_, activities)) in found.into_iter().zip(searchable) {
        let result = match hits.result {
            Ok(rows) => {
                if let (Some((kind, value)), false) = (primary, rows.is_empty()) {
                    let categories: BTreeSet<_> = rows.iter().flat_map(Hit::categories).collect();
                    store
                        .log_system_hits(
                            processing,
                            &hits.system,
                            &activities,
                            (*kind, value),
                            &categories,
                        )
                        .await?;
                }
                SystemResult {
                    system: hits.system,
                    activities,
                    rows,
                    error: None,
                }
            }
            Err(e) => SystemResult {
                system: hits.system,
                activities,
                rows: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        results.push(result);
    }
    results.sort_by(|a, b| a.system.cmp(&b.system));
    Ok(results)
}
