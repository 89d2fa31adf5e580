-- Themes named by staff: each merges terms of customers' comments under one name ("Delivery":
-- late, delivery, shipping), and applies to every comment read afterwards.

CREATE TABLE theme_names (
    -- As staff wrote it; unique ignoring case (checked before it is stored).
    name        TEXT    PRIMARY KEY,
    -- The terms as a JSON list of strings, each a word or two.
    terms       TEXT    NOT NULL,
    updated_at  BIGINT NOT NULL
);
