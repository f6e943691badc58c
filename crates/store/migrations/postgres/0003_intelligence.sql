-- Customer intelligence: the versioned feature table, segment models, segment assignments.
-- Feature vectors and models are JSON produced by sextant-features / sextant-segment.
CREATE TABLE features (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    computed_at BIGINT NOT NULL,
    vector TEXT NOT NULL
);
CREATE TABLE segment_models (
    version BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    feature_version BIGINT NOT NULL,
    trained_on BIGINT NOT NULL,
    data_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    promoted BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE customer_segments (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    model_version BIGINT NOT NULL,
    segment_id TEXT NOT NULL,
    distance DOUBLE PRECISION NOT NULL,
    assigned_at BIGINT NOT NULL
);
CREATE INDEX customer_segments_segment ON customer_segments (model_version, segment_id);
-- Consents imported from the bank's systems carry their own id, so re-imports are idempotent.
ALTER TABLE consents ADD COLUMN id TEXT;
CREATE UNIQUE INDEX consents_id ON consents (id);
ALTER TABLE consents ADD COLUMN import_id TEXT;
