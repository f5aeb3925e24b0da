-- 0061: each object's changes form a chain instead of an index. The write path updates the
-- object's row anyway (UpdatedAt), so keeping its newest change there costs no page; an
-- index on (ObjectId, ChangeId) cost one more page, at a random place, for every change
-- (docs/DECISIONS.md, "The change log"). A change points at the object's change before
-- it; a dropped object's newest change moves to ChangeHeads when it is dropped. History
-- and an object's event stream walk the chain back from its head.
ALTER TABLE Objects ADD COLUMN LastChangeId INTEGER NULL;
ALTER TABLE Changes ADD COLUMN PrevChangeId INTEGER NULL;
CREATE TABLE ChangeHeads (
    ObjectId     INTEGER NOT NULL PRIMARY KEY,
    LastChangeId INTEGER NOT NULL
);

-- The chain of the changes logged so far, found with the index before it goes.
UPDATE Changes SET PrevChangeId = (
    SELECT MAX(c.ChangeId) FROM Changes AS c
    WHERE c.ObjectId = Changes.ObjectId AND c.ChangeId < Changes.ChangeId);
UPDATE Objects SET LastChangeId = (
    SELECT MAX(c.ChangeId) FROM Changes AS c WHERE c.ObjectId = Objects.ObjectId)
WHERE ObjectId IN (SELECT ObjectId FROM Changes);
INSERT INTO ChangeHeads (ObjectId, LastChangeId)
SELECT c.ObjectId, MAX(c.ChangeId) FROM Changes AS c
WHERE NOT EXISTS (SELECT 1 FROM Objects AS o WHERE o.ObjectId = c.ObjectId)
GROUP BY c.ObjectId;
DROP INDEX IX_Changes_Object;
