package tests

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/storage/meta"
)

// webReadOnlyPAT gives a user a read_api token: a session opened with it
// changes nothing, whatever the user's role.
func webReadOnlyPAT(e *Env, uid int64) string {
	e.t.Helper()
	p := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "ro", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(e.t)
	return p["token"].(string)
}

// webSignedIn signs a new browser in with pat and returns it with the
// CSRF token of its pages.
func webSignedIn(e *Env, pat string) (*webClient, string) {
	e.t.Helper()
	w := newWebClient(e)
	return w, w.signIn(pat)
}

// webDeletePost is a post to a deletion form.
type webDeletePost struct {
	name    string
	w       *webClient
	csrf    string // "" posts none
	confirm string // "" posts none
	h       H
	status  int
	says    string // what the answer must tell
}

func (p webDeletePost) do(t *testing.T, path string) *webResp {
	t.Helper()
	form := url.Values{}
	if p.csrf != "" {
		form.Set("csrf_token", p.csrf)
	}
	if p.confirm != "" {
		form.Set("confirm_path", p.confirm)
	}
	r := p.w.do("POST", path, form, p.h)
	if r.Status != p.status {
		t.Fatalf("%s: %d, want %d\n%s", p.name, r.Status, p.status, r.Body)
	}
	if p.says != "" {
		r.mustContain(t, p.says)
	}
	return r
}

// webDeleteSection tells whether a settings page offers the deletion.
func webDeleteSection(r *webResp) bool { return strings.Contains(r.Body, `id="delete-form"`) }

// TestWebDeleteProject: an Owner deletes a project from its settings page by
// typing its full path, and it is gone as after the REST API's DELETE: its
// packages, its tokens, audited as the Owner's. Nobody else sees the
// section, and no other post deletes anything.
func TestWebDeleteProject(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e)
	proj := fmt.Sprintf("/-/ui/projects/%d", f.ProjectID)
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/t.bin", f.ProjectID)
	e.Must(201, e.Do("PUT", file, "bytes of acme/sub/app", PAT(e.Admin)))
	e.Must(200, e.Do("GET", file, nil, DeployHdr(f.ReadToken))) // the token and the project are cached now
	uid, _ := e.User("rory")
	e.Member("groups", f.GroupID, uid, meta.Owner)
	readOnlyOwner := webReadOnlyPAT(e, uid)

	owner, ocsrf := webSignedIn(e, f.groupOwner)
	maint, mcsrf := webSignedIn(e, f.maintainer)
	dev, dcsrf := webSignedIn(e, f.developer)
	ro, rocsrf := webSignedIn(e, readOnlyOwner)
	out, outcsrf := webSignedIn(e, f.outsider)
	adm, _ := webSignedIn(e, e.Admin)

	for _, c := range []struct {
		name    string
		w       *webClient
		status  int
		section bool
	}{
		{"owner", owner, 200, true},
		{"admin", adm, 200, true},
		{"maintainer", maint, 200, false},
		{"developer", dev, 200, false},
		{"read-only owner", ro, 200, false},
		{"outsider", out, 404, false},
	} {
		t.Run("page/"+c.name, func(t *testing.T) {
			r := c.w.get(proj + "/settings")
			if r.Status != c.status || webDeleteSection(r) != c.section {
				t.Fatalf("settings: %d, delete section %v; want %d, %v", r.Status, webDeleteSection(r), c.status, c.section)
			}
			if c.section {
				r.mustContain(t, `<h2 id="delete-title">Delete project</h2>`, "Enter the following to confirm: <code>acme/sub/app</code>",
					`action="`+proj+`/delete"`)
			}
		})
	}

	const path = "acme/sub/app"
	for _, p := range []webDeletePost{
		{name: "maintainer", w: maint, csrf: mcsrf, confirm: path, status: 403, says: "Only owners of this project can delete it. Your role: Maintainer."},
		{name: "developer", w: dev, csrf: dcsrf, confirm: path, status: 403, says: "Your role: Developer."},
		{name: "read-only owner", w: ro, csrf: rocsrf, confirm: path, status: 403, says: "read-only token"},
		{name: "outsider", w: out, csrf: outcsrf, confirm: path, status: 404, says: "Page not found"},
		{name: "owner without csrf", w: owner, confirm: path, status: 403, says: "security token is missing or invalid"},
		{name: "owner with another session's csrf", w: owner, csrf: mcsrf, confirm: path, status: 403},
		{name: "owner from another site", w: owner, csrf: ocsrf, confirm: path, h: H{"Origin": "https://evil.example"}, status: 403},
		{name: "owner without confirmation", w: owner, csrf: ocsrf, status: 422, says: "Enter acme/sub/app to confirm. Nothing was deleted."},
		{name: "owner typing the name", w: owner, csrf: ocsrf, confirm: "app", status: 422, says: "“app” is not acme/sub/app."},
		{name: "owner typing the group", w: owner, csrf: ocsrf, confirm: "acme/sub", status: 422, says: "is not acme/sub/app"},
		{name: "owner typing another case", w: owner, csrf: ocsrf, confirm: "ACME/sub/app", status: 422, says: "is not acme/sub/app"},
		{name: "owner pasting a whole page", w: owner, csrf: ocsrf, confirm: strings.Repeat("x", 5000), status: 422, says: "“" + strings.Repeat("x", 44) + "…” is not acme/sub/app"},
	} {
		t.Run("refused/"+p.name, func(t *testing.T) {
			r := p.do(t, proj+"/delete")
			if r.Status == http.StatusUnprocessableEntity {
				// The settings page again, the error at the form, nothing else changed.
				r.mustContain(t, `id="delete-error"`, `aria-invalid="true"`, `id="deploy-token-form"`, `id="active-tokens"`)
				if !webDeleteSection(r) {
					t.Fatal("the answer has no delete form to try again")
				}
			}
			e.Must(200, e.Do("GET", file, nil, DeployHdr(f.ReadToken)))
		})
	}
	if got := auditNames(e, "_destroyed"); len(got) != 0 {
		t.Fatalf("audit events %q after refusals", got)
	}

	// Surrounding spaces, as a copied path may have, are no mismatch.
	r := owner.post(proj+"/delete", url.Values{"csrf_token": {ocsrf}, "confirm_path": {" " + path + "\n"}})
	if want := fmt.Sprintf("/-/ui/groups/%d", f.SubID); r.Status != http.StatusSeeOther || r.Location != want {
		t.Fatalf("delete: %d %q, want 303 %q\n%s", r.Status, r.Location, want, r.Body)
	}
	e.Must(404, e.Do("GET", file, nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", f.ProjectID), nil, PAT(e.Admin)))
	e.Must(401, e.Do("GET", file, nil, DeployHdr(f.ReadToken))) // the token went with its project, though cached
	if got, want := auditNames(e, "_destroyed"), []string{"project_destroyed acme/sub/app by otto"}; !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}
	owner.get(r.Location).mustNotContain(t, `href="`+proj+`/packages"`)
	if r := owner.get(proj + "/settings"); r.Status != http.StatusNotFound {
		t.Errorf("settings of the deleted project: %d", r.Status)
	}
	webDeletePost{name: "again", w: owner, csrf: ocsrf, confirm: path, status: 404}.do(t, proj+"/delete")
}

