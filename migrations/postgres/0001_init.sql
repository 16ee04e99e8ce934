-- paygate schema, PostgreSQL dialect. migrations/sqlite/0001_init.sql is the same schema in
-- SQLite's dialect: same tables, columns, constraint names and meanings. Change both together.
--
-- Conventions (why):
-- * Times are BIGINT milliseconds since the Unix epoch, UTC: one total order, no time-zone or
--   precision drift between the two backends.
-- * Ids are TEXT platform ids (`ten_01J…`) whose text order is creation order, so keyset
--   pagination is `ORDER BY id DESC` and the primary key index serves it.
-- * Money is BIGINT fen.
-- * Every tenant-owned table carries tenant_id, and child rows reference their parent through
--   (tenant_id, parent_id): a row can never point at another tenant's parent, whatever the
--   application code does.
-- * Secrets are BYTEA ciphertexts (see crates/store/src/envelope.rs); the database never holds
--   a plaintext secret or the master key, only its fingerprint (meta).
-- * Constraint names are spelled out because the API reports them on conflicts
--   (StoreError::Conflict), and must be identical on both backends.

-- Instance-wide facts, e.g. the master key fingerprint.
CREATE TABLE meta (
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT meta_pkey PRIMARY KEY (key)
);

-- People who run paygate (admin API). password_hash is an argon2id PHC string.
CREATE TABLE operators (
    id            TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped on disable and role change; tokens carry it, so old tokens die at once.
    token_version BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    CONSTRAINT operators_pkey PRIMARY KEY (id),
    CONSTRAINT operators_username_key UNIQUE (username),
    CONSTRAINT operators_role_check CHECK (role IN ('admin', 'viewer'))
);

-- Merchant businesses. wrapped_data_key is the tenant's data key sealed by the master key
-- whose version is master_key_version.
CREATE TABLE tenants (
    id                 TEXT   NOT NULL,
    name               TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    contact_email      TEXT,
    default_channel_id TEXT,
    wrapped_data_key   BYTEA  NOT NULL,
    master_key_version BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))
    -- tenants_default_channel_fkey is added after channels exists (below).
);

