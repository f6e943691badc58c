-- Trust layer: do-not-sell flag, keyed lookup hashes for encrypted contact fields, audit export
-- by time, privacy-budget ledger.
ALTER TABLE customers ADD COLUMN do_not_sell INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN email_hash TEXT;
CREATE INDEX customers_email_hash ON customers (email_hash);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE privacy_ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    analyst TEXT NOT NULL,
    at INTEGER NOT NULL,
    epsilon_micros INTEGER NOT NULL,
    query TEXT NOT NULL
);
CREATE INDEX privacy_ledger_analyst ON privacy_ledger (analyst);
