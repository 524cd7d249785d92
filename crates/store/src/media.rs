//! The media database: photos and videos, the people identifiable on them, removal
//! requests, and the list of published items that must be taken down.
//!
//! Linking a person to a targeted item reads their consent in the transaction that links,
//! so a withdrawal committed first is always seen. Every link, removal request by a known
//! person, take-down and read of an item's people writes its processing-log entries.

use std::collections::BTreeSet;

use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::consent::{self, ConsentState};
use kluis_domain::media::{
    self, MediaFacts, MediaKind, NewMediaItem, RemovalChannel, TakeDownReason,
};
use kluis_domain::processing_log::{LogAction, NewLogEntry};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::load_activity;
use crate::{Store, StoreError, new_id, timestamp};

/// A photo or video as recorded, with whether it must come down now. It names no person:
/// see [`MediaItemView`] for the people on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaItem {
    pub id: Uuid,
    pub title: String,
    pub kind: MediaKind,
    pub activity: String,
    pub taken_on: Date,
    /// Where the item is kept: a URL or an archive id.
    pub reference: String,
    pub published_on: Option<Date>,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub taken_down_at: Option<OffsetDateTime>,
    pub taken_down_by: Option<String>,
    /// Why the item must be taken down now; empty when it may stay.
    pub take_down: Vec<TakeDownReason>,
}

impl MediaItem {
    /// Whether the item is out in the world: published and not taken down.
    pub fn published(&self) -> bool {
        media::is_published(self.published_on, self.taken_down_at.is_some())
    }
}

/// An item with the people linked to it and the removal requests it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaItemView {
    pub item: MediaItem,
    pub subjects: Vec<MediaSubject>,
    pub removal_requests: Vec<MediaRemovalRequest>,
}

/// A person identifiable on an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSubject {
    pub subject_id: Uuid,
    pub linked_at: OffsetDateTime,
    pub linked_by: String,
    /// Whether the person's consent for the item's activity allows processing now.
    pub consent_allows: bool,
}

/// A request to remove an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRemovalRequest {
    pub id: Uuid,
    /// The person who asked, when known to kluis.
    pub subject_id: Option<Uuid>,
    pub requested_at: OffsetDateTime,
    pub channel: RemovalChannel,
    pub note: Option<String>,
    pub recorded_by: String,
}

type ItemRow = (
    Uuid,
    String,
    String,
    String,
    Date,
    String,
    Option<Date>,
    OffsetDateTime,
    String,
    Option<OffsetDateTime>,
    Option<String>,
);
const ITEM_COLUMNS: &str = "id, title, kind, activity_id, taken_on, reference, published_on, \
     created_at, created_by, taken_down_at, taken_down_by FROM media_items";

type LinkRow = (Uuid, OffsetDateTime, String, Option<String>, Option<Date>);
type RequestRow = (
    Uuid,
    Option<Uuid>,
    OffsetDateTime,
    String,
    Option<String>,
    String,
);

/// Published, not taken down, and either asked to be removed or, when targeted, showing
/// someone whose consent for the item's activity does not allow processing on `$1` (the
/// date): the SQL form of [`media::take_down_reasons`], which has the last word.
const TO_TAKE_DOWN: &str = "m.published_on IS NOT NULL AND m.taken_down_at IS NULL AND (\
     EXISTS (SELECT 1 FROM media_removal_requests r WHERE r.item_id = m.id) \
     OR (m.kind = 'targeted' AND EXISTS (SELECT 1 FROM media_subjects s \
         LEFT JOIN consents c ON c.subject_id = s.subject_id AND c.activity_id = m.activity_id \
         WHERE s.item_id = m.id AND (c.id IS NULL OR c.state NOT IN ('given', 'renewed') \
         OR c.valid_until < $1))))";

fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("a stored {what} is not valid: {e}")))
}

/// Whether a stored consent (state, end of validity) allows processing at `now`; no
/// consent at all does not.
fn consent_allows(
    stored: Option<(String, Option<Date>)>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    match stored {
        None => Ok(false),
        Some((state, valid_until)) => Ok(consent::allows(
            parse::<ConsentState>("consent state", &state)?,
            valid_until,
            now,
        )),
    }
}

