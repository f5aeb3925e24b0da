-- 0002: the DSConfig's version, so that every process sharing the database uses the same one.
-- Version goes up by one each time a different DSConfig is applied; processes poll it and
-- every write checks it in its own transaction. DisplaysVersion is the version whose
-- display-text refresh has completed (API.md §4: display texts follow a DSConfig change).
ALTER TABLE ConfigDocument ADD COLUMN Version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE ConfigDocument ADD COLUMN DisplaysVersion INTEGER NOT NULL DEFAULT 1;

-- The items of the stored DSConfig's lists, so that a List's display texts can be rewritten
-- by one statement per batch whatever the list's length. Replaced with the DSConfig.
CREATE TABLE ListItems (
    ListName TEXT NOT NULL,
    Code     TEXT NOT NULL,
    Value    TEXT NOT NULL,
    Position INTEGER NOT NULL,
    PRIMARY KEY (ListName, Code)
) WITHOUT ROWID;
