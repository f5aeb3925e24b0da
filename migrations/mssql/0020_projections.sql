-- 0020: the catalogue of projections, as migrations/sqlite/0020_projections.sql. On SQL
-- Server no projection is built yet (queries use the EAV plan, docs/SQLSERVER.md); the table
-- exists so that both backends keep the same schema versions and a later version can fill it.
CREATE TABLE dbo.Projections (
    TableNo    int IDENTITY(1, 1) NOT NULL CONSTRAINT PK_Projections PRIMARY KEY,
    ObjectType nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL
        CONSTRAINT UQ_Projections_Type UNIQUE,
    Layout     nvarchar(max) NOT NULL,
    BuiltUpTo  bigint NULL,
    ClaimedAt  datetime2(3) NULL
);
GO
