-- Fitted model versions and the per-customer scores of the latest one.

CREATE TABLE model_fits (
    id              BIGSERIAL PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    model           TEXT    NOT NULL,
    time_unit       TEXT    NOT NULL,
    calibration_end TEXT    NOT NULL,
    -- The whole analysis summary (parameters, standard errors, fit quality, spend model) as JSON.
    summary         TEXT    NOT NULL,
    log_likelihood  DOUBLE PRECISION    NOT NULL,
    customers       BIGINT NOT NULL
);

CREATE TABLE customer_scores (
    customer_id                    BIGINT PRIMARY KEY REFERENCES customers (id),
    fit_id                         BIGINT NOT NULL REFERENCES model_fits (id),
    scored_at                      BIGINT NOT NULL,
    frequency                      BIGINT NOT NULL,
    recency                        DOUBLE PRECISION NOT NULL,
    age                            DOUBLE PRECISION NOT NULL,
    monetary_value                 DOUBLE PRECISION NOT NULL,
    p_alive                        DOUBLE PRECISION    NOT NULL,
    expected_purchases_90d         DOUBLE PRECISION    NOT NULL,
    expected_purchases_365d        DOUBLE PRECISION    NOT NULL,
    expected_spend                 DOUBLE PRECISION    NOT NULL,
    clv_12m                        DOUBLE PRECISION    NOT NULL,
    rfm_recency                    BIGINT NOT NULL,
    rfm_frequency                  BIGINT NOT NULL,
    rfm_monetary                   BIGINT NOT NULL,
    segment                        TEXT    NOT NULL,
    expected_days_to_next_purchase DOUBLE PRECISION,
    explanation                    TEXT    NOT NULL
);
