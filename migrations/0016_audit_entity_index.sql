-- +goose NO TRANSACTION
-- +goose Up
-- The group and project audit lists, and the admin list's entity_type and
-- entity_id filters, select one entity's events newest first. Built
-- CONCURRENTLY (so outside a transaction): every upload writes an audit
-- row, and a plain CREATE INDEX would hold them all up until it was done.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_events_entity ON audit_events (target_type, target_id, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit_events_entity;
