-- The register of data breaches (GDPR art. 33(5)): every breach is documented, also one
-- that needs no notification. The documentation is kept whole as a JSON document next to
-- the columns the lists and the 72-hour clock need. Notices to the supervisory authority
-- and notices to the people affected are only ever added.

CREATE TABLE breaches (
    id UUID PRIMARY KEY NOT NULL,
    controller_id TEXT NOT NULL,
    document JSONB NOT NULL,
    aware_at TIMESTAMPTZ NOT NULL,
    -- aware_at + 72 hours: when the authority must have been notified.
    notification_due TIMESTAMPTZ NOT NULL,
    risk TEXT,
    -- When the initial notice was sent; NULL until then.
    notified_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    -- The art. 34 decision (tell the people or the art. 34(3) ground), as JSON.
    art34 JSONB,
    art34_decided_at TIMESTAMPTZ,
    art34_decided_by TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

-- The breaches whose clock may still run out.
CREATE INDEX breaches_to_notify ON breaches (notification_due) WHERE notified_at IS NULL;

-- The phases of the notification to the supervisory authority (art. 33(4)).
CREATE TABLE breach_notices (
    breach_id UUID NOT NULL REFERENCES breaches (id),
    seq BIGINT NOT NULL,
    phase TEXT NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    content TEXT NOT NULL,
    authority_reference TEXT,
    delay_reason TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (breach_id, seq)
);

-- The people told about a breach (art. 34): the mail queued to them, or none when kluis
-- knows no e-mail address and they must be told otherwise. Whether the mail went out is
-- in mail_outbox.
CREATE TABLE breach_subject_notices (
    breach_id UUID NOT NULL REFERENCES breaches (id),
    subject_id UUID NOT NULL REFERENCES data_subjects (id),
    language TEXT NOT NULL,
    mail_id UUID,
    queued_at TIMESTAMPTZ NOT NULL,
    queued_by TEXT NOT NULL,
    PRIMARY KEY (breach_id, subject_id)
);

-- Deleting a person (retention sweep, erasure) checks this table by subject.
CREATE INDEX breach_subject_notices_by_subject ON breach_subject_notices (subject_id);
