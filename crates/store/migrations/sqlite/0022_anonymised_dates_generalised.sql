-- Anonymised copies keep their dates to the month only: an exact day of collection,
-- deadline or anonymisation is a quasi-identifier that, with the category and a kept
-- field, can single a person out. Copies made before are generalised here too.
CREATE TABLE anonymised_records_generalised (
    id BLOB PRIMARY KEY NOT NULL,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    schedule TEXT NOT NULL,
    category TEXT NOT NULL,
    fields TEXT NOT NULL,
    -- YYYY-MM
    collected_in TEXT NOT NULL,
    deadline_in TEXT,
    anonymised_in TEXT NOT NULL
) STRICT;

INSERT INTO anonymised_records_generalised (id, activity_id, schedule, category, fields,
    collected_in, deadline_in, anonymised_in)
SELECT id, activity_id, schedule, category, fields, substr(collected_on, 1, 7),
    substr(deadline, 1, 7), substr(anonymised_at, 1, 7)
FROM anonymised_records;

DROP TABLE anonymised_records;
ALTER TABLE anonymised_records_generalised RENAME TO anonymised_records;

CREATE INDEX anonymised_records_by_activity ON anonymised_records (activity_id);
