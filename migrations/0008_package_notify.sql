-- +goose Up
-- Every package change also notifies listening gateway nodes, which drop
-- their short-lived file-lookup caches (storage/meta/lookups.go).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
BEGIN
    INSERT INTO package_generations AS g (project_id, package_type) VALUES (p_project, p_type)
    ON CONFLICT (project_id, package_type) DO UPDATE SET generation = g.generation + 1;
    PERFORM pg_notify('pkgate_packages', p_project::text);
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
BEGIN
    INSERT INTO package_generations AS g (project_id, package_type) VALUES (p_project, p_type)
    ON CONFLICT (project_id, package_type) DO UPDATE SET generation = g.generation + 1;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
