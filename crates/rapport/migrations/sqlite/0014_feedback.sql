-- The voice of the customer, answered: the latest NPS category in the projection, survey sends
-- with each customer's personal link (invitation), and the responses projected from the log's
-- feedback events (plus the anonymous answers, which have no customer and so no event).

ALTER TABLE customer_state ADD COLUMN nps_category TEXT;
ALTER TABLE customer_state ADD COLUMN nps_at INTEGER;

-- One send of a survey: a `rapport surveys send` run, or every invitation one plan makes.
CREATE TABLE survey_sends (
    id          INTEGER PRIMARY KEY,
    survey_id   INTEGER NOT NULL REFERENCES surveys (id),
    -- What sent it, in words ("plan 'nps-after-purchase'", "rapport surveys send --stage client").
    label       TEXT    NOT NULL,
    -- The plan whose action sends it, once per plan.
    plan_id     INTEGER UNIQUE REFERENCES plans (id),
    created_at  INTEGER NOT NULL
);

-- A customer's personal link to a survey. Its id is drawn at random before it is stored, since
-- the signed link that carries it is written into the e-mail queued with it.
CREATE TABLE survey_invitations (
    id             INTEGER PRIMARY KEY,
    send_id        INTEGER NOT NULL REFERENCES survey_sends (id),
    survey_id      INTEGER NOT NULL REFERENCES surveys (id),
    version        INTEGER NOT NULL,
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    -- Reminders sent, and when the last message (the invitation or a reminder) was queued.
    reminders      INTEGER NOT NULL DEFAULT 0,
    last_mailed_at INTEGER NOT NULL,
    -- The first answer.
    responded_at   INTEGER
);
CREATE INDEX survey_invitations_send ON survey_invitations (send_id);
CREATE INDEX survey_invitations_customer ON survey_invitations (customer_id);
CREATE INDEX survey_invitations_unanswered ON survey_invitations (last_mailed_at) WHERE responded_at IS NULL;

-- Each answer that counts: an invitation's latest, every other feedback event, every anonymous
-- answer. `rapport rebuild` deletes the rows made from events and makes them again.
CREATE TABLE survey_responses (
    id            INTEGER PRIMARY KEY,
    survey        TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    survey_kind   TEXT    NOT NULL,
    customer_id   INTEGER,
    invitation_id INTEGER UNIQUE,
    event_id      INTEGER UNIQUE,
    score         INTEGER,
    category      TEXT,
    comment       TEXT,
    -- Every answer, by question key (domain::survey::Answers as JSON).
    answers       TEXT    NOT NULL,
    answered_at   INTEGER NOT NULL
);
CREATE INDEX survey_responses_answered ON survey_responses (survey, answered_at);
CREATE INDEX survey_responses_customer ON survey_responses (customer_id, answered_at);
