-- +goose Up
-- Deploy-token and personal-access-token events used to be recorded with
-- an empty entity path; GitLab's audit events carry the full path of the
-- project or group, or the username, and so do the new ones. This fills
-- the old ones from the current paths (projects and groups are never moved
-- or renamed here, so these are the paths they had). Only these actions
-- were recorded without a path, and the action index finds them without
-- reading the package events.
UPDATE audit_events a SET target_path = n.full_path || '/' || p.path
    FROM projects p JOIN namespaces n ON n.id = p.namespace_id
    WHERE a.action IN ('deploy_token.create', 'deploy_token.revoke', 'deploy_token.delete')
      AND a.target_path = '' AND a.target_type = 'project' AND a.target_id = p.id;
UPDATE audit_events a SET target_path = n.full_path
    FROM namespaces n
    WHERE a.action IN ('deploy_token.create', 'deploy_token.revoke', 'deploy_token.delete')
      AND a.target_path = '' AND a.target_type = 'group' AND a.target_id = n.id;
UPDATE audit_events a SET target_path = u.username
    FROM users u
    WHERE a.action IN ('personal_access_token.create', 'personal_access_token.revoke')
      AND a.target_path = '' AND a.target_type = 'user' AND a.target_id = u.id;

-- +goose Down
-- The paths are right for the older code too.
SELECT 1;
