-- +goose Up
-- PyPI looks packages up by PEP 503 normalised name (simple project pages,
-- and every upload deciding which release a file joins). The expression is
-- spelled exactly as in storage/meta/pypi.go so the planner matches it.
CREATE INDEX packages_pypi_normalized_name ON packages (project_id, (lower(regexp_replace(name, '[-_.]+', '-', 'g'))))
    WHERE package_type = 'pypi';

-- +goose Down
DROP INDEX packages_pypi_normalized_name;
