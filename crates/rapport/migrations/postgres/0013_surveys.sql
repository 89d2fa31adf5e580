-- Surveys (the voice of the customer): each survey's versions, kept when it is edited, so a
-- response can record the version it answered.

CREATE TABLE surveys (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- The version in force.
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE survey_versions (
    survey_id   BIGINT NOT NULL REFERENCES surveys (id),
    version     BIGINT NOT NULL,
    -- The survey as JSON (domain::survey::SurveySpec).
    spec        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (survey_id, version)
);
