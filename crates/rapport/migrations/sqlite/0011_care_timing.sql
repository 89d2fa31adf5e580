-- Care plans timed from the business's own data: the days from a customer's first purchase to
-- their second, at every percentile from 0 to 100, refreshed by the scheduler at most daily and
-- whenever plans are applied (a full scan of the projection: too costly for every write). And
-- every task carries the sentence that says why it is due now.

CREATE TABLE business_rhythm (
    percent             INTEGER PRIMARY KEY,
    -- Seconds from the first purchase to the second, at this percentile of customers who came back.
    second_purchase_gap INTEGER NOT NULL,
    -- Customers who came back, the percentiles' base.
    customers           INTEGER NOT NULL,
    computed_at         INTEGER NOT NULL
);

ALTER TABLE tasks ADD COLUMN why TEXT;
