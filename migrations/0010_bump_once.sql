-- +goose Up
-- A publish touches several rows (the package's updated_at, then its new
-- file), and each fired the bump: two counter updates and two NOTIFY calls
-- per upload, where one per transaction is all a reader can observe. The
-- keys bumped so far live in a transaction-local setting, which Postgres
-- resets at commit or rollback.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
DECLARE
    done text := coalesce(current_setting('pkgate.bumped', true), '');
    k    text := ',' || p_project || '/' || p_type || ',';
BEGIN
    IF strpos(done, k) > 0 THEN
        RETURN;
    END IF;
    INSERT INTO package_generations AS g (project_id, package_type) VALUES (p_project, p_type)
    ON CONFLICT (project_id, package_type) DO UPDATE SET generation = g.generation + 1;
    PERFORM pg_notify('pkgate_packages', p_project::text);
    PERFORM set_config('pkgate.bumped', done || k, true);
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
BEGIN
    INSERT INTO package_generations AS g (project_id, package_type) VALUES (p_project, p_type)
    ON CONFLICT (project_id, package_type) DO UPDATE SET generation = g.generation + 1;
    PERFORM pg_notify('pkgate_packages', p_project::text);
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
