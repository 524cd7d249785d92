-- Fulfilment of rights requests: what kluis (or a staff member, by hand) carries out per
-- right, processing activity and place (the vault, a connected system, the access package),
-- with its status, so a run that failed half-way resumes where it stopped; and the
-- recipients told of a rectification, erasure or restriction (GDPR art. 19).

-- One action per request, right, activity and target ('vault', 'package' or a system's
-- name). `carried_out_by` is 'kluis' (automated) or 'staff' (by hand, confirmed by a staff
-- member, `instruction` says what). `report` is JSON: counts per table and why rows were
-- kept, never the data itself.
CREATE TABLE rights_request_actions (
    request_id UUID NOT NULL REFERENCES rights_requests (id),
    right_name TEXT NOT NULL,
    activity TEXT NOT NULL,
    target TEXT NOT NULL,
    carried_out_by TEXT NOT NULL,
    instruction TEXT,
    status TEXT NOT NULL,
    report TEXT,
    error TEXT,
    attempts BIGINT NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (request_id, right_name, activity, target),
    CHECK (status IN ('pending', 'done', 'failed')),
    CHECK (carried_out_by IN ('kluis', 'staff'))
);

-- Who was told, when, by whom and how. The recipients to tell come from the register (the
-- activity's recipients); a row exists once one was told.
CREATE TABLE rights_request_recipients (
    request_id UUID NOT NULL REFERENCES rights_requests (id),
    right_name TEXT NOT NULL,
    activity TEXT NOT NULL,
    recipient TEXT NOT NULL,
    told_at TIMESTAMPTZ NOT NULL,
    told_by TEXT NOT NULL,
    how TEXT NOT NULL,
    PRIMARY KEY (request_id, right_name, activity, recipient)
);
