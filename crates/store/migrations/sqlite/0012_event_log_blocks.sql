-- The event log's customer index, keyed by block of 4 096 seqs first: new rows all land in the
-- newest block's small region of the index, so a group commit dirties a few index pages instead
-- of one random page per event (measured: the random `(customer_id)` index capped the embedded
-- stream at ~65 k events/s; see README, Benchmarks). Finding a customer's events (erasure) is
-- one index seek per block (`sqlite_stream::customer_log_seqs`). Keep the shift in step with
-- `LOG_BLOCK_SHIFT`.
DROP INDEX event_log_customer;
CREATE INDEX event_log_customer_block ON event_log (seq >> 12, customer_id);
