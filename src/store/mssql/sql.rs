//! Every fixed T-SQL statement of the SQL Server store, by name. Statements whose shape
//! depends on the request (id lists, table views, related objects) are built in
//! [`super::build`]; `sql_snapshots.rs` keeps all of them under review.
//!
//! Values always travel as parameters `@P1, @P2, ...` (positional, as tiberius binds them).
//! Every text column is `Latin1_General_100_BIN2`, so `=` compares exactly and
//! case-sensitively like SQLite's default; SQL Server's `=` still ignores trailing spaces,
//! so text equality on values adds a `DATALENGTH` check.

/// Session options run on every new connection. The filtered and computed-column indexes
/// refuse writes under other settings, and `XACT_ABORT` makes any error end the
/// transaction instead of leaving it half done.
pub const SESSION_SETUP: &str = "SET ANSI_NULLS ON; SET ANSI_PADDING ON; SET ANSI_WARNINGS ON; \
SET ARITHABORT ON; SET CONCAT_NULL_YIELDS_NULL ON; SET QUOTED_IDENTIFIER ON; \
SET NUMERIC_ROUNDABORT OFF; SET XACT_ABORT ON;";

pub const HEALTH: &str = "SELECT 1";
pub const BEGIN: &str = "BEGIN TRANSACTION";
pub const COMMIT: &str = "COMMIT TRANSACTION";
pub const ROLLBACK: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION";

/// A read of one consistent state: a SNAPSHOT transaction (migration 0003 allows them).
/// The isolation level belongs to the session, so it is set back for the pool's next user.
pub const BEGIN_SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRANSACTION";
pub const COMMIT_SNAPSHOT: &str =
    "COMMIT TRANSACTION; SET TRANSACTION ISOLATION LEVEL READ COMMITTED";
pub const ROLLBACK_SNAPSHOT: &str =
    "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

// --- databases (start-up and the test harness) -----------------------------------------

/// Creates database `@P1` unless it exists. The name is quoted by the server (`QUOTENAME`).
pub const CREATE_DATABASE: &str = "IF DB_ID(@P1) IS NULL \
BEGIN DECLARE @sql nvarchar(max) = N'CREATE DATABASE ' + QUOTENAME(@P1); EXEC (@sql); END";

/// Drops database `@P1` if it exists.
pub const DROP_DATABASE: &str = "IF DB_ID(@P1) IS NOT NULL \
BEGIN DECLARE @sql nvarchar(max) = N'DROP DATABASE ' + QUOTENAME(@P1); EXEC (@sql); END";

/// Names of the databases whose name starts with `@P1` (a LIKE pattern, escaped by the caller).
pub const DATABASES_LIKE: &str = "SELECT name FROM sys.databases WHERE name LIKE @P1 ORDER BY name";

/// 1 when database `@P1` exists on the server.
pub const DATABASE_EXISTS: &str =
    "SELECT CAST(CASE WHEN DB_ID(@P1) IS NULL THEN 0 ELSE 1 END AS int)";

// --- migrations ------------------------------------------------------------------------

pub const CREATE_VERSIONS: &str = "IF OBJECT_ID(N'dbo.SchemaVersions', N'U') IS NULL \
CREATE TABLE dbo.SchemaVersions (\
Version bigint NOT NULL CONSTRAINT PK_SchemaVersions PRIMARY KEY, \
Name nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL, \
AppliedAt datetime2(3) NOT NULL)";

pub const VERSIONS_TABLE_EXISTS: &str = "SELECT OBJECT_ID(N'dbo.SchemaVersions', N'U')";
pub const SELECT_VERSIONS: &str = "SELECT Version FROM dbo.SchemaVersions ORDER BY Version";

/// Serialises concurrent migrations of one database (two services starting at once).
pub const MIGRATION_LOCK: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-migrate', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 60000; \
IF @result < 0 THROW 50001, N'another process holds the migration lock', 1;";

pub const INSERT_VERSION: &str =
    "INSERT INTO dbo.SchemaVersions (Version, Name, AppliedAt) VALUES (@P1, @P2, @P3)";

// --- objects and properties ------------------------------------------------------------

/// The type of one object.
pub const SELECT_OBJECT_TYPE: &str = "SELECT ObjectType FROM dbo.Objects WHERE ObjectId = @P1";

/// The next type that has objects after `@P1` (`getObjectTypes`): one seek of
/// `IX_Objects_Type`.
pub const SELECT_NEXT_OBJECT_TYPE: &str = "SELECT TOP (1) ObjectType FROM dbo.Objects \
    WHERE ObjectType > @P1 ORDER BY ObjectType";

/// One object and its properties, in two result sets.
pub const SELECT_OBJECT: &str = "SELECT ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt \
FROM dbo.Objects WHERE ObjectId = @P1; \
SELECT PropertyName, PropertyType, PropertyValue, PropertyAsDouble, PropertyAsString \
FROM dbo.Properties WHERE OwnerObjectId = @P1 ORDER BY PropertyName";

/// Takes the next number of a numbered type. The row lock the UPDATE takes is held until
/// commit, so concurrent `newObject`s of one type take turns and a rolled-back one leaves
/// no gap; it is therefore taken at the end of the transaction, before the change log. The number is read back by a SELECT under that lock rather than through
/// `OUTPUT`: engines that re-read a row after waiting for its lock (PostgreSQL-based ones)
/// can report the values `OUTPUT` saw before the wait.
pub const NEXT_NUMBER: &str = "UPDATE dbo.ObjectNumbers WITH (UPDLOCK, ROWLOCK) \
SET NextNumber = NextNumber + 1 WHERE ObjectType = @P1 AND Active = 1; \
IF @@ROWCOUNT > 0 \
SELECT Prefix, Width, NextNumber - 1 FROM dbo.ObjectNumbers WHERE ObjectType = @P1;";

/// Sets object `@P1`'s number (taken by [`NEXT_NUMBER`] after its properties were written).
pub const SET_OBJECT_NUMBER: &str =
    "UPDATE dbo.Objects SET ObjectNumber = @P2 WHERE ObjectId = @P1";

pub const INSERT_OBJECT: &str =
    "INSERT INTO dbo.Objects (ObjectType, ObjectNumber, CreatedAt, UpdatedAt) \
OUTPUT INSERTED.ObjectId VALUES (@P1, @P2, @P3, @P3)";

