-- Experiments and outcomes (issue 8). An experiment's spec is JSON validated by
-- sextant-experiment; its sequential-test state (running minimum of the always-valid p-values)
-- is kept beside it so analysts can look as often as they like.
CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'stopped')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    monitor TEXT
);
-- First exposure of a customer to an experiment: the assignment is sticky, so one row per pair.
-- `arm` is the arm's name or 'holdout'.
CREATE TABLE experiment_exposures (
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    decision_id TEXT,
    PRIMARY KEY (experiment_id, customer_id)
);
CREATE INDEX experiment_exposures_customer ON experiment_exposures (customer_id);
-- Training distributions of a model's inputs and score (population stability references).
CREATE TABLE model_references (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    reference TEXT NOT NULL,
    PRIMARY KEY (model, version, name)
);
-- How a customer wants to be contacted (JSON of sextant_outcomes::channel::ContactPreferences).
CREATE TABLE contact_preferences (
    customer_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
