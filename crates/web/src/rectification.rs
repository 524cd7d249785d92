//! Rectification in a connected system (GDPR art. 16), for the API and the command line
//! alike: one column of the person's rows in one table of one system gets a new value.
//!
//! Refused unless the request may change data (identity verified, decided, something
//! granted) and rectification was granted for an activity the system serves. The change
//! is made where the data lives (`kluis_connectors::rectify_person`, one transaction in the
//! system that reads each changed row's old value before it changes it); the request
//! records it in one transaction of the store: on its timeline (`rectified_in_system`:
//! system, table, column and rows changed, never the value), in the processing log (an
//! Update with the request as case and the system and field named), the old and new values
//! sealed (read back with `Store::rectifications_in_systems`), and the request's
//! rectification action for the system marked done when granted whole. The request's
//! actions are planned first (as a fulfilment run plans them), so there is an action to
//! mark. A done action does not stop further columns from being rectified. When the system
//! fails, nothing is recorded.

use kluis_connectors::{RectificationRefused, System, rectify_person};
use kluis_domain::dataset_map::DatasetMap;
use kluis_domain::rights::{self, Right, Stage};
use kluis_store::{Processing, RowValue, Store, StoreError, SubjectQuery, SystemRectification};
use serde::Serialize;
use uuid::Uuid;

use crate::fulfilment::{FulfilmentError, identity_of, refuse_unless_fulfillable};
use crate::systems::{SystemUrls, person_query};

/// Longest value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RectificationError {
    /// Bad input: an unknown system, a column the map does not list, a person without
    /// identifiers to find them by.
    #[error("{0}")]
    Invalid(String),
    /// The request does not allow it (stage, or rectification not granted for the system).
    #[error("{0}")]
    Refused(String),
    /// The system could not be reached or did not do it: nothing was changed there.
    #[error("system '{system}' did not rectify: {error}")]
    System { system: String, error: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a rectification did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RectificationOutcome {
    pub reference: String,
    pub system: String,
    pub table: String,
    pub column: String,
    /// The activities rectification was granted for that the system serves.
    pub activities: Vec<String>,
    /// The person's rows in the table.
    pub rows: u64,
    /// The rows given the new value (the others held it already).
    pub changed: u64,
    /// The value each changed row held before, by primary key (`null` for NULL): what
    /// undoes a wrong change.
    pub old_values: Vec<RowValue>,
}

/// Sets `column` of the person's rows in `table` of `system` to `value`, for request
/// `request_id`, as `processing` (whose case becomes the request's reference), and records
/// it with the request.
#[allow(clippy::too_many_arguments)]
pub async fn rectify_in_system(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request_id: Uuid,
    system: &str,
    table: &str,
    column: &str,
    value: &str,
) -> Result<RectificationOutcome, RectificationError> {
    for (what, given) in [("system", system), ("table", table), ("column", column)] {
        if given.trim().is_empty() {
            return Err(RectificationError::Invalid(format!("name the {what}")));
        }
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(RectificationError::Invalid(format!(
            "the value is longer than {MAX_VALUE_BYTES} bytes"
        )));
    }
    let request = store.rights_request(request_id).await?;
    if request.stage != Stage::Fulfilled {
        refuse_unless_fulfillable(&request).map_err(|e| match e {
            FulfilmentError::Refused(why) => RectificationError::Refused(why),
            FulfilmentError::Store(e) => RectificationError::Store(e),
        })?;
    }
    if !rights::may_release_data(request.stage, request.grants()) {
        return Err(RectificationError::Refused(format!(
            "a request that is {} does not change data",
            request.stage
        )));
    }
    let maps: Vec<DatasetMap> = store.systems().await?.into_iter().map(|s| s.map).collect();
    let Some(map) = maps.iter().find(|m| m.name == system).cloned() else {
        return Err(RectificationError::Invalid(format!(
            "no system '{system}' is registered: register its dataset map (kluis systems add)"
        )));
    };
    let granted: Vec<String> = request
        .decisions
        .iter()
        .filter(|d| d.right == Right::Rectification && d.grants())
        .filter(|d| map.activities.contains(&d.activity))
        .map(|d| d.activity.clone())
        .collect();
    if granted.is_empty() {
        return Err(RectificationError::Refused(format!(
            "request {} did not grant rectification for an activity system '{system}' \
             serves ({})",
            request.reference,
            map.activities.join(", ")
        )));
    }
    let Some(category) = map
        .tables
        .get(table)
        .and_then(|t| t.columns.get(column))
        .map(|c| c.category)
    else {
        return Err(RectificationError::Invalid(
            RectificationRefused::NotInMap {
                system: system.to_string(),
                table: table.to_string(),
                column: column.to_string(),
            }
            .to_string(),
        ));
    };
    let Some(url) = urls.0.get(system) else {
        return Err(RectificationError::System {
            system: system.to_string(),
            error: format!(
                "no connection is configured: set [systems.{system}] url in the configuration \
                 or KLUIS_SYSTEM_{}_URL",
                system.to_uppercase().replace('-', "_")
            ),
        });
    };
    let connection = System::new(map, url).map_err(|e| RectificationError::System {
        system: system.to_string(),
        error: e.to_string(),
    })?;
    let mut processing = processing.clone();
    processing.case_ref = Some(request.reference.clone());
    let identity = identity_of(store, &processing, &request).await?;
    let (person, _) = person_query(&SubjectQuery::Id(request.id), &[&identity]);
    if person.is_empty() {
        return Err(RectificationError::Invalid(
            "the person has no identifier the systems can be searched by (national number, \
             BSN, e-mail or phone): rectify by hand"
                .into(),
        ));
    }
    if request.stage != Stage::Fulfilled {
        // The action a rectification marks done, as a fulfilment run plans it.
        store.plan_fulfilment(request.id, &maps).await?;
    }
    let report = rectify_person(
        &connection,
        &person,
        table,
        column,
        value,
        Some(&processing.trace),
    )
    .await
    .map_err(|e| RectificationError::Invalid(e.to_string()))?;
    if let Some(error) = &report.error {
        return Err(RectificationError::System {
            system: system.to_string(),
            error: error.to_string(),
        });
    }
    let (rows, changed) = report
        .tables
        .iter()
        .fold((0, 0), |(r, c), t| (r + t.rows, c + t.changed));
    let old_values: Vec<RowValue> = report
        .tables
        .into_iter()
        .flat_map(|t| t.old_values)
        .map(|o| RowValue {
            key: o.key,
            value: o.value,
        })
        .collect();
    let done = SystemRectification {
        system: system.to_string(),
        table: table.to_string(),
        column: column.to_string(),
        category,
        activities: granted,
        rows,
        changed,
        new_value: value.to_string(),
        old_values,
    };
    store
        .record_system_rectification(&processing, request.id, &identity, &done)
        .await?;
    Ok(RectificationOutcome {
        reference: request.reference,
        system: done.system,
        table: done.table,
        column: done.column,
        activities: done.activities,
        rows,
        changed,
        old_values: done.old_values,
    })
}
