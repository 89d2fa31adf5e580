-- The mail outbox: messages written in the transaction of what causes them (a care plan's
-- occurrence), sent over SMTP by a worker that claims them under a lease, and every attempt made.
-- Times ending in _ms are Unix milliseconds, so tests can run sub-second retry schedules; the
-- others are Unix seconds.

CREATE TABLE mail_messages (
    id               INTEGER PRIMARY KEY,
    -- The customer it is for, when it is for one (nothing checks it, as for events: the writer
    -- names an existing customer).
    customer_id      INTEGER,
    to_address       TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    text_body        TEXT    NOT NULL,
    html_body        TEXT    NOT NULL,
    -- Further headers the writer gives (List-Unsubscribe, ...), a JSON array of [name, value].
    headers          TEXT    NOT NULL DEFAULT '[]',
    -- Made when the message is written and sent on every attempt: receivers drop repeats by it.
    message_id       TEXT    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    -- queued, sent or failed (rejected for good, or retries used up).
    status           TEXT    NOT NULL DEFAULT 'queued',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    -- The worker holding the message, and until when (a crashed worker's claim lapses).
    claimed_by       TEXT,
    claimed_until_ms INTEGER,
    sent_at          INTEGER,
    last_error       TEXT
);

CREATE INDEX mail_messages_due ON mail_messages (next_attempt_ms, id) WHERE status = 'queued';
CREATE INDEX mail_messages_customer ON mail_messages (customer_id, id);

CREATE TABLE mail_attempts (
    id           INTEGER PRIMARY KEY,
    mail_id      INTEGER NOT NULL REFERENCES mail_messages (id),
    attempted_ms INTEGER NOT NULL,
    -- sent, retry (a transient failure) or rejected (a permanent one, or the last try).
    outcome      TEXT    NOT NULL,
    -- The SMTP server's reply, or why no reply came.
    reply        TEXT    NOT NULL,
    duration_ms  INTEGER NOT NULL
);

CREATE INDEX mail_attempts_message ON mail_attempts (mail_id, id);
