-- 0006: the apps of the deployment (API.md §9), kept in the central database (the default
-- app's LIVE one). A row is added the first time any process opens one of an app's
-- databases; later work enumerates apps from here. NameKey is the name in lower case (app
-- names are case-insensitive); Name is the spelling first used. CreatedAt is UTC text.
CREATE TABLE Apps (
    NameKey   TEXT NOT NULL PRIMARY KEY,
    Name      TEXT NOT NULL,
    CreatedAt TEXT NOT NULL
) WITHOUT ROWID;
