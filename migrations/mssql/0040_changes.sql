-- 0040: the change log (API.md §12), as migrations/sqlite/0040_changes.sql. ChangeId is
-- not an IDENTITY: an IDENTITY value can commit after a larger one, and a reader that
-- reads "after the last id seen" would skip it. A write takes its ids from the one row of
-- ChangeSeq at the very end of its transaction; the row lock it holds until commit makes
-- ids commit in order (docs/DECISIONS.md, "Change ids on SQL Server").
CREATE TABLE dbo.Changes (
    ChangeId   bigint NOT NULL CONSTRAINT PK_Changes PRIMARY KEY,
    ObjectId   bigint NOT NULL,
    ObjectType nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Operation  nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    At         datetime2(3) NOT NULL,
    KeyId      nvarchar(32) COLLATE Latin1_General_100_BIN2 NULL,
    Changes    nvarchar(max) COLLATE Latin1_General_100_BIN2 NOT NULL
);
GO
CREATE INDEX IX_Changes_Object ON dbo.Changes (ObjectId, ChangeId);
GO
CREATE TABLE dbo.ChangeSeq (
    Id   int NOT NULL CONSTRAINT PK_ChangeSeq PRIMARY KEY,
    Next bigint NOT NULL
);
GO
INSERT INTO dbo.ChangeSeq (Id, Next) VALUES (1, 1);
GO
CREATE TABLE dbo.ChangeLogState (
    Id            int NOT NULL CONSTRAINT PK_ChangeLogState PRIMARY KEY,
    PrunedThrough bigint NOT NULL
);
GO
INSERT INTO dbo.ChangeLogState (Id, PrunedThrough) VALUES (1, 0);
GO
CREATE TABLE dbo.IdempotencyKeys (
    IdemKey   nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT PK_IdempotencyKeys PRIMARY KEY,
    BodyHash  nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Status    int NOT NULL,
    Response  nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL,
    CreatedAt datetime2(3) NOT NULL
);
GO
