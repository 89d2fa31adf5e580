-- Signed webhooks: subscriptions, the outbox of messages written in the same transaction as the
-- events they announce, one delivery per (message, subscription), and every attempt made.
-- Delivery times are Unix milliseconds (columns ending in _ms): retries in tests are sub-second.

CREATE TABLE webhook_subscriptions (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL,
    -- JSON array of event type names, e.g. ["customer.created","event.created"].
    event_types TEXT    NOT NULL,
    -- whsec_ followed by the base64 of the signing key.
    secret      TEXT    NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    -- Deleted subscriptions stay, so their deliveries and attempts can still be read.
    deleted_at  INTEGER
);

CREATE TABLE webhook_messages (
    -- msg_ followed by random characters: the webhook-id header, the same on every attempt.
    id          TEXT    PRIMARY KEY,
    event_type  TEXT    NOT NULL,
    -- The JSON body sent, byte for byte.
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    message_id       TEXT    NOT NULL REFERENCES webhook_messages (id),
    subscription_id  INTEGER NOT NULL REFERENCES webhook_subscriptions (id),
    -- pending, delivered, failed (retries exhausted) or cancelled (subscription deleted).
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    first_attempt_ms INTEGER,
    -- A worker that claimed the delivery, and until when the claim holds (a crashed worker's
    -- claim lapses and another takes the delivery over).
    claimed_by       TEXT,
    claimed_until_ms INTEGER,
    UNIQUE (message_id, subscription_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    attempted_ms INTEGER NOT NULL,
    -- The receiver's HTTP status, or NULL when no answer came (then error says why).
    http_status  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);

CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- The P(alive) a customer had before the latest scoring: customer.at_risk fires when it crosses
-- below the threshold.
ALTER TABLE customer_scores ADD COLUMN previous_p_alive REAL;
