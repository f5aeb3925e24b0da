-- 0071: how many rows of each projection hold each value of its counted columns, and how
-- many rows it has (docs/QUERY.md, "Bounded shapes"). One row per projection table,
-- column and value: ColumnNo 0 is the type's total (Value 0); a counted column k (every
-- List and Switch property, and those the DSConfig names in `counts = [...]`) keeps one row
-- per value its comparisons read: d<k> (a REAL) for a property compared by value, v<k>
-- (its exact TEXT) for one compared as text. Value has no affinity, so a value is kept as
-- the column holds it. Like LookupCounts (0070) it is derived from the projection rows by
-- triggers on each Proj_<n> table, in the statement of every write that changes them, and
-- a count of `status == "A"`, `age >= 18 and age < 65` or of the whole type sums a few
-- rows instead of reading every match's index entry. Projections.ValueCounted is 1 once a
-- projection's triggers exist and its counts were taken from its rows (tables an earlier
-- version made get both when the DSConfig is applied).
CREATE TABLE ValueCounts (
    TableNo  INTEGER NOT NULL,
    ColumnNo INTEGER NOT NULL,
    Value    BLOB NOT NULL,
    Total    INTEGER NOT NULL,
    PRIMARY KEY (TableNo, ColumnNo, Value)
) WITHOUT ROWID;
ALTER TABLE Projections ADD COLUMN ValueCounted INTEGER NOT NULL DEFAULT 0;
