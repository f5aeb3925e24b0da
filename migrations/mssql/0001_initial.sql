-- 0001: the storage schema of API.md §11 (SQL Server 2019+), the same tables, columns and
-- meaning as migrations/sqlite/0001_initial.sql.
-- Every text column is Latin1_General_100_BIN2: equality is exact and case-sensitive, as
-- in SQLite. Times are UTC, datetime2(3) (milliseconds). Batches are separated by GO;
-- the service runs each migration in one transaction.

CREATE TABLE dbo.Objects (
    -- IDENTITY never hands out an id twice, even after the object is dropped.
    ObjectId     bigint IDENTITY(1,1) NOT NULL CONSTRAINT PK_Objects PRIMARY KEY CLUSTERED,
    ObjectType   nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    ObjectNumber nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    CreatedAt    datetime2(3) NOT NULL,
    UpdatedAt    datetime2(3) NOT NULL
);
GO
-- The objects of one type, in id order (table views, counts).
CREATE INDEX IX_Objects_Type ON dbo.Objects (ObjectType, ObjectId);
CREATE INDEX IX_Objects_Number ON dbo.Objects (ObjectNumber) WHERE ObjectNumber IS NOT NULL;
GO

CREATE TABLE dbo.Properties (
    OwnerObjectId    bigint NOT NULL
        CONSTRAINT FK_Properties_Objects REFERENCES dbo.Objects (ObjectId) ON DELETE CASCADE,
    PropertyName     nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    -- The type the value was converted as: output follows it even after a type change.
    PropertyType     nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    PropertyValue    nvarchar(max) COLLATE Latin1_General_100_BIN2 NOT NULL,
    PropertyAsDouble float NULL,
    PropertyAsString nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL,
    -- nvarchar(max) cannot be an index key: equality and prefix filters seek on the first
    -- 400 characters and check the whole value on the few rows found.
    PropertyValuePrefix AS CAST(LEFT(PropertyValue, 400) AS nvarchar(400)) PERSISTED,
    -- The properties of one object, together: one object is one range read.
    CONSTRAINT PK_Properties PRIMARY KEY CLUSTERED (OwnerObjectId, PropertyName)
);
GO
-- Filters and sorts by value (numbers, dates, switches, lookups).
CREATE INDEX IX_Properties_Double ON dbo.Properties (PropertyName, PropertyAsDouble)
    INCLUDE (OwnerObjectId);
-- Filters by text (equality, prefix).
CREATE INDEX IX_Properties_Value ON dbo.Properties (PropertyName, PropertyValuePrefix)
    INCLUDE (OwnerObjectId);
-- Who points at an object through a Lookup (dropObject's check, display refresh).
CREATE INDEX IX_Properties_Lookup ON dbo.Properties (PropertyAsDouble)
    INCLUDE (OwnerObjectId, PropertyName) WHERE PropertyType = N'Lookup';
GO

CREATE TABLE dbo.Relationships (
    -- No cascades: SQL Server refuses two cascade paths from Objects; dropObject deletes
    -- relationship rows itself, in its transaction.
    ParentObjectId bigint NOT NULL
        CONSTRAINT FK_Relationships_Parent REFERENCES dbo.Objects (ObjectId),
    ChildObjectId  bigint NOT NULL
        CONSTRAINT FK_Relationships_Child REFERENCES dbo.Objects (ObjectId),
    Strict         bit NOT NULL CONSTRAINT DF_Relationships_Strict DEFAULT 0,
    -- The children of one object.
    CONSTRAINT PK_Relationships PRIMARY KEY CLUSTERED (ParentObjectId, ChildObjectId)
);
GO
-- The parents of one object.
CREATE INDEX IX_Relationships_Child ON dbo.Relationships (ChildObjectId, ParentObjectId)
    INCLUDE (Strict);
GO

CREATE TABLE dbo.ObjectNumbers (
    ObjectType nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL
        CONSTRAINT PK_ObjectNumbers PRIMARY KEY,
    Prefix     nvarchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Width      int NOT NULL,
    NextNumber bigint NOT NULL,
    -- 0 when the DSConfig no longer numbers the type; the counter is kept for its return.
    Active     bit NOT NULL CONSTRAINT DF_ObjectNumbers_Active DEFAULT 1
);
GO

CREATE TABLE dbo.PropertyConfig (
    ObjectType       nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    PropertyName     nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    PropertyType     nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    ListName         nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    LookupObjectType nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    LookupDisplay    nvarchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    CONSTRAINT PK_PropertyConfig PRIMARY KEY (ObjectType, PropertyName)
);
GO

-- The whole applied DSConfig as JSON (one row), for getConfig and for a serve without files.
CREATE TABLE dbo.ConfigDocument (
    Id        int NOT NULL CONSTRAINT PK_ConfigDocument PRIMARY KEY
        CONSTRAINT CK_ConfigDocument_One CHECK (Id = 1),
    Document  nvarchar(max) COLLATE Latin1_General_100_BIN2 NOT NULL,
    AppliedAt datetime2(3) NOT NULL
);
GO
