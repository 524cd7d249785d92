//! The register of processing activities: controllers, processors, agreements and
//! versioned processing activities.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kluis_domain::register::{
    ActivityStatus, Agreement, Controller, ProcessingActivity, Processor, Register,
};
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::error::{on_foreign_key, on_unique, stale};
use crate::{Store, StoreError, timestamp};

/// An entity with the version that optimistic concurrency checks against.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    /// Starts at 1 and grows by 1 with every saved change.
    pub version: i64,
    pub updated_at: OffsetDateTime,
}

/// One version of a processing activity, in force from `valid_from` until the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityVersion {
    pub activity: ProcessingActivity,
    pub version: i64,
    pub valid_from: OffsetDateTime,
    pub recorded_by: String,
}

/// What an import did, counted over controllers, processors, agreements and activities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// With prune: activities retired, plus processors and agreements deleted.
    pub retired: usize,
}

/// A stored entity as read: (document, version, updated at).
type DocumentRow<T> = (Json<T>, i64, OffsetDateTime);

fn versioned<T>((Json(value), version, updated_at): DocumentRow<T>) -> Versioned<T> {
    Versioned {
        value,
        version,
        updated_at,
    }
}

/// The four methods of an entity stored as one versioned document per row.
macro_rules! document_entity {
    (
        $ty:ty, what: $what:literal, table: $table:literal,
        list: $list:ident, get: $get:ident, put: $put:ident, delete: $delete:ident $(,)?
    ) => {
        impl Store {
            #[doc = concat!("Every ", $what, ", by id.")]
            pub async fn $list(&self) -> Result<Vec<Versioned<$ty>>, StoreError> {
                let rows: Vec<DocumentRow<$ty>> = on_pool!(self, |pool| {
                    sqlx::query_as(concat!(
                        "SELECT document, version, updated_at FROM ",
                        $table,
                        " ORDER BY position, id"
                    ))
                    .fetch_all(pool)
                    .await?
                });
                Ok(rows.into_iter().map(versioned).collect())
            }

            #[doc = concat!("The ", $what, " with this id, if any.")]
            pub async fn $get(&self, id: &str) -> Result<Option<Versioned<$ty>>, StoreError> {
                let row: Option<DocumentRow<$ty>> = on_pool!(self, |pool| {
                    sqlx::query_as(concat!(
                        "SELECT document, version, updated_at FROM ",
                        $table,
                        " WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
                });
                Ok(row.map(versioned))
            }

            #[doc = concat!(
                        "Creates (`expected_version` None) or updates the ", $what, ". An update ",
                        "applies only when the stored version is `expected_version`."
                    )]
            pub async fn $put(
                &self,
                value: &$ty,
                expected_version: Option<i64>,
                actor: &str,
                now: OffsetDateTime,
            ) -> Result<Versioned<$ty>, StoreError> {
                let now = timestamp(now);
                let id = value.id.as_str();
                let version = match expected_version {
                    None => {
                        on_pool!(self, |pool| {
                            sqlx::query(concat!(
                                "INSERT INTO ",
                                $table,
                                " (id, document, version, updated_at, updated_by, position) \
                                 VALUES ($1, $2, 1, $3, $4, (SELECT COALESCE(MAX(position) + 1, 0) FROM ",
                                $table,
                                "))"
                            ))
                            .bind(id)
                            .bind(Json(value))
                            .bind(now)
                            .bind(actor)
                            .execute(pool)
                            .await
                            .map(|_| ())
                        })
                        .map_err(|e| {
                            on_unique(
                                e,
                                StoreError::AlreadyExists {
                                    what: $what,
                                    id: id.into(),
                                },
                            )
                        })?;
                        1
                    }
                    Some(expected) => {
                        let updated = on_pool!(self, |pool| {
                            sqlx::query(concat!(
                                "UPDATE ",
                                $table,
                                " SET document = $2, version = version + 1, updated_at = $3, \
                                 updated_by = $4 WHERE id = $1 AND version = $5"
                            ))
                            .bind(id)
                            .bind(Json(value))
                            .bind(now)
                            .bind(actor)
                            .bind(expected)
                            .execute(pool)
                            .await?
                            .rows_affected()
                        });
                        if updated == 0 {
                            let actual: Option<i64> = on_pool!(self, |pool| {
                                sqlx::query_scalar(concat!(
                                    "SELECT version FROM ",
                                    $table,
                                    " WHERE id = $1"
                                ))
                                .bind(id)
                                .fetch_optional(pool)
                                .await?
                            });
                            return Err(stale($what, id, expected, actual));
                        }
                        expected + 1
                    }
                };
                Ok(Versioned {
                    value: value.clone(),
                    version,
                    updated_at: now,
                })
            }

            #[doc = concat!(
                        "Deletes the ", $what, " if its stored version is `expected_version`."
                    )]
            pub async fn $delete(&self, id: &str, expected_version: i64) -> Result<(), StoreError> {
                let deleted = on_pool!(self, |pool| {
                    sqlx::query(concat!(
                        "DELETE FROM ",
                        $table,
                        " WHERE id = $1 AND version = $2"
                    ))
                    .bind(id)
                    .bind(expected_version)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
                })
                .map_err(|e| {
                    on_foreign_key(
                        e,
                        StoreError::InUse {
                            what: $what,
                            id: id.into(),
                            by: "processing activities or published statements",
                        },
                    )
                })?;
                if deleted == 0 {
                    let actual: Option<i64> = on_pool!(self, |pool| {
                        sqlx::query_scalar(concat!(
                            "SELECT version FROM ",
                            $table,
                            " WHERE id = $1"
                        ))
                        .bind(id)
                        .fetch_optional(pool)
                        .await?
                    });
                    return Err(stale($what, id, expected_version, actual));
                }
                Ok(())
            }
        }
    };
}

