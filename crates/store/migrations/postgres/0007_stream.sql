-- The real-time event stream (issue 6). The embedded event log is the durable half of the
-- in-process queue: a sequence never reuses a seq, even after the newest rows are
-- erased (a consumer's offset must never point past an event that is yet to come). Customer ids
-- here carry no foreign key: events may arrive for customers not (yet) imported.
CREATE TABLE event_log (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX event_log_customer ON event_log (customer_id);
-- Processing position per source (`embedded`, `nats.p<N>`), moved by compare-and-swap.
CREATE TABLE stream_offsets (
    source TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The engine's state at an offset, so a restart replays only what came after.
CREATE TABLE stream_checkpoints (
    source TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    snapshot BYTEA NOT NULL,
    saved_at BIGINT NOT NULL
);
-- Event ids already applied (NATS mode: redelivery and republish dedupe).
CREATE TABLE stream_applied (
    event_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    seq BIGINT NOT NULL,
    applied_at BIGINT NOT NULL
);
-- Alerts; the id is deterministic, so reprocessing an event inserts nothing new.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX alerts_at ON alerts (at, id);
CREATE INDEX alerts_customer ON alerts (customer_id, at, id);
CREATE INDEX alerts_kind ON alerts (kind, at, id);
CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    position BIGINT,
    customer_id TEXT,
    received_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX dead_letters_customer ON dead_letters (customer_id) WHERE customer_id IS NOT NULL;
-- The webhook outbox: written in the same transaction as the alert, delivered after.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    webhook TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_error TEXT,
    UNIQUE (alert_id, webhook)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE status = 'pending';
-- Scale-out membership: workers' last heartbeats.
CREATE TABLE stream_workers (
    worker TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL
);
