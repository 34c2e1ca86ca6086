-- Issue 11: a route in digest mode collects its notices into one message per period. A delivery
-- to such a route (or to its webhooks) names the digest it goes out in: the route's digest time
-- it waits for. Every delivery of one receiver with the same digest time is sent as one message
-- and settled together. NULL: sent on its own, at once.
ALTER TABLE deliveries ADD COLUMN digest_ms BIGINT;
CREATE INDEX deliveries_by_digest ON deliveries (receiver, digest_ms) WHERE digest_ms IS NOT NULL;