// TestWebDeleteProjectLandsWhereVisible: after the deletion the Owner
// lands on the project's group, unless the project was all that let them
// see that private group: then on their dashboard, not on a 404.
func TestWebDeleteProjectLandsWhereVisible(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	personalID, personal := e.User("pia")
	projects := map[string]int64{"shared": e.Project("shared", g, "private"), "own": e.Project("own", g, "private")}
	e.Member("projects", projects["own"], personalID, meta.Owner)
	groupOwnerID, groupOwner := e.User("otto")
	e.Member("groups", g, groupOwnerID, meta.Owner)
	var home int64 // pia's personal namespace
	if err := e.Store.DB().Get(&home, `SELECT id FROM namespaces WHERE owner_id = $1 AND kind = 'user'`, personalID); err != nil {
		t.Fatal(err)
	}
	projects["mine"] = int64(e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine", "namespace_id": home}, PAT(personal))).Map(t)["id"].(float64))

	for _, c := range []struct {
		name, pat, project, confirm, lands string
	}{
		{"group owner", groupOwner, "shared", "acme/shared", fmt.Sprintf("/-/ui/groups/%d", g)},
		{"owner of the project only", personal, "own", "acme/own", "/-/ui/"},
		{"personal project", personal, "mine", "pia/mine", "/-/ui/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, csrf := webSignedIn(e, c.pat)
			r := w.post(fmt.Sprintf("/-/ui/projects/%d/delete", projects[c.project]), url.Values{"csrf_token": {csrf}, "confirm_path": {c.confirm}})
			if r.Status != http.StatusSeeOther || r.Location != c.lands {
				t.Fatalf("delete: %d %q, want 303 %q\n%s", r.Status, r.Location, c.lands, r.Body)
			}
			if r := w.get(r.Location); r.Status != 200 {
				t.Fatalf("landing page %d", r.Status)
			}
			e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", projects[c.project]), nil, PAT(e.Admin)))
		})
	}
}