/// Touches the object first: its row lock makes concurrent writers of one object take
/// turns, and the type read under that lock is checked against the one the writes were
/// converted for (read by a SELECT, not `OUTPUT`, for the reason given at [`NEXT_NUMBER`]).
pub const TOUCH_OBJECT: &str =
    "UPDATE dbo.Objects SET ObjectType = ObjectType WHERE ObjectId = @P1; \
IF @@ROWCOUNT > 0 BEGIN \
SELECT ObjectType, UpdatedAt FROM dbo.Objects WHERE ObjectId = @P1; \
UPDATE dbo.Objects SET UpdatedAt = @P2 WHERE ObjectId = @P1; \
END";

pub const CHANGE_TYPE: &str =
    "UPDATE dbo.Objects SET ObjectType = @P1, UpdatedAt = @P2 WHERE ObjectId = @P3";

/// A Lookup target: its type, its number and the display text of property `@P2`. The read
/// lock is kept until commit, so the target cannot be dropped under the new reference.
pub const LOOKUP_TARGET: &str = "SELECT o.ObjectType, o.ObjectNumber, \
(SELECT CASE WHEN t.PropertyType IN (N'Lookup', N'List') THEN t.PropertyAsString \
ELSE COALESCE(t.PropertyAsString, t.PropertyValue) END FROM dbo.Properties AS t WITH (REPEATABLEREAD) \
WHERE t.OwnerObjectId = o.ObjectId AND t.PropertyName = @P2) \
FROM dbo.Objects AS o WITH (REPEATABLEREAD) WHERE o.ObjectId = @P1";

/// Whether object `@P1` already holds Lookup `@P2` pointing at `@P3` (as a float).
pub const HELD_LOOKUP: &str = "SELECT 1 FROM dbo.Properties \
WHERE OwnerObjectId = @P1 AND PropertyName = @P2 AND PropertyType = N'Lookup' AND PropertyAsDouble = @P3";

/// Owners of Lookups pointing at `@P1` (as a float), the first 100 by id.
pub const LOOKUP_OWNERS: &str = "SELECT DISTINCT TOP (100) OwnerObjectId FROM dbo.Properties \
WHERE PropertyType = N'Lookup' AND PropertyAsDouble = @P1 ORDER BY OwnerObjectId";

/// Sets a property: UPDATE under a key-range lock, INSERT when there was nothing to update.
/// (Engines that ignore the hint raise a duplicate key instead; the transaction is retried.)
pub const UPSERT_PROPERTY: &str = "UPDATE dbo.Properties WITH (UPDLOCK, SERIALIZABLE) \
SET PropertyType = @P3, PropertyValue = @P4, PropertyAsDouble = @P5, PropertyAsString = @P6 \
WHERE OwnerObjectId = @P1 AND PropertyName = @P2; \
IF @@ROWCOUNT = 0 \
INSERT INTO dbo.Properties (OwnerObjectId, PropertyName, PropertyType, PropertyValue, PropertyAsDouble, PropertyAsString) \
VALUES (@P1, @P2, @P3, @P4, @P5, @P6);";

pub const DELETE_PROPERTY: &str =
    "DELETE FROM dbo.Properties WHERE OwnerObjectId = @P1 AND PropertyName = @P2";

// --- CSV columns -----------------------------------------------------------------------

/// The properties objects of type `@P1` have, each with the type one of its rows was stored
/// as, in one round trip: the distinct names of the whole store are walked one seek at a
/// time through an index led by `PropertyName` (a skip scan), and for each, one probe stops
/// at the first object of the type having it. The probe is compiled for the name at hand
/// (`RECOMPILE`), so the histograms on `PropertyName` and `ObjectType` let it start from the
/// smaller side: the rows of that name or the objects of the type. Never a scan of the
/// type's properties.
pub const PROPERTY_NAMES: &str = "DECLARE @name nvarchar(128) = N'', @type nvarchar(32); \
DECLARE @found TABLE (PropertyName nvarchar(128) NOT NULL, PropertyType nvarchar(32) NOT NULL); \
WHILE 1 = 1 \
BEGIN \
SET @name = (SELECT TOP (1) PropertyName FROM dbo.Properties WHERE PropertyName > @name ORDER BY PropertyName); \
IF @name IS NULL BREAK; \
SET @type = NULL; \
SELECT TOP (1) @type = p.PropertyType FROM dbo.Properties AS p \
JOIN dbo.Objects AS o ON o.ObjectId = p.OwnerObjectId \
WHERE p.PropertyName = @name AND o.ObjectType = @P1 OPTION (RECOMPILE); \
IF @type IS NOT NULL INSERT INTO @found (PropertyName, PropertyType) VALUES (@name, @type); \
END; \
SELECT PropertyName, PropertyType FROM @found;";

/// The type one row of property `@P1` on an object of type `@P2` was stored as; no row when
/// no object of the type has it. Compiled for the values at hand, as in [`PROPERTY_NAMES`].
pub const STORED_TYPE: &str = "SELECT TOP (1) p.PropertyType FROM dbo.Properties AS p \
JOIN dbo.Objects AS o ON o.ObjectId = p.OwnerObjectId \
WHERE p.PropertyName = @P1 AND o.ObjectType = @P2 OPTION (RECOMPILE)";

// --- dropObject ------------------------------------------------------------------------

/// The object to drop, locked for the rest of the transaction, and its type. The lock is
/// taken by a write that changes nothing: engines that ignore lock hints (Babelfish) still
/// lock the rows they write, and `UpdatedAt` keeps its value.
pub const LOCK_OBJECT: &str = "UPDATE dbo.Objects SET UpdatedAt = UpdatedAt WHERE ObjectId = @P1; \
IF @@ROWCOUNT > 0 SELECT ObjectType FROM dbo.Objects WHERE ObjectId = @P1;";

// --- relationships ---------------------------------------------------------------------

/// Locks `@P1` then `@P2` (the caller passes them in ascending order, so that two requests
/// on one pair lock in one order) as [`LOCK_OBJECT`] does, and answers which of them exist.
/// A dropObject that holds either lock has either not walked its children yet or is about
/// to delete the object: the relationship is found by the walk, or its object is gone.
pub const LOCK_PAIR: &str = "UPDATE dbo.Objects SET UpdatedAt = UpdatedAt WHERE ObjectId = @P1; \
UPDATE dbo.Objects SET UpdatedAt = UpdatedAt WHERE ObjectId = @P2; \
SELECT ObjectId FROM dbo.Objects WHERE ObjectId IN (@P1, @P2);";

pub const UPSERT_RELATIONSHIP: &str = "UPDATE dbo.Relationships WITH (UPDLOCK, SERIALIZABLE) \
SET Strict = @P3 WHERE ParentObjectId = @P1 AND ChildObjectId = @P2; \
IF @@ROWCOUNT = 0 \
INSERT INTO dbo.Relationships (ParentObjectId, ChildObjectId, Strict) VALUES (@P1, @P2, @P3);";

