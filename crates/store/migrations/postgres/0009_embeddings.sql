-- Sentence embeddings of knowledge-base passages and intent examples, so a restart does not
-- recompute them. Keyed by the model's id and the SHA-256 of the text; vectors are little-endian
-- f32. Never holds customer text.
CREATE TABLE embedding_cache (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    vector BYTEA NOT NULL,
    PRIMARY KEY (model, key)
);
