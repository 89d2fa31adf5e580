-- Care plans: each plan's versions (an edited plan keeps what its earlier versions did), the
-- occurrences planned when the events that cause them are stored (one per plan, customer and
-- cause, however often that cause is seen), and the tasks they create for staff.

CREATE TABLE plans (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- The version in force.
    version     BIGINT  NOT NULL,
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE plan_versions (
    plan_id     BIGINT  NOT NULL REFERENCES plans (id),
    version     BIGINT  NOT NULL,
    -- The plan as JSON (domain::plan::PlanSpec).
    spec        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    -- Occurrences from the history before the version, due longer ago than its expire_after,
    -- counted when it was planned instead of being stored one by one.
    expired_at_planning BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, version)
);

CREATE TABLE plan_occurrences (
    id           BIGSERIAL PRIMARY KEY,
    plan_id      BIGINT  NOT NULL REFERENCES plans (id),
    customer_id  BIGINT  NOT NULL,
    -- What caused it, unique per plan and customer: 'event:ID' or 'first_purchase'.
    cause        TEXT    NOT NULL,
    due_at       BIGINT  NOT NULL,
    -- pending, done, held_out, skipped, expired (domain::plan::OccurrenceStatus).
    status       TEXT    NOT NULL DEFAULT 'pending',
    reason       TEXT,
    -- The version that ran it.
    version      BIGINT,
    planned_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    UNIQUE (plan_id, customer_id, cause)
);
CREATE INDEX plan_occurrences_due ON plan_occurrences (due_at, id) WHERE status = 'pending';

CREATE TABLE tasks (
    id            BIGSERIAL PRIMARY KEY,
    occurrence_id BIGINT  UNIQUE REFERENCES plan_occurrences (id),
    plan_id       BIGINT  REFERENCES plans (id),
    customer_id   BIGINT  NOT NULL,
    title         TEXT    NOT NULL,
    assignee      TEXT,
    due_at        BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    -- open or done.
    status        TEXT    NOT NULL DEFAULT 'open',
    outcome       TEXT,
    note          TEXT,
    completed_at  BIGINT,
    completed_by  TEXT
);
CREATE INDEX tasks_open_due ON tasks (due_at, id) WHERE status = 'open';
CREATE INDEX tasks_customer ON tasks (customer_id, id);
