-- 0006: the apps of the deployment (API.md §9), as migrations/sqlite/0006_apps.sql. Kept in
-- the central database (the default app's LIVE one); a row is added the first time any
-- process opens one of an app's databases. NameKey is the name in lower case (app names are
-- case-insensitive); Name is the spelling first used. CreatedAt is UTC.
CREATE TABLE dbo.Apps (
    NameKey   nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT PK_Apps PRIMARY KEY,
    Name      nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    CreatedAt datetime2(3) NOT NULL
);
GO
