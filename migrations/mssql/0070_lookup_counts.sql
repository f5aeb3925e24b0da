-- 0070: how many objects of a projected type point at each Lookup target, as
-- migrations/sqlite/0070_lookup_counts.sql: TargetId is the Lookup column's d<k>, NotLookup
-- 1 when the stored value is not a Lookup (n<k> = 1), Total how many projection rows hold
-- that pair. Every statement that changes a projection's rows changes these counts in the
-- same batch (src/store/mssql/projection.rs). Projections.Counted is 1 once a
-- projection's counts were taken from its rows.
CREATE TABLE dbo.LookupCounts (
    TableNo   int NOT NULL,
    ColumnNo  int NOT NULL,
    TargetId  float NOT NULL,
    NotLookup int NOT NULL,
    Total     bigint NOT NULL,
    CONSTRAINT PK_LookupCounts PRIMARY KEY CLUSTERED (TableNo, ColumnNo, TargetId, NotLookup)
);
ALTER TABLE dbo.Projections ADD Counted int NOT NULL
    CONSTRAINT DF_Projections_Counted DEFAULT 0;
GO
