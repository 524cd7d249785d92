-- Restriction of processing (GDPR art. 18), objections (art. 21) and rectifications
-- (art. 16) of vault records, each at the request that asked for it (the rights request's
-- reference).
--
-- A restriction and an objection hold per data subject and processing activity, the
-- granularity at which a request is decided: a restriction covers every record of the
-- person under that activity, also one stored while it holds, and erasing records leaves it
-- in place. A subject's rows go with the subject.

CREATE TABLE restrictions (
    id UUID PRIMARY KEY NOT NULL,
    subject_id UUID NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    request_reference TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    restricted_by TEXT NOT NULL,
    -- Art. 18(3): the person is told before the restriction is lifted.
    told_on DATE,
    lifted_at TIMESTAMPTZ,
    lifted_by TEXT,
    lift_reason TEXT,
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL)),
    CHECK (lifted_at IS NULL OR (told_on IS NOT NULL AND lift_reason IS NOT NULL))
);

-- At most one restriction in force per person and activity.
CREATE UNIQUE INDEX restrictions_in_force ON restrictions (subject_id, activity_id)
    WHERE lifted_at IS NULL;

-- An objection with compelling grounds recorded (art. 21(1)) no longer stops processing.
CREATE TABLE objections (
    id UUID PRIMARY KEY NOT NULL,
    subject_id UUID NOT NULL REFERENCES data_subjects (id) ON DELETE CASCADE,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    request_reference TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    recorded_by TEXT NOT NULL,
    compelling_grounds TEXT,
    grounds_recorded_at TIMESTAMPTZ,
    grounds_recorded_by TEXT,
    CHECK ((compelling_grounds IS NULL) = (grounds_recorded_at IS NULL)),
    UNIQUE (subject_id, activity_id, request_reference)
);

CREATE INDEX objections_by_subject ON objections (subject_id, activity_id);

-- The old and new value of each field changed, sealed with the store's keys (bound to the
-- row); only the field names are readable. They go when the record is erased.
CREATE TABLE rectifications (
    id UUID PRIMARY KEY NOT NULL,
    record_id UUID NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    request_reference TEXT NOT NULL,
    fields TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    rectified_at TIMESTAMPTZ NOT NULL,
    rectified_by TEXT NOT NULL
);

CREATE INDEX rectifications_by_record ON rectifications (record_id);
CREATE INDEX rectifications_by_request ON rectifications (request_reference);
