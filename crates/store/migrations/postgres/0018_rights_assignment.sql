-- Who handles a rights request, and where that caseworker gets the daily reminder of the
-- requests that are overdue or due within a week. A staff member's mail address and the
-- language of the mails they get are kept with their account.

ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN mail_language TEXT NOT NULL DEFAULT 'nl';

ALTER TABLE rights_requests ADD COLUMN assigned_to UUID REFERENCES users (id);

-- The reminder reads open requests by caseworker.
CREATE INDEX rights_requests_open_by_assignee ON rights_requests (assigned_to, due_on)
    WHERE stage <> 'closed' AND assigned_to IS NOT NULL;

-- The daily reminder runs once a day across instances, like the retention sweep.
INSERT INTO job_leases (name, holder, leased_until, last_run_on)
    VALUES ('rights_reminders', NULL, 0, NULL);
