-- Alert deduplication (issue 7), SQLite dialect; migrations/postgres/0003_alert_dedupe.sql
-- is the same change in PostgreSQL's dialect. Same constraint names on both.

-- A stable key for an alert that may be found again (e.g. the reconciliation worker
-- re-querying an order whose upstream amount disagrees): a second alert with the same key is
-- not stored. NULL: never deduplicated (NULLs are distinct in a unique index on both
-- backends).
ALTER TABLE alerts ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX alerts_dedupe_key_key ON alerts (dedupe_key);

-- A mini-program session lists its own orders (`GET /v1/orders`): by payer, newest first,
-- paged in SQL.
CREATE INDEX orders_payer_idx ON orders (tenant_id, payer_openid, id);
