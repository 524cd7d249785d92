-- Retention enforcement: legal holds, the DPO's destruction lists, retention runs with the
-- lease that lets one kluis among several run the sweep, and the destruction log, which
-- says what was destroyed under which rule without keeping the data itself.

-- The case a record belongs to (a dispute, an offence): a legal hold on the case holds it.
ALTER TABLE records ADD COLUMN case_ref TEXT;

CREATE INDEX records_by_case ON records (case_ref) WHERE case_ref IS NOT NULL;
-- The sweep walks due records in deadline order.
CREATE INDEX records_due ON records (deadline, id) WHERE deadline_kind = 'on';

-- The sweep deletes a data subject only when nothing refers to them any more: these
-- references are looked up by subject.
CREATE INDEX guardianships_by_guardian ON guardianships (guardian_id);
CREATE INDEX consent_events_by_guardian ON consent_events (guardian_id)
    WHERE guardian_id IS NOT NULL;
CREATE INDEX media_removal_requests_by_subject ON media_removal_requests (subject_id)
    WHERE subject_id IS NOT NULL;

-- Exactly one of record_id, subject_id, case_ref is set. No foreign keys: a hold outlives
-- what it held, and lifting is recorded, never deleted.
CREATE TABLE legal_holds (
    id BLOB PRIMARY KEY NOT NULL,
    scope TEXT NOT NULL,
    record_id BLOB,
    subject_id BLOB,
    case_ref TEXT,
    reason TEXT NOT NULL,
    held_from TEXT NOT NULL,
    held_until TEXT,
    placed_at TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT,
    lift_reason TEXT,
    CHECK ((record_id IS NOT NULL) + (subject_id IS NOT NULL) + (case_ref IS NOT NULL) = 1)
) STRICT;

CREATE INDEX legal_holds_open ON legal_holds (lifted_at);

-- Controllers whose destruction needs a list the DPO approved (Flemish archive practice).
CREATE TABLE destruction_approval (
    controller_id TEXT PRIMARY KEY NOT NULL REFERENCES controllers (id),
    required INTEGER NOT NULL,
    set_at TEXT NOT NULL,
    set_by TEXT NOT NULL
) STRICT;

CREATE TABLE destruction_lists (
    id BLOB PRIMARY KEY NOT NULL,
    controller_id TEXT NOT NULL,
    until_date TEXT NOT NULL,
    state TEXT NOT NULL,
    records INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    approved_at TEXT,
    approved_by TEXT
) STRICT;

-- No foreign key to records: the list stays as the proof of what was approved.
CREATE TABLE destruction_list_records (
    list_id BLOB NOT NULL REFERENCES destruction_lists (id),
    record_id BLOB NOT NULL,
    PRIMARY KEY (list_id, record_id)
) STRICT;

CREATE INDEX destruction_list_records_by_record ON destruction_list_records (record_id);

-- Scheduled jobs shared by several kluis instances: whoever moves `leased_until` forward
-- with an UPDATE that finds it expired runs the job (milliseconds since 1970).
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT,
    leased_until INTEGER NOT NULL,
    last_run_on TEXT
) STRICT;

INSERT INTO job_leases (name, holder, leased_until, last_run_on)
    VALUES ('retention_sweep', NULL, 0, NULL);

CREATE TABLE retention_runs (
    id BLOB PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    started_by TEXT NOT NULL,
    destroyed INTEGER NOT NULL,
    subjects_deleted INTEGER NOT NULL,
    held INTEGER NOT NULL,
    awaiting_approval INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    error TEXT
) STRICT;

-- Append-only. `record_id` is a random id; row counts for what has none. Never the data.
CREATE TABLE destruction_log (
    seq INTEGER PRIMARY KEY NOT NULL,
    run_id BLOB,
    destroyed_at TEXT NOT NULL,
    system TEXT NOT NULL,
    table_name TEXT NOT NULL,
    activity TEXT NOT NULL,
    schedule TEXT NOT NULL,
    rule TEXT NOT NULL,
    record_id BLOB,
    row_count INTEGER NOT NULL,
    method TEXT NOT NULL,
    deadline TEXT
) STRICT;

CREATE INDEX destruction_log_by_run ON destruction_log (run_id);

CREATE TRIGGER destruction_log_append_only_update BEFORE UPDATE ON destruction_log
BEGIN
    SELECT RAISE(ABORT, 'the destruction log is append-only');
END;

CREATE TRIGGER destruction_log_append_only_delete BEFORE DELETE ON destruction_log
BEGIN
    SELECT RAISE(ABORT, 'the destruction log is append-only');
END;