document_entity!(
    Controller, what: "controller", table: "controllers",
    list: controllers, get: controller, put: put_controller, delete: delete_controller,
);
document_entity!(
    Processor, what: "processor", table: "processors",
    list: processors, get: processor, put: put_processor, delete: delete_processor,
);
document_entity!(
    Agreement, what: "agreement", table: "agreements",
    list: agreements, get: agreement, put: put_agreement, delete: delete_agreement,
);

/// Loads a document table inside an import and writes the file's entities that are new or
/// changed. Yields the table as it was (id -> document) and the ids the file holds.
macro_rules! import_documents {
    ($tx:ident, $ty:ty, what: $what:literal, table: $table:literal,
     items: $items:expr, actor: $actor:expr, now: $now:expr, summary: $summary:ident) => {{
        let rows: Vec<(String, i64, i64, Json<$ty>)> = sqlx::query_as(concat!(
            "SELECT id, version, position, document FROM ",
            $table
        ))
        .fetch_all(&mut *$tx)
        .await?;
        let before: BTreeMap<String, (i64, $ty)> = rows
            .iter()
            .map(|(id, v, _, Json(d))| (id.clone(), (*v, d.clone())))
            .collect();
        let positions: BTreeMap<&str, i64> =
            rows.iter().map(|(id, _, p, _)| (id.as_str(), *p)).collect();
        let mut in_file = HashSet::new();
        for (index, item) in $items.iter().enumerate() {
            if !in_file.insert(item.id.as_str()) {
                return Err(duplicate($what, &item.id));
            }
            let position = position(index);
            let version = match before.get(&item.id) {
                Some((_, stored)) if stored == item => {
                    $summary.unchanged += 1;
                    if positions.get(item.id.as_str()) != Some(&position) {
                        sqlx::query(concat!(
                            "UPDATE ",
                            $table,
                            " SET position = $2 WHERE id = $1"
                        ))
                        .bind(&item.id)
                        .bind(position)
                        .execute(&mut *$tx)
                        .await?;
                    }
                    continue;
                }
                Some((version, _)) => {
                    $summary.updated += 1;
                    version + 1
                }
                None => {
                    $summary.created += 1;
                    1
                }
            };
            sqlx::query(concat!(
                "INSERT INTO ",
                $table,
                " (id, document, version, updated_at, updated_by, position) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET document = excluded.document, \
                 version = excluded.version, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by, position = excluded.position"
            ))
            .bind(&item.id)
            .bind(Json(item))
            .bind(version)
            .bind($now)
            .bind($actor)
            .bind(position)
            .execute(&mut *$tx)
            .await?;
        }
        (before, in_file)
    }};
}

