-- A counter per table that moves on every write, in the same transaction as the write, so
-- every kluis instance can tell in one cheap read whether what it cached is still current.

CREATE TABLE revisions (
    name TEXT PRIMARY KEY NOT NULL,
    revision BIGINT NOT NULL
);

INSERT INTO revisions (name, revision) VALUES ('activities', 0);

CREATE FUNCTION bump_activities_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revisions SET revision = revision + 1 WHERE name = 'activities';
    RETURN NULL;
END
$$;

CREATE TRIGGER activities_revision AFTER INSERT OR UPDATE OR DELETE ON activities
FOR EACH STATEMENT EXECUTE FUNCTION bump_activities_revision();
