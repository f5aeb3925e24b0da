-- 0073: each object's version, set in the same transaction as any change to its property
-- rows, whichever path or process makes it (a save, a display refresh, an import, a build
-- that predates this column). A reader that kept an object's properties uses them again
-- only while the version is the one they were read at (src/store/sqlite/
-- properties_cache.rs). Every change, and every insert of an object (an import puts ids
-- back), draws a random 62-bit version rather than counting up: a count would come back
-- to a value it had once the file goes back in time (a backup restored under a running
-- service), and the next change would then meet what a reader kept of the other future.
ALTER TABLE Objects ADD COLUMN Version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER Version_Objects_i AFTER INSERT ON Objects BEGIN
    UPDATE Objects SET Version = abs(random() % 4611686018427387904)
    WHERE ObjectId = NEW.ObjectId;
END;
CREATE TRIGGER Version_Properties_i AFTER INSERT ON Properties BEGIN
    UPDATE Objects SET Version = abs(random() % 4611686018427387904)
    WHERE ObjectId = NEW.OwnerObjectId;
END;
-- (Each with one `=`: an `IN` of the old and the new owner cost a save 13 µs more.)
CREATE TRIGGER Version_Properties_u AFTER UPDATE ON Properties BEGIN
    UPDATE Objects SET Version = abs(random() % 4611686018427387904)
    WHERE ObjectId = NEW.OwnerObjectId;
END;
CREATE TRIGGER Version_Properties_o AFTER UPDATE OF OwnerObjectId ON Properties
WHEN OLD.OwnerObjectId IS NOT NEW.OwnerObjectId BEGIN
    UPDATE Objects SET Version = abs(random() % 4611686018427387904)
    WHERE ObjectId = OLD.OwnerObjectId;
END;
CREATE TRIGGER Version_Properties_d AFTER DELETE ON Properties BEGIN
    UPDATE Objects SET Version = abs(random() % 4611686018427387904)
    WHERE ObjectId = OLD.OwnerObjectId;
END;
