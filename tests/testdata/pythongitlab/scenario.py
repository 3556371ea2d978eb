"""The CI-style scenario of the spec (7.2), driven by the real python-gitlab.

Environment: GATEWAY_URL, ADMIN_TOKEN, WORK (a scratch directory).
Prints "SCENARIO OK" at the end; any failed assertion raises.
"""
import os
import gitlab
import gitlab.const

url = os.environ["GATEWAY_URL"]
work = os.environ["WORK"]
admin = gitlab.Gitlab(url, private_token=os.environ["ADMIN_TOKEN"])
admin.auth()
assert admin.user.username == "root", admin.user.username

top = admin.groups.create({"name": "Acme", "path": "acme"})
sub = admin.groups.create({"name": "Sub", "path": "sub", "parent_id": top.id})
proj = admin.projects.create({"name": "App", "path": "app", "namespace_id": sub.id})
same = admin.projects.get("acme/sub/app")
assert same.id == proj.id and same.path_with_namespace == "acme/sub/app"
assert admin.groups.get("acme/sub").id == sub.id
assert admin.version()[0] == "17.8.0", admin.version()
assert admin.namespaces.get("acme/sub").id == sub.id
assert [n.full_path for n in admin.namespaces.list(search="sub", get_all=True)] == ["acme/sub"]

user = admin.users.create({"email": "dev@example.com", "username": "dev", "name": "Dev",
                           "password": "s3cret-Passw0rd"})
pat = user.personal_access_tokens.create({"name": "dev", "scopes": ["api"]})
proj.members.create({"user_id": user.id, "access_level": gitlab.const.AccessLevel.MAINTAINER})
assert [m.username for m in proj.members.list(get_all=True)] == ["dev"]
# members_all adds those who are members through a group above: root,
# Owner of acme and acme/sub as their creator, before dev, in the order
# the memberships were made; each at the highest level held.
sub.members.create({"user_id": user.id, "access_level": gitlab.const.AccessLevel.DEVELOPER})
assert [(m.username, m.access_level) for m in proj.members_all.list(get_all=True)] == [("root", 50), ("dev", 40)]
assert [(m.username, m.access_level) for m in sub.members_all.list(get_all=True)] == [("root", 50), ("dev", 30)]
assert [m.username for m in top.members_all.list(get_all=True)] == ["root"]
assert proj.members_all.get(user.id).access_level == gitlab.const.AccessLevel.MAINTAINER
assert sub.members_all.get(admin.user.id).access_level == gitlab.const.AccessLevel.OWNER
try:
    top.members_all.get(user.id)
    raise AssertionError("a member of a subgroup listed above it")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code

# The maintainer manages deploy tokens with their own PAT.
dev = gitlab.Gitlab(url, private_token=pat.token)
dproj = dev.projects.get(proj.id)
dt = dproj.deploytokens.create({"name": "ci", "scopes": ["read_package_registry", "write_package_registry"]})
assert dt.token.startswith("gldt-") and dt.username == "gitlab+deploy-token-%d" % dt.id
ro = dproj.deploytokens.create({"name": "ro", "scopes": ["read_package_registry"], "expires_at": "2099-01-31",
                                "username": "reader"})
assert ro.expires_at == "2099-01-31T00:00:00.000Z" and ro.username == "reader"
gt = top.deploytokens.create({"name": "grp", "scopes": ["read_package_registry"], "username": "", "expires_at": ""})
assert gt.expires_at is None
active = dproj.deploytokens.list(active=True, get_all=True)
assert sorted(t.name for t in active) == ["ci", "ro"], [t.name for t in active]
assert len(admin.deploytokens.list(get_all=True)) == 3

# Packages as a deploy token, through HTTP Basic.
src = os.path.join(work, "tool.bin")
with open(src, "wb") as f:
    f.write(os.urandom(300000))
ci = gitlab.Gitlab(url, http_username=dt.username, http_password=dt.token)
p = ci.projects.get(proj.id, lazy=True)
res = p.generic_packages.upload("tool", "1.2.3", "tool.bin", path=src)
assert res.message == "201 Created", res
reader = gitlab.Gitlab(url, http_username="anything", http_password=ro.token)
data = reader.projects.get(proj.id, lazy=True).generic_packages.download("tool", "1.2.3", "tool.bin")
assert data == open(src, "rb").read()
# The group token of the top-level group reads two levels down.
grp = gitlab.Gitlab(url, http_username=gt.username, http_password=gt.token)
assert grp.projects.get(proj.id, lazy=True).generic_packages.download("tool", "1.2.3", "tool.bin") == data

