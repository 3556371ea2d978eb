-- +goose Up
-- npm dist-tags ("latest", "beta", ...): a name per (project, package name)
-- pointing at one version's package row. Deleting a version (unpublish, the
-- packages REST API) removes its tags through the cascade, and the
-- packument then falls back to the highest version for "latest".
CREATE TABLE npm_dist_tags (
    project_id   bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    package_name text        NOT NULL,
    tag          text        NOT NULL,
    package_id   bigint      NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, package_name, tag)
);
CREATE INDEX npm_dist_tags_package ON npm_dist_tags (package_id);

-- +goose Down
DROP TABLE npm_dist_tags;