pub const DELETE_RELATIONSHIP: &str =
    "DELETE FROM dbo.Relationships WHERE ParentObjectId = @P1 AND ChildObjectId = @P2";

// --- DSConfig --------------------------------------------------------------------------

pub const CLEAR_PROPERTY_CONFIG: &str = "DELETE FROM dbo.PropertyConfig";
pub const CLEAR_LIST_ITEMS: &str = "DELETE FROM dbo.ListItems";
pub const DEACTIVATE_NUMBERING: &str = "UPDATE dbo.ObjectNumbers SET Active = 0";

/// Numbering of one type; a counter already under way never goes back.
pub const UPSERT_NUMBERING: &str = "UPDATE dbo.ObjectNumbers WITH (UPDLOCK, SERIALIZABLE) \
SET Prefix = @P2, Width = @P3, \
NextNumber = CASE WHEN NextNumber > @P4 THEN NextNumber ELSE @P4 END, \
Active = 1 WHERE ObjectType = @P1; \
IF @@ROWCOUNT = 0 \
INSERT INTO dbo.ObjectNumbers (ObjectType, Prefix, Width, NextNumber, Active) VALUES (@P1, @P2, @P3, @P4, 1);";

/// The stored document, locked for the rest of the applying transaction, with its version.
pub const LOCK_CONFIG_DOCUMENT: &str =
    "UPDATE dbo.ConfigDocument SET Version = Version WHERE Id = 1; \
SELECT Document, Version, DisplaysVersion FROM dbo.ConfigDocument WHERE Id = 1;";

/// Stores a different DSConfig under version `@P3`; a first one is stored with its display
/// texts already current (`DisplaysVersion` = `@P3`), a later one marks them as pending.
pub const UPSERT_CONFIG_DOCUMENT: &str = "UPDATE dbo.ConfigDocument \
SET Document = @P1, AppliedAt = @P2, Version = @P3 WHERE Id = 1; \
IF @@ROWCOUNT = 0 \
INSERT INTO dbo.ConfigDocument (Id, Document, AppliedAt, Version, DisplaysVersion) \
VALUES (1, @P1, @P2, @P3, @P3);";

pub const SELECT_CONFIG_DOCUMENT: &str =
    "SELECT Document, Version, DisplaysVersion FROM dbo.ConfigDocument WHERE Id = 1";

/// The stored DSConfig's version, read by every write first. On SQL Server the shared
/// (key-range) lock is kept until commit, so applying a DSConfig, the first one included,
/// waits for the writes under way and the writes after it see its version.
pub const CONFIG_VERSION: &str =
    "SELECT Version FROM dbo.ConfigDocument WITH (HOLDLOCK) WHERE Id = 1";

/// The stored versions, for polling (no lock kept).
pub const CONFIG_VERSIONS: &str =
    "SELECT Version, DisplaysVersion FROM dbo.ConfigDocument WHERE Id = 1";

pub const MARK_DISPLAYS_REFRESHED: &str =
    "UPDATE dbo.ConfigDocument SET DisplaysVersion = @P1 WHERE Id = 1 AND Version = @P1";

/// The last of the next `@P3` objects of type `@P1` after id `@P2` (NULL when none).
pub const BATCH_END: &str = "SELECT MAX(b.ObjectId) FROM (SELECT TOP (@P3) ObjectId \
FROM dbo.Objects WHERE ObjectType = @P1 AND ObjectId > @P2 ORDER BY ObjectId) AS b";

/// Display text of a target's property as a Lookup shows it: a Lookup's or List's own
/// display text (absent when it has none), else the decoded or plain value.
pub const DISPLAY_OF_ROW: &str = "CASE WHEN t.PropertyType IN (N'Lookup', N'List') \
THEN t.PropertyAsString ELSE COALESCE(t.PropertyAsString, t.PropertyValue) END";

// --- API keys --------------------------------------------------------------------------

/// Stores a key unless its id exists; answers 1 when it stored it. Under an application
/// lock, so that instances installing the same `DATASTORE_ADMIN_KEY` at once (same id)
/// take turns instead of failing on the primary key (no MERGE on Babelfish).
pub const INSERT_API_KEY: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-api-keys', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 10000; \
IF @result < 0 THROW 50002, N'another process holds the API key lock', 1; \
IF EXISTS (SELECT 1 FROM dbo.ApiKeys WHERE Id = @P1) SELECT CAST(0 AS int) \
ELSE BEGIN \
INSERT INTO dbo.ApiKeys (Id, Name, Role, App, Salt, Hash, Last4, Created, Expires, Revoked) \
VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9, NULL); \
SELECT CAST(1 AS int); END";

pub const SELECT_API_KEY: &str = "SELECT Id, Name, Role, App, Salt, Hash, Last4, Created, \
Expires, Revoked FROM dbo.ApiKeys WHERE Id = @P1";

pub const SELECT_API_KEYS: &str = "SELECT Id, Name, Role, App, Salt, Hash, Last4, Created, \
Expires, Revoked FROM dbo.ApiKeys ORDER BY Created, Id";

/// Revokes a key once (a later revoke keeps the first time); answers whether it exists.
pub const REVOKE_API_KEY: &str =
    "UPDATE dbo.ApiKeys SET Revoked = @P2 WHERE Id = @P1 AND Revoked IS NULL; \
SELECT CAST(COUNT(*) AS int) FROM dbo.ApiKeys WHERE Id = @P1;";

/// Whether any key was ever created (revoked and expired ones count).
pub const ANY_API_KEY: &str =
    "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM dbo.ApiKeys) THEN 1 ELSE 0 END AS int)";

// --- export and import (docs/EXPORT.md; builders in `transfer.rs`) ---------------------

/// The next page of objects after id `@P1` (at most `@P2`) and their properties, in two
/// result sets, by id and then property name.
pub const EXPORT_OBJECTS: &str = "DECLARE @last bigint = (SELECT MAX(b.ObjectId) FROM \
(SELECT TOP (@P2) ObjectId FROM dbo.Objects WHERE ObjectId > @P1 ORDER BY ObjectId) AS b); \
SELECT ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt FROM dbo.Objects \
WHERE ObjectId > @P1 AND ObjectId <= @last ORDER BY ObjectId; \
SELECT OwnerObjectId, PropertyName, PropertyType, PropertyValue, PropertyAsDouble, \
PropertyAsString FROM dbo.Properties WHERE OwnerObjectId > @P1 AND OwnerObjectId <= @last \
ORDER BY OwnerObjectId, PropertyName";

