-- +goose Up
-- One counter per project and package type that every change to a package
-- or its files bumps, whatever code path made it (a trigger, so formats
-- cannot forget). Rendered documents (npm packuments, PyPI indexes,
-- maven-metadata.xml) are cached in memory with the counters they were
-- built from; one primary-key read tells any node whether its copy is still
-- current, so caches stay correct across nodes and right after a write on
-- the same node, without rebuilding documents on every request.
--
-- The bump locks the counter row until commit, so publishes of one type in
-- one project commit one after another. Every format takes its advisory
-- locks before it writes package rows, so the lock order is always
-- advisory lock, then counter, and cannot deadlock.
CREATE TABLE package_generations (
    project_id   bigint NOT NULL,
    package_type text   NOT NULL,
    generation   bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (project_id, package_type)
);

-- +goose StatementBegin
CREATE FUNCTION bump_package_generation(p_project bigint, p_type text) RETURNS void AS $$
BEGIN
    INSERT INTO package_generations AS g (project_id, package_type) VALUES (p_project, p_type)
    ON CONFLICT (project_id, package_type) DO UPDATE SET generation = g.generation + 1;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION packages_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_package_generation(OLD.project_id, OLD.package_type);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.project_id, NEW.package_type) IS DISTINCT FROM (OLD.project_id, OLD.package_type)) THEN
        PERFORM bump_package_generation(NEW.project_id, NEW.package_type);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION package_files_changed() RETURNS trigger AS $$
DECLARE
    pkg record;
BEGIN
    SELECT project_id, package_type INTO pkg FROM packages
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.package_id ELSE NEW.package_id END;
    IF FOUND THEN
        PERFORM bump_package_generation(pkg.project_id, pkg.package_type);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER packages_generation AFTER INSERT OR UPDATE OR DELETE ON packages
    FOR EACH ROW EXECUTE FUNCTION packages_changed();
CREATE TRIGGER package_files_generation AFTER INSERT OR UPDATE OR DELETE ON package_files
    FOR EACH ROW EXECUTE FUNCTION package_files_changed();

-- +goose Down
DROP TRIGGER package_files_generation ON package_files;
DROP TRIGGER packages_generation ON packages;
DROP FUNCTION package_files_changed();
DROP FUNCTION packages_changed();
DROP FUNCTION bump_package_generation(bigint, text);
DROP TABLE package_generations;
