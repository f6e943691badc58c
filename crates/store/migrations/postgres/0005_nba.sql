-- The next-best-action engine: human review cases for held decisions, bandit arm statistics
-- (aggregate, not per customer; compare-and-swap by version), the serialized
-- collaborative-filtering model, and feedback lookups by decision. events.id is already the
-- primary key (0001), so event ids are unique and feedback inserts are idempotent by id.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'modified', 'rejected')),
    reviewer TEXT,
    note TEXT,
    resolved_at BIGINT,
    modified_payload TEXT
);
CREATE INDEX reviews_status ON reviews (status, created_at, id);
CREATE INDEX reviews_created ON reviews (created_at, id);
CREATE INDEX reviews_customer ON reviews (customer_id);
CREATE INDEX reviews_decision ON reviews (decision_id);
CREATE TABLE bandit_arms (
    policy TEXT NOT NULL,
    arm TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (policy, arm)
);
CREATE TABLE recommender_models (
    name TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX events_decision ON events (decision_id);

-- Reviewer-approved decisions not yet delivered are looked up on every recommendation; a
-- partial index keeps that lookup independent of how many decisions a customer has.
CREATE INDEX decisions_approved ON decisions (customer_id) WHERE status = 'approved';