/// The next page of relationships after (`@P1`, `@P2`), at most `@P3`: the `>=` seeks the
/// clustered key, the rest is a residual check on its first rows.
pub const EXPORT_RELATIONSHIPS: &str = "SELECT TOP (@P3) ParentObjectId, ChildObjectId, Strict \
FROM dbo.Relationships WHERE ParentObjectId >= @P1 AND (ParentObjectId > @P1 OR ChildObjectId > @P2) \
ORDER BY ParentObjectId, ChildObjectId";

/// Every numbering row, by type.
pub const EXPORT_NUMBERING: &str = "SELECT ObjectType, Prefix, Width, NextNumber, Active \
FROM dbo.ObjectNumbers ORDER BY ObjectType";

/// 1 when the database holds any object.
pub const ANY_OBJECT: &str =
    "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM dbo.Objects) THEN 1 ELSE 0 END AS int)";

/// What an import deletes first: with replace, the target's data (numbering rows are
/// upserted); otherwise the target holds no object and only pending files go. Files first,
/// pending ones included. The projections' rows go by the cascade; their Lookup, value and
/// pair counts (migrations 0070, 0071, 0072) with them.
pub const CLEAR_DATA: &str = "DELETE FROM dbo.FileChunks; DELETE FROM dbo.Files; \
DELETE FROM dbo.Relationships; DELETE FROM dbo.Properties; DELETE FROM dbo.Objects; \
DELETE FROM dbo.LookupCounts; DELETE FROM dbo.ValueCounts; DELETE FROM dbo.PairCounts;";

/// Up to `@P2` linked files with ids above `@P1`, in id order (export).
pub const EXPORT_FILES: &str = "SELECT TOP (@P2) FileId, OwnerObjectId, PropertyName, Name, \
ContentType, Size, ChunkSize, Sha256, CreatedAt FROM dbo.Files \
WHERE FileId > @P1 AND Linked = 1 ORDER BY FileId";

/// Import: 1 when object `@P1` exists, and the type and value of its property `@P2` (NULLs
/// when it has none).
pub const IMPORT_FILE_OWNER: &str = "SELECT CAST(CASE WHEN EXISTS \
(SELECT 1 FROM dbo.Objects WHERE ObjectId = @P1) THEN 1 ELSE 0 END AS int), \
p.PropertyType, p.PropertyValue FROM (VALUES (1)) AS x (one) \
LEFT JOIN dbo.Properties AS p ON p.OwnerObjectId = @P1 AND p.PropertyName = @P2";

/// Import: a linked file with its id (`IDENTITY_INSERT` inside the batch): `FileId`,
/// `OwnerObjectId`, `PropertyName`, `Name`, `ContentType`, `Size`, `ChunkSize`, `Sha256`,
/// `CreatedAt`.
pub const IMPORT_FILE: &str = "SET IDENTITY_INSERT dbo.Files ON; \
INSERT INTO dbo.Files (FileId, OwnerObjectId, PropertyName, Name, ContentType, Size, ChunkSize, \
Sha256, CreatedAt, Linked) VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9, 1); \
SET IDENTITY_INSERT dbo.Files OFF;";

/// Import: chunk `@P2` of file `@P1`.
pub const IMPORT_FILE_CHUNK: &str =
    "INSERT INTO dbo.FileChunks (FileId, Seq, Data) VALUES (@P1, @P2, @P3)";

/// One numbering row as exported (`ObjectType`, `Prefix`, `Width`, `NextNumber`, `Active`).
pub const IMPORT_NUMBERING: &str = "UPDATE dbo.ObjectNumbers SET Prefix = @P2, Width = @P3, \
NextNumber = @P4, Active = @P5 WHERE ObjectType = @P1; \
IF @@ROWCOUNT = 0 INSERT INTO dbo.ObjectNumbers (ObjectType, Prefix, Width, NextNumber, Active) \
VALUES (@P1, @P2, @P3, @P4, @P5);";

// --- files (migration 0005) ---------------------------------------------------------------

/// A pending file: no owner, no bytes yet.
pub const INSERT_FILE: &str =
    "INSERT INTO dbo.Files (Name, ContentType, ChunkSize, CreatedAt, Linked) \
OUTPUT INSERTED.FileId VALUES (@P1, @P2, @P3, @P4, 0)";

/// Chunk `@P2` of file `@P1`, only while the file is pending (a linked file never changes).
pub const INSERT_FILE_CHUNK: &str = "INSERT INTO dbo.FileChunks (FileId, Seq, Data) \
SELECT FileId, @P2, @P3 FROM dbo.Files WHERE FileId = @P1 AND Linked = 0";

/// Links pending file `@P1` to property `@P3` of object `@P2`, with its size and hash.
pub const LINK_FILE: &str = "UPDATE dbo.Files SET OwnerObjectId = @P2, PropertyName = @P3, \
Size = @P4, Sha256 = @P5, Linked = 1 WHERE FileId = @P1 AND Linked = 0";

/// A file and (by cascade) its chunks.
pub const DELETE_FILE: &str = "DELETE FROM dbo.Files WHERE FileId = @P1";

/// Pending files created before `@P1`.
pub const SWEEP_FILES: &str = "DELETE FROM dbo.Files WHERE Linked = 0 AND CreatedAt < @P1";

/// The file linked to property `@P2` of object `@P1`.
pub const SELECT_LINKED_FILE: &str = "SELECT FileId, OwnerObjectId, PropertyName, Name, \
ContentType, Size, ChunkSize, Sha256, CreatedAt FROM dbo.Files \
WHERE OwnerObjectId = @P1 AND PropertyName = @P2 AND Linked = 1";

pub const SELECT_FILE_CHUNK: &str =
    "SELECT Data FROM dbo.FileChunks WHERE FileId = @P1 AND Seq = @P2";

/// Up to `@P2` files with ids above `@P1`, in id order.
pub const SELECT_FILES: &str = "SELECT TOP (@P2) FileId, OwnerObjectId, PropertyName, Name, \
ContentType, Size, ChunkSize, Sha256, CreatedAt FROM dbo.Files WHERE FileId > @P1 ORDER BY FileId";

// --- apps ------------------------------------------------------------------------------

/// Records an app unless one of its key is there. Under an application lock, so that
/// processes opening the same new app at once record it once (no MERGE on Babelfish).
pub const INSERT_APP: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-apps', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 10000; \
IF @result < 0 THROW 50003, N'another process holds the apps lock', 1; \
IF NOT EXISTS (SELECT 1 FROM dbo.Apps WHERE NameKey = @P1) \
INSERT INTO dbo.Apps (NameKey, Name, CreatedAt) VALUES (@P1, @P2, @P3);";

