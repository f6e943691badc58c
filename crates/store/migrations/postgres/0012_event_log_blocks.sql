-- SQLite only (its event log's customer index is keyed by seq block, see the SQLite migration).
-- PostgreSQL keeps `event_log_customer (customer_id)`: its embedded log is not the scale-out path
-- (NATS mode does not write the log).
SELECT 1;
