-- 0004: API keys (API.md §3), as migrations/sqlite/0004_api_keys.sql. The key itself is
-- never stored: only a random salt and SHA-256(salt || secret), both hex. Every instance
-- sharing the database reads this table, so a key created or revoked anywhere counts
-- everywhere. Times are UTC; App NULL means every app.
CREATE TABLE dbo.ApiKeys (
    Id      nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT PK_ApiKeys PRIMARY KEY,
    Name    nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Role    nvarchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
        CONSTRAINT CK_ApiKeys_Role CHECK (Role IN (N'read', N'write', N'admin')),
    App     nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    Salt    nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Hash    nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Last4   nvarchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Created datetime2(3) NOT NULL,
    Expires datetime2(3) NULL,
    Revoked datetime2(3) NULL
);
GO
