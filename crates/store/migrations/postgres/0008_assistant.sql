-- The assistant (issue 7): knowledge-base documents, conversations with their turns, savings
-- goals. Every customer-related table carries the customer id (erasure and export need no join);
-- as on the event stream, customer ids carry no foreign key: a conversation may be held for a
-- customer not (yet) imported. Times are microseconds since the epoch, money minor units, JSON TEXT.
CREATE TABLE kb_documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    tags TEXT NOT NULL, -- JSON array of strings
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
-- `version` is the compare-and-swap version: each save moves it by one.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    state TEXT NOT NULL, -- JSON, sealed at rest by the encrypting decorator
    handed_off BIGINT NOT NULL CHECK (handed_off IN (0, 1)),
    version BIGINT NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_id, updated_at);
CREATE TABLE conversation_turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'assistant', 'system')),
    channel TEXT NOT NULL,
    text TEXT NOT NULL, -- sealed at rest by the encrypting decorator
    intent TEXT,
    sentiment DOUBLE PRECISION,
    payload TEXT NOT NULL, -- JSON: citations, figures, plan id
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX conversation_turns_customer ON conversation_turns (customer_id);
CREATE TABLE goals (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    target_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    start_date TEXT NOT NULL,
    target_date TEXT NOT NULL,
    monthly_contribution_minor BIGINT NOT NULL,
    plan TEXT NOT NULL, -- JSON goal plan
    saved_minor BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'achieved', 'cancelled')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX goals_customer ON goals (customer_id, created_at);
-- Sentiment backfill walks the messages not yet scored, by id.
CREATE INDEX messages_unscored ON messages (id) WHERE sentiment IS NULL;
