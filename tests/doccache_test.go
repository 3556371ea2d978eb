package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// TestDocumentCacheAcrossNodes: a rendered document cached on one node is
// replaced on the very next request after a publish or delete through the
// other node.
func TestDocumentCacheAcrossNodes(t *testing.T) {
	a := NewEnv(t)
	s := a.NewScenario()
	b := a.SecondNode()
	base := fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/acme/cached", s.ProjectID)
	put := func(e *Env, v string) {
		e.Must(200, e.Do("PUT", fmt.Sprintf("%s/%s/cached-%s.jar", base, v, v), "jar "+v, DeployHdr(s.WriteToken)))
	}
	meta := func(e *Env) string {
		return string(e.Must(200, e.Do("GET", base+"/maven-metadata.xml", nil, DeployHdr(s.ReadToken))).Body)
	}
	put(a, "1.0")
	if m := meta(b); !strings.Contains(m, "<version>1.0</version>") {
		t.Fatalf("node b: %s", m)
	}
	etag := b.Do("GET", base+"/maven-metadata.xml", nil, DeployHdr(s.ReadToken)).Header.Get("ETag")
	put(a, "2.0")
	m := meta(b)
	if !strings.Contains(m, "<version>2.0</version>") || !strings.Contains(m, "<latest>2.0</latest>") {
		t.Fatalf("node b still serves the old document: %s", m)
	}
	if b.Do("GET", base+"/maven-metadata.xml", nil, DeployHdr(s.ReadToken)).Header.Get("ETag") == etag {
		t.Error("ETag unchanged after a publish")
	}
	// Deleting the package through the API on node b changes node a's copy.
	var pkgs []map[string]any
	a.Must(200, a.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?package_type=maven&package_version=2.0", s.ProjectID), nil, PAT(a.Admin))).JSON(t, &pkgs)
	if len(pkgs) != 1 {
		t.Fatalf("packages: %v", pkgs)
	}
	meta(a) // cache on a
	b.Must(204, b.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%v", s.ProjectID, pkgs[0]["id"]), nil, PAT(a.Admin)))
	if m := meta(a); strings.Contains(m, "<version>2.0</version>") {
		t.Fatalf("node a serves a deleted version: %s", m)
	}
}

// TestFileLookupCacheAcrossNodes: a download served from a node's cached
// file lookup follows a replacement or a delete made through another node
// within the notification latency, and at once on the node that wrote.
func TestFileLookupCacheAcrossNodes(t *testing.T) {
	a := NewEnv(t)
	s := a.NewScenario()
	b := a.SecondNode()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/hot/1.0/f.bin", s.ProjectID)
	get := func(e *Env) *Resp { return e.Do("GET", url, nil, DeployHdr(s.ReadToken)) }
	// Well under the 10 s safety TTL.
	seen := func(what string, ok func() bool) {
		t.Helper()
		eventually(t, time.Second, "node b did not see "+what, ok)
	}
	a.Must(201, a.Do("PUT", url, "version one", DeployHdr(s.WriteToken)))
	if string(b.Must(200, get(b)).Body) != "version one" {
		t.Fatal("node b: wrong first version")
	}
	a.Must(201, a.Do("PUT", url, "version two", DeployHdr(s.WriteToken)))
	if string(a.Must(200, get(a)).Body) != "version two" {
		t.Fatal("node a serves a stale file right after its own write")
	}
	seen("the replacement", func() bool { return string(get(b).Body) == "version two" })
	a.deletePackagesNamed(s.ProjectID, "hot")
	a.Must(404, get(a))
	seen("the delete", func() bool { return get(b).Status == 404 })
}

// TestPackageChangesBatched: a node tells the others of its package changes
// in batches (one NOTIFY for the changes of a few milliseconds, naming each
// project), not in one notification per change.
func TestPackageChangesBatched(t *testing.T) {
	e := NewEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var payloads []string
	if err := meta.Listen(ctx, e.Cfg.DatabaseURL, meta.PackagesChannel, func(p string) {
		mu.Lock()
		payloads = append(payloads, p)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	base := int64(1_000_000) // no such projects: only the payloads matter
	for i := int64(0); i < n; i++ {
		e.Store.PackagesChanged(base + i)
	}
	seen := map[int64]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		seen = map[int64]bool{}
		for _, p := range payloads {
			ids, all := meta.ParseChanges(p)
			if all {
				continue // another node reconnecting
			}
			for _, id := range ids {
				if id >= base && id < base+n {
					seen[id] = true
				}
			}
		}
		mu.Unlock()
	}
	if len(seen) != n {
		t.Fatalf("notified of %d of %d changed projects: %q", len(seen), n, payloads)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(payloads) >= n {
		t.Fatalf("%d notifications for %d changes made within a millisecond", len(payloads), n)
	}
}

// TestMavenPyPILookupCacheAcrossNodes: Maven and PyPI downloads go
// through the file-lookup cache too, at project level and at group level
// (a lookup across the group's projects, kept under each of them). A
// re-deploy and a delete through one node are served at once there and
// within a second on the other, however each level cached the file.
func TestMavenPyPILookupCacheAcrossNodes(t *testing.T) {
	a := NewEnv(t)
	s := a.NewScenario()
	b := a.SecondNode()
	// The files go to a second project of the group, created after the
	// scenario's: the group-level lookups span both, and the project that
	// changes is not the first of the set.
	pid := a.Project("other", s.GroupID, "private")
	write, _, _ := a.DeployToken("projects", pid, "write_package_registry")
	// Well under the 10 s safety TTL.
	seen := func(what string, ok func() bool) {
		t.Helper()
		eventually(t, time.Second, "node b did not see "+what, ok)
	}
	groupToken, groupUser, _ := a.DeployToken("groups", s.GroupID, "read_package_registry")
	gread := Basic(groupUser, groupToken)

	jar := "com/acme/cached/1.0/cached-1.0.jar"
	mvnDeploy(t, a, mvnProject(pid), jar, []byte("jar one"), DeployHdr(write))
	mavenURLs := []struct {
		url string
		h   H
	}{{mvnProject(pid) + "/" + jar, gread}, {mvnGroup(s.GroupID) + "/" + jar, gread}}
	body := func(e *Env, i int, suffix string) string {
		r := e.Do("GET", mavenURLs[i].url+suffix, nil, mavenURLs[i].h)
		if r.Status != 200 {
			return fmt.Sprint(r.Status)
		}
		return string(r.Body)
	}
	for i := range mavenURLs {
		for _, e := range []*Env{a, b} {
			if got := body(e, i, ""); got != "jar one" {
				t.Fatalf("maven %s: %q", mavenURLs[i].url, got)
			}
			body(e, i, ".sha1")
		}
	}
	mvnDeploy(t, a, mvnProject(pid), jar, []byte("jar two"), DeployHdr(write))
	for i := range mavenURLs {
		if got := body(a, i, ""); got != "jar two" {
			t.Fatalf("node a serves %q at %s right after its own re-deploy", got, mavenURLs[i].url)
		}
		seen("the re-deploy at "+mavenURLs[i].url, func() bool {
			return body(b, i, "") == "jar two" && body(b, i, ".sha1") == mavenSums([]byte("jar two"))["sha1"]
		})
	}
	a.deletePackagesNamed(pid, "com/acme/cached")
	for i := range mavenURLs {
		if got := body(a, i, ""); got != "404" {
			t.Fatalf("node a answers %s at %s right after the delete", got, mavenURLs[i].url)
		}
		seen("the delete at "+mavenURLs[i].url, func() bool { return body(b, i, "") == "404" })
	}

	content := []byte("wheel bytes")
	file := "cached_pkg-1.0-py3-none-any.whl"
	a.Must(201, pypiPost(a, pid, write, pypiGood("cached-pkg", "1.0", file, content)))
	pypiURLs := []struct {
		url string
		h   H
	}{
		{fmt.Sprintf("/api/v4/projects/%d/packages/pypi/files/%s/%s", pid, pypiSHA256(content), file), gread},
		{fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/files/%s/%s", s.GroupID, pypiSHA256(content), file), gread},
	}
	for _, u := range pypiURLs {
		for _, e := range []*Env{a, b} {
			if got := e.Must(200, e.Do("GET", u.url, nil, u.h)); string(got.Body) != string(content) {
				t.Fatalf("pypi %s: %q", u.url, got.Body)
			}
		}
	}
	a.deletePackagesNamed(pid, "cached-pkg")
	for _, u := range pypiURLs {
		a.Must(404, a.Do("GET", u.url, nil, u.h))
		seen("the delete at "+u.url, func() bool { return b.Do("GET", u.url, nil, u.h).Status == 404 })
	}
}
