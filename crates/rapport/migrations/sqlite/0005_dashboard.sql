-- The dashboard's customer list filters by RFM segment and sorts by value or P(alive): indexes
-- that lead with the segment and hold the order answer a page without sorting the segment.
CREATE INDEX customer_scores_segment_clv ON customer_scores (segment, clv_12m DESC, customer_id);
CREATE INDEX customer_scores_segment_p_alive ON customer_scores (segment, p_alive, customer_id);
