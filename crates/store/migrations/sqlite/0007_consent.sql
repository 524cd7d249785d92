-- The consent ledger: one consent per data subject and purpose (a processing activity
-- based on consent) with its current state for fast checks, and the events that led to it.
-- Events are only ever inserted: the history (given, withdrawn, given again) is the proof
-- the controller must be able to show (GDPR art. 7(1)).

CREATE TABLE consents (
    id BLOB PRIMARY KEY NOT NULL,
    subject_id BLOB NOT NULL REFERENCES data_subjects (id),
    activity_id TEXT NOT NULL REFERENCES activities (id),
    state TEXT NOT NULL,
    valid_until TEXT,
    -- The number of the last given or renewed event: links in mail name it, so a link
    -- made for an earlier consent cannot withdraw a later one.
    last_given_event INTEGER NOT NULL,
    events INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (subject_id, activity_id)
) STRICT;

CREATE INDEX consents_by_activity ON consents (activity_id, state);

CREATE TABLE consent_events (
    consent_id BLOB NOT NULL REFERENCES consents (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    -- Given and renewed events: how, what the person saw, the proof.
    method TEXT,
    notice_text TEXT,
    language TEXT,
    statement_version INTEGER,
    evidence TEXT,
    valid_until TEXT,
    given_by TEXT,
    guardian_id BLOB REFERENCES data_subjects (id),
    -- Withdrawn events: where.
    channel TEXT,
    actor_kind TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    PRIMARY KEY (consent_id, seq)
) STRICT;
