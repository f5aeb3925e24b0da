-- 0005: files in the database (API.md §9), as migrations/sqlite/0005_files.sql. A file is
-- a Files row and its bytes in FileChunks rows of ChunkSize bytes each (the last one
-- shorter), varbinary(max), so a Range read starts at chunk offset / ChunkSize and no read
-- holds more than one chunk. An upload writes a pending file (Linked = 0, no owner) chunk by
-- chunk, each chunk its own short statement, then links it in the write that sets the
-- property. Pending files older than an hour are left by a failed process; any process
-- removes them.
CREATE TABLE dbo.Files (
    FileId        bigint IDENTITY(1,1) NOT NULL CONSTRAINT PK_Files PRIMARY KEY CLUSTERED,
    -- Dropping the object removes its files (and, through FileChunks, their bytes): one
    -- cascade path from Objects, beside Properties'.
    OwnerObjectId bigint NULL
        CONSTRAINT FK_Files_Objects REFERENCES dbo.Objects (ObjectId) ON DELETE CASCADE,
    PropertyName  nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    Name          nvarchar(1000) COLLATE Latin1_General_100_BIN2 NOT NULL,
    ContentType   nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Size          bigint NOT NULL CONSTRAINT DF_Files_Size DEFAULT 0,
    ChunkSize     int NOT NULL,
    -- SHA-256 of the bytes, hex: the strong ETag.
    Sha256        nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    CreatedAt     datetime2(3) NOT NULL,
    Linked        bit NOT NULL CONSTRAINT DF_Files_Linked DEFAULT 0
);
GO
-- The file of an (object, property); at most one linked.
CREATE UNIQUE INDEX IX_Files_Owner ON dbo.Files (OwnerObjectId, PropertyName)
    WHERE OwnerObjectId IS NOT NULL;
-- Pending files, oldest first (the sweep).
CREATE INDEX IX_Files_Pending ON dbo.Files (Linked, CreatedAt);
GO

CREATE TABLE dbo.FileChunks (
    FileId bigint NOT NULL
        CONSTRAINT FK_FileChunks_Files REFERENCES dbo.Files (FileId) ON DELETE CASCADE,
    Seq    int NOT NULL,
    Data   varbinary(max) NOT NULL,
    CONSTRAINT PK_FileChunks PRIMARY KEY CLUSTERED (FileId, Seq)
);
GO
