-- The sweep writes one destruction-log entry per batch, activity, schedule, rule and
-- deadline instead of one per record: `row_count` counts the records and `record_ids` lists
-- their random ids, 16 bytes each, one after the other (never the data itself). A record
-- destroyed on its own (an erasure on request) keeps its id in `record_id`.
ALTER TABLE destruction_log ADD COLUMN record_ids BLOB;
