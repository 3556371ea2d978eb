package tests

import (
	"fmt"
	"testing"
	"time"
)

// TestTwoNodes: two gateway nodes (servers of their own in this test process;
// TestTwoGatewayProcesses runs real processes) on one Postgres and one bucket serve
// the same packages, and a token deleted through one node stops working on
// the other although that node had it cached.
func TestTwoNodes(t *testing.T) {
	a := NewEnv(t)
	s := a.NewScenario()
	b := a.SecondNode()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f.txt", s.ProjectID)
	a.Must(201, a.Do("PUT", url, "from node a", DeployHdr(s.WriteToken)))
	if got := b.Must(200, b.Do("GET", url, nil, DeployHdr(s.WriteToken))); string(got.Body) != "from node a" {
		t.Fatalf("node b serves %q", got.Body)
	}
	b.Must(201, b.Do("PUT", url, "from node b", DeployHdr(s.WriteToken)))
	if got := a.Must(200, a.Do("GET", url, nil, DeployHdr(s.ReadToken))); string(got.Body) != "from node b" {
		t.Fatalf("node a serves %q", got.Body)
	}
	// Node b has the write token cached now; delete it through node a.
	var toks []map[string]any
	a.Must(200, a.Do("GET", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID), nil, PAT(a.Admin))).JSON(t, &toks)
	a.Must(204, a.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens/%v", s.ProjectID, toks[0]["id"]), nil, PAT(a.Admin)))
	deadline := time.Now().Add(5 * time.Second) // far below the 30 s cache TTL
	for {
		r := b.Do("GET", url, nil, DeployHdr(s.WriteToken))
		if r.Status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted token still accepted by node b: %d", r.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