pub const SELECT_APPS: &str = "SELECT Name, NameKey, CreatedAt FROM dbo.Apps ORDER BY NameKey";

/// How many tables a database holds, and whether ours is among them: `SchemaVersions`
/// with our columns (DbUp, a common .NET tool, keeps a `SchemaVersions` of its own with
/// other columns) beside `Objects` (or alone: a first migration that failed). An app's
/// database is adopted only when empty or ours.
pub const TABLES_AND_OURS: &str = "SELECT CAST(COUNT(*) AS int), \
CAST(CASE WHEN COL_LENGTH(N'dbo.SchemaVersions', N'Version') IS NOT NULL \
AND COL_LENGTH(N'dbo.SchemaVersions', N'AppliedAt') IS NOT NULL \
AND (OBJECT_ID(N'dbo.Objects', N'U') IS NOT NULL OR COUNT(*) = 1) THEN 1 ELSE 0 END AS int) \
FROM sys.tables";

/// Makes identity ids of `Objects` continue at `@P1 + 1` at least: an explicit id `@P1`
/// is inserted and deleted again (identity continues from the highest explicit value and
/// never goes down, so this is idempotent). Under an application lock, so that processes
/// opening the same global database at once do not collide on the row.
pub const START_IDS_AT: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-ids', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 10000; \
IF @result < 0 THROW 50004, N'another process holds the ids lock', 1; \
IF NOT EXISTS (SELECT 1 FROM dbo.Objects WHERE ObjectId >= @P1) \
BEGIN \
SET IDENTITY_INSERT dbo.Objects ON; \
INSERT INTO dbo.Objects (ObjectId, ObjectType, CreatedAt, UpdatedAt) VALUES (@P1, N'-', @P2, @P2); \
SET IDENTITY_INSERT dbo.Objects OFF; \
DELETE FROM dbo.Objects WHERE ObjectId = @P1; \
END";

/// The global references lock, shared (an app writing a Lookup to a global object) or
/// exclusive (a global object dropped or retyped after every app was asked), owned by
/// the transaction of a connection held for it: a lost connection releases it. Answers
/// `sp_getapplock`'s result at once (negative: not granted; the caller gives the
/// connection back and tries again later, so that waiters never hold connections the
/// holder may need).
pub const REFERENCE_LOCK_SHARED: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-global-references', @LockMode = N'Shared', \
@LockOwner = N'Transaction', @LockTimeout = 0; \
SELECT CAST(@result AS int)";

/// As [`REFERENCE_LOCK_SHARED`], exclusive.
pub const REFERENCE_LOCK_EXCLUSIVE: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-global-references', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 0; \
SELECT CAST(@result AS int)";

/// The distinct targets of Lookup `@P1` on objects of type `@P2` with ids in `(@P3, @P4]`.
pub const LOOKUP_TARGETS: &str = "SELECT DISTINCT CAST(p.PropertyAsDouble AS bigint) \
FROM dbo.Properties AS p \
WHERE p.PropertyName = @P1 AND p.PropertyType = N'Lookup' AND p.PropertyAsDouble IS NOT NULL \
AND p.OwnerObjectId IN (SELECT o.ObjectId FROM dbo.Objects AS o \
WHERE o.ObjectType = @P2 AND o.ObjectId > @P3 AND o.ObjectId <= @P4)";

/// Sets the display text `@P5` of Lookup `@P1` on objects of type `@P2` with ids in
/// `(@P3, @P4]` that point at `@P6` (a text read from the global database), where it differs.
pub const REFRESH_GIVEN_DISPLAY: &str = "UPDATE p SET PropertyAsString = @P5 \
FROM dbo.Properties AS p \
WHERE p.PropertyName = @P1 AND p.PropertyType = N'Lookup' AND p.PropertyAsDouble = @P6 \
AND p.OwnerObjectId IN (SELECT o.ObjectId FROM dbo.Objects AS o \
WHERE o.ObjectType = @P2 AND o.ObjectId > @P3 AND o.ObjectId <= @P4) \
AND (p.PropertyAsString <> @P5 OR (p.PropertyAsString IS NULL AND @P5 IS NOT NULL) \
OR (p.PropertyAsString IS NOT NULL AND @P5 IS NULL))";

// --- the change log (migration 0040) ---------------------------------------------------

/// Takes `@P1` change ids from the one-row counter and answers the first. Run at the very
/// end of a write's transaction: the row lock it takes is held until commit, so ids commit
/// in order and a reader going on after the last id it saw skips nothing. The column is
/// qualified on the right (Babelfish reads a bare `Next` there as the NEXT keyword). The
/// first id is read back under the lock by a SELECT, not `OUTPUT`, for the reason given at
/// [`NEXT_NUMBER`].
pub const TAKE_CHANGE_IDS: &str = "UPDATE dbo.ChangeSeq SET Next = dbo.ChangeSeq.Next + @P1 \
WHERE Id = 1; SELECT dbo.ChangeSeq.Next - @P1 AS first FROM dbo.ChangeSeq WHERE Id = 1;";

/// [`TAKE_CHANGE_IDS`] and [`INSERT_CHANGE`] for one change, in one batch: the write's
/// last statement before the commit. ChangeSeq's row lock is held from here to the commit
/// by every write, so a round trip less here is a round trip less that all writers queue
/// for. The id is read under that lock by the INSERT's SELECT (a statement of its own).
pub const TAKE_CHANGE_ID_AND_INSERT: &str = "UPDATE dbo.ChangeSeq \
SET Next = dbo.ChangeSeq.Next + 1 WHERE Id = 1; \
IF @@ROWCOUNT = 0 THROW 51206, N'ChangeSeq has no row', 1; \
INSERT INTO dbo.Changes (ChangeId, ObjectId, ObjectType, Operation, At, KeyId, Changes) \
SELECT dbo.ChangeSeq.Next - 1, @P1, @P2, @P3, @P4, @P5, @P6 FROM dbo.ChangeSeq WHERE Id = 1;";

/// A relationship's `Strict`, if there is one.
pub const SELECT_STRICT: &str = "SELECT Strict FROM dbo.Relationships \
WHERE ParentObjectId = @P1 AND ChildObjectId = @P2";

pub const INSERT_CHANGE: &str = "INSERT INTO dbo.Changes \
(ChangeId, ObjectId, ObjectType, Operation, At, KeyId, Changes) \
VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7)";

/// An object's changes after `@P2`, oldest first, at most `@P3`.
pub const OBJECT_HISTORY: &str = "SELECT TOP (@P3) ChangeId, ObjectId, ObjectType, Operation, \
At, KeyId, Changes FROM dbo.Changes WHERE ObjectId = @P1 AND ChangeId > @P2 ORDER BY ChangeId";

