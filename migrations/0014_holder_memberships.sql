-- +goose Up
-- The holder of a personal namespace owns every project in it through the
-- namespace (namespaces.owner_id): every access decision gives them Owner
-- from that column, whatever project_members says (meta.ProjectAccess,
-- ProjectLevels, ListProjects, ReadableProjectIDs), and the members API
-- shows that ownership as an Owner membership without a row, as GitLab
-- shows the one it creates with the project. Versions before that could
-- add the holder as a member of such a project as well; the API can no
-- longer update or remove such a row (GitLab forbids it for the holder's
-- membership), and it grants nothing the namespace does not. Deleting it
-- changes no one's access. A project never changes namespace here, so
-- the holder is the same as when the row was made.
DELETE FROM project_members pm
    USING projects p JOIN namespaces n ON n.id = p.namespace_id
    WHERE pm.project_id = p.id AND n.kind = 'user' AND n.owner_id = pm.user_id;

-- +goose Down
-- Nothing to restore: the rows granted nothing.
SELECT 1;
