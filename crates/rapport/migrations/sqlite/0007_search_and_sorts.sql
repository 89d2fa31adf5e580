-- The customer list searches any part of an id, e-mail or name, sorts by total spend and by
-- number of purchases, and the value at risk is capped at the purchases so far.

-- Substring search: an FTS5 table with the trigram tokenizer (case-insensitive) over the
-- customers' id, name and e-mail, its content read from `customers` and kept in step by triggers.
CREATE VIRTUAL TABLE customers_search USING fts5(
    external_id, name, email, content = 'customers', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_search (rowid, external_id, name, email)
    VALUES (new.id, new.external_id, new.name, new.email);
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, external_id, name, email)
    VALUES ('delete', old.id, old.external_id, old.name, old.email);
END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF external_id, name, email ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, external_id, name, email)
    VALUES ('delete', old.id, old.external_id, old.name, old.email);
    INSERT INTO customers_search (rowid, external_id, name, email)
    VALUES (new.id, new.external_id, new.name, new.email);
END;
INSERT INTO customers_search (customers_search) VALUES ('rebuild');

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