/// The retention mark and the log's head, then up to `@P2` changes after `@P1`, oldest first.
pub const CHANGES_AFTER: &str = "SELECT PrunedThrough, \
(SELECT COALESCE(MAX(ChangeId), 0) FROM dbo.Changes) FROM dbo.ChangeLogState WHERE Id = 1; \
SELECT TOP (@P2) ChangeId, ObjectId, ObjectType, Operation, At, KeyId, Changes \
FROM dbo.Changes WHERE ChangeId > @P1 ORDER BY ChangeId";

/// As [`CHANGES_AFTER`], of one object (`@P3`).
pub const OBJECT_CHANGES_AFTER: &str = "SELECT PrunedThrough, \
(SELECT COALESCE(MAX(ChangeId), 0) FROM dbo.Changes) FROM dbo.ChangeLogState WHERE Id = 1; \
SELECT TOP (@P2) ChangeId, ObjectId, ObjectType, Operation, At, KeyId, Changes \
FROM dbo.Changes WHERE ObjectId = @P3 AND ChangeId > @P1 ORDER BY ChangeId";

/// A cursor walk's first page: the retention mark and the log's head.
pub const WALK_HEAD: &str = "SELECT PrunedThrough, \
(SELECT COALESCE(MAX(ChangeId), 0) FROM dbo.Changes) FROM dbo.ChangeLogState WHERE Id = 1";

/// A cursor walk's later page: the retention mark, then the changes of objects of type
/// `@P2` after the walk's head `@P1`, oldest first.
pub const WALK_CHANGES: &str = "SELECT PrunedThrough FROM dbo.ChangeLogState WHERE Id = 1; \
SELECT ObjectId, Operation, Changes FROM dbo.Changes \
WHERE ChangeId > @P1 AND ObjectType = @P2 ORDER BY ChangeId";

/// The ids and times of the `@P1` oldest changes (retention deletes a prefix of them).
pub const OLDEST_CHANGES: &str = "SELECT TOP (@P1) ChangeId, At FROM dbo.Changes ORDER BY ChangeId";

/// Deletes the changes up to `@P1` and moves the retention mark there (never back).
pub const PRUNE_CHANGES: &str = "DELETE FROM dbo.Changes WHERE ChangeId <= @P1; \
UPDATE dbo.ChangeLogState SET PrunedThrough = @P1 WHERE Id = 1 AND PrunedThrough < @P1;";

/// At the end of an import's transaction: the data was replaced wholesale, so the log
/// starts over; `PrunedThrough` moves past every id handed out (streams get a `reset`), and
/// the next id comes after it.
pub const RESTART_CHANGE_LOG: &str = "DELETE FROM dbo.Changes; \
UPDATE dbo.ChangeLogState SET PrunedThrough = (SELECT dbo.ChangeSeq.Next FROM dbo.ChangeSeq \
WHERE dbo.ChangeSeq.Id = 1) WHERE Id = 1; \
UPDATE dbo.ChangeSeq SET Next = dbo.ChangeSeq.Next + 1 WHERE Id = 1;";

/// An `Idempotency-Key`'s record, locked until the claim's transaction ends (`UPDLOCK,
/// HOLDLOCK` also locks the key's absence, so two claims of a new key queue up).
pub const SELECT_IDEMPOTENCY: &str = "SELECT BodyHash, Status, Response, CreatedAt \
FROM dbo.IdempotencyKeys WITH (UPDLOCK, HOLDLOCK) WHERE IdemKey = @P1";

pub const INSERT_IDEMPOTENCY: &str = "INSERT INTO dbo.IdempotencyKeys \
(IdemKey, BodyHash, Status, Response, CreatedAt, Token) VALUES (@P1, @P2, 0, NULL, @P3, @P4)";

/// Takes over a claim whose request never committed its write.
pub const RECLAIM_IDEMPOTENCY: &str = "UPDATE dbo.IdempotencyKeys SET BodyHash = @P2, \
Status = 0, Response = NULL, CreatedAt = @P3, Token = @P4 WHERE IdemKey = @P1 AND Status = 0";

/// In a write's transaction: its request's claim is committed, if it is still its own
/// (`@@ROWCOUNT` 0: a retry took it over, and the write rolls back).
pub const MARK_IDEMPOTENCY_COMMITTED: &str = "UPDATE dbo.IdempotencyKeys SET Status = 2 \
WHERE IdemKey = @P1 AND Token = @P2 AND Status IN (0, 2)";

/// A write in another database than its claim (a global object): its committed mark there
/// (`@@ROWCOUNT` 0: another request's mark is there, and the write rolls back).
pub const PLACE_IDEMPOTENCY_MARK: &str = "INSERT INTO dbo.IdempotencyKeys \
(IdemKey, BodyHash, Status, Response, CreatedAt, Token) SELECT @P1, N'', 2, NULL, @P3, @P2 \
WHERE NOT EXISTS (SELECT 1 FROM dbo.IdempotencyKeys WITH (UPDLOCK, HOLDLOCK) \
WHERE IdemKey = @P1)";

pub const FINISH_IDEMPOTENCY: &str = "UPDATE dbo.IdempotencyKeys SET Status = 1, \
Response = @P3 WHERE IdemKey = @P1 AND Token = @P2";

pub const RELEASE_IDEMPOTENCY: &str =
    "DELETE FROM dbo.IdempotencyKeys WHERE IdemKey = @P1 AND Token = @P2 AND Status = 0";

pub const PRUNE_IDEMPOTENCY: &str = "DELETE FROM dbo.IdempotencyKeys WHERE IdemKey IN \
(SELECT TOP (@P2) IdemKey FROM dbo.IdempotencyKeys WHERE CreatedAt < @P1)";

// --- projections (docs/SQLSERVER.md, "Queries at a million objects") -------------------

/// Every write takes this shared lock before it reads the projection catalogue, and holds
/// it to commit; a DSConfig apply, `datastore reindex` and an import take it exclusive
/// before they change the catalogue or the tables. So no write ever fills a projection
/// laid out differently from the one it read, and a projection laid out (or found complete
/// at once) never misses an object a write had not committed yet. A lock not granted
/// (deadlock victim, -3) is thrown as 51205, re-run like a deadlock.
pub const PROJECTIONS_LOCK_SHARED: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-projections', @LockMode = N'Shared', \
@LockOwner = N'Transaction', @LockTimeout = 60000; \
IF @result < 0 THROW 51205, N'the projection catalogue lock was not granted', 1;";