-- Mini-programs. An appid belongs to one tenant platform-wide: logins arrive by appid alone.
CREATE TABLE apps (
    appid      TEXT   NOT NULL,
    tenant_id  TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    secret     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT apps_appid_key PRIMARY KEY (appid),
    CONSTRAINT apps_tenant_appid_key UNIQUE (tenant_id, appid),
    CONSTRAINT apps_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- Payment channels: one WeChat Pay merchant account of one tenant. Disabled, never deleted:
-- orders and notifications keep pointing at them.
CREATE TABLE channels (
    id              TEXT   NOT NULL,
    tenant_id       TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    mch_id          TEXT   NOT NULL,
    name            TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT channels_pkey PRIMARY KEY (id),
    CONSTRAINT channels_tenant_kind_mch_key UNIQUE (tenant_id, kind, mch_id),
    -- Target of the (tenant_id, channel_id) references below.
    CONSTRAINT channels_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT channels_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT channels_kind_check CHECK (kind IN ('wechat-v2', 'wechat-v3')),
    CONSTRAINT channels_status_check CHECK (status IN ('active', 'disabled'))
);

-- A tenant's default channel must be one of its own (NULL: none).
ALTER TABLE tenants ADD CONSTRAINT tenants_default_channel_fkey
    FOREIGN KEY (id, default_channel_id) REFERENCES channels (tenant_id, id);

-- Versions of a channel's credentials document (encrypted JSON). Old versions stay until
-- retired so notifications signed with a previous key still verify during a rollover.
CREATE TABLE channel_credentials (
    tenant_id             TEXT   NOT NULL,
    channel_id            TEXT   NOT NULL,
    version               BIGINT NOT NULL,
    document              BYTEA  NOT NULL,
    merchant_serial       TEXT,
    certificate_not_after BIGINT,
    appid                 TEXT,
    created_at            BIGINT NOT NULL,
    retired_at            BIGINT,
    CONSTRAINT channel_credentials_pkey PRIMARY KEY (channel_id, version),
    CONSTRAINT channel_credentials_channel_fkey FOREIGN KEY (tenant_id, channel_id)
        REFERENCES channels (tenant_id, id),
    CONSTRAINT channel_credentials_version_check CHECK (version >= 1)
);

-- Tenant API keys: only a SHA-256 digest of the secret is kept; prefix is for display.
CREATE TABLE api_keys (
    id           TEXT   NOT NULL,
    tenant_id    TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    prefix       TEXT   NOT NULL,
    digest       TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_digest_key UNIQUE (digest),
    CONSTRAINT api_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, id);

-- One webhook endpoint per tenant; signing_secret is encrypted.
CREATE TABLE webhook_endpoints (
    tenant_id      TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    signing_secret BYTEA   NOT NULL,
    paused         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT webhook_endpoints_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- Mini-program users (openid is per appid). session_key is encrypted.
CREATE TABLE users (
    tenant_id   TEXT   NOT NULL,
    appid       TEXT   NOT NULL,
    openid      TEXT   NOT NULL,
    unionid     TEXT,
    session_key BYTEA,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT users_appid_openid_key PRIMARY KEY (appid, openid),
    CONSTRAINT users_app_fkey FOREIGN KEY (tenant_id, appid) REFERENCES apps (tenant_id, appid)
);

CREATE TABLE orders (
    id                TEXT   NOT NULL,
    tenant_id         TEXT   NOT NULL,
    appid             TEXT   NOT NULL,
    channel_id        TEXT   NOT NULL,
    out_trade_no      TEXT   NOT NULL,
    amount            BIGINT NOT NULL,
    currency          TEXT   NOT NULL DEFAULT 'CNY',
    description       TEXT   NOT NULL,
    attach            TEXT,
    trade_type        TEXT   NOT NULL,
    state             TEXT   NOT NULL,
    payer_openid      TEXT,
    prepay_id         TEXT,
    prepay_expires_at BIGINT,
    code_url          TEXT,
    transaction_id    TEXT,
    client_ip         TEXT,
    expires_at        BIGINT,
    paid_at           BIGINT,
    refunded_amount   BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_tenant_out_trade_no_key UNIQUE (tenant_id, out_trade_no),
    CONSTRAINT orders_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT orders_app_fkey FOREIGN KEY (tenant_id, appid) REFERENCES apps (tenant_id, appid),
    CONSTRAINT orders_channel_fkey FOREIGN KEY (tenant_id, channel_id)
        REFERENCES channels (tenant_id, id),
    CONSTRAINT orders_amount_check CHECK (amount > 0),
    CONSTRAINT orders_refunded_amount_check CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    CONSTRAINT orders_trade_type_check CHECK (trade_type IN ('JSAPI', 'NATIVE')),
    CONSTRAINT orders_state_check CHECK (state IN ('CREATED', 'PENDING', 'PAID', 'CLOSED',
        'PAY_ERROR', 'PARTIALLY_REFUNDED', 'REFUNDED'))
);
-- The admin list filters by state within a tenant, newest first.
CREATE INDEX orders_tenant_state_idx ON orders (tenant_id, state, id);
-- Stats bucket by creation and payment time, optionally across all tenants.
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_paid_at_idx ON orders (paid_at);

-- Every applied order transition, in order (the order's history).
CREATE TABLE order_transitions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id  TEXT   NOT NULL,
    order_id   TEXT   NOT NULL,
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL,
    cause      TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    CONSTRAINT order_transitions_pkey PRIMARY KEY (id),
    CONSTRAINT order_transitions_order_fkey FOREIGN KEY (tenant_id, order_id)
        REFERENCES orders (tenant_id, id)
);
CREATE INDEX order_transitions_order_idx ON order_transitions (order_id, id);

CREATE TABLE refunds (
    id            TEXT   NOT NULL,
    tenant_id     TEXT   NOT NULL,
    order_id      TEXT   NOT NULL,
    out_refund_no TEXT   NOT NULL,
    amount        BIGINT NOT NULL,
    reason        TEXT,
    state         TEXT   NOT NULL,
    refund_id     TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    succeeded_at  BIGINT,
    CONSTRAINT refunds_pkey PRIMARY KEY (id),
    CONSTRAINT refunds_tenant_out_refund_no_key UNIQUE (tenant_id, out_refund_no),
    CONSTRAINT refunds_order_fkey FOREIGN KEY (tenant_id, order_id)
        REFERENCES orders (tenant_id, id),
    CONSTRAINT refunds_amount_check CHECK (amount > 0),
    CONSTRAINT refunds_state_check CHECK (state IN ('PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED'))
);
CREATE INDEX refunds_tenant_idx ON refunds (tenant_id, id);
CREATE INDEX refunds_order_idx ON refunds (order_id);
CREATE INDEX refunds_succeeded_at_idx ON refunds (succeeded_at);

-- Notifications from WeChat as received. The dedupe key makes a repeated notification
-- (WeChat retries until acknowledged) a conflict instead of a second state change.
CREATE TABLE notifications (
    id          TEXT    NOT NULL,
    tenant_id   TEXT    NOT NULL,
    channel_id  TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    dedupe_key  TEXT    NOT NULL,
    verified    BOOLEAN NOT NULL,
    outcome     TEXT    NOT NULL,
    raw_body    BYTEA   NOT NULL,
    received_at BIGINT  NOT NULL,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_dedupe_key UNIQUE (channel_id, kind, dedupe_key),
    CONSTRAINT notifications_channel_fkey FOREIGN KEY (tenant_id, channel_id)
        REFERENCES channels (tenant_id, id),
    CONSTRAINT notifications_kind_check CHECK (kind IN ('payment', 'refund'))
);
CREATE INDEX notifications_tenant_idx ON notifications (tenant_id, id);

-- The webhook outbox: domain events for the tenant (payload is JSON text).
CREATE TABLE events (
    id         TEXT   NOT NULL,
    tenant_id  TEXT   NOT NULL,
    event_type TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT events_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- One row per delivery attempt of an event.
CREATE TABLE webhook_deliveries (
    id              TEXT   NOT NULL,
    tenant_id       TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    attempt         BIGINT NOT NULL,
    status          TEXT   NOT NULL,
    response_status BIGINT,
    error           TEXT,
    next_attempt_at BIGINT,
    created_at      BIGINT NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (tenant_id, event_id)
        REFERENCES events (tenant_id, id),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))
);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
-- The delivery worker (issue 8) picks due attempts.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_created_at_idx ON webhook_deliveries (created_at);

-- Things an operator must look at (tenant_id NULL: platform-wide). details is JSON text.
CREATE TABLE alerts (
    id          TEXT   NOT NULL,
    tenant_id   TEXT,
    kind        TEXT   NOT NULL,
    severity    TEXT   NOT NULL,
    message     TEXT   NOT NULL,
    details     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    CONSTRAINT alerts_pkey PRIMARY KEY (id),
    CONSTRAINT alerts_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'critical'))
);
CREATE INDEX alerts_tenant_idx ON alerts (tenant_id, id);

-- Who changed what: one row per write, in the write's own transaction. summary is JSON text
-- and never holds a secret.
CREATE TABLE audit_log (
    id         TEXT   NOT NULL,
    tenant_id  TEXT,
    actor      TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    summary    TEXT   NOT NULL,
    request_id TEXT,
    at         BIGINT NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
