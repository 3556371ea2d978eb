package tests

import (
	"fmt"
	"strings"
	"testing"
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
