-- Payments (issue 7), SQLite dialect; migrations/postgres/0002_payments.sql is the same
-- change in PostgreSQL's dialect. Same constraint names on both. Never edit 0001.

-- Reconciliation claims: a worker sets claimed_until in the claiming UPDATE, so concurrent
-- workers never query WeChat for the same row at once; an expired claim (a crashed worker)
-- is simply claimable again. NULL: not claimed.
ALTER TABLE orders ADD COLUMN claimed_until INTEGER;
ALTER TABLE refunds ADD COLUMN claimed_until INTEGER;
-- The worker scans PENDING orders by age and CREATED/PENDING ones by expiry.
CREATE INDEX orders_reconcile_idx ON orders (state, updated_at);
CREATE INDEX orders_expires_at_idx ON orders (expires_at);
CREATE INDEX refunds_reconcile_idx ON refunds (state, updated_at);

-- The order an event is about (NULL: none). Not a foreign key: SQLite cannot add a composite
-- (tenant_id, order_id) reference to an existing table, and the two schemas must mean the same.
ALTER TABLE events ADD COLUMN order_id TEXT;
CREATE INDEX events_order_idx ON events (tenant_id, order_id);

-- Idempotency-Key claims of the tenant API. A row is inserted before the request runs
-- (status_code NULL: in progress) and completed with the response to replay. request_hash is
-- the SHA-256 (hex) of the request, to refuse a key reused for another request.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT    NOT NULL,
    idem_key      TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    status_code   INTEGER,
    response_body BLOB,
    created_at    INTEGER NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idem_key),
    CONSTRAINT idempotency_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT idempotency_keys_status_check
        CHECK (status_code IS NULL OR (status_code >= 100 AND status_code <= 599))
) STRICT;
