package tests

import (
	"fmt"
	"testing"
)

// TestVisibilityForPeople: GitLab's visibility rule (auth.ProjectRole and
// auth.GroupRole), as the API and the package routes apply it: public to
// everyone, internal to anyone signed in, private to members and admins,
// and a private group also to members of a project below it.
func TestVisibilityForPeople(t *testing.T) {
	e := NewEnv(t)
	open := e.Group("open", 0, "internal")
	inner := e.Project("inner", open, "internal")
	secret := e.Project("secret", open, "private")
	hidden := e.Group("hidden", 0, "private")
	deep := e.Project("deep", hidden, "private")
	_, alice := e.User("alice") // no memberships
	bobID, bob := e.User("bob")
	e.Member("projects", deep, bobID, 20)
	for _, p := range []int64{inner, secret} {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/v/1.0/f.bin", p), "x", PAT(e.Admin)))
	}
	anonymous := H{}
	cases := []struct {
		name string
		who  H
		path string
		want int
	}{
		{"anonymous, internal project", anonymous, fmt.Sprintf("/api/v4/projects/%d", inner), 404},
		{"signed in, internal project", PAT(alice), fmt.Sprintf("/api/v4/projects/%d", inner), 200},
		{"signed in, private project", PAT(alice), fmt.Sprintf("/api/v4/projects/%d", secret), 404},
		{"admin, private project", PAT(e.Admin), fmt.Sprintf("/api/v4/projects/%d", secret), 200},
		{"member, private project", PAT(bob), fmt.Sprintf("/api/v4/projects/%d", deep), 200},
		{"non-member, private project", PAT(alice), fmt.Sprintf("/api/v4/projects/%d", deep), 404},
		{"anonymous, internal group", anonymous, fmt.Sprintf("/api/v4/groups/%d", open), 404},
		{"signed in, internal group", PAT(alice), fmt.Sprintf("/api/v4/groups/%d", open), 200},
		{"member below, private group", PAT(bob), fmt.Sprintf("/api/v4/groups/%d", hidden), 200},
		{"nobody below, private group", PAT(alice), fmt.Sprintf("/api/v4/groups/%d", hidden), 404},
		{"signed in, internal project's package", PAT(alice), fmt.Sprintf("/api/v4/projects/%d/packages/generic/v/1.0/f.bin", inner), 200},
		{"signed in, private project's package", PAT(alice), fmt.Sprintf("/api/v4/projects/%d/packages/generic/v/1.0/f.bin", secret), 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := e.Do("GET", c.path, nil, c.who); r.Status != c.want {
				t.Errorf("GET %s: %d, want %d: %s", c.path, r.Status, c.want, r.Body)
			}
		})
	}
}
