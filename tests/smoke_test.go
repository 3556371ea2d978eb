package tests

import (
	"bytes"
	"fmt"
	"testing"
)

func TestSmokeGenericRoundTrip(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	body := bytes.Repeat([]byte("abc"), 1000)
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", s.ProjectID)
	r := e.Must(201, e.Do("PUT", url, body, DeployHdr(s.WriteToken)))
	ErrBody(t, r, "message", "201 Created")
	got := e.Must(200, e.Do("GET", url, nil, Basic("anything", s.ReadToken)))
	if !bytes.Equal(got.Body, body) {
		t.Fatalf("body mismatch: %d bytes", len(got.Body))
	}
}
