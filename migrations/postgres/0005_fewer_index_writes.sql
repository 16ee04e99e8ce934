-- Fewer index writes per payment, PostgreSQL dialect; migrations/sqlite/0005_fewer_index_writes.sql
-- is the same change in the other dialect. Never edit 0001–0004.

-- Since 0004 the worker schedules deliveries on events (events_delivery_due_idx); nothing reads
-- webhook_deliveries by status and due time, yet every attempt wrote this index.
DROP INDEX webhook_deliveries_due_idx;

-- Only paid orders are counted by payment time (stats: paid_at >= $1 AND paid_at < $2, which
-- implies NOT NULL, so both planners use the partial index). A new order no longer writes an
-- entry for its NULL paid_at, to delete it again when it is paid.
DROP INDEX orders_paid_at_idx;
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
