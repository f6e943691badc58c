-- Offers held for a reviewer are looked up on every recommendation (so a case is not queued
-- twice); a partial index keeps that lookup independent of how many decisions a customer has.
CREATE INDEX decisions_pending ON decisions (customer_id) WHERE status = 'pending_review';
