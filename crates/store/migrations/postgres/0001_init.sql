-- Sextant schema v1 (PostgreSQL). Timestamps are BIGINT microseconds since the Unix epoch (UTC), as in SQLite,
-- so both backends share one row mapping; dates TEXT, money BIGINT minor units, JSON TEXT.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL,
    rows_written BIGINT NOT NULL DEFAULT 0,
    rows_new BIGINT NOT NULL DEFAULT 0,
    rows_rejected BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    age BIGINT NOT NULL,
    income_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    spending_habit TEXT NOT NULL,
    risk_profile TEXT NOT NULL,
    transactions BIGINT NOT NULL,
    sentiment_score DOUBLE PRECISION NOT NULL,
    engagement_level TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    occupation TEXT,
    joined_on TEXT,
    import_id TEXT,
    updated_at BIGINT NOT NULL
);
-- Protected attributes live apart from the profile: fairness audits only.
CREATE TABLE customer_protected (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    gender TEXT,
    age_band TEXT,
    region TEXT,
    ethnicity TEXT,
    import_id TEXT
);
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    family TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    currency TEXT NOT NULL,
    min_income_minor BIGINT,
    rate_bps BIGINT,
    annual_fee_minor BIGINT,
    description TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    import_id TEXT
);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    product_id TEXT,
    currency TEXT NOT NULL,
    opened_on TEXT NOT NULL,
    closed_on TEXT,
    status TEXT NOT NULL,
    limit_minor BIGINT,
    balance_minor BIGINT NOT NULL,
    import_id TEXT,
    UNIQUE (id, customer_id)
);
CREATE INDEX accounts_customer ON accounts (customer_id);
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    merchant TEXT,
    category TEXT NOT NULL,
    mcc BIGINT,
    channel TEXT NOT NULL,
    country TEXT NOT NULL,
    balance_after_minor BIGINT,
    status TEXT NOT NULL,
    import_id TEXT
    -- No FOREIGN KEY here, unlike SQLite: a per-row RI trigger (and the row lock it takes on the
    -- account) made bulk imports 3x slower. Every write goes through an import, which checks
    -- (account_id, customer_id) against accounts in one anti-join while holding SHARE on accounts,
    -- and erasure deletes a customer's transactions explicitly.
);
CREATE INDEX transactions_customer_ts ON transactions (customer_id, ts, id);
CREATE TABLE consents (
    seq BIGSERIAL PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    granted BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX consents_customer ON consents (customer_id, purpose, seq);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    sentiment DOUBLE PRECISION,
    import_id TEXT
);
CREATE INDEX messages_customer ON messages (customer_id, ts);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    product_id TEXT,
    decision_id TEXT,
    value BIGINT,
    import_id TEXT
);
CREATE INDEX events_customer ON events (customer_id, ts);
CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    versions TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX decisions_customer ON decisions (customer_id, at);
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    role TEXT NOT NULL,
    customer_id TEXT,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
