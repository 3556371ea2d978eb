-- +goose Up
-- When the digest backfill reads an object back and finds bytes that are
-- not its row's (another sha256 or size), it records when, here, instead
-- of leaving every node to read the object again each hour: the backfill
-- skips such a row, downloads of its files are refused (503) rather than
-- served corrupt, and an upload of the same bytes points the row at its
-- own object and clears the mark. NULL: not known to be damaged. A column
-- without a default is added without rewriting the table.
ALTER TABLE blobs ADD COLUMN damaged_at timestamptz;

-- +goose Down
ALTER TABLE blobs DROP COLUMN damaged_at;
