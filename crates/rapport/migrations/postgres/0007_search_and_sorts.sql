-- The customer list searches any part of an id, e-mail or name, sorts by total spend and by
-- number of purchases, and the value at risk is capped at the purchases so far.

-- Substring search: trigram GIN indexes that `lower(column) LIKE '%text%'` uses. The store
-- creates the extension before migrating and says so plainly when it cannot.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_external_id_trgm ON customers USING gin (lower(external_id) gin_trgm_ops);
CREATE INDEX customers_name_trgm ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX customers_email_trgm ON customers USING gin (lower(email) gin_trgm_ops);

CREATE INDEX customer_state_spend ON customer_state (total_spend_cents DESC, customer_id);
CREATE INDEX customer_state_orders ON customer_state (purchase_count DESC, customer_id);

-- Expected value lost: the model's 12-month value if still active, capped at the purchases so
-- far, times the probability of being gone. Same expression as `store::sql::RISK_SQL`.
DROP INDEX customer_scores_risk;
CREATE INDEX customer_scores_risk ON customer_scores (
    ((CASE WHEN clv_12m / (CASE WHEN p_alive < 0.01 THEN 0.01 ELSE p_alive END)
     < (frequency + 1) * expected_spend
     THEN clv_12m / (CASE WHEN p_alive < 0.01 THEN 0.01 ELSE p_alive END)
     ELSE (frequency + 1) * expected_spend END) * (1.0 - p_alive)) DESC, customer_id);