/// See [`PROJECTIONS_LOCK_SHARED`].
pub const PROJECTIONS_LOCK_EXCLUSIVE: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-projections', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 60000; \
IF @result < 0 THROW 51205, N'the projection catalogue lock was not granted', 1;";

/// A rebuild batch: the catalogue lock shared, and the rebuild's own lock exclusive, so
/// that two processes never rebuild the same range at once.
pub const PROJECTION_BUILD_LOCK: &str = "DECLARE @result int; \
EXEC @result = sp_getapplock @Resource = N'datastore-projections', @LockMode = N'Shared', \
@LockOwner = N'Transaction', @LockTimeout = 60000; \
IF @result < 0 THROW 51205, N'the projection catalogue lock was not granted', 1; \
EXEC @result = sp_getapplock @Resource = N'datastore-projection-build', @LockMode = N'Exclusive', \
@LockOwner = N'Transaction', @LockTimeout = 60000; \
IF @result < 0 THROW 51205, N'the projection rebuild lock was not granted', 1;";

/// The projection of type `@P1`: its table number and layout.
pub const PROJECTION_OF_TYPE: &str =
    "SELECT TableNo, Layout FROM dbo.Projections WHERE ObjectType = @P1";

/// The projection of type `@P1` when it is complete: its table number, layout and whether
/// its Lookup and value counts are kept (migrations 0070, 0071: 1 when both are).
pub const COMPLETE_PROJECTION_OF_TYPE: &str = "SELECT TableNo, Layout, Counted * ValueCounted \
FROM dbo.Projections WHERE ObjectType = @P1 AND BuiltUpTo IS NULL";

/// The whole catalogue, with whether each one's Lookup counts and value counts are kept.
pub const PROJECTIONS: &str = "SELECT TableNo, ObjectType, Layout, Counted, ValueCounted \
FROM dbo.Projections ORDER BY ObjectType";

/// Layout `@P2` for projection `@P1`, whose rows it describes as they are (only its
/// counted columns changed).
pub const SET_PROJECTION_LAYOUT: &str =
    "UPDATE dbo.Projections SET Layout = @P2 WHERE TableNo = @P1";

pub const DELETE_PROJECTION: &str = "DELETE FROM dbo.Projections WHERE TableNo = @P1";

/// A new layout `@P2` for projection `@P1`: empty, to be rebuilt.
pub const RELAYOUT_PROJECTION: &str = "UPDATE dbo.Projections \
SET Layout = @P2, BuiltUpTo = 0, ClaimedAt = NULL WHERE TableNo = @P1";

/// A new projection of type `@P1` with layout `@P2`, to be rebuilt; its table number.
pub const INSERT_PROJECTION: &str = "INSERT INTO dbo.Projections (ObjectType, Layout, BuiltUpTo) \
OUTPUT INSERTED.TableNo VALUES (@P1, @P2, 0)";

/// 1 when type `@P1` has objects.
pub const TYPE_HAS_OBJECTS: &str = "SELECT CAST(CASE WHEN EXISTS \
(SELECT 1 FROM dbo.Objects WHERE ObjectType = @P1) THEN 1 ELSE 0 END AS int)";

/// Projection `@P1` is complete.
pub const PROJECTION_COMPLETE: &str =
    "UPDATE dbo.Projections SET BuiltUpTo = NULL, ClaimedAt = @P2 WHERE TableNo = @P1";

/// Projection `@P1` is to be rebuilt from the start.
pub const PROJECTION_RESET: &str =
    "UPDATE dbo.Projections SET BuiltUpTo = 0, ClaimedAt = NULL WHERE TableNo = @P1";

/// Projection `@P1` has been rebuilt up to object `@P2`, at `@P3`.
pub const PROJECTION_BUILT_UP_TO: &str =
    "UPDATE dbo.Projections SET BuiltUpTo = @P2, ClaimedAt = @P3 WHERE TableNo = @P1";

/// The first incomplete projection.
pub const NEXT_INCOMPLETE_PROJECTION: &str = "SELECT TOP (1) TableNo, ObjectType, Layout, \
BuiltUpTo FROM dbo.Projections WHERE BuiltUpTo IS NOT NULL ORDER BY TableNo";

/// Every projection's state.
pub const PROJECTION_STATUS: &str =
    "SELECT ObjectType, BuiltUpTo, ClaimedAt FROM dbo.Projections ORDER BY ObjectType";

