-- +goose Up
-- The token a personal access token was rotated from, as GitLab keeps it
-- (gitlabhq app/models/personal_access_token.rb, belongs_to
-- :previous_personal_access_token): the chain of rotations is a token's
-- family, whose live member meta.RevokePATFamily revokes when a rotated
-- (so revoked) token is presented to rotate again. Nullable and only ever
-- written by rotation, so nodes still running the previous release work on
-- unchanged; deleting a token (with its user) leaves its successor
-- unchained rather than deleted. The index serves the walk from a token to
-- its successors.
ALTER TABLE personal_access_tokens
    ADD COLUMN previous_personal_access_token_id bigint REFERENCES personal_access_tokens (id) ON DELETE SET NULL;
CREATE INDEX personal_access_tokens_previous ON personal_access_tokens (previous_personal_access_token_id)
    WHERE previous_personal_access_token_id IS NOT NULL;

-- +goose Down
ALTER TABLE personal_access_tokens DROP COLUMN previous_personal_access_token_id;
