-- 0072: how many rows of each projection hold each pair of values of its counted pairs
-- (docs/QUERY.md, "Bounded shapes"): the pairs a type's `counts` names as "a, b"
-- (`counts = ["firstName, status", "lastName, age"]`). One row per projection table, pair
-- of columns (ColumnA, ColumnB) and pair of values, each kept as ValueCounts (0071) keeps
-- a value: d<k> for a property compared by value, the exact v<k> for one compared as text;
-- a row where either is NULL is not counted. The key puts ColumnB's value after
-- ColumnA's, so the count of `lastName == "Doe" and age > 30` sums one short range (the
-- ages of one last name) and `firstName == "Emma" and status == "I"` reads one row,
-- instead of tens of thousands of entries of the two-column index. Kept by triggers on
-- each Proj_<n> table beside ValueCounts' (the same `VCount_` prefix, made, dropped and
-- counted anew with them; Projections.ValueCounted says both are kept).
CREATE TABLE PairCounts (
    TableNo INTEGER NOT NULL,
    ColumnA INTEGER NOT NULL,
    ColumnB INTEGER NOT NULL,
    ValueA  BLOB NOT NULL,
    ValueB  BLOB NOT NULL,
    Total   INTEGER NOT NULL,
    PRIMARY KEY (TableNo, ColumnA, ColumnB, ValueA, ValueB)
) WITHOUT ROWID;
