-- Proof of the cookie choices made in the banner on the authority's websites (or by a
-- browser's Global Privacy Control signal). No personal data: the visitor is a random id
-- made by the banner script; no IP address and no user agent are kept.
-- `accepted` and `refused`: cookie types, comma-separated in a fixed order. No foreign key to
-- controllers: like the processing log, the proof outlives a change of the register.
-- `seq` orders choices made at the same instant, so the latest one is well defined.
CREATE TABLE cookie_choices (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    controller_id TEXT NOT NULL,
    visitor TEXT NOT NULL,
    chosen_at TIMESTAMPTZ NOT NULL,
    banner_version TEXT NOT NULL,
    accepted TEXT NOT NULL,
    refused TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('banner', 'gpc'))
);

CREATE INDEX cookie_choices_by_visitor ON cookie_choices (controller_id, visitor, chosen_at);
CREATE INDEX cookie_choices_by_version ON cookie_choices (controller_id, banner_version);
