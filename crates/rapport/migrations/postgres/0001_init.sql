-- Customers, the append-only event log and the customer-state projection.
-- Times are Unix seconds (UTC); money is in minor units (cents).

CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    external_id TEXT    NOT NULL UNIQUE,
    name        TEXT,
    email       TEXT,
    phone       TEXT,
    attributes  TEXT    NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    kind         TEXT    NOT NULL,
    occurred_at  BIGINT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    event_key    TEXT    NOT NULL UNIQUE,
    amount_cents BIGINT,
    currency     TEXT,
    order_id     TEXT,
    quantity     BIGINT,
    data         TEXT
);

CREATE INDEX events_customer ON events (customer_id, id);

-- Derived from `events` alone; `rapport rebuild` recomputes every row.
CREATE TABLE customer_state (
    customer_id          BIGINT PRIMARY KEY REFERENCES customers (id),
    stage                TEXT    NOT NULL,
    max_stage            TEXT    NOT NULL,
    stage_changes        BIGINT NOT NULL,
    stage_changed_at     BIGINT,
    purchase_count       BIGINT NOT NULL,
    first_purchase_at    BIGINT,
    second_purchase_at   BIGINT,
    last_purchase_at     BIGINT,
    total_spend_cents    BIGINT NOT NULL,
    interaction_count    BIGINT NOT NULL,
    first_interaction_at BIGINT,
    referral_count       BIGINT NOT NULL,
    first_referral_at    BIGINT,
    last_event_at        BIGINT
);

CREATE INDEX customer_state_stage ON customer_state (stage, customer_id);
