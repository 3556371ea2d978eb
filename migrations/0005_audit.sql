-- +goose Up
-- Who did what, when, from where. Secrets never enter this table: events
-- name tokens by id and username only.
CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor_type  text        NOT NULL,
    actor_id    bigint,
    actor_name  text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    target_type text        NOT NULL DEFAULT '',
    target_id   bigint,
    target_path text        NOT NULL DEFAULT '',
    ip          text        NOT NULL DEFAULT '',
    details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- +goose Down
DROP TABLE audit_events;
