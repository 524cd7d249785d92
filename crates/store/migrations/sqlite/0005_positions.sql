-- Controllers, processors and agreements keep the order of the register file they were
-- imported from, so an export reads like the file that was loaded.

ALTER TABLE controllers ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE processors ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agreements ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
