"""Personal access tokens through the real python-gitlab: list, get (by id
and "self"), delete by id, "self" and through the object.

Environment: GATEWAY_URL, ADMIN_TOKEN. Prints "PATS OK" at the end; any
failed assertion raises.
"""
import os
import gitlab
from gitlab.mixins import GetMixin

url = os.environ["GATEWAY_URL"]
admin = gitlab.Gitlab(url, private_token=os.environ["ADMIN_TOKEN"])
admin.auth()

user = admin.users.create({"email": "pat@example.com", "username": "pat", "name": "Pat",
                           "password": "s3cret-Passw0rd"})
one = user.personal_access_tokens.create({"name": "one", "scopes": ["api"]})
two = user.personal_access_tokens.create({"name": "two", "scopes": ["read_api"], "expires_at": "2099-01-31"})
three = user.personal_access_tokens.create({"name": "three", "scopes": ["read_user"]})
other = admin.users.create({"email": "other@example.com", "username": "other", "name": "Other",
                            "password": "s3cret-Passw0rd"})
theirs = other.personal_access_tokens.create({"name": "theirs", "scopes": ["api"]})

gl = gitlab.Gitlab(url, private_token=one.token)


def manager(client):
    """python-gitlab 4+ gets tokens (RetrieveMixin); 3.x, Debian's, only
    lists and deletes: give it the GetMixin newer releases have."""
    m = client.personal_access_tokens
    if hasattr(m, "get"):
        return m

    class Manager(GetMixin, type(m)):
        pass

    return Manager(client)


# A user lists their own tokens; no secret is ever listed.
mine = gl.personal_access_tokens.list(get_all=True)
assert sorted(t.name for t in mine) == ["one", "three", "two"], [t.name for t in mine]
assert all("token" not in t.attributes for t in mine)
assert all(t.user_id == user.id for t in mine)
# An admin lists everybody's, following Link rel="next", or one user's.
everyone = admin.personal_access_tokens.list(get_all=True, per_page=2)
assert len(everyone) == 5, len(everyone)
assert sorted(t.name for t in admin.personal_access_tokens.list(user_id=other.id, get_all=True)) == ["theirs"]
try:
    gl.personal_access_tokens.list(user_id=other.id)
    raise AssertionError("listed another user's tokens")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code

mgr = manager(gl)
me = mgr.get("self")
assert me.id == one.id and me.name == "one" and me.active and me.scopes == ["api"], me.attributes
got = mgr.get(two.id)
assert got.expires_at == "2099-01-31" and got.scopes == ["read_api"], got.attributes
assert "token" not in got.attributes
try:
    mgr.get(theirs.id)
    raise AssertionError("read another user's token")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code
# Only admins learn that a token does not exist.
try:
    manager(admin).get(999999)
    raise AssertionError("got a missing token")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code

# Revoke by id: the token stops working at once.
gl.personal_access_tokens.delete(two.id)
ro = gitlab.Gitlab(url, private_token=two.token)
try:
    ro.auth()
    raise AssertionError("revoked token still works")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code
assert mgr.get(two.id).revoked is True
# Someone else's token cannot be revoked.
try:
    gl.personal_access_tokens.delete(theirs.id)
    raise AssertionError("revoked another user's token")
except gitlab.exceptions.GitlabDeleteError as e:
    assert e.response_code == 400, e.response_code

# Revoke "self" with a token of no API scope.
gitlab.Gitlab(url, private_token=three.token).personal_access_tokens.delete("self")
assert manager(admin).get(three.id).revoked is True

# Revoke through the object (an admin revoking another user's token).
[obj] = [t for t in admin.personal_access_tokens.list(user_id=other.id, get_all=True)]
obj.delete()
try:
    gitlab.Gitlab(url, private_token=theirs.token).auth()
    raise AssertionError("revoked token still works")
except gitlab.exceptions.GitlabAuthenticationError as e:
    assert e.response_code == 401, e.response_code
active = admin.personal_access_tokens.list(get_all=True)
assert sorted(t.name for t in active if t.active) == ["admin", "one"], [(t.name, t.active) for t in active]
print("PATS OK")
