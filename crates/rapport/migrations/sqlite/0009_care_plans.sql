-- Care plans: each plan's versions (an edited plan keeps what its earlier versions did), the
-- occurrences planned when the events that cause them are stored (one per plan, customer and
-- cause, however often that cause is seen), and the tasks they create for staff.

CREATE TABLE plans (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- The version in force.
    version     INTEGER NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE plan_versions (
    plan_id     INTEGER NOT NULL REFERENCES plans (id),
    version     INTEGER NOT NULL,
    -- The plan as JSON (domain::plan::PlanSpec).
    spec        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Occurrences from the history before the version, due longer ago than its expire_after,
    -- counted when it was planned instead of being stored one by one.
    expired_at_planning INTEGERNOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, version)
);

CREATE TABLE plan_occurrences (
    id           INTEGER PRIMARY KEY,
    plan_id      INTEGER NOT NULL REFERENCES plans (id),
    customer_id  INTEGER NOT NULL,
    -- What caused it, unique per plan and customer: 'event:ID' or 'first_purchase'.
    cause        TEXT    NOT NULL,
    due_at       INTEGER NOT NULL,
    -- pending, done, held_out, skipped, expired (domain::plan::OccurrenceStatus).
    status       TEXT    NOT NULL DEFAULT 'pending',
    reason       TEXT,
    -- The version that ran it.
    version      INTEGER,
    planned_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (plan_id, customer_id, cause)
);
CREATE INDEX plan_occurrences_due ON plan_occurrences (due_at, id) WHERE status = 'pending';

CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    occurrence_id INTEGER UNIQUE REFERENCES plan_occurrences (id),
    plan_id       INTEGER REFERENCES plans (id),
    customer_id   INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    assignee      TEXT,
    due_at        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    -- open or done.
    status        TEXT    NOT NULL DEFAULT 'open',
    outcome       TEXT,
    note          TEXT,
    completed_at  INTEGER,
    completed_by  TEXT
);
CREATE INDEX tasks_open_due ON tasks (due_at, id) WHERE status = 'open';
CREATE INDEX tasks_customer ON tasks (customer_id, id);
