-- 0074: the objects that existed when 0073 ran all got version 0, the one value 0073 did not
-- draw at random. Two copies of one file migrated apart (a backup taken before 0073 and
-- restored under running instances, each migrated on its own) would both hold 0 for an
-- object whose rows differ, and an instance that kept the object at 0 would answer the
-- other copy's rows. Each gets a random version now, as any change draws one.
UPDATE Objects SET Version = abs(random() % 4611686018427387904) WHERE Version = 0;
