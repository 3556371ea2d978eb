-- +goose Up
-- Sessions of the web pages (gateway/web): a digest of the session secret,
-- the user, and the personal access token the user signed in with (deleting
-- that token ends its sessions). Kept apart from personal_access_tokens so
-- that no token listing or API check ever has to know about them.
CREATE TABLE web_sessions (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_digest  bytea       NOT NULL UNIQUE,
    source_pat_id bigint      NOT NULL REFERENCES personal_access_tokens (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
-- Session rows the first version of the pages kept as scope-less tokens.
DELETE FROM personal_access_tokens WHERE name = 'pkgate web session' AND cardinality(scopes) = 0;

-- +goose Down
DROP TABLE web_sessions;
