-- The log and the projection without foreign keys to `customers`: checking one reads the
-- customers' index and locks the customer's row for every appended event. The one write path
-- keeps what they checked: it resolves or creates every customer before appending their
-- events, in the same transaction, and customers are never deleted (ARCHITECTURE.md,
-- "Invariants").

ALTER TABLE events DROP CONSTRAINT events_customer_id_fkey;
ALTER TABLE customer_state DROP CONSTRAINT customer_state_customer_id_fkey;
