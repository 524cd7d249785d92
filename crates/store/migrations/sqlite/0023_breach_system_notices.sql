-- Notices of a breach (GDPR art. 34) mailed to people found only in a connected system.
-- Such a person is not in the vault: the address is kept nowhere, only its pseudonym (a
-- keyed hash that does not change with key rotation), so the same address is told once
-- per breach, and the system it was found in, for the count per system. The mail itself
-- is in the outbox, and leaves it as any sent mail does.
CREATE TABLE breach_system_notices (
    breach_id BLOB NOT NULL REFERENCES breaches (id),
    address_pseudonym TEXT NOT NULL,
    system TEXT NOT NULL,
    language TEXT NOT NULL,
    mail_id BLOB NOT NULL,
    queued_at TEXT NOT NULL,
    queued_by TEXT NOT NULL,
    PRIMARY KEY (breach_id, address_pseudonym)
) STRICT;
