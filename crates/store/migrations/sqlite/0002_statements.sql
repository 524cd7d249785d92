-- Published privacy statements: a numbered, dated snapshot of one controller's register.

CREATE TABLE statement_versions (
    id BLOB PRIMARY KEY NOT NULL,
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    version INTEGER NOT NULL,
    effective_date TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    UNIQUE (controller_id, version)
) STRICT;
