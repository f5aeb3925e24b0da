-- 0020: the catalogue of projections (docs/design/QUERIES_AT_SCALE.md, docs/QUERY.md).
-- For every type the DSConfig declares with properties, a table Proj_<TableNo> holds one row
-- per object and, per declared property, its PropertyValue (v<n>) and PropertyAsDouble (d<n>)
-- (and for a Lookup, n<n> = 1 when the stored value is not a Lookup). It is derived from the
-- EAV rows in the same transaction as every write, and rebuilt from them by batches when the
-- DSConfig changes what it holds (and by `datastore reindex`). Table names are numbers from
-- here, never user text. Layout is the JSON of its columns and indexes; BuiltUpTo is NULL
-- when the projection is complete (queries may use it), else the last ObjectId the rebuild
-- has done; ClaimedAt is when a process last advanced the rebuild (taken over when overdue).
CREATE TABLE Projections (
    TableNo    INTEGER PRIMARY KEY AUTOINCREMENT,
    ObjectType TEXT NOT NULL UNIQUE,
    Layout     TEXT NOT NULL,
    BuiltUpTo  INTEGER,
    ClaimedAt  TEXT
);
