-- Payments (issue 7), PostgreSQL dialect; migrations/sqlite/0002_payments.sql is the same
-- change in SQLite's dialect. Same constraint names on both. Never edit 0001.

-- Reconciliation claims: a worker sets claimed_until in the claiming UPDATE, so concurrent
-- workers (several instances) never query WeChat for the same row at once; an expired claim
-- (a crashed worker) is simply claimable again. NULL: not claimed.
ALTER TABLE orders ADD COLUMN claimed_until BIGINT;
ALTER TABLE refunds ADD COLUMN claimed_until BIGINT;
-- The worker scans PENDING orders by age and CREATED/PENDING ones by expiry.
CREATE INDEX orders_reconcile_idx ON orders (state, updated_at);
CREATE INDEX orders_expires_at_idx ON orders (expires_at);
CREATE INDEX refunds_reconcile_idx ON refunds (state, updated_at);

-- The order an event is about (NULL: none), so an order's events can be listed. Not a foreign
-- key: SQLite cannot add a composite (tenant_id, order_id) reference to an existing table,
-- and the two schemas must mean the same.
ALTER TABLE events ADD COLUMN order_id TEXT;
CREATE INDEX events_order_idx ON events (tenant_id, order_id);

-- Idempotency-Key claims of the tenant API. A row is inserted before the request runs
-- (status_code NULL: in progress) and completed with the response to replay. request_hash is
-- the SHA-256 (hex) of the request, to refuse a key reused for another request.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT   NOT NULL,
    idem_key      TEXT   NOT NULL,
    request_hash  TEXT   NOT NULL,
    status_code   BIGINT,
    response_body BYTEA,
    created_at    BIGINT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idem_key),
    CONSTRAINT idempotency_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT idempotency_keys_status_check
        CHECK (status_code IS NULL OR (status_code >= 100 AND status_code <= 599))
);
