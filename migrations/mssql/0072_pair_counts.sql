-- 0072: how many rows of each projection hold each pair of values of its counted pairs,
-- as migrations/sqlite/0072_pair_counts.sql, striped as dbo.ValueCounts (0071): a value
-- compared by value is kept as Number = d<k> (Text N''), a text as Number =
-- DATALENGTH(v<k>) and Text = v<k> (binary collation), only texts of at most 200
-- characters (two texts of 400 would pass the 900 bytes of a clustered key: a pair with a
-- longer text is not counted, and an equality with such a literal counts the rows).
-- Stripe is ObjectId % 16, each pair's count the SUM over up to 16 rows. Moved in the
-- same batches as dbo.ValueCounts (src/store/mssql/projection.rs); Projections.ValueCounted
-- says both are kept.
CREATE TABLE dbo.PairCounts (
    TableNo int NOT NULL,
    ColumnA int NOT NULL,
    ColumnB int NOT NULL,
    NumberA float NOT NULL,
    TextA   nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    NumberB float NOT NULL,
    TextB   nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Stripe  int NOT NULL,
    Total   bigint NOT NULL,
    CONSTRAINT PK_PairCounts PRIMARY KEY CLUSTERED
        (TableNo, ColumnA, ColumnB, NumberA, TextA, NumberB, TextB, Stripe)
);
GO
