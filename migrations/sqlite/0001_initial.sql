-- 0001: the storage schema of API.md §11 (embedded store).
-- Objects, their properties as rows (EAV), parent/child relationships, object numbering
-- and the applied DSConfig.

CREATE TABLE Objects (
    -- AUTOINCREMENT: an id is never handed out twice, even after the object is dropped.
    ObjectId     INTEGER PRIMARY KEY AUTOINCREMENT,
    ObjectType   TEXT NOT NULL,
    ObjectNumber TEXT,
    -- RFC 3339 UTC with milliseconds, fixed width, so text order is time order.
    CreatedAt    TEXT NOT NULL,
    UpdatedAt    TEXT NOT NULL
);
-- The objects of one type, in id order (table views, counts).
CREATE INDEX IX_Objects_Type ON Objects (ObjectType, ObjectId);
CREATE INDEX IX_Objects_Number ON Objects (ObjectNumber) WHERE ObjectNumber IS NOT NULL;

CREATE TABLE Properties (
    OwnerObjectId    INTEGER NOT NULL REFERENCES Objects (ObjectId) ON DELETE CASCADE,
    PropertyName     TEXT NOT NULL,
    -- The type the value was converted as: output follows it even after a type change.
    PropertyType     TEXT NOT NULL,
    PropertyValue    TEXT NOT NULL,
    PropertyAsDouble REAL,
    PropertyAsString TEXT,
    -- The properties of one object, together: one object is one range read.
    PRIMARY KEY (OwnerObjectId, PropertyName)
) WITHOUT ROWID;
-- Filters and sorts by value (numbers, dates, switches, lookups).
CREATE INDEX IX_Properties_Double ON Properties (PropertyName, PropertyAsDouble);
-- Filters and sorts by text (equality, prefix).
CREATE INDEX IX_Properties_Value ON Properties (PropertyName, PropertyValue);
-- Who points at an object through a Lookup (dropObject's check, display refresh).
CREATE INDEX IX_Properties_Lookup ON Properties (PropertyAsDouble) WHERE PropertyType = 'Lookup';

CREATE TABLE Relationships (
    ParentObjectId INTEGER NOT NULL REFERENCES Objects (ObjectId) ON DELETE CASCADE,
    ChildObjectId  INTEGER NOT NULL REFERENCES Objects (ObjectId) ON DELETE CASCADE,
    Strict         INTEGER NOT NULL DEFAULT 0,
    -- The children of one object.
    PRIMARY KEY (ParentObjectId, ChildObjectId)
) WITHOUT ROWID;
-- The parents of one object.
CREATE INDEX IX_Relationships_Child ON Relationships (ChildObjectId, ParentObjectId);

CREATE TABLE ObjectNumbers (
    ObjectType TEXT PRIMARY KEY,
    Prefix     TEXT NOT NULL,
    Width      INTEGER NOT NULL,
    NextNumber INTEGER NOT NULL,
    -- 0 when the DSConfig no longer numbers the type; the counter is kept for its return.
    Active     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE PropertyConfig (
    ObjectType       TEXT NOT NULL,
    PropertyName     TEXT NOT NULL,
    PropertyType     TEXT NOT NULL,
    ListName         TEXT,
    LookupObjectType TEXT,
    LookupDisplay    TEXT,
    PRIMARY KEY (ObjectType, PropertyName)
);

-- The whole applied DSConfig as JSON (one row), for getConfig and for a serve without files.
CREATE TABLE ConfigDocument (
    Id        INTEGER PRIMARY KEY CHECK (Id = 1),
    Document  TEXT NOT NULL,
    AppliedAt TEXT NOT NULL
);
