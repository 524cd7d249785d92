-- The register of processing activities. Each entity is stored whole as a JSON document,
-- with the key columns needed to look it up and list it. `version` counts edits and backs
-- optimistic concurrency.

CREATE TABLE controllers (
    id TEXT PRIMARY KEY NOT NULL,
    document JSONB NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE processors (
    id TEXT PRIMARY KEY NOT NULL,
    document JSONB NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY NOT NULL,
    document JSONB NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

-- The current version of each processing activity; `position` keeps the order of the
-- imported file within a controller.
CREATE TABLE activities (
    id TEXT PRIMARY KEY NOT NULL,
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    position BIGINT NOT NULL,
    version BIGINT NOT NULL,
    document JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE INDEX activities_by_controller ON activities (controller_id, position, id);

-- Every version an activity ever had: what refers to an activity points at the version in
-- force at that moment.
CREATE TABLE activity_versions (
    activity_id TEXT NOT NULL REFERENCES activities (id),
    version BIGINT NOT NULL,
    document JSONB NOT NULL,
    valid_from TIMESTAMPTZ NOT NULL,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (activity_id, version)
);
