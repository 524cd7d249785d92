//! Retention in the connected systems, for the back-office and the command line alike:
//! which systems have tables with a retention, and the plan of what their sweep will
//! delete, anonymise and keep up to a day, per table, with what the map's strategy does.

use std::collections::BTreeMap;

use kluis_connectors::{PersonQuery, System, TableErasureReport, expired};
use kluis_domain::dataset_map::{ColumnErasure, RetentionPeriods, Table, TableErasure};
use kluis_domain::register::Slug;
use kluis_domain::retention::RetentionSchedule;
use kluis_store::{Store, StoreError};
use serde::Serialize;
use time::Date;

use crate::systems::SystemUrls;

/// A connected system whose map gives tables a retention: its connection and periods, or
/// why it cannot be swept.
pub type Sweepable = (String, Result<(System, RetentionPeriods), String>);

/// What the sweep will do to one table's rows up to the plan's day.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    pub table: String,
    /// The activity whose retention ends for these rows.
    pub activity: String,
    pub to_delete: u64,
    pub to_anonymise: u64,
    /// Rows whose retention ends but that the law keeps (`kept_because`).
    pub kept: u64,
    /// Rows of people under a legal hold: left alone.
    pub held: u64,
    /// What the map's strategy does, in words: `delete row`, `set null: street; mask:
    /// name`, `keep: reason`.
    pub strategy: String,
    pub kept_because: Vec<String>,
}

/// One system's part of the plan, or why it cannot say.
#[derive(Debug, Clone, Serialize)]
pub struct SystemPlan {
    pub system: String,
    pub tables: Vec<TablePlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SystemPlan {
    pub fn to_delete(&self) -> u64 {
        self.tables.iter().map(|t| t.to_delete).sum()
    }

    pub fn to_anonymise(&self) -> u64 {
        self.tables.iter().map(|t| t.to_anonymise).sum()
    }
}

/// The connected systems whose maps give tables a retention, each with its connection and
/// the periods resolved against the register; or why one cannot be swept.
pub async fn sweepable_systems(
    store: &Store,
    urls: &SystemUrls,
) -> Result<Vec<Sweepable>, StoreError> {
    let schedules: BTreeMap<Slug, Vec<RetentionSchedule>> = store
        .activities(None)
        .await?
        .into_iter()
        .map(|a| (a.value.id, a.value.retention))
        .collect();
    let mut systems = Vec::new();
    for stored in store.systems().await? {
        let name = stored.map.name.clone();
        if stored.map.tables.values().all(|t| t.retention.is_none()) {
            continue;
        }
        let periods = match stored.map.retention_periods(&schedules) {
            Ok(periods) => periods,
            Err(issues) => {
                let issues: Vec<String> = issues
                    .iter()
                    .map(|i| format!("{}: {}", i.path.join("."), i.message))
                    .collect();
                systems.push((name, Err(issues.join("; "))));
                continue;
            }
        };
        let system = match urls.0.get(&name) {
            None => Err(format!(
                "no connection is configured for system '{name}': set [systems.{name}] url"
            )),
            Some(url) => System::new(stored.map, url).map_err(|e| e.to_string()),
        };
        systems.push((name, system.map(|s| (s, periods))));
    }
    Ok(systems)
}

/// The identifiers of the people a legal hold keeps on `today` (held themselves, or
/// through a held record or case): their rows in the connected systems are not swept.
pub async fn held_people(store: &Store, today: Date) -> Result<PersonQuery, StoreError> {
    let mut held = PersonQuery::new();
    for identity in store.held_people(today).await? {
        if let Some(n) = &identity.national_number {
            held = held.national_number(n);
        }
        if let Some(b) = &identity.bsn {
            held = held.bsn(b);
        }
        if let Some(e) = &identity.email {
            held = held.email(e);
        }
        if let Some(p) = &identity.phone {
            held = held.phone(p);
        }
    }
    Ok(held)
}

/// What the sweeps up to and including `until` will do in each connected system, per
/// table: the rows deleted, anonymised, kept for the law and held. Counts only (one
/// read-only transaction per system); a system that cannot be reached says why.
pub async fn systems_plan(
    store: &Store,
    urls: &SystemUrls,
    until: Date,
    today: Date,
) -> Result<Vec<SystemPlan>, StoreError> {
    let systems = sweepable_systems(store, urls).await?;
    let held = if systems.is_empty() {
        PersonQuery::new()
    } else {
        held_people(store, today).await?
    };
    // The sweep on a day erases what was due up to the day before.
    let sweep_day = until.next_day().unwrap_or(until);
    let mut plans = Vec::new();
    for (name, system) in systems {
        let plan = match system {
            Ok((system, periods)) => match expired(&system, &periods, &held, sweep_day).await {
                Ok(tables) => SystemPlan {
                    tables: tables.iter().map(|t| table_plan(&system, t)).collect(),
                    system: name,
                    error: None,
                },
                Err(e) => failed(name, e.to_string()),
            },
            Err(e) => failed(name, e),
        };
        plans.push(plan);
    }
    Ok(plans)
}

fn failed(system: String, error: String) -> SystemPlan {
    SystemPlan {
        system,
        tables: Vec::new(),
        error: Some(error),
    }
}

fn table_plan(system: &System, t: &TableErasureReport) -> TablePlan {
    let map = system.map();
    TablePlan {
        table: t.table.clone(),
        activity: t
            .retention
            .as_ref()
            .and_then(|r| r.activity.clone())
            .or_else(|| map.activities.first().cloned())
            .unwrap_or_default(),
        to_delete: t.deleted,
        to_anonymise: t.anonymised,
        kept: t.kept,
        held: t.held,
        strategy: map.tables.get(&t.table).map(strategy).unwrap_or_default(),
        kept_because: t.kept_because.clone(),
    }
}

/// What erasure does to a table's rows, in the map's words: `delete row`, `keep: reason`,
/// or per column `set null: a, b; mask: c; keep: d`.
pub fn strategy(table: &Table) -> String {
    match &table.erasure {
        Some(TableErasure::DeleteRow) => "delete row".into(),
        Some(TableErasure::Keep(reason)) => format!("keep: {reason}"),
        None => {
            let mut set_null = Vec::new();
            let mut mask = Vec::new();
            let mut keep = Vec::new();
            for (name, column) in &table.columns {
                match &column.erasure {
                    Some(ColumnErasure::SetNull) => set_null.push(name.as_str()),
                    Some(ColumnErasure::Mask(_)) => mask.push(name.as_str()),
                    Some(ColumnErasure::Keep(_)) | None => keep.push(name.as_str()),
                }
            }
            let parts: Vec<String> = [("set null", set_null), ("mask", mask), ("keep", keep)]
                .into_iter()
                .filter(|(_, columns)| !columns.is_empty())
                .map(|(what, columns)| format!("{what}: {}", columns.join(", ")))
                .collect();
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strategy_is_said_in_the_maps_words() {
        let hr = kluis_connectors::testing::hr_map();
        assert_eq!(strategy(&hr.tables["applications"]), "delete row");
        let accounting = kluis_connectors::testing::accounting_map();
        assert_eq!(
            strategy(&accounting.tables["suppliers"]),
            "set null: city, postcode, street; mask: email, name, phone; keep: iban, \
             national_number"
        );
        assert!(strategy(&accounting.tables["invoices"]).starts_with("keep: Bookkeeping"));
    }
}
