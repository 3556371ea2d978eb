-- +goose Up
-- The generation bump (0006-0010) ran as soon as a row changed, so the
-- counter row of (project, type) stayed locked until the transaction
-- ended: every concurrent publish to a project waited, one after another,
-- across the client round trips left in the other's transaction (its file
-- insert, then its COMMIT). Deferred to commit time, the bump holds that
-- lock for the commit alone. Readers cannot tell the difference: other
-- sessions see the rows and the new generation at the same commit.
--
-- A download records last_downloaded_at (at most once a minute per
-- package); that column is in no cached document, and bumping for it threw
-- away every cached packument, index and lookup of the project, on every
-- node, as often as packages were downloaded. The WHEN clause skips it.
DROP TRIGGER packages_generation ON packages;
DROP TRIGGER package_files_generation ON package_files;
DROP TRIGGER npm_dist_tags_generation ON npm_dist_tags;

CREATE CONSTRAINT TRIGGER packages_generation AFTER INSERT OR DELETE ON packages
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION packages_changed();
CREATE CONSTRAINT TRIGGER packages_generation_update AFTER UPDATE ON packages
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.project_id, OLD.package_type, OLD.name, OLD.version, OLD.status, OLD.metadata, OLD.created_at, OLD.updated_at)
        IS DISTINCT FROM (NEW.project_id, NEW.package_type, NEW.name, NEW.version, NEW.status, NEW.metadata, NEW.created_at, NEW.updated_at))
    EXECUTE FUNCTION packages_changed();
CREATE CONSTRAINT TRIGGER package_files_generation AFTER INSERT OR UPDATE OR DELETE ON package_files
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION package_files_changed();
CREATE CONSTRAINT TRIGGER npm_dist_tags_generation AFTER INSERT OR UPDATE OR DELETE ON npm_dist_tags
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION npm_dist_tags_changed();

-- +goose Down
DROP TRIGGER packages_generation ON packages;
DROP TRIGGER packages_generation_update ON packages;
DROP TRIGGER package_files_generation ON package_files;
DROP TRIGGER npm_dist_tags_generation ON npm_dist_tags;
CREATE TRIGGER packages_generation AFTER INSERT OR UPDATE OR DELETE ON packages
    FOR EACH ROW EXECUTE FUNCTION packages_changed();
CREATE TRIGGER package_files_generation AFTER INSERT OR UPDATE OR DELETE ON package_files
    FOR EACH ROW EXECUTE FUNCTION package_files_changed();
CREATE TRIGGER npm_dist_tags_generation AFTER INSERT OR UPDATE OR DELETE ON npm_dist_tags
    FOR EACH ROW EXECUTE FUNCTION npm_dist_tags_changed();
