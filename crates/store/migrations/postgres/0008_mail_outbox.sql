-- Outgoing mail, queued in the transaction of the change it reports (a withdrawal and its
-- confirmation commit together) and delivered afterwards, so a change never fails because
-- the mail relay is down.
--
-- A mail is pending while `sent_at` is NULL and `next_attempt_at` is set; sent once
-- `sent_at` is set; failed (given up, kept with its error) when both are NULL. A sender
-- claims a mail by setting `leased_until`, so no other kluis sends it at the same time.
CREATE TABLE mail_outbox (
    id UUID PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    activity TEXT,
    unsubscribe_url TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    leased_until TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    last_error TEXT
);

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL;
CREATE INDEX mail_outbox_sent ON mail_outbox (sent_at) WHERE sent_at IS NOT NULL;
