-- 0004: API keys (API.md §3). The key itself is never stored: only a random salt and
-- SHA-256(salt || secret), both hex (docs/DECISIONS.md, "API keys"). Every instance sharing
-- the database reads this table, so a key created or revoked anywhere counts everywhere.
-- Times are UTC text like every other time here; App NULL means every app.
CREATE TABLE ApiKeys (
    Id      TEXT NOT NULL PRIMARY KEY,
    Name    TEXT NOT NULL,
    Role    TEXT NOT NULL CHECK (Role IN ('read', 'write', 'admin')),
    App     TEXT NULL,
    Salt    TEXT NOT NULL,
    Hash    TEXT NOT NULL,
    Last4   TEXT NOT NULL,
    Created TEXT NOT NULL,
    Expires TEXT NULL,
    Revoked TEXT NULL
) WITHOUT ROWID;
