-- Fitted model versions and the per-customer scores of the latest one.

CREATE TABLE model_fits (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    model           TEXT    NOT NULL,
    time_unit       TEXT    NOT NULL,
    calibration_end TEXT    NOT NULL,
    -- The whole analysis summary (parameters, standard errors, fit quality, spend model) as JSON.
    summary         TEXT    NOT NULL,
    log_likelihood  REAL    NOT NULL,
    customers       INTEGER NOT NULL
);

CREATE TABLE customer_scores (
    customer_id                    INTEGER PRIMARY KEY REFERENCES customers (id),
    fit_id                         INTEGER NOT NULL REFERENCES model_fits (id),
    scored_at                      INTEGER NOT NULL,
    frequency                      INTEGER NOT NULL,
    recency                        REAL NOT NULL,
    age                            REAL NOT NULL,
    monetary_value                 REAL NOT NULL,
    p_alive                        REAL    NOT NULL,
    expected_purchases_90d         REAL    NOT NULL,
    expected_purchases_365d        REAL    NOT NULL,
    expected_spend                 REAL    NOT NULL,
    clv_12m                        REAL    NOT NULL,
    rfm_recency                    INTEGER NOT NULL,
    rfm_frequency                  INTEGER NOT NULL,
    rfm_monetary                   INTEGER NOT NULL,
    segment                        TEXT    NOT NULL,
    expected_days_to_next_purchase REAL,
    explanation                    TEXT    NOT NULL
);
