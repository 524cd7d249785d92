-- Anonymised copies keep their dates to the month only: an exact day of collection,
-- deadline or anonymisation is a quasi-identifier that, with the category and a kept
-- field, can single a person out. Copies made before are generalised here too.
ALTER TABLE anonymised_records
    ADD COLUMN collected_in TEXT,
    ADD COLUMN deadline_in TEXT,
    ADD COLUMN anonymised_in TEXT;

UPDATE anonymised_records SET
    collected_in = to_char(collected_on, 'YYYY-MM'),
    deadline_in = to_char(deadline, 'YYYY-MM'),
    anonymised_in = to_char(anonymised_at AT TIME ZONE 'UTC', 'YYYY-MM');

ALTER TABLE anonymised_records
    ALTER COLUMN collected_in SET NOT NULL,
    ALTER COLUMN anonymised_in SET NOT NULL,
    DROP COLUMN collected_on,
    DROP COLUMN deadline,
    DROP COLUMN anonymised_at;
