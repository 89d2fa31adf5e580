-- Who may use the server: API keys (stored only as hashes), dashboard users and their sessions,
-- the API's remembered answers to idempotent requests, and indexes the customer list sorts by.

CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    -- The first characters of the key, shown in lists so a key can be recognised.
    prefix      TEXT    NOT NULL,
    -- SHA-256 of the whole key, hex: keys are long random strings, so a fast hash suffices.
    key_hash    TEXT    NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    -- Argon2id in PHC string format.
    password_hash TEXT    NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: a stolen database does not yield live sessions.
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    api_key_id    BIGINT NOT NULL,
    idem_key      TEXT    NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is an error.
    request_hash  TEXT    NOT NULL,
    status        BIGINT NOT NULL,
    body          TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);

CREATE INDEX customer_scores_clv ON customer_scores (clv_12m DESC, customer_id);
CREATE INDEX customer_scores_p_alive ON customer_scores (p_alive, customer_id);
CREATE INDEX customer_scores_segment ON customer_scores (segment, customer_id);
CREATE INDEX customer_state_last_purchase ON customer_state (last_purchase_at DESC, customer_id);
CREATE INDEX customers_email ON customers (lower(email) text_pattern_ops);
CREATE INDEX customers_name ON customers (lower(name) text_pattern_ops);
CREATE INDEX customers_external_id_pattern ON customers (external_id text_pattern_ops);
-- Expected value lost: the 12-month value the customer would bring if still active, times the
-- probability that they are gone. Same expression as `store::shared::RISK_SQL`.
CREATE INDEX customer_scores_risk ON customer_scores (
    (clv_12m * (1.0 - p_alive) / (CASE WHEN p_alive < 0.01 THEN 0.01 ELSE p_alive END)) DESC, customer_id);