/// Every fixed statement with its name, for the snapshot test.
#[cfg(test)]
pub const ALL: &[(&str, &str)] = &[
    ("PROJECTIONS_LOCK_SHARED", PROJECTIONS_LOCK_SHARED),
    ("PROJECTIONS_LOCK_EXCLUSIVE", PROJECTIONS_LOCK_EXCLUSIVE),
    ("PROJECTION_BUILD_LOCK", PROJECTION_BUILD_LOCK),
    ("PROJECTION_OF_TYPE", PROJECTION_OF_TYPE),
    ("COMPLETE_PROJECTION_OF_TYPE", COMPLETE_PROJECTION_OF_TYPE),
    ("PROJECTIONS", PROJECTIONS),
    ("DELETE_PROJECTION", DELETE_PROJECTION),
    ("RELAYOUT_PROJECTION", RELAYOUT_PROJECTION),
    ("INSERT_PROJECTION", INSERT_PROJECTION),
    ("TYPE_HAS_OBJECTS", TYPE_HAS_OBJECTS),
    ("PROJECTION_COMPLETE", PROJECTION_COMPLETE),
    ("PROJECTION_RESET", PROJECTION_RESET),
    ("PROJECTION_BUILT_UP_TO", PROJECTION_BUILT_UP_TO),
    ("NEXT_INCOMPLETE_PROJECTION", NEXT_INCOMPLETE_PROJECTION),
    ("PROJECTION_STATUS", PROJECTION_STATUS),
    ("SESSION_SETUP", SESSION_SETUP),
    ("HEALTH", HEALTH),
    ("REFERENCE_LOCK_SHARED", REFERENCE_LOCK_SHARED),
    ("REFERENCE_LOCK_EXCLUSIVE", REFERENCE_LOCK_EXCLUSIVE),
    ("LOOKUP_TARGETS", LOOKUP_TARGETS),
    ("REFRESH_GIVEN_DISPLAY", REFRESH_GIVEN_DISPLAY),
    ("BEGIN", BEGIN),
    ("COMMIT", COMMIT),
    ("ROLLBACK", ROLLBACK),
    ("BEGIN_SNAPSHOT", BEGIN_SNAPSHOT),
    ("COMMIT_SNAPSHOT", COMMIT_SNAPSHOT),
    ("ROLLBACK_SNAPSHOT", ROLLBACK_SNAPSHOT),
    ("CREATE_DATABASE", CREATE_DATABASE),
    ("DROP_DATABASE", DROP_DATABASE),
    ("DATABASES_LIKE", DATABASES_LIKE),
    ("DATABASE_EXISTS", DATABASE_EXISTS),
    ("CREATE_VERSIONS", CREATE_VERSIONS),
    ("VERSIONS_TABLE_EXISTS", VERSIONS_TABLE_EXISTS),
    ("SELECT_VERSIONS", SELECT_VERSIONS),
    ("MIGRATION_LOCK", MIGRATION_LOCK),
    ("INSERT_VERSION", INSERT_VERSION),
    ("SELECT_OBJECT_TYPE", SELECT_OBJECT_TYPE),
    ("SELECT_NEXT_OBJECT_TYPE", SELECT_NEXT_OBJECT_TYPE),
    ("SELECT_OBJECT", SELECT_OBJECT),
    ("NEXT_NUMBER", NEXT_NUMBER),
    ("INSERT_OBJECT", INSERT_OBJECT),
    ("SET_OBJECT_NUMBER", SET_OBJECT_NUMBER),
    ("TOUCH_OBJECT", TOUCH_OBJECT),
    ("CHANGE_TYPE", CHANGE_TYPE),
    ("LOOKUP_TARGET", LOOKUP_TARGET),
    ("HELD_LOOKUP", HELD_LOOKUP),
    ("LOOKUP_OWNERS", LOOKUP_OWNERS),
    ("UPSERT_PROPERTY", UPSERT_PROPERTY),
    ("DELETE_PROPERTY", DELETE_PROPERTY),
    ("PROPERTY_NAMES", PROPERTY_NAMES),
    ("STORED_TYPE", STORED_TYPE),
    ("LOCK_OBJECT", LOCK_OBJECT),
    ("LOCK_PAIR", LOCK_PAIR),
    ("UPSERT_RELATIONSHIP", UPSERT_RELATIONSHIP),
    ("DELETE_RELATIONSHIP", DELETE_RELATIONSHIP),
    ("CLEAR_PROPERTY_CONFIG", CLEAR_PROPERTY_CONFIG),
    ("CLEAR_LIST_ITEMS", CLEAR_LIST_ITEMS),
    ("DEACTIVATE_NUMBERING", DEACTIVATE_NUMBERING),
    ("UPSERT_NUMBERING", UPSERT_NUMBERING),
    ("LOCK_CONFIG_DOCUMENT", LOCK_CONFIG_DOCUMENT),
    ("UPSERT_CONFIG_DOCUMENT", UPSERT_CONFIG_DOCUMENT),
    ("SELECT_CONFIG_DOCUMENT", SELECT_CONFIG_DOCUMENT),
    ("INSERT_API_KEY", INSERT_API_KEY),
    ("SELECT_API_KEY", SELECT_API_KEY),
    ("SELECT_API_KEYS", SELECT_API_KEYS),
    ("REVOKE_API_KEY", REVOKE_API_KEY),
    ("ANY_API_KEY", ANY_API_KEY),
    ("CONFIG_VERSION", CONFIG_VERSION),
    ("CONFIG_VERSIONS", CONFIG_VERSIONS),
    ("MARK_DISPLAYS_REFRESHED", MARK_DISPLAYS_REFRESHED),
    ("BATCH_END", BATCH_END),
    ("EXPORT_OBJECTS", EXPORT_OBJECTS),
    ("EXPORT_RELATIONSHIPS", EXPORT_RELATIONSHIPS),
    ("EXPORT_NUMBERING", EXPORT_NUMBERING),
    ("ANY_OBJECT", ANY_OBJECT),
    ("CLEAR_DATA", CLEAR_DATA),
    ("IMPORT_NUMBERING", IMPORT_NUMBERING),
    ("EXPORT_FILES", EXPORT_FILES),
    ("IMPORT_FILE_OWNER", IMPORT_FILE_OWNER),
    ("IMPORT_FILE", IMPORT_FILE),
    ("IMPORT_FILE_CHUNK", IMPORT_FILE_CHUNK),
    ("INSERT_FILE", INSERT_FILE),
    ("INSERT_FILE_CHUNK", INSERT_FILE_CHUNK),
    ("LINK_FILE", LINK_FILE),
    ("DELETE_FILE", DELETE_FILE),
    ("SWEEP_FILES", SWEEP_FILES),
    ("SELECT_LINKED_FILE", SELECT_LINKED_FILE),
    ("SELECT_FILE_CHUNK", SELECT_FILE_CHUNK),
    ("SELECT_FILES", SELECT_FILES),
    ("INSERT_APP", INSERT_APP),
    ("SELECT_APPS", SELECT_APPS),
    ("TABLES_AND_OURS", TABLES_AND_OURS),
    ("START_IDS_AT", START_IDS_AT),
    ("TAKE_CHANGE_IDS", TAKE_CHANGE_IDS),
    ("SELECT_STRICT", SELECT_STRICT),
    ("INSERT_CHANGE", INSERT_CHANGE),
    ("TAKE_CHANGE_ID_AND_INSERT", TAKE_CHANGE_ID_AND_INSERT),
    ("OBJECT_HISTORY", OBJECT_HISTORY),
    ("CHANGES_AFTER", CHANGES_AFTER),
    ("OBJECT_CHANGES_AFTER", OBJECT_CHANGES_AFTER),
    ("WALK_HEAD", WALK_HEAD),
    ("WALK_CHANGES", WALK_CHANGES),
    ("OLDEST_CHANGES", OLDEST_CHANGES),
    ("PRUNE_CHANGES", PRUNE_CHANGES),
    ("RESTART_CHANGE_LOG", RESTART_CHANGE_LOG),
    ("SELECT_IDEMPOTENCY", SELECT_IDEMPOTENCY),
    ("INSERT_IDEMPOTENCY", INSERT_IDEMPOTENCY),
    ("RECLAIM_IDEMPOTENCY", RECLAIM_IDEMPOTENCY),
    ("MARK_IDEMPOTENCY_COMMITTED", MARK_IDEMPOTENCY_COMMITTED),
    ("PLACE_IDEMPOTENCY_MARK", PLACE_IDEMPOTENCY_MARK),
    ("FINISH_IDEMPOTENCY", FINISH_IDEMPOTENCY),
    ("RELEASE_IDEMPOTENCY", RELEASE_IDEMPOTENCY),
    ("PRUNE_IDEMPOTENCY", PRUNE_IDEMPOTENCY),
];
