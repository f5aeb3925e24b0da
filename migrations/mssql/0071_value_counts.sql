-- 0071: how many rows of each projection hold each value of its counted columns, and how
-- many rows it has, as migrations/sqlite/0071_value_counts.sql, striped: ColumnNo 0 is the
-- type's total (Number 0, Text N''); a counted column compared by value keeps Number =
-- d<k> (Text N''), one compared as text Number = DATALENGTH(v<k>) and Text = v<k> (only
-- values of at most 400 characters: an equality with a longer text is counted from the
-- rows). Stripe is ObjectId % 16: each value's count is the SUM over up to 16 rows, so two
-- writers of different objects rarely hold the X lock of the same count row until their
-- commits (docs/SQLSERVER.md). Every statement batch that changes a projection's rows
-- changes these counts in the same batch (src/store/mssql/projection.rs).
-- Projections.ValueCounted is 1 once a projection's counts were taken from its rows.
CREATE TABLE dbo.ValueCounts (
    TableNo  int NOT NULL,
    ColumnNo int NOT NULL,
    Number   float NOT NULL,
    Text     nvarchar(400) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Stripe   int NOT NULL,
    Total    bigint NOT NULL,
    CONSTRAINT PK_ValueCounts PRIMARY KEY CLUSTERED (TableNo, ColumnNo, Number, Text, Stripe)
);
ALTER TABLE dbo.Projections ADD ValueCounted int NOT NULL
    CONSTRAINT DF_Projections_ValueCounted DEFAULT 0;
GO
