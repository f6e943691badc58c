-- Trust layer: do-not-sell flag, audit export by time, privacy-budget ledger.
ALTER TABLE customers ADD COLUMN do_not_sell INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE privacy_ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    analyst TEXT NOT NULL,
    at INTEGER NOT NULL,
    epsilon_micros INTEGER NOT NULL,
    query TEXT NOT NULL
);
CREATE INDEX privacy_ledger_analyst ON privacy_ledger (analyst);
-- Differentially private releases computed once per period and reused (re-releasing the same
-- statistic would spend privacy budget again).
CREATE TABLE dp_releases (
    key TEXT PRIMARY KEY,
    released_at INTEGER NOT NULL,
    epsilon_micros INTEGER NOT NULL,
    body TEXT NOT NULL
);
