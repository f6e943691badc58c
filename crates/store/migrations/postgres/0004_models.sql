-- The predictive-model registry: every trained model with its card (version, data hash,
-- features, parameters, metrics) and its serialized form; one promoted version per name.
CREATE TABLE models (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    card TEXT NOT NULL,
    model TEXT NOT NULL,
    promoted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
