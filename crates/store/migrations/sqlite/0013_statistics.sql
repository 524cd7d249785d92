-- Statistics and research extracts (issue 6): one row per extract asked for, released or
-- refused, with who asked, for which activity and project, the specification's settings
-- and the anonymity report. No personal data: the settings name columns and hierarchies,
-- the report holds counts and aggregate cells. `log_seq`: the processing-log entry of a
-- released extract (none for a refused one: nothing left kluis).
CREATE TABLE statistics_extracts (
    id BLOB PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    activity_version INTEGER NOT NULL,
    project TEXT NOT NULL,
    purpose TEXT NOT NULL,
    case_ref TEXT,
    settings TEXT NOT NULL,
    released INTEGER NOT NULL,
    k_achieved INTEGER NOT NULL,
    l_achieved INTEGER,
    rows_in INTEGER NOT NULL,
    rows_suppressed INTEGER NOT NULL,
    report TEXT NOT NULL,
    log_seq INTEGER
) STRICT;

CREATE INDEX statistics_extracts_by_activity ON statistics_extracts (activity_id, created_at);
