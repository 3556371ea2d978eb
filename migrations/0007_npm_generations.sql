-- +goose Up
-- npm dist-tags are part of the packument: changing one must invalidate
-- cached packuments like any package change (see 0006).
-- +goose StatementBegin
CREATE FUNCTION npm_dist_tags_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_package_generation(OLD.project_id, 'npm');
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id) THEN
        PERFORM bump_package_generation(NEW.project_id, 'npm');
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER npm_dist_tags_generation AFTER INSERT OR UPDATE OR DELETE ON npm_dist_tags
    FOR EACH ROW EXECUTE FUNCTION npm_dist_tags_changed();

-- +goose Down
DROP TRIGGER npm_dist_tags_generation ON npm_dist_tags;
DROP FUNCTION npm_dist_tags_changed();
