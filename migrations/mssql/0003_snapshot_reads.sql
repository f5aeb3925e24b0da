-- 0003: allow SNAPSHOT transactions, so that a list's count and its page are read from one
-- state of the database without blocking writers (docs/SQLSERVER.md, "Reads").
-- ALTER DATABASE cannot run inside a transaction: the service runs this migration without
-- one, so it is written to be run again safely. It needs ALTER permission on the database
-- (db_owner) once; a database where a DBA already allowed snapshots needs nothing.
-- Babelfish and Azure SQL Database allow snapshots from the start (state 1), so the ALTER
-- is skipped there; it is dynamic SQL because Babelfish refuses to parse the option.

IF EXISTS (SELECT 1 FROM sys.databases
           WHERE database_id = DB_ID() AND snapshot_isolation_state <> 1)
    EXEC (N'ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON');
GO
