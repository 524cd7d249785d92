-- Published privacy statements: a numbered, dated snapshot of one controller's register.

CREATE TABLE statement_versions (
    id UUID PRIMARY KEY NOT NULL,
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    version BIGINT NOT NULL,
    effective_date DATE NOT NULL,
    snapshot JSONB NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    published_by TEXT NOT NULL,
    UNIQUE (controller_id, version)
);
