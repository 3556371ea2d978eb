-- +goose Up
-- Identity: users and their personal access tokens.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text        NOT NULL,
    email         text        NOT NULL,
    name          text        NOT NULL,
    password_hash text        NOT NULL DEFAULT '',
    is_admin      boolean     NOT NULL DEFAULT false,
    state         text        NOT NULL DEFAULT 'active',
    can_create_group boolean  NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE personal_access_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    token_digest bytea       NOT NULL UNIQUE,
    scopes       text[]      NOT NULL,
    expires_at   date,
    revoked      boolean     NOT NULL DEFAULT false,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id);

-- Namespaces hold projects. Groups (nested) and personal namespaces share one
-- id sequence and one path space at each level, as in GitLab. traversal_ids is
-- the ancestor chain including the namespace itself: a group deploy token
-- reaches a project when its group id is in the project's traversal_ids.
CREATE TABLE namespaces (
    id            bigserial PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('group', 'user')),
    name          text        NOT NULL,
    path          text        NOT NULL,
    full_path     text        NOT NULL,
    full_name     text        NOT NULL,
    parent_id     bigint      REFERENCES namespaces (id),
    owner_id      bigint      REFERENCES users (id) ON DELETE CASCADE,
    traversal_ids bigint[]    NOT NULL DEFAULT '{}',
    visibility    text        NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'internal', 'public')),
    description   text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX namespaces_full_path_key ON namespaces (lower(full_path));
CREATE UNIQUE INDEX namespaces_owner_key ON namespaces (owner_id) WHERE kind = 'user';
CREATE INDEX namespaces_traversal ON namespaces USING gin (traversal_ids);

CREATE TABLE projects (
    id               bigserial PRIMARY KEY,
    namespace_id     bigint      NOT NULL REFERENCES namespaces (id),
    name             text        NOT NULL,
    path             text        NOT NULL,
    visibility       text        NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'internal', 'public')),
    packages_enabled boolean     NOT NULL DEFAULT true,
    description      text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX projects_path_key ON projects (namespace_id, lower(path));

CREATE TABLE group_members (
    namespace_id bigint      NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level int         NOT NULL,
    expires_at   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE project_members (
    project_id   bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level int         NOT NULL,
    expires_at   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

-- Deploy tokens: exactly one holder, a project or a group. Only a digest of
-- the secret is stored.
CREATE TABLE deploy_tokens (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    username     text,
    token_digest bytea       NOT NULL UNIQUE,
    scopes       text[]      NOT NULL,
    expires_at   timestamptz,
    revoked      boolean     NOT NULL DEFAULT false,
    project_id   bigint      REFERENCES projects (id) ON DELETE CASCADE,
    group_id     bigint      REFERENCES namespaces (id) ON DELETE CASCADE,
    creator_id   bigint      REFERENCES users (id) ON DELETE SET NULL,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((project_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX deploy_tokens_project ON deploy_tokens (project_id);
CREATE INDEX deploy_tokens_group ON deploy_tokens (group_id);

-- Blobs are content-addressed by sha256; storage_key says where the bytes
-- live in the blob store (see storage/registry for why the key is not the
-- digest itself).
CREATE TABLE blobs (
    sha256      text        PRIMARY KEY,
    size        bigint      NOT NULL,
    md5         text        NOT NULL,
    sha1        text        NOT NULL,
    sha512      text,
    storage_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE packages (
    id                 bigserial PRIMARY KEY,
    project_id         bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    package_type       text        NOT NULL,
    name               text        NOT NULL,
    version            text,
    status             text        NOT NULL DEFAULT 'default',
    metadata           jsonb       NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_downloaded_at timestamptz
);
-- The constraint, not a select, decides concurrent first publishes.
CREATE UNIQUE INDEX packages_identity_key ON packages (project_id, package_type, name, coalesce(version, ''))
    WHERE status <> 'pending_destruction';
CREATE INDEX packages_type_name ON packages (package_type, name);

CREATE TABLE package_files (
    id          bigserial PRIMARY KEY,
    package_id  bigint      NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    file_name   text        NOT NULL,
    blob_sha256 text        NOT NULL REFERENCES blobs (sha256),
    size        bigint      NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX package_files_lookup ON package_files (package_id, file_name, id DESC);
CREATE INDEX package_files_blob ON package_files (blob_sha256);

-- +goose Down
DROP TABLE package_files;
DROP TABLE packages;
DROP TABLE blobs;
DROP TABLE deploy_tokens;
DROP TABLE project_members;
DROP TABLE group_members;
DROP TABLE projects;
DROP TABLE namespaces;
DROP TABLE personal_access_tokens;
DROP TABLE users;
