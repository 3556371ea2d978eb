"""Personal access token rotation through the real python-gitlab: the
manager's rotate(id) and rotate("self"), and the object's rotate().

python-gitlab 4 has RotateMixin and ObjectRotateMixin; 3.x, Debian's, has
neither, so they are given here making the same requests (POST
<path>/<id>/rotate with expires_at only when given, the object updated
from the answer).

Environment: GATEWAY_URL, ADMIN_TOKEN. Prints "ROTATE OK" at the end; any
failed assertion raises.
"""
import datetime
import os

import gitlab
from gitlab import exceptions as exc
from gitlab import utils

url = os.environ["GATEWAY_URL"]
admin = gitlab.Gitlab(url, private_token=os.environ["ADMIN_TOKEN"])
admin.auth()
# python-gitlab 4 raises GitlabRotateError; 3.x has no such class.
ROTATE_ERROR = getattr(exc, "GitlabRotateError", exc.GitlabUpdateError)


class RotateMixin:
    @exc.on_http_error(ROTATE_ERROR)
    def rotate(self, id, expires_at=None, **kwargs):
        path = f"{self.path}/{utils.EncodedId(id)}/rotate"
        data = {} if expires_at is None else {"expires_at": expires_at}
        return self.gitlab.http_post(path, post_data=data, **kwargs)


class ObjectRotateMixin:
    def rotate(self, **kwargs):
        server_data = self.manager.rotate(self.encoded_id, **kwargs)
        self._update_attrs(server_data)
        return server_data


def manager(client):
    m = client.personal_access_tokens
    if hasattr(m, "rotate"):
        return m
    obj_cls = m._obj_cls
    if not hasattr(obj_cls, "rotate"):
        obj_cls = type(obj_cls.__name__, (ObjectRotateMixin, obj_cls), {})

    class Manager(RotateMixin, type(m)):
        _obj_cls = obj_cls

    return Manager(client)


def refused(token):
    try:
        gitlab.Gitlab(url, private_token=token).auth()
    except gitlab.exceptions.GitlabAuthenticationError as e:
        assert e.response_code == 401, e.response_code
        return
    raise AssertionError("rotated token still works")


today = datetime.datetime.now(datetime.timezone.utc).date()
week = (today + datetime.timedelta(days=7)).isoformat()

user = admin.users.create({"email": "rot@example.com", "username": "rot", "name": "Rot",
                           "password": "s3cret-Passw0rd"})
main = user.personal_access_tokens.create({"name": "main", "scopes": ["api"]})
ci = user.personal_access_tokens.create({"name": "ci", "scopes": ["api", "read_user"]})
bot = user.personal_access_tokens.create({"name": "bot", "scopes": ["read_api", "self_rotate"]})
gl = gitlab.Gitlab(url, private_token=main.token)

# By id: the new token keeps name and scopes, expires in a week.
new = manager(gl).rotate(ci.id)
assert new["id"] != ci.id and new["token"].startswith("glpat-"), new
assert new["name"] == "ci" and new["scopes"] == ["api", "read_user"], new
assert new["expires_at"] == week and new["active"] is True, new
refused(ci.token)
assert gitlab.Gitlab(url, private_token=new["token"]).personal_access_tokens.list(get_all=True)

# By id, with expires_at.
later = (today + datetime.timedelta(days=30)).isoformat()
again = manager(gl).rotate(new["id"], expires_at=later)
assert again["expires_at"] == later, again
refused(new["token"])

# A revoked token is refused with GitLab's message.
try:
    manager(gl).rotate(ci.id)
    raise AssertionError("rotated a revoked token")
except ROTATE_ERROR as e:
    assert e.response_code == 400 and "Token already revoked" in str(e.error_message), (e.response_code, e.error_message)

# "self", with a token of scope self_rotate.
mine = manager(gitlab.Gitlab(url, private_token=bot.token)).rotate("self")
assert mine["name"] == "bot" and mine["scopes"] == ["read_api", "self_rotate"], mine
refused(bot.token)

# Through the object: an admin lists the user's tokens and rotates one.
[obj] = [t for t in manager(admin).list(user_id=user.id, get_all=True) if t.name == "main" and t.active]
old_id = obj.id
obj.rotate()
assert obj.id != old_id and obj.token.startswith("glpat-") and obj.expires_at == week, obj.attributes
refused(main.token)
gitlab.Gitlab(url, private_token=obj.token).auth()
print("ROTATE OK")