/// Records a new version of an activity: the current row (created or replaced) and its
/// entry in the history.
macro_rules! record_activity_version {
    ($tx:ident, $activity:expr, version: $version:expr, position: $position:expr,
     actor: $actor:expr, now: $now:expr) => {{
        let activity: &ProcessingActivity = $activity;
        sqlx::query(
            "INSERT INTO activities \
             (id, controller_id, position, version, document, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET controller_id = excluded.controller_id, \
             position = excluded.position, version = excluded.version, \
             document = excluded.document, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(&activity.id)
        .bind(&activity.controller)
        .bind($position)
        .bind($version)
        .bind(Json(activity))
        .bind($now)
        .bind($actor)
        .execute(&mut *$tx)
        .await?;
        insert_history!($tx, activity, version: $version, actor: $actor, now: $now);
        crate::vault::recompute_deadlines!($tx, activity);
    }};
}

/// Appends a version to an activity's history.
macro_rules! insert_history {
    ($tx:ident, $activity:expr, version: $version:expr, actor: $actor:expr, now: $now:expr) => {
        sqlx::query(
            "INSERT INTO activity_versions \
             (activity_id, version, document, valid_from, recorded_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&$activity.id)
        .bind($version)
        .bind(Json($activity))
        .bind($now)
        .bind($actor)
        .execute(&mut *$tx)
        .await?
    };
}

/// An id the file holds twice: the second would silently overwrite the first.
fn duplicate(what: &'static str, id: &str) -> StoreError {
    StoreError::AlreadyExists {
        what,
        id: id.to_string(),
    }
}

fn unknown_controller(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "controller",
        id: id.to_string(),
    }
}

/// An entry's place in the order of the file it was imported from.
fn position(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

/// Processor and agreement ids that the activities refer to.
fn references<'a>(
    activities: impl Iterator<Item = &'a ProcessingActivity>,
) -> (BTreeSet<&'a str>, BTreeSet<&'a str>) {
    let mut processors = BTreeSet::new();
    let mut agreements = BTreeSet::new();
    for a in activities {
        processors.extend(a.processors.iter().map(String::as_str));
        processors.extend(
            a.applications
                .iter()
                .filter_map(|app| app.processor.as_deref()),
        );
        agreements.extend(a.agreements.iter().map(String::as_str));
    }
    (processors, agreements)
}

impl Store {
    /// Loads a register file in one transaction: all of it or, on any error, nothing.
    ///
    /// Entities are matched by id; a changed activity gets a new version valid from `now`.
    /// With `prune`, the imported controllers' activities that the file no longer lists are
    /// retired (a new version), and processors and agreements the file no longer lists are
    /// deleted, unless an activity still refers to them or (for agreements) another
    /// controller is party to them.
    pub async fn import_register(
        &self,
        register: &Register,
        prune: bool,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<ImportSummary, StoreError> {
        let now = timestamp(now);
        let summary = write_transaction!(self, |tx| {
            let mut summary = ImportSummary::default();
            let (_, controllers_in_file) = import_documents!(tx, Controller,
                what: "controller", table: "controllers", items: &register.controllers,
                actor: actor, now: now, summary: summary);
            let (processors_before, processors_in_file) = import_documents!(tx, Processor,
                what: "processor", table: "processors", items: &register.processors,
                actor: actor, now: now, summary: summary);
            let (agreements_before, agreements_in_file) = import_documents!(tx, Agreement,
                what: "agreement", table: "agreements", items: &register.agreements,
                actor: actor, now: now, summary: summary);

            let known_controllers: HashSet<String> =
                sqlx::query_scalar("SELECT id FROM controllers")
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
            let rows: Vec<(i64, i64, Json<ProcessingActivity>)> =
                sqlx::query_as("SELECT version, position, document FROM activities")
                    .fetch_all(&mut *tx)
                    .await?;
            // The activities as they stand, kept up to date while writing, for pruning.
            let mut current: BTreeMap<String, (i64, i64, ProcessingActivity)> = rows
                .into_iter()
                .map(|(v, p, Json(a))| (a.id.clone(), (v, p, a)))
                .collect();
            let mut activities_in_file = HashSet::new();
            for (index, activity) in register.activities.iter().enumerate() {
                if !activities_in_file.insert(activity.id.clone()) {
                    return Err(duplicate("processing activity", &activity.id));
                }
                if !known_controllers.contains(&activity.controller) {
                    return Err(unknown_controller(&activity.controller));
                }
                let position = position(index);
                let version = match current.get(&activity.id) {
                    Some((_, stored_position, stored)) if stored == activity => {
                        // Same content: no new version, but follow the file's order.
                        if *stored_position != position {
                            sqlx::query("UPDATE activities SET position = $2 WHERE id = $1")
                                .bind(&activity.id)
                                .bind(position)
                                .execute(&mut *tx)
                                .await?;
                        }
                        summary.unchanged += 1;
                        continue;
                    }
                    Some((version, _, _)) => {
                        summary.updated += 1;
                        version + 1
                    }
                    None => {
                        summary.created += 1;
                        1
                    }
                };
                record_activity_version!(tx, activity, version: version, position: position,
                    actor: actor, now: now);
                current.insert(activity.id.clone(), (version, position, activity.clone()));
            }

            if prune {
                let controllers: HashSet<&str> = controllers_in_file;
                let to_retire: Vec<(i64, i64, ProcessingActivity)> = current
                    .values()
                    .filter(|(_, _, a)| {
                        controllers.contains(a.controller.as_str())
                            && !activities_in_file.contains(&a.id)
                            && a.status != ActivityStatus::Retired
                    })
                    .cloned()
                    .collect();
                // Retired activities go after the file's own, in their old order.
                let mut to_retire = to_retire;
                to_retire.sort_by(|a, b| (a.1, &a.2.id).cmp(&(b.1, &b.2.id)));
                for (offset, (version, _, mut activity)) in to_retire.into_iter().enumerate() {
                    let position = position(register.activities.len() + offset);
                    activity.status = ActivityStatus::Retired;
                    record_activity_version!(tx, &activity, version: version + 1,
                        position: position, actor: actor, now: now);
                    summary.retired += 1;
                    current.insert(activity.id.clone(), (version + 1, position, activity));
                }

                let (used_processors, used_agreements) =
                    references(current.values().map(|(_, _, a)| a));
                for id in processors_before.keys() {
                    if !processors_in_file.contains(id.as_str())
                        && !used_processors.contains(id.as_str())
                    {
                        sqlx::query("DELETE FROM processors WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        summary.retired += 1;
                    }
                }
                for (id, (_, agreement)) in &agreements_before {
                    if !agreements_in_file.contains(id.as_str())
                        && !used_agreements.contains(id.as_str())
                        && agreement
                            .controllers
                            .iter()
                            .all(|c| controllers.contains(c.as_str()))
                    {
                        sqlx::query("DELETE FROM agreements WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        summary.retired += 1;
                    }
                }
            }
            summary
        });
        Ok(summary)
    }

    /// The whole register as it stands: every entity, activities in their current version.
    /// Controllers, processors and agreements come by id; activities by controller, then
    /// in the order of the file they were imported from.
    pub async fn register(&self) -> Result<Register, StoreError> {
        let register = read_transaction!(self, |tx| {
            let controllers: Vec<Json<Controller>> =
                sqlx::query_scalar("SELECT document FROM controllers ORDER BY position, id")
                    .fetch_all(&mut *tx)
                    .await?;
            let processors: Vec<Json<Processor>> =
                sqlx::query_scalar("SELECT document FROM processors ORDER BY position, id")
                    .fetch_all(&mut *tx)
                    .await?;
            let agreements: Vec<Json<Agreement>> =
                sqlx::query_scalar("SELECT document FROM agreements ORDER BY position, id")
                    .fetch_all(&mut *tx)
                    .await?;
            let activities: Vec<Json<ProcessingActivity>> = sqlx::query_scalar(
                "SELECT document FROM activities ORDER BY controller_id, position, id",
            )
            .fetch_all(&mut *tx)
            .await?;
            Register {
                controllers: controllers.into_iter().map(|Json(c)| c).collect(),
                processors: processors.into_iter().map(|Json(p)| p).collect(),
                agreements: agreements.into_iter().map(|Json(a)| a).collect(),
                activities: activities.into_iter().map(|Json(a)| a).collect(),
            }
        });
        Ok(register)
    }

    /// Whether the database answers: the health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: i64 = on_pool!(self, |pool| {
            // BIGINT: PostgreSQL types a bare 1 as INT4, which does not decode as i64.
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
                .fetch_one(pool)
                .await?
        });
        Ok(())
    }

    /// A number that changes whenever any processing activity is written (a database
    /// trigger moves it in the writing transaction): a cache of activities made at one
    /// revision is current as long as this still returns that revision.
    pub async fn activities_revision(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT revision FROM revisions WHERE name = 'activities'")
                .fetch_one(pool)
                .await?
        }))
    }

    /// The processing activities in their current version, of one controller or of all,
    /// ordered by controller, then as in the imported file.
    pub async fn activities(
        &self,
        controller: Option<&str>,
    ) -> Result<Vec<Versioned<ProcessingActivity>>, StoreError> {
        let rows: Vec<DocumentRow<ProcessingActivity>> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT document, version, updated_at FROM activities \
                 WHERE $1 IS NULL OR controller_id = $1 ORDER BY controller_id, position, id",
            )
            .bind(controller)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(versioned).collect())
    }

    /// The current version of a processing activity, if it exists.
    pub async fn activity(
        &self,
        id: &str,
    ) -> Result<Option<Versioned<ProcessingActivity>>, StoreError> {
        let row: Option<DocumentRow<ProcessingActivity>> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT document, version, updated_at FROM activities WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(versioned))
    }

    /// Creates (`expected_version` None) or edits a processing activity. Every edit is a
    /// new version, valid from `now` and recorded as made by `actor`; an edit applies only
    /// when the current version is `expected_version`. A new activity goes last in its
    /// controller's order.
    pub async fn put_activity(
        &self,
        activity: &ProcessingActivity,
        expected_version: Option<i64>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Versioned<ProcessingActivity>, StoreError> {
        let now = timestamp(now);
        let id = activity.id.as_str();
        let version = write_transaction!(self, |tx| {
            let version = match expected_version {
                None => {
                    sqlx::query(
                        "INSERT INTO activities \
                         (id, controller_id, position, version, document, updated_at, updated_by) \
                         VALUES ($1, $2, \
                         (SELECT COALESCE(MAX(position) + 1, 0) FROM activities \
                          WHERE controller_id = $2), \
                         1, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(&activity.controller)
                    .bind(Json(activity))
                    .bind(now)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| activity_write_error(e, activity))?;
                    1
                }
                Some(expected) => {
                    let updated = sqlx::query(
                        "UPDATE activities SET controller_id = $2, version = version + 1, \
                         document = $3, updated_at = $4, updated_by = $5 \
                         WHERE id = $1 AND version = $6",
                    )
                    .bind(id)
                    .bind(&activity.controller)
                    .bind(Json(activity))
                    .bind(now)
                    .bind(actor)
                    .bind(expected)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| activity_write_error(e, activity))?
                    .rows_affected();
                    if updated == 0 {
                        let actual: Option<i64> =
                            sqlx::query_scalar("SELECT version FROM activities WHERE id = $1")
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await?;
                        return Err(stale("processing activity", id, expected, actual));
                    }
                    expected + 1
                }
            };
            insert_history!(tx, activity, version: version, actor: actor, now: now);
            crate::vault::recompute_deadlines!(tx, activity);
            version
        });
        Ok(Versioned {
            value: activity.clone(),
            version,
            updated_at: now,
        })
    }

    /// Every version of a processing activity, oldest first; empty for an unknown id.
    pub async fn activity_versions(&self, id: &str) -> Result<Vec<ActivityVersion>, StoreError> {
        let rows: Vec<(Json<ProcessingActivity>, i64, OffsetDateTime, String)> =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT document, version, valid_from, recorded_by FROM activity_versions \
                     WHERE activity_id = $1 ORDER BY version",
                )
                .bind(id)
                .fetch_all(pool)
                .await?
            });
        Ok(rows
            .into_iter()
            .map(
                |(Json(activity), version, valid_from, recorded_by)| ActivityVersion {
                    activity,
                    version,
                    valid_from,
                    recorded_by,
                },
            )
            .collect())
    }

    /// The version of a processing activity in force at `at`: the last one valid from `at`
    /// or earlier. None before the first version or for an unknown id.
    pub async fn activity_at(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Option<ActivityVersion>, StoreError> {
        // Compared here, not in SQL: SQLite stores times as text, which does not sort
        // chronologically when the fractions of a second differ in length.
        let versions = self.activity_versions(id).await?;
        Ok(versions.into_iter().rev().find(|v| v.valid_from <= at))
    }
}

/// The error for a failed write of an activity: a duplicate id or an unknown controller
/// said as such.
fn activity_write_error(e: sqlx::Error, activity: &ProcessingActivity) -> StoreError {
    if crate::error::is_foreign_key_violation(&e) {
        return unknown_controller(&activity.controller);
    }
    on_unique(
        e,
        StoreError::AlreadyExists {
            what: "processing activity",
            id: activity.id.clone(),
        },
    )
}
