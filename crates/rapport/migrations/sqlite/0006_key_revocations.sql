-- A counter every API key revocation increases, in the revoking transaction. Servers cache key
-- lookups and read the counter at most once a second; when it has moved they forget every lookup,
-- so a key revoked anywhere (the CLI, another replica) stops working everywhere within a second.
CREATE TABLE key_revocations (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
);

INSERT INTO key_revocations (id, generation) VALUES (1, 0);
