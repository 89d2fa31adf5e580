-- Comments staff put in a named theme by hand, whatever their words. A comment is known by its
-- event (an answer's feedback event, or an interview), which `rapport rebuild` keeps, or, for an
-- anonymous answer that has no event, by its response's id negated.

CREATE TABLE theme_tags (
    comment_id  INTEGER NOT NULL,
    -- The named theme, as staff wrote it (matched ignoring case).
    theme       TEXT    NOT NULL,
    tagged_by   TEXT    NOT NULL,
    tagged_at   INTEGER NOT NULL,
    PRIMARY KEY (comment_id, theme)
);
