-- +goose Up
-- The addresses a personal access token was last used from, as GitLab
-- keeps them (gitlabhq app/models/authn/personal_access_token_last_used_ip.rb,
-- table personal_access_token_last_used_ips): a row per address, the five
-- first seen most recently kept (meta.TouchPAT trims the rest). A new
-- table, so nodes still running the previous release, which never read or
-- write it, work on unchanged; their token deletions drop its rows through
-- the cascade. The unique key makes a second node recording the same
-- address a no-op and serves every lookup by token.
CREATE TABLE personal_access_token_last_used_ips (
    id                       bigserial   PRIMARY KEY,
    personal_access_token_id bigint      NOT NULL REFERENCES personal_access_tokens (id) ON DELETE CASCADE,
    ip_address               inet        NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (personal_access_token_id, ip_address)
);

-- +goose Down
DROP TABLE personal_access_token_last_used_ips;
