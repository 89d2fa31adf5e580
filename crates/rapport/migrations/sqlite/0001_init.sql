-- Customers, the append-only event log and the customer-state projection.
-- Times are Unix seconds (UTC); money is in minor units (cents).

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    external_id TEXT    NOT NULL UNIQUE,
    name        TEXT,
    email       TEXT,
    phone       TEXT,
    attributes  TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    kind         TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    event_key    TEXT    NOT NULL UNIQUE,
    amount_cents INTEGER,
    currency     TEXT,
    order_id     TEXT,
    quantity     INTEGER,
    data         TEXT
);

CREATE INDEX events_customer ON events (customer_id, id);

-- Derived from `events` alone; `rapport rebuild` recomputes every row.
CREATE TABLE customer_state (
    customer_id          INTEGER PRIMARY KEY REFERENCES customers (id),
    stage                TEXT    NOT NULL,
    max_stage            TEXT    NOT NULL,
    stage_changes        INTEGER NOT NULL,
    stage_changed_at     INTEGER,
    purchase_count       INTEGER NOT NULL,
    first_purchase_at    INTEGER,
    second_purchase_at   INTEGER,
    last_purchase_at     INTEGER,
    total_spend_cents    INTEGER NOT NULL,
    interaction_count    INTEGER NOT NULL,
    first_interaction_at INTEGER,
    referral_count       INTEGER NOT NULL,
    first_referral_at    INTEGER,
    last_event_at        INTEGER
);

CREATE INDEX customer_state_stage ON customer_state (stage, customer_id);
