//! The authority's other systems as described to kluis: each one's dataset map, by name.
//! How to reach a system (its URL and password) lives in configuration, never here.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use kluis_domain::dataset_map::{self, DatasetMap};
use time::OffsetDateTime;

use crate::{Store, StoreError, timestamp};

/// A system's dataset map as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSystem {
    pub map: DatasetMap,
    pub version: i64,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

impl Store {
    /// Adds a system or replaces its map. Every activity the map serves must be in the
    /// register.
    pub async fn put_system(
        &self,
        map: &DatasetMap,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<StoredSystem, StoreError> {
        let now = timestamp(now);
        let yaml = dataset_map::to_yaml(map)
            .map_err(|e| StoreError::Invalid(format!("the dataset map cannot be written: {e}")))?;
        let version = write_transaction!(self, |tx| {
            for activity in &map.activities {
                let known: Option<String> =
                    sqlx::query_scalar("SELECT id FROM activities WHERE id = $1")
                        .bind(activity)
                        .fetch_optional(&mut *tx)
                        .await?;
                if known.is_none() {
                    return Err(StoreError::Invalid(format!(
                        "system '{}' serves processing activity '{activity}', which the \
                         register does not have: add the activity first or correct the map",
                        map.name
                    )));
                }
            }
            let version: i64 = sqlx::query_scalar(
                "INSERT INTO systems (name, map, version, updated_at, updated_by) \
                 VALUES ($1, $2, 1, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET map = excluded.map, \
                 version = systems.version + 1, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by \
                 RETURNING version",
            )
            .bind(&map.name)
            .bind(&yaml)
            .bind(now)
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
            version
        });
        Ok(StoredSystem {
            map: map.clone(),
            version,
            updated_at: now,
            updated_by: actor.to_string(),
        })
    }

    /// Every system, by name.
    pub async fn systems(&self) -> Result<Vec<StoredSystem>, StoreError> {
        let rows: Vec<(String, String, i64, OffsetDateTime, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT name, map, version, updated_at, updated_by FROM systems ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(name, yaml, version, updated_at, updated_by)| {
                let map = parsed(&name, yaml)?;
                Ok(StoredSystem {
                    map,
                    version,
                    updated_at,
                    updated_by,
                })
            })
            .collect()
    }

    /// Removes a system from kluis; its own database is not touched.
    pub async fn delete_system(&self, name: &str) -> Result<(), StoreError> {
        let removed = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM systems WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if removed == 0 {
            return Err(StoreError::NotFound {
                what: "system",
                id: name.to_string(),
            });
        }
        Ok(())
    }
}

/// The map stored as `yaml`, parsed once per text: every search reads the maps, and
/// parsing and validating YAML each time was most of that read. Keyed by the text itself,
/// not the version (which starts again at 1 when a system is removed and added again), so
/// a map changed by another instance is parsed anew. One entry per system name.
fn parsed(name: &str, yaml: String) -> Result<DatasetMap, StoreError> {
    static PARSED: LazyLock<Mutex<HashMap<String, (String, DatasetMap)>>> =
        LazyLock::new(Default::default);
    if let Some((text, map)) = PARSED.lock().unwrap_or_else(|p| p.into_inner()).get(name)
        && *text == yaml
    {
        return Ok(map.clone());
    }
    let map = dataset_map::parse(name, &yaml)
        .map_err(|e| StoreError::Corrupt(format!("dataset map of {name}: {e}")))?;
    PARSED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_string(), (yaml, map.clone()));
    Ok(map)
}
