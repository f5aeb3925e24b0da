-- 0005: files in the database (API.md §9, uploadFile / getFile). A file is a Files row and
-- its bytes in FileChunks rows of ChunkSize bytes each (the last one shorter), so a Range
-- read starts at chunk offset / ChunkSize and no read holds more than one chunk.
-- An upload writes a pending file (Linked = 0, no owner) chunk by chunk, then links it to
-- (OwnerObjectId, PropertyName) in the write that sets the property. Pending files older
-- than an hour are left by a failed process; any process removes them.
CREATE TABLE Files (
    -- AUTOINCREMENT: a file id is never handed out twice (an old ETag never names new bytes).
    FileId        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Dropping the object removes its files (and, through FileChunks, their bytes).
    OwnerObjectId INTEGER NULL REFERENCES Objects (ObjectId) ON DELETE CASCADE,
    PropertyName  TEXT NULL,
    Name          TEXT NOT NULL,
    ContentType   TEXT NOT NULL,
    Size          INTEGER NOT NULL DEFAULT 0,
    ChunkSize     INTEGER NOT NULL,
    -- SHA-256 of the bytes, hex: the strong ETag.
    Sha256        TEXT NULL,
    CreatedAt     TEXT NOT NULL,
    Linked        INTEGER NOT NULL DEFAULT 0
);
-- The file of an (object, property); at most one linked.
CREATE UNIQUE INDEX IX_Files_Owner ON Files (OwnerObjectId, PropertyName)
    WHERE OwnerObjectId IS NOT NULL;
-- Pending files, oldest first (the sweep).
CREATE INDEX IX_Files_Pending ON Files (CreatedAt) WHERE Linked = 0;

CREATE TABLE FileChunks (
    FileId INTEGER NOT NULL REFERENCES Files (FileId) ON DELETE CASCADE,
    Seq    INTEGER NOT NULL,
    Data   BLOB NOT NULL,
    PRIMARY KEY (FileId, Seq)
) WITHOUT ROWID;
