-- The DPO may reject a destruction list, with the reason (Flemish archive practice: what
-- the list proposes is not destroyed). The records it listed stay, and are listed again
-- by the next list drawn up.
ALTER TABLE destruction_lists ADD COLUMN rejected_at TIMESTAMPTZ;
ALTER TABLE destruction_lists ADD COLUMN rejected_by TEXT;
ALTER TABLE destruction_lists ADD COLUMN rejection_reason TEXT;
