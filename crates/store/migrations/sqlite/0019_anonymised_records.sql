-- Records the retention sweep anonymised instead of erasing them (a retention schedule with
-- `anonymise`): a new random id and no link to any person, only the activity, schedule,
-- category, dates and the fields the schedule keeps.
CREATE TABLE anonymised_records (
    id BLOB PRIMARY KEY NOT NULL,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    schedule TEXT NOT NULL,
    category TEXT NOT NULL,
    fields TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    deadline TEXT,
    anonymised_at TEXT NOT NULL
) STRICT;

CREATE INDEX anonymised_records_by_activity ON anonymised_records (activity_id);
