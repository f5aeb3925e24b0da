-- 0060: an Idempotency-Key claim carries a token of its own. The write that records the
-- request's changes sets Status = 2 ("committed, answer not yet stored") in its own
-- transaction, and only while the token is still its own: a claim taken over by a retry
-- (its first request ran longer than the stale limit) makes the first write roll back
-- instead of writing twice; a committed claim is never taken over
-- (docs/DECISIONS.md, "Idempotency-Key").
ALTER TABLE IdempotencyKeys ADD COLUMN Token TEXT NULL;
