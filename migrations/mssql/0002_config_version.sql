-- 0002: the DSConfig's version, so that every process sharing the database uses the same one.
-- Version goes up by one each time a different DSConfig is applied; processes poll it and
-- every write checks it in its own transaction. DisplaysVersion is the version whose
-- display-text refresh has completed (API.md §4: display texts follow a DSConfig change).
ALTER TABLE dbo.ConfigDocument
    ADD Version bigint NOT NULL CONSTRAINT DF_ConfigDocument_Version DEFAULT 1;
ALTER TABLE dbo.ConfigDocument
    ADD DisplaysVersion bigint NOT NULL CONSTRAINT DF_ConfigDocument_DisplaysVersion DEFAULT 1;
GO

-- The items of the stored DSConfig's lists, so that a List's display texts can be rewritten
-- by one statement per batch whatever the list's length. Replaced with the DSConfig.
CREATE TABLE dbo.ListItems (
    ListName nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Code     nvarchar(300) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Value    nvarchar(max) COLLATE Latin1_General_100_BIN2 NOT NULL,
    Position int NOT NULL,
    CONSTRAINT PK_ListItems PRIMARY KEY (ListName, Code)
);
GO
