-- Sextant schema v1 (SQLite). Timestamps are INTEGER microseconds since the Unix epoch (UTC),
-- dates TEXT 'YYYY-MM-DD', money INTEGER minor units, JSON as TEXT.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL,
    rows_written INTEGER NOT NULL DEFAULT 0,
    rows_new INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    age INTEGER NOT NULL,
    income_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    spending_habit TEXT NOT NULL,
    risk_profile TEXT NOT NULL,
    transactions INTEGER NOT NULL,
    sentiment_score REAL NOT NULL,
    engagement_level TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    occupation TEXT,
    joined_on TEXT,
    import_id TEXT,
    updated_at INTEGER NOT NULL
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
    min_income_minor INTEGER,
    rate_bps INTEGER,
    annual_fee_minor INTEGER,
    description TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
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
    limit_minor INTEGER,
    balance_minor INTEGER NOT NULL,
    import_id TEXT,
    UNIQUE (id, customer_id)
);
CREATE INDEX accounts_customer ON accounts (customer_id);
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    merchant TEXT,
    category TEXT NOT NULL,
    mcc INTEGER,
    channel TEXT NOT NULL,
    country TEXT NOT NULL,
    balance_after_minor INTEGER,
    status TEXT NOT NULL,
    import_id TEXT,
    FOREIGN KEY (account_id, customer_id) REFERENCES accounts (id, customer_id) ON DELETE CASCADE
) WITHOUT ROWID; -- the row lives in the id B-tree: one tree fewer to update per insert
CREATE INDEX transactions_customer_ts ON transactions (customer_id, ts, id);
CREATE TABLE consents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL,
    at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX consents_customer ON consents (customer_id, purpose, seq);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    sentiment REAL,
    import_id TEXT
);
CREATE INDEX messages_customer ON messages (customer_id, ts);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    product_id TEXT,
    decision_id TEXT,
    value INTEGER,
    import_id TEXT
);
CREATE INDEX events_customer ON events (customer_id, ts);
CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    versions TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX decisions_customer ON decisions (customer_id, at);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
