-- The media database: photos and videos, the people identifiable on them, and requests to
-- remove them. A targeted item may show a person only while their consent for the item's
-- activity allows it; a published item must come down when that consent ends or someone
-- asks for its removal, until staff record that it was taken down.

CREATE TABLE media_items (
    id UUID PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    taken_on DATE NOT NULL,
    -- Where the item is kept: a URL or an archive id.
    reference TEXT NOT NULL,
    published_on DATE,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    taken_down_at TIMESTAMPTZ,
    taken_down_by TEXT
);

-- The items out in the world, which the take-down list looks through.
CREATE INDEX media_items_published ON media_items (activity_id)
    WHERE published_on IS NOT NULL AND taken_down_at IS NULL;

CREATE TABLE media_subjects (
    item_id UUID NOT NULL REFERENCES media_items (id),
    subject_id UUID NOT NULL REFERENCES data_subjects (id),
    linked_at TIMESTAMPTZ NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (item_id, subject_id)
);

CREATE INDEX media_subjects_by_subject ON media_subjects (subject_id);

CREATE TABLE media_removal_requests (
    id UUID PRIMARY KEY NOT NULL,
    item_id UUID NOT NULL REFERENCES media_items (id),
    -- The person who asked, when known to kluis; anyone on an overview image may ask.
    subject_id UUID REFERENCES data_subjects (id),
    requested_at TIMESTAMPTZ NOT NULL,
    channel TEXT NOT NULL,
    note TEXT,
    recorded_by TEXT NOT NULL
);

CREATE INDEX media_removal_requests_by_item ON media_removal_requests (item_id);
