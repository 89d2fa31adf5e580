-- Care plans that e-mail: a customer's e-mail consent in the projection (the latest consent
-- event's answer, recomputed by a rebuild like the rest), the plan occurrence each message came
-- from with the sentence saying why now, and the keys that sign links customers follow without
-- logging in (unsubscribe; survey links later).

-- NULL: never asked; plans e-mail only customers who gave consent.
ALTER TABLE customer_state ADD COLUMN email_consent BOOLEAN;
ALTER TABLE customer_state ADD COLUMN email_consent_at BIGINT;

ALTER TABLE mail_messages ADD COLUMN plan_id BIGINT;
ALTER TABLE mail_messages ADD COLUMN occurrence_id BIGINT;
ALTER TABLE mail_messages ADD COLUMN why TEXT;

-- The contact cap counts a customer's recent messages.
CREATE INDEX mail_messages_customer_time ON mail_messages (customer_id, created_at);

-- One secret per purpose, made by the first process that needs it (every replica then reads the
-- same one); a link signed with it proves Rapport made it.
CREATE TABLE link_keys (
    purpose    TEXT    PRIMARY KEY,
    secret     TEXT    NOT NULL,
    created_at BIGINT NOT NULL
);
