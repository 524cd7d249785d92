-- Data-subject rights requests (GDPR art. 12-22). What identifies the requester (identity,
-- contact, their own words) is sealed with the store's keys; the reference and the status
-- link are random, so neither can be guessed from another request's. The status link is kept
-- only as its SHA-256.

CREATE TABLE rights_requests (
    id UUID PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    status_token_hash BYTEA NOT NULL UNIQUE,
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    rights TEXT NOT NULL,
    channel TEXT NOT NULL,
    stage TEXT NOT NULL,
    received_on DATE NOT NULL,
    due_on DATE NOT NULL,
    deadline TEXT NOT NULL,
    requester BYTEA NOT NULL,
    language TEXT NOT NULL,
    subject_id UUID REFERENCES data_subjects (id),
    decisions TEXT NOT NULL,
    fulfilled BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ
);

-- The overdue and due-soon views look only at open requests.
CREATE INDEX rights_requests_open_by_due ON rights_requests (due_on) WHERE stage <> 'closed';

-- Deleting a person checks this table by subject.
CREATE INDEX rights_requests_by_subject ON rights_requests (subject_id) WHERE subject_id IS NOT NULL;

-- The timeline: every step, who, when. Only ever inserted.
CREATE TABLE rights_request_steps (
    request_id UUID NOT NULL REFERENCES rights_requests (id),
    seq BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    step TEXT NOT NULL,
    stage TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (request_id, seq)
);

-- Uploaded proof of identity (the front of an ID card), sealed; the content is removed when
-- the request closes and the row keeps when that happened.
CREATE TABLE rights_request_documents (
    id UUID PRIMARY KEY NOT NULL,
    request_id UUID NOT NULL REFERENCES rights_requests (id),
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sealed BYTEA,
    uploaded_at TIMESTAMPTZ NOT NULL,
    destroyed_at TIMESTAMPTZ
);

CREATE INDEX rights_request_documents_by_request ON rights_request_documents (request_id);