// TestWebDeleteGroup: an Owner deletes a group from its settings page, and
// its subgroups and their projects go with it, as through the REST API;
// a Maintainer of the group sees no section and deletes nothing.
func TestWebDeleteGroup(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e) // acme > sub > app
	deep := e.Group("deep", f.SubID, "private")
	core := e.Project("core", deep, "private")
	kept := e.Project("kept", f.GroupID, "private")
	fileOf := func(p int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/generic/x/1.0/x.bin", p) }
	for _, p := range []int64{f.ProjectID, core, kept} {
		e.Must(201, e.Do("PUT", fileOf(p), fmt.Sprint("file of ", p), PAT(e.Admin)))
	}
	subToken, _, _ := e.DeployToken("groups", f.SubID, "read_package_registry")
	e.Must(200, e.Do("GET", fileOf(core), nil, DeployHdr(subToken)))
	sub := fmt.Sprintf("/-/ui/groups/%d", f.SubID)

	owner, ocsrf := webSignedIn(e, f.groupOwner)
	gm, gmcsrf := webSignedIn(e, f.groupMaintainer)
	maint, mcsrf := webSignedIn(e, f.maintainer) // Maintainer of the project below, so the group shows

	if r := owner.get(sub + "/settings"); !webDeleteSection(r) {
		t.Fatalf("owner: no delete section (%d)", r.Status)
	} else {
		r.mustContain(t, `<h2 id="delete-title">Delete group</h2>`, "with its subgroups and every project in them",
			"Enter the following to confirm: <code>acme/sub</code>")
	}
	for _, w := range []*webClient{gm, maint} {
		if r := w.get(sub + "/settings"); r.Status != 200 || webDeleteSection(r) {
			t.Fatalf("non-owner: %d, delete section %v", r.Status, webDeleteSection(r))
		}
	}

	const path = "acme/sub"
	for _, p := range []webDeletePost{
		{name: "group maintainer", w: gm, csrf: gmcsrf, confirm: path, status: 403, says: "Only owners of this group can delete it. Your role: Maintainer."},
		{name: "project maintainer", w: maint, csrf: mcsrf, confirm: path, status: 403, says: "Your role: No role."},
		{name: "owner without csrf", w: owner, confirm: path, status: 403},
		{name: "owner without confirmation", w: owner, csrf: ocsrf, status: 422, says: "Enter acme/sub to confirm. Nothing was deleted."},
		{name: "owner typing a project's path", w: owner, csrf: ocsrf, confirm: "acme/sub/app", status: 422, says: "is not acme/sub."},
	} {
		t.Run("refused/"+p.name, func(t *testing.T) {
			p.do(t, sub+"/delete")
			e.Must(200, e.Do("GET", fileOf(f.ProjectID), nil, PAT(e.Admin)))
			e.Must(200, e.Do("GET", fileOf(core), nil, DeployHdr(subToken)))
		})
	}

	r := owner.post(sub+"/delete", url.Values{"csrf_token": {ocsrf}, "confirm_path": {path}})
	if want := fmt.Sprintf("/-/ui/groups/%d", f.GroupID); r.Status != http.StatusSeeOther || r.Location != want {
		t.Fatalf("delete: %d %q, want 303 %q\n%s", r.Status, r.Location, want, r.Body)
	}
	for _, p := range []int64{f.ProjectID, core} {
		e.Must(404, e.Do("GET", fileOf(p), nil, PAT(e.Admin)))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(e.Admin)))
	}
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", deep), nil, PAT(e.Admin)))
	e.Must(401, e.Do("GET", fileOf(core), nil, DeployHdr(subToken)))
	e.Must(200, e.Do("GET", fileOf(kept), nil, PAT(e.Admin)))
	got := auditNames(e, "_destroyed")
	want := []string{"project_destroyed acme/sub/app by otto", "project_destroyed acme/sub/deep/core by otto",
		"group_destroyed acme/sub/deep by otto", "group_destroyed acme/sub by otto"}
	if !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}
	owner.get(r.Location).mustNotContain(t, `href="`+sub+`"`)

	// A top-level group has no parent to land on.
	r = owner.post(fmt.Sprintf("/-/ui/groups/%d/delete", f.GroupID), url.Values{"csrf_token": {ocsrf}, "confirm_path": {"acme"}})
	if r.Status != http.StatusSeeOther || r.Location != "/-/ui/" {
		t.Fatalf("delete acme: %d %q", r.Status, r.Location)
	}
	e.Must(404, e.Do("GET", fileOf(kept), nil, PAT(e.Admin)))
}
