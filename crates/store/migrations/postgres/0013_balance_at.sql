-- When the stored balance was true, as µs since the epoch: the timestamp of the streamed
-- `balance` event that set it, NULL when it came from an import. A streamed balance older than
-- this one (a late arrival) leaves the balance as it is.
ALTER TABLE accounts ADD COLUMN balance_at BIGINT;
