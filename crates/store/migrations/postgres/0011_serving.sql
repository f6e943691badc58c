-- The bandit context a bandit-allocated experiment learned the assignment from (JSON array of
-- numbers), so an erasure can subtract exactly that pull; NULL for fixed allocation.
ALTER TABLE experiment_exposures ADD COLUMN context TEXT;
-- When each feature row was last written (µs, store clock), so serving processes can keep an
-- in-memory copy of the feature table current by reading only what changed.
ALTER TABLE features ADD COLUMN written_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX features_written ON features (written_at, customer_id);
