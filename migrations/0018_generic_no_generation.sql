-- +goose Up
-- The package generation exists for the document caches (packuments,
-- simple indexes, maven-metadata.xml; formats.DocCache), and generic
-- packages have no document: nothing ever reads their counter. Bumping it
-- was a row update (and its WAL) in every generic publish and delete, and
-- on small uploads, where the one publish statement is most of what
-- Postgres does, that update was about a quarter of the statement's cost
-- (pgbench, 16 clients: 0.35-0.48 ms with it, 0.25-0.27 without). The
-- rule names the type that is skipped rather than those that are kept,
-- so that a format added later with a cached document is never left with
-- a counter that does not move.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
DECLARE
    done text;
    k    text;
BEGIN
    IF p_type = 'generic' THEN
        RETURN;
    END IF;
    done := coalesce(current_setting('pkgate.bumped', true), '');
    k := ',' || p_project || '/' || p_type || ',';
    IF strpos(done, k) > 0 THEN
        RETURN;
    END IF;
    INSERT INTO package_generations AS g (project_id, package_type, stripe)
    VALUES (p_project, p_type, pg_backend_pid() % 16)
    ON CONFLICT (project_id, package_type, stripe) DO UPDATE SET generation = g.generation + 1;
    PERFORM set_config('pkgate.bumped', done || k, true);
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DELETE FROM package_generations WHERE package_type = 'generic';

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
DECLARE
    done text := coalesce(current_setting('pkgate.bumped', true), '');
    k    text := ',' || p_project || '/' || p_type || ',';
BEGIN
    IF strpos(done, k) > 0 THEN
        RETURN;
    END IF;
    INSERT INTO package_generations AS g (project_id, package_type, stripe)
    VALUES (p_project, p_type, pg_backend_pid() % 16)
    ON CONFLICT (project_id, package_type, stripe) DO UPDATE SET generation = g.generation + 1;
    PERFORM set_config('pkgate.bumped', done || k, true);
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
