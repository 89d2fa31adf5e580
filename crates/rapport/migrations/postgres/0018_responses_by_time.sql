-- What the voice's reports read by time: answers of every survey, and interviews, whose notes
-- count in the themes (without it, finding them scans the whole event log).
CREATE INDEX survey_responses_time ON survey_responses (answered_at);
CREATE INDEX events_interviews ON events (occurred_at) WHERE kind = 'interview';
