-- "You said, we did": what the business did about a theme of its customers' comments, recorded
-- by staff, shown in the report back and, when public, on the `/you-said` page.

CREATE TABLE voice_actions (
    id           BIGSERIAL PRIMARY KEY,
    -- The theme it answers, as its label read when recorded (a named theme or a word or phrase).
    theme        TEXT    NOT NULL,
    -- What customers said, and what the business did, in the staff's words.
    said         TEXT    NOT NULL,
    did          TEXT    NOT NULL,
    -- The day it was done, as that day's midnight UTC (a calendar date, not a moment).
    done_at      BIGINT  NOT NULL,
    -- Listed on the public page.
    public       BOOLEAN NOT NULL,
    recorded_by  TEXT    NOT NULL,
    recorded_at  BIGINT  NOT NULL
);
CREATE INDEX voice_actions_done ON voice_actions (done_at);
