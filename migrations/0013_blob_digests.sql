-- +goose NO TRANSACTION
-- +goose Up
-- Generic uploads larger than one part leave md5 and sha1 empty, and the
-- digest backfill (storage/registry, RunBackfill) computes them from the
-- stored object afterwards; this is how it finds them without reading the
-- whole table. Rows leave the index once filled. Built CONCURRENTLY (so
-- outside a transaction): on a registry with many blobs a plain CREATE
-- INDEX would hold up every upload until it was done.
CREATE INDEX CONCURRENTLY IF NOT EXISTS blobs_lacking_digests ON blobs (created_at, sha256) WHERE md5 = '' OR sha1 = '';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS blobs_lacking_digests;
