-- 0040: the change log (API.md §12). One row per object a write touched, written in the
-- write's transaction. ChangeId increases in commit order (one writer at a time);
-- AUTOINCREMENT keeps ids of pruned rows from being handed out again. Changes is JSON:
-- {"PROP": [from, to]} with each side null or [type, value, asDouble, asString], the
-- system fields under their names as text (docs/DECISIONS.md, "The change log"). KeyId is
-- the acting API key's id (never the key), NULL when the service runs open or for the CLI.
CREATE TABLE Changes (
    ChangeId   INTEGER PRIMARY KEY AUTOINCREMENT,
    ObjectId   INTEGER NOT NULL,
    ObjectType TEXT NOT NULL,
    Operation  TEXT NOT NULL,
    At         TEXT NOT NULL,
    KeyId      TEXT NULL,
    Changes    TEXT NOT NULL
);
CREATE INDEX IX_Changes_Object ON Changes (ObjectId, ChangeId);

-- Retention prunes the oldest changes; PrunedThrough is the largest ChangeId pruned, so a
-- reader resuming after an older id knows it missed changes (an explicit reset).
CREATE TABLE ChangeLogState (
    Id            INTEGER NOT NULL PRIMARY KEY CHECK (Id = 1),
    PrunedThrough INTEGER NOT NULL
);
INSERT INTO ChangeLogState (Id, PrunedThrough) VALUES (1, 0);

-- Idempotency-Key (API.md §12): the first answer to a write, replayed to its retries for a
-- day. BodyHash is SHA-256 of the method, path, system and body; Status 0 while the first
-- request is still running.
CREATE TABLE IdempotencyKeys (
    IdemKey   TEXT NOT NULL PRIMARY KEY,
    BodyHash  TEXT NOT NULL,
    Status    INTEGER NOT NULL,
    Response  TEXT NULL,
    CreatedAt TEXT NOT NULL
) WITHOUT ROWID;
