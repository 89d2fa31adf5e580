-- Surveys (the voice of the customer): each survey's versions, kept when it is edited, so a
-- response can record the version it answered.

CREATE TABLE surveys (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- The version in force.
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE survey_versions (
    survey_id   INTEGER NOT NULL REFERENCES surveys (id),
    version     INTEGER NOT NULL,
    -- The survey as JSON (domain::survey::SurveySpec).
    spec        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (survey_id, version)
);
