-- 0070: how many objects of a projected type point at each Lookup target (docs/QUERY.md,
-- "Bounded shapes"). One row per projection table, Lookup column, target and kind:
-- TargetId is the column's d<k> (the stored PropertyAsDouble), NotLookup is 1 when the
-- stored value is not a Lookup (n<k> = 1), Total how many rows of the projection hold that
-- pair. It is derived from the projection rows by triggers on each Proj_<n> table (made
-- with the table), so it changes in the statement, and the transaction, of every write
-- that changes them, whoever writes. A path through a Lookup (`company.city.name ==
-- "Berlin"`) counts its matches as the sum of Total over the far end's ids (a few pages)
-- instead of reading every match's index entry. Projections.Counted is 1 once a
-- projection's triggers exist and its counts were taken from its rows (tables an earlier
-- version made get both when the DSConfig is applied: `serve`, `dsconfig apply`,
-- `datastore reindex`).
CREATE TABLE LookupCounts (
    TableNo   INTEGER NOT NULL,
    ColumnNo  INTEGER NOT NULL,
    TargetId  REAL NOT NULL,
    NotLookup INTEGER NOT NULL,
    Total     INTEGER NOT NULL,
    PRIMARY KEY (TableNo, ColumnNo, TargetId, NotLookup)
) WITHOUT ROWID;
ALTER TABLE Projections ADD COLUMN Counted INTEGER NOT NULL DEFAULT 0;
