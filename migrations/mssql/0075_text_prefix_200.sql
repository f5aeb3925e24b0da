-- 0075: the indexed prefix of a text holds its first 200 characters, in nvarchar(400).
-- It held 400 in nvarchar(400): SQL Server's LEFT counts UTF-16 units under the binary
-- collation, so that always fit, but Babelfish's counts code points, and a text of more
-- than 400 characters with a character outside the BMP (an emoji: two units) among its
-- first 400 needed more than 400 units: the write was refused ("value too long for type
-- character varying(400) as UTF16 output"). 200 characters need at most 400 units on both.
-- The queries seek `LEFT(@P, 200)` from this version on (src/store/mssql).
--
-- dbo.Properties: the computed column and the index on it made anew.
DROP INDEX IX_Properties_Value ON dbo.Properties;
GO
ALTER TABLE dbo.Properties DROP COLUMN PropertyValuePrefix;
GO
ALTER TABLE dbo.Properties ADD PropertyValuePrefix AS
    CAST(LEFT(PropertyValue, 200) AS nvarchar(400)) PERSISTED;
GO
CREATE INDEX IX_Properties_Value ON dbo.Properties (PropertyName, PropertyValuePrefix)
    INCLUDE (OwnerObjectId);
GO
-- The projections (their `p<k>` columns hold the same prefix) and their counts go: the
-- service lays each one out again at its next start and rebuilds it from the EAV rows,
-- answering from those meanwhile (docs/DEPLOYMENT.md, "Upgrading").
DECLARE @drop nvarchar(max);
SELECT @drop = STRING_AGG(CAST(N'DROP TABLE IF EXISTS dbo.Proj_' + CAST(TableNo AS nvarchar(20))
    AS nvarchar(max)), N'; ')
FROM dbo.Projections;
IF @drop IS NOT NULL
    EXEC sp_executesql @drop;
DELETE FROM dbo.LookupCounts;
DELETE FROM dbo.ValueCounts;
DELETE FROM dbo.PairCounts;
DELETE FROM dbo.Projections;
