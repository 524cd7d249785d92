-- The personal-data inventory (data subjects and records of their data), need-to-know
-- (staff assignments, confidentiality statements), the processing log and the systems
-- described to kluis. National numbers and BSNs are stored only as AEAD envelopes, found
-- through a keyed blind index; the keys live in configuration, never in this database.

CREATE TABLE staff_assignments (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    assigned_at TIMESTAMPTZ NOT NULL,
    assigned_by TEXT NOT NULL,
    PRIMARY KEY (user_id, activity_id)
);

CREATE TABLE confidentiality_statements (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signed_on DATE NOT NULL,
    reference TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    recorded_by TEXT NOT NULL
);

CREATE INDEX confidentiality_statements_by_user ON confidentiality_statements (user_id, signed_on);

-- `recorded_under`: the activity the person was first recorded for; their identity
-- belongs to it even before any record does.
CREATE TABLE data_subjects (
    id UUID PRIMARY KEY NOT NULL,
    national_number BYTEA,
    national_number_index BYTEA,
    bsn BYTEA,
    bsn_index BYTEA,
    email TEXT,
    phone TEXT,
    given_name TEXT,
    family_name TEXT,
    birth_date DATE,
    recorded_under TEXT NOT NULL REFERENCES activities (id),
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX data_subjects_by_national_number ON data_subjects (national_number_index)
    WHERE national_number_index IS NOT NULL;
CREATE UNIQUE INDEX data_subjects_by_bsn ON data_subjects (bsn_index) WHERE bsn_index IS NOT NULL;
CREATE INDEX data_subjects_by_email ON data_subjects (email) WHERE email IS NOT NULL;
CREATE INDEX data_subjects_by_phone ON data_subjects (phone) WHERE phone IS NOT NULL;

-- Parents and guardians who act for a child (under 16) or a person under guardianship.
CREATE TABLE guardianships (
    subject_id UUID NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    guardian_id UUID NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject_id, guardian_id),
    CHECK (subject_id <> guardian_id)
);

CREATE TABLE records (
    id UUID PRIMARY KEY NOT NULL,
    subject_id UUID NOT NULL REFERENCES data_subjects (id),
    activity_id TEXT NOT NULL REFERENCES activities (id),
    schedule TEXT NOT NULL,
    category TEXT NOT NULL,
    fields JSONB NOT NULL,
    source TEXT,
    collected_on DATE NOT NULL,
    events JSONB NOT NULL,
    provided_by_subject BOOLEAN NOT NULL,
    extensions BIGINT NOT NULL,
    deadline_kind TEXT NOT NULL,
    deadline DATE,
    deadline_event TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX records_by_subject ON records (subject_id);
CREATE INDEX records_by_activity ON records (activity_id);
CREATE INDEX records_by_deadline ON records (deadline) WHERE deadline IS NOT NULL;

-- The processing log: append-only and hash-chained. The staff member's identity is kept
-- apart, in processing_log_actors, which auditors read and citizens never see.
CREATE TABLE processing_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    action TEXT NOT NULL,
    organisation TEXT NOT NULL,
    activity TEXT NOT NULL,
    activity_version BIGINT NOT NULL,
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
    hash BYTEA NOT NULL
);

CREATE INDEX processing_log_by_trace ON processing_log (trace_id);
CREATE INDEX processing_log_by_activity ON processing_log (activity, seq);
CREATE INDEX processing_log_by_subject ON processing_log (subject, seq);

CREATE TABLE processing_log_actors (
    seq BIGINT PRIMARY KEY NOT NULL REFERENCES processing_log (seq),
    actor_id TEXT,
    actor_name TEXT NOT NULL
);

-- The chain's head as of the last append: appends lock it, and verification compares the
-- last entry with it, so entries removed from the end are noticed.
CREATE TABLE processing_log_head (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);

INSERT INTO processing_log_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION processing_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the processing log is append-only';
END
$$;

CREATE TRIGGER processing_log_append_only BEFORE UPDATE OR DELETE ON processing_log
FOR EACH ROW EXECUTE FUNCTION processing_log_append_only();
CREATE TRIGGER processing_log_no_truncate BEFORE TRUNCATE ON processing_log
FOR EACH STATEMENT EXECUTE FUNCTION processing_log_append_only();
CREATE TRIGGER processing_log_actors_append_only BEFORE UPDATE OR DELETE ON processing_log_actors
FOR EACH ROW EXECUTE FUNCTION processing_log_append_only();
CREATE TRIGGER processing_log_actors_no_truncate BEFORE TRUNCATE ON processing_log_actors
FOR EACH STATEMENT EXECUTE FUNCTION processing_log_append_only();

-- The authority's other systems: the name and the dataset map. How to connect lives in
-- configuration only.
CREATE TABLE systems (
    name TEXT PRIMARY KEY NOT NULL,
    map TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);
