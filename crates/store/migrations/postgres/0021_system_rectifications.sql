-- Rectifications (GDPR art. 16) made in connected systems at a rights request: one column
-- of the person's rows in one table of one system. The new value and the old value of
-- every row it changed (by the row's primary key; NULL kept apart from an empty text) are
-- sealed with the store's keys (bound to the row), as the vault's `rectifications` are; only
-- the place is readable. They are what undoes a wrong change and what the recipients are
-- told (art. 19).
--
-- The values go with the person's data, like the vault's go with the record: when an
-- erasure in that system is recorded for the same person (at any of their requests) and
-- kept none of their rows of the table, and with the request itself. No rule ends a
-- request's retention yet; the cascade makes one that deletes requests take these along.

CREATE TABLE system_rectifications (
    id UUID PRIMARY KEY NOT NULL,
    request_id UUID NOT NULL REFERENCES rights_requests (id) ON DELETE CASCADE,
    request_reference TEXT NOT NULL,
    system TEXT NOT NULL,
    table_name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    rectified_at TIMESTAMPTZ NOT NULL,
    rectified_by TEXT NOT NULL
);

CREATE INDEX system_rectifications_by_request ON system_rectifications (request_id);
CREATE INDEX system_rectifications_by_reference ON system_rectifications (request_reference);
