-- A counter per table that moves on every write, in the same transaction as the write, so
-- every kluis instance can tell in one cheap read whether what it cached is still current.

CREATE TABLE revisions (
    name TEXT PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL
) STRICT;

INSERT INTO revisions (name, revision) VALUES ('activities', 0);

CREATE TRIGGER activities_revision_on_insert AFTER INSERT ON activities
BEGIN
    UPDATE revisions SET revision = revision + 1 WHERE name = 'activities';
END;

CREATE TRIGGER activities_revision_on_update AFTER UPDATE ON activities
BEGIN
    UPDATE revisions SET revision = revision + 1 WHERE name = 'activities';
END;

CREATE TRIGGER activities_revision_on_delete AFTER DELETE ON activities
BEGIN
    UPDATE revisions SET revision = revision + 1 WHERE name = 'activities';
END;
