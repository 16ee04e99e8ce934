-- Webhook delivery (issue 8), SQLite dialect; migrations/postgres/0004_webhook_delivery.sql
-- is the same change in PostgreSQL's dialect. Same constraint names on both. Never edit 0001–0003.

-- Delivery state of each outbox event. pending: to deliver (due at next_attempt_at, unless a
-- worker's claim runs until claimed_until); delivered: a 2xx came back; failed: the schedule
-- ran out (or the endpoint answered 410) — resendable; skipped: the tenant had no endpoint.
-- schedule_base is `attempts` at the last manual resend, so a resend restarts the schedule
-- while attempt numbers keep increasing.
ALTER TABLE events ADD COLUMN delivery_status TEXT NOT NULL DEFAULT 'pending'
    CONSTRAINT events_delivery_status_check
    CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'skipped'));
ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN schedule_base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN claimed_until INTEGER;
ALTER TABLE events ADD COLUMN last_status_code INTEGER;
ALTER TABLE events ADD COLUMN last_latency_ms INTEGER;
ALTER TABLE events ADD COLUMN delivered_at INTEGER;
CREATE INDEX events_delivery_due_idx ON events (delivery_status, next_attempt_at);

-- Latency of each attempt (NULL: no response, e.g. refused before connecting).
ALTER TABLE webhook_deliveries ADD COLUMN latency_ms INTEGER;

-- 410 Gone disables an endpoint until an operator resumes it. During a secret rotation the
-- previous secret (encrypted like signing_secret) keeps signing until previous_secret_expires_at.
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret BLOB;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires_at INTEGER;
