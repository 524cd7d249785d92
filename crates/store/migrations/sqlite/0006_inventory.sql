-- The personal-data inventory (data subjects and records of their data), need-to-know
-- (staff assignments, confidentiality statements), the processing log and the systems
-- described to kluis. National numbers and BSNs are stored only as AEAD envelopes, found
-- through a keyed blind index; the keys live in configuration, never in this database.

CREATE TABLE staff_assignments (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    assigned_at TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    PRIMARY KEY (user_id, activity_id)
) STRICT;

CREATE TABLE confidentiality_statements (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signed_on TEXT NOT NULL,
    reference TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
) STRICT;

CREATE INDEX confidentiality_statements_by_user ON confidentiality_statements (user_id, signed_on);

-- `recorded_under`: the activity the person was first recorded for; their identity
-- belongs to it even before any record does.
CREATE TABLE data_subjects (
    id BLOB PRIMARY KEY NOT NULL,
    national_number BLOB,
    national_number_index BLOB,
    bsn BLOB,
    bsn_index BLOB,
    email TEXT,
    phone TEXT,
    given_name TEXT,
    family_name TEXT,
    birth_date TEXT,
    recorded_under TEXT NOT NULL REFERENCES activities (id),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX data_subjects_by_national_number ON data_subjects (national_number_index)
    WHERE national_number_index IS NOT NULL;
CREATE UNIQUE INDEX data_subjects_by_bsn ON data_subjects (bsn_index) WHERE bsn_index IS NOT NULL;
CREATE INDEX data_subjects_by_email ON data_subjects (email) WHERE email IS NOT NULL;
CREATE INDEX data_subjects_by_phone ON data_subjects (phone) WHERE phone IS NOT NULL;

-- Parents and guardians who act for a child (under 16) or a person under guardianship.
CREATE TABLE guardianships (
    subject_id BLOB NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    guardian_id BLOB NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (subject_id, guardian_id),
    CHECK (subject_id <> guardian_id)
) STRICT;

CREATE TABLE records (
    id BLOB PRIMARY KEY NOT NULL,
    subject_id BLOB NOT NULL REFERENCES data_subjects (id),
    activity_id TEXT NOT NULL REFERENCES activities (id),
    schedule TEXT NOT NULL,
    category TEXT NOT NULL,
    fields TEXT NOT NULL,
    source TEXT,
    collected_on TEXT NOT NULL,
    events TEXT NOT NULL,
    provided_by_subject INTEGER NOT NULL,
    extensions INTEGER NOT NULL,
    deadline_kind TEXT NOT NULL,
    deadline TEXT,
    deadline_event TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX records_by_subject ON records (subject_id);
CREATE INDEX records_by_activity ON records (activity_id);
CREATE INDEX records_by_deadline ON records (deadline) WHERE deadline IS NOT NULL;

-- The processing log: append-only and hash-chained. The staff member's identity is kept
-- apart, in processing_log_actors, which auditors read and citizens never see.
CREATE TABLE processing_log (
    seq INTEGER PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    action TEXT NOT NULL,
    organisation TEXT NOT NULL,
    activity TEXT NOT NULL,
    activity_version INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    data_categories TEXT NOT NULL,
    system TEXT NOT NULL,
    case_ref TEXT,
    recipient TEXT,
    legal_ground TEXT,
    actor_kind TEXT NOT NULL,
    hash BLOB NOT NULL
) STRICT;

CREATE INDEX processing_log_by_trace ON processing_log (trace_id);
CREATE INDEX processing_log_by_activity ON processing_log (activity, seq);
CREATE INDEX processing_log_by_subject ON processing_log (subject, seq);

CREATE TABLE processing_log_actors (
    seq INTEGER PRIMARY KEY NOT NULL REFERENCES processing_log (seq),
    actor_id TEXT,
    actor_name TEXT NOT NULL
) STRICT;

-- The chain's head as of the last append: appends lock it, and verification compares the
-- last entry with it, so entries removed from the end are noticed.
CREATE TABLE processing_log_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;

INSERT INTO processing_log_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER processing_log_append_only_update BEFORE UPDATE ON processing_log
BEGIN
    SELECT RAISE(ABORT, 'the processing log is append-only');
END;

CREATE TRIGGER processing_log_append_only_delete BEFORE DELETE ON processing_log
BEGIN
    SELECT RAISE(ABORT, 'the processing log is append-only');
END;

CREATE TRIGGER processing_log_actors_append_only_update BEFORE UPDATE ON processing_log_actors
BEGIN
    SELECT RAISE(ABORT, 'the processing log is append-only');
END;

CREATE TRIGGER processing_log_actors_append_only_delete BEFORE DELETE ON processing_log_actors
BEGIN
    SELECT RAISE(ABORT, 'the processing log is append-only');
END;

-- The authority's other systems: the name and the dataset map. How to connect lives in
-- configuration only.
CREATE TABLE systems (
    name TEXT PRIMARY KEY NOT NULL,
    map TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;