fn invalid(e: media::MediaError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

fn not_found(id: Uuid) -> StoreError {
    StoreError::NotFound {
        what: "media item",
        id: id.to_string(),
    }
}

fn image_category() -> Vec<String> {
    vec![DataCategory::SoundImage.name().to_string()]
}

impl Store {
    /// Records a photo or video in the media database. It names nobody yet, so nothing is
    /// logged; the caller checks that the item's activity is within need-to-know.
    pub async fn add_media_item(
        &self,
        processing: &Processing,
        item: &NewMediaItem,
    ) -> Result<MediaItem, StoreError> {
        let now = timestamp(processing.now);
        let id = new_id(now)?;
        write_transaction!(self, |tx| {
            let (activity, _) = load_activity!(tx, &item.activity);
            item.check(&activity, now.date()).map_err(invalid)?;
            sqlx::query(
                "INSERT INTO media_items (id, title, kind, activity_id, taken_on, reference, \
                 published_on, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(item.title.trim())
            .bind(item.kind.name())
            .bind(&activity.id)
            .bind(item.taken_on)
            .bind(item.reference.trim())
            .bind(item.published_on)
            .bind(now)
            .bind(&processing.actor.name)
            .execute(&mut *tx)
            .await?;
        });
        Ok(self
            .media_view_unlogged(id, now)
            .await?
            .ok_or_else(|| not_found(id))?
            .item)
    }

    /// An item with its people and removal requests, logged as a read of each person named.
    ///
    /// `Ok(None)`: no such item. `Err(OutOfScope)`: the item's activity is outside `scope`;
    /// the refusal is logged against each person on it.
    pub async fn media_item(
        &self,
        processing: &Processing,
        id: Uuid,
        scope: &Scope,
    ) -> Result<Option<MediaItemView>, StoreError> {
        let Some(view) = self.media_view_unlogged(id, processing.now).await? else {
            return Ok(None);
        };
        if !scope.allows(&view.item.activity) {
            return Err(self.refuse_media(processing, &view).await);
        }
        let people: BTreeSet<Uuid> = view
            .subjects
            .iter()
            .map(|s| s.subject_id)
            .chain(view.removal_requests.iter().filter_map(|r| r.subject_id))
            .collect();
        let entries = self
            .media_log_entries(processing, &view.item.activity, LogAction::Read, people)
            .await?;
        self.append_log(processing, entries).await?;
        Ok(Some(view))
    }

    /// Links a person identifiable on an item. On a targeted item the person's consent for
    /// the item's activity must allow processing now, read in the same transaction; on an
    /// overview item no consent is needed. Returns the item and whether the link is new:
    /// linking again changes nothing.
    pub async fn link_media_subject(
        &self,
        processing: &Processing,
        item_id: Uuid,
        subject_id: Uuid,
        scope: &Scope,
    ) -> Result<(MediaItem, bool), StoreError> {
        let now = timestamp(processing.now);
        let view = self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?;
        if !scope.allows(&view.item.activity) {
            let refusal = self.refuse_media(processing, &view).await;
            self.record_refusal(
                processing,
                subject_id,
                std::slice::from_ref(&view.item.activity),
            )
            .await?;
            return Err(refusal);
        }
        let (_, log_subject) = self.subject_for_log(subject_id).await?;
        let created = write_transaction!(self, |tx| {
            let (activity, version) = load_activity!(tx, &view.item.activity);
            // A no-op UPDATE locks the consent (PostgreSQL; SQLite's write lock is already
            // held): a withdrawal waits for this link, and then lists the item.
            let stored: Option<(String, Option<Date>)> = sqlx::query_as(
                "UPDATE consents SET state = state WHERE subject_id = $1 AND activity_id = $2 \
                 RETURNING state, valid_until",
            )
            .bind(subject_id)
            .bind(&activity.id)
            .fetch_optional(&mut *tx)
            .await?;
            media::check_link(view.item.kind, &activity, consent_allows(stored, now)?)
                .map_err(invalid)?;
            let inserted = sqlx::query(
                "INSERT INTO media_subjects (item_id, subject_id, linked_at, linked_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (item_id, subject_id) DO NOTHING",
            )
            .bind(item_id)
            .bind(subject_id)
            .bind(now)
            .bind(&processing.actor.name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                false
            } else {
                let entry = ActivityRef::from_activity(&activity, version).entry(
                    LogAction::Create,
                    log_subject,
                    image_category(),
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                true
            }
        });
        let item = self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?
            .item;
        Ok((item, created))
    }

    /// Records that someone asked for an item to be removed: a published item must then
    /// come down until staff mark it taken down. `subject`: the person who asked, when
    /// known to kluis (anyone on an overview image may ask).
    pub async fn record_media_removal_request(
        &self,
        processing: &Processing,
        item_id: Uuid,
        subject: Option<Uuid>,
        channel: RemovalChannel,
        note: Option<&str>,
        scope: &Scope,
    ) -> Result<MediaItem, StoreError> {
        let now = timestamp(processing.now);
        let view = self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?;
        if !scope.allows(&view.item.activity) {
            let refusal = self.refuse_media(processing, &view).await;
            if let Some(subject) = subject {
                self.record_refusal(
                    processing,
                    subject,
                    std::slice::from_ref(&view.item.activity),
                )
                .await?;
            }
            return Err(refusal);
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        media::check_removal_note(note).map_err(invalid)?;
        let log_subject = match subject {
            None => None,
            Some(id) => {
                let subject =
                    self.subject_unlogged(id)
                        .await?
                        .ok_or_else(|| StoreError::NotFound {
                            what: "data subject",
                            id: id.to_string(),
                        })?;
                Some(self.log_subject(&subject.identity)?)
            }
        };
        let request_id = new_id(now)?;
        write_transaction!(self, |tx| {
            let (activity, version) = load_activity!(tx, &view.item.activity);
            sqlx::query(
                "INSERT INTO media_removal_requests (id, item_id, subject_id, requested_at, \
                 channel, note, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(request_id)
            .bind(item_id)
            .bind(subject)
            .bind(now)
            .bind(channel.name())
            .bind(note)
            .bind(&processing.actor.name)
            .execute(&mut *tx)
            .await?;
            if let Some(log_subject) = log_subject {
                let entry = ActivityRef::from_activity(&activity, version).entry(
                    LogAction::Create,
                    log_subject,
                    image_category(),
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
            }
        });
        Ok(self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?
            .item)
    }

    /// Records that staff took a published item down (from the website, social media,
    /// the next print run). Marking it again changes nothing. Returns the item and whether
    /// this call took it down.
    pub async fn mark_media_taken_down(
        &self,
        processing: &Processing,
        item_id: Uuid,
        scope: &Scope,
    ) -> Result<(MediaItem, bool), StoreError> {
        let now = timestamp(processing.now);
        let view = self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?;
        if !scope.allows(&view.item.activity) {
            return Err(self.refuse_media(processing, &view).await);
        }
        media::check_take_down(view.item.published_on).map_err(invalid)?;
        let entries = self
            .media_log_entries(
                processing,
                &view.item.activity,
                LogAction::Update,
                view.subjects.iter().map(|s| s.subject_id).collect(),
            )
            .await?;
        let changed = write_transaction!(self, |tx| {
            let updated = sqlx::query(
                "UPDATE media_items SET taken_down_at = $2, taken_down_by = $3 \
                 WHERE id = $1 AND taken_down_at IS NULL",
            )
            .bind(item_id)
            .bind(now)
            .bind(&processing.actor.name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                append_log!(tx, processing, entries);
            }
            updated == 1
        });
        let item = self
            .media_view_unlogged(item_id, now)
            .await?
            .ok_or_else(|| not_found(item_id))?
            .item;
        Ok((item, changed))
    }

    /// The published items of the activities in `scope` that must be taken down now: a
    /// person on a targeted item no longer consents, or someone asked for removal.
    pub async fn media_to_take_down(
        &self,
        scope: &Scope,
        now: OffsetDateTime,
    ) -> Result<Vec<MediaItem>, StoreError> {
        let ids: Vec<(Uuid, String)> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT m.id, m.activity_id FROM media_items m WHERE {TO_TAKE_DOWN} ORDER BY m.id"
            )))
            .bind(now.date())
            .fetch_all(pool)
            .await?
        });
        let ids = ids
            .into_iter()
            .filter(|(_, activity)| scope.allows(activity))
            .map(|(id, _)| id);
        self.items_to_take_down(ids, now, None).await
    }

    /// The published targeted items of `activity` showing `subject_id` that must come down
    /// because the person's consent ended: what staff take down right after a withdrawal.
    pub async fn media_to_take_down_for(
        &self,
        subject_id: Uuid,
        activity: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<MediaItem>, StoreError> {
        let ids: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT m.id FROM media_items m \
                 JOIN media_subjects ms ON ms.item_id = m.id AND ms.subject_id = $2 \
                 WHERE m.activity_id = $3 AND m.kind = 'targeted' AND {TO_TAKE_DOWN} \
                 ORDER BY m.id"
            )))
            .bind(now.date())
            .bind(subject_id)
            .bind(activity)
            .fetch_all(pool)
            .await?
        });
        self.items_to_take_down(ids, now, Some(subject_id)).await
    }

    /// The items among `ids` that the domain's rule says must come down; with `subject`,
    /// only those that must because that person's consent ended.
    async fn items_to_take_down(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        now: OffsetDateTime,
        subject: Option<Uuid>,
    ) -> Result<Vec<MediaItem>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            let Some(view) = self.media_view_unlogged(id, now).await? else {
                continue;
            };
            let keep = !view.item.take_down.is_empty()
                && subject.is_none_or(|subject| {
                    view.subjects
                        .iter()
                        .any(|s| s.subject_id == subject && !s.consent_allows)
                });
            if keep {
                out.push(view.item);
            }
        }
        Ok(out)
    }

    /// An item with its people and requests, without logging.
    async fn media_view_unlogged(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<MediaItemView>, StoreError> {
        let (row, links, requests): (Option<ItemRow>, Vec<LinkRow>, Vec<RequestRow>) =
            read_transaction!(self, |tx| {
                let row: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {ITEM_COLUMNS} WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let links: Vec<LinkRow> = sqlx::query_as(
                    "SELECT s.subject_id, s.linked_at, s.linked_by, c.state, c.valid_until \
                     FROM media_subjects s JOIN media_items m ON m.id = s.item_id \
                     LEFT JOIN consents c \
                       ON c.subject_id = s.subject_id AND c.activity_id = m.activity_id \
                     WHERE s.item_id = $1 ORDER BY s.linked_at, s.subject_id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let requests: Vec<RequestRow> = sqlx::query_as(
                    "SELECT id, subject_id, requested_at, channel, note, recorded_by \
                     FROM media_removal_requests WHERE item_id = $1 ORDER BY requested_at, id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                (row, links, requests)
            });
        let Some((
            id,
            title,
            kind,
            activity,
            taken_on,
            reference,
            published_on,
            created_at,
            created_by,
            taken_down_at,
            taken_down_by,
        )) = row
        else {
            return Ok(None);
        };
        let subjects = links
            .into_iter()
            .map(|(subject_id, linked_at, linked_by, state, valid_until)| {
                Ok(MediaSubject {
                    subject_id,
                    linked_at,
                    linked_by,
                    consent_allows: consent_allows(state.map(|s| (s, valid_until)), now)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let removal_requests = requests
            .into_iter()
            .map(
                |(id, subject_id, requested_at, channel, note, recorded_by)| {
                    Ok(MediaRemovalRequest {
                        id,
                        subject_id,
                        requested_at,
                        channel: parse("removal channel", &channel)?,
                        note,
                        recorded_by,
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        let kind: MediaKind = parse("media kind", &kind)?;
        let take_down = media::take_down_reasons(&MediaFacts {
            kind,
            published_on,
            taken_down: taken_down_at.is_some(),
            linked_consents_allow: subjects.iter().map(|s| s.consent_allows).collect(),
            open_removal_requests: removal_requests.len(),
        });
        Ok(Some(MediaItemView {
            item: MediaItem {
                id,
                title,
                kind,
                activity,
                taken_on,
                reference,
                published_on,
                created_at,
                created_by,
                taken_down_at,
                taken_down_by,
                take_down,
            },
            subjects,
            removal_requests,
        }))
    }

    /// Logs a refused attempt on an item against each person on it, and gives the error.
    async fn refuse_media(&self, processing: &Processing, view: &MediaItemView) -> StoreError {
        let activities = vec![view.item.activity.clone()];
        for subject in &view.subjects {
            if let Err(e) = self
                .record_refusal(processing, subject.subject_id, &activities)
                .await
            {
                return e;
            }
        }
        StoreError::OutOfScope { activities }
    }

    /// One entry per person, under the item's activity, for the image category.
    async fn media_log_entries(
        &self,
        processing: &Processing,
        activity_id: &str,
        action: LogAction,
        people: BTreeSet<Uuid>,
    ) -> Result<Vec<NewLogEntry>, StoreError> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let activity = self
            .activity(activity_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "processing activity",
                id: activity_id.to_string(),
            })?;
        let activity = ActivityRef::from_activity(&activity.value, activity.version);
        let mut entries = Vec::with_capacity(people.len());
        for id in people {
            let subject = self.subject_unlogged(id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("media links unknown data subject {id}"))
            })?;
            entries.push(activity.entry(
                action,
                self.log_subject(&subject.identity)?,
                image_category(),
                processing.case_ref.clone(),
            ));
        }
        Ok(entries)
    }
}