# A read-only token cannot upload.
try:
    reader.projects.get(proj.id, lazy=True).generic_packages.upload("tool", "1.2.4", "tool.bin", path=src)
    raise AssertionError("read-only upload succeeded")
except gitlab.exceptions.GitlabUploadError as e:
    assert e.response_code == 403, e.response_code

# Many packages to exercise pagination through Link rel="next".
small = os.path.join(work, "f.txt")
with open(small, "w") as f:
    f.write("x")
for i in range(25):
    p.generic_packages.upload("many", "1.%d" % i, "f.txt", path=small)

pkgs = admin.projects.get(proj.id).packages.list(package_type="generic", get_all=True, per_page=10)
assert len(pkgs) == 26, len(pkgs)
tool = [k for k in pkgs if k.name == "tool"][0]
files = tool.package_files.list()
assert len(files) == 1 and len(files[0].file_sha256) == 64
# Deploy tokens are not credentials on the packages API.
try:
    ci.projects.get(proj.id).packages.list()
    raise AssertionError("deploy token listed packages")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code

admin.projects.get(proj.id).packages.delete(tool.id)
try:
    reader.projects.get(proj.id, lazy=True).generic_packages.download("tool", "1.2.3", "tool.bin")
    raise AssertionError("deleted package downloadable")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404

# Deleting a deploy token stops its secret at once.
dproj.deploytokens.delete(dt.id)
try:
    ci.projects.get(proj.id, lazy=True).generic_packages.upload("tool", "9.9.9", "tool.bin", path=src)
    raise AssertionError("deleted token still works")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code

# Editing: python-gitlab's save() sends what changed (PUT /projects/:id,
# PUT /groups/:id); a group cannot go below what is in it.
for g in (admin.groups.get(top.id), admin.groups.get(sub.id)):
    g.visibility = "internal"
    g.save()
proj = admin.projects.get(proj.id)
proj.description = "tools"
proj.visibility = "internal"
proj.save()
assert admin.projects.get(proj.id).visibility == "internal"
sub = admin.groups.get(sub.id)
sub.visibility = "private"
try:
    sub.save()
    raise AssertionError("a group made private over an internal project")
except gitlab.exceptions.GitlabUpdateError as e:
    assert e.response_code == 400 and "higher visibility" in str(e.error_message), (e.response_code, e.error_message)
sub = admin.groups.get(sub.id)
sub.name = "Subteam"
sub.save()
assert admin.projects.get(proj.id).name_with_namespace == "Acme / Subteam / App"

# Blocking a user refuses their tokens; unblocking lets them in again.
u = admin.users.get(user.id)
assert u.block() is True and u.state == "blocked"
try:
    gitlab.Gitlab(url, private_token=pat.token).auth()
    raise AssertionError("a blocked user's token works")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 403 and "blocked" in str(e.error_message), (e.response_code, e.error_message)
assert u.unblock() is True and u.state == "active"
gitlab.Gitlab(url, private_token=pat.token).auth()
# Deleting: a Maintainer may not delete the project, an Owner may (202);
# its packages and tokens go with it at once, and a group takes what is
# in it.
try:
    dev.projects.delete(proj.id)
    raise AssertionError("a Maintainer deleted the project")
except gitlab.exceptions.GitlabDeleteError as e:
    assert e.response_code == 403, e.response_code
admin.projects.get(proj.id).delete()
for client, status in ((reader, 401), (grp, 404)):  # the project's own token went with it
    try:
        client.projects.get(proj.id, lazy=True).generic_packages.download("tool", "1.2.3", "tool.bin")
        raise AssertionError("a deleted project's package downloads")
    except gitlab.exceptions.GitlabError as e:  # 401 is GitlabAuthenticationError
        assert e.response_code == status, (e.response_code, status)
admin.groups.delete(top.id)
for gid in (top.id, sub.id):
    try:
        admin.groups.get(gid)
        raise AssertionError("a deleted group is still there")
    except gitlab.exceptions.GitlabGetError as e:
        assert e.response_code == 404, e.response_code
# Deleting a user (admin): their tokens stop at once.
admin.users.delete(user.id)
try:
    gitlab.Gitlab(url, private_token=pat.token).auth()
    raise AssertionError("a deleted user's token works")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code
print("SCENARIO OK")
