package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/meta"
)

const raceN = 50

// race sends n requests at once and returns their statuses.
func race(t *testing.T, n int, build func(i int) *http.Request) []int {
	t.Helper()
	statuses, _ := raceBodies(t, n, build)
	return statuses
}

// raceBodies sends n requests at once and returns their statuses and
// bodies (a transport error gives status -1 and the error as body).
func raceBodies(t *testing.T, n int, build func(i int) *http.Request) ([]int, []string) {
	t.Helper()
	statuses := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		req := build(i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			res, err := client.Do(req)
			if err != nil {
				statuses[i], bodies[i] = -1, err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			statuses[i], bodies[i] = res.StatusCode, string(b)
		}(i)
	}
	close(start)
	wg.Wait()
	return statuses, bodies
}

func tally(statuses []int) (ok, clientErr, other int) {
	for _, s := range statuses {
		switch {
		case s >= 200 && s < 300:
			ok++
		case s >= 400 && s < 500:
			clientErr++
		default:
			other++
		}
	}
	return
}

func req(method, url string, body []byte, h H) *http.Request {
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return r
}

// TestRaceSameVersionOneWinner: 50 concurrent publishes of the same npm
// version, PyPI file, Maven release and generic file (duplicates refused)
// end with exactly one winner, 49 clean 4xx answers and one consistent
// state.
func TestRaceSameVersionOneWinner(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.MavenDuplicatesAllowed, c.GenericDuplicatesAllowed = false, false })
	s := e.NewScenario()
	bearer := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}

	tgz := npmTarball(t, "@acme/race", "1.0.0", nil)
	npmBody := npmJSON(npmPublishDoc("@acme/race", "1.0.0", tgz))
	st := race(t, raceN, func(int) *http.Request {
		return req("PUT", e.URL+npmPkgPath(s.ProjectID, "@acme/race"), npmBody, bearer)
	})
	if ok, bad, other := tally(st); ok != 1 || bad != raceN-1 || other != 0 {
		t.Errorf("npm: %d ok, %d 4xx, %d other: %v", ok, bad, other, st)
	}

	wheel := []byte("not really a wheel, but bytes")
	body, ct := pypiGood("race-pkg", "1.0", "race_pkg-1.0-py3-none-any.whl", wheel).body()
	h := Basic("__token__", s.WriteToken)
	h["Content-Type"] = ct
	st = race(t, raceN, func(int) *http.Request {
		return req("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), body, h)
	})
	if ok, bad, other := tally(st); ok != 1 || bad != raceN-1 || other != 0 {
		t.Errorf("pypi: %d ok, %d 4xx, %d other: %v", ok, bad, other, st)
	}

	jar := []byte("jar bytes")
	st = race(t, raceN, func(int) *http.Request {
		return req("PUT", e.URL+mvnProject(s.ProjectID)+"/com/acme/race/1.0/race-1.0.jar", jar, DeployHdr(s.WriteToken))
	})
	if ok, bad, other := tally(st); ok != 1 || bad != raceN-1 || other != 0 {
		t.Errorf("maven: %d ok, %d 4xx, %d other: %v", ok, bad, other, st)
	}

	st, bodies := raceBodies(t, raceN, func(int) *http.Request {
		return req("PUT", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/race/1.0/race.bin", e.URL, s.ProjectID), []byte("generic bytes"), DeployHdr(s.WriteToken))
	})
	created, dup := 0, 0
	for i, code := range st {
		switch {
		case code == 201:
			created++
		case code == 400 && bodies[i] == `{"message":"400 Bad request - Duplicate package is not allowed"}`:
			dup++
		default:
			t.Errorf("generic: %d %s", code, bodies[i])
		}
	}
	if created != 1 || dup != raceN-1 {
		t.Errorf("generic: %d created, %d duplicates refused: %v", created, dup, st)
	}

	for _, c := range []struct {
		typ   string
		files int
	}{{"npm", 1}, {"pypi", 1}, {"generic", 1}} {
		var pkgs, files int
		e.Store.DB().Get(&pkgs, "SELECT count(*) FROM packages WHERE package_type = $1", c.typ)
		e.Store.DB().Get(&files, "SELECT count(*) FROM package_files f JOIN packages p ON p.id = f.package_id WHERE p.package_type = $1", c.typ)
		if pkgs != 1 || files != c.files {
			t.Errorf("%s: %d packages, %d files", c.typ, pkgs, files)
		}
	}
	var jars int
	e.Store.DB().Get(&jars, "SELECT count(*) FROM package_files WHERE file_name = 'race-1.0.jar'")
	if jars != 1 {
		t.Errorf("maven: %d jar rows", jars)
	}
	assertNoOrphanObjects(t, e)
}

// TestRaceDifferentVersionsAllAppear: 50 concurrent publishes of different
// versions all succeed, in every format, and every version is listed.
func TestRaceDifferentVersionsAllAppear(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	bearer := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}
	check := func(name string, st []int) {
		t.Helper()
		if ok, _, _ := tally(st); ok != raceN {
			t.Errorf("%s: %d of %d succeeded: %v", name, ok, raceN, st)
		}
	}
	bodies := make([][]byte, raceN)
	for i := range bodies {
		v := fmt.Sprintf("1.0.%d", i)
		bodies[i] = npmJSON(npmPublishDoc("@acme/many", v, npmTarball(t, "@acme/many", v, nil)))
	}
	check("npm", race(t, raceN, func(i int) *http.Request {
		return req("PUT", e.URL+npmPkgPath(s.ProjectID, "@acme/many"), bodies[i], bearer)
	}))
	check("pypi", race(t, raceN, func(i int) *http.Request {
		v := fmt.Sprintf("1.%d", i)
		body, ct := pypiGood("many-pkg", v, "many_pkg-"+v+"-py3-none-any.whl", []byte("wheel "+v)).body()
		h := Basic("__token__", s.WriteToken)
		h["Content-Type"] = ct
		return req("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), body, h)
	}))
	check("maven", race(t, raceN, func(i int) *http.Request {
		v := fmt.Sprintf("2.%d", i)
		return req("PUT", fmt.Sprintf("%s%s/com/acme/many/%s/many-%s.jar", e.URL, mvnProject(s.ProjectID), v, v), []byte("jar "+v), DeployHdr(s.WriteToken))
	}))
	check("generic", race(t, raceN, func(i int) *http.Request {
		return req("PUT", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/many/3.%d/f.bin", e.URL, s.ProjectID, i), []byte(fmt.Sprint(i)), DeployHdr(s.WriteToken))
	}))

	// Different files into one new version: every upload finds or creates
	// the same package at once, and all of them must land in one row.
	check("generic files", race(t, raceN, func(i int) *http.Request {
		return req("PUT", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/side/1.0/f%d.bin", e.URL, s.ProjectID, i), []byte(fmt.Sprint(i)), DeployHdr(s.WriteToken))
	}))
	var sidePkgs, sideFiles int
	e.Store.DB().Get(&sidePkgs, "SELECT count(*) FROM packages WHERE package_type = 'generic' AND name = 'side'")
	e.Store.DB().Get(&sideFiles, "SELECT count(*) FROM package_files f JOIN packages p ON p.id = f.package_id WHERE p.name = 'side'")
	if sidePkgs != 1 || sideFiles != raceN {
		t.Errorf("concurrent files into one new version: %d packages and %d files, want 1 and %d", sidePkgs, sideFiles, raceN)
	}

	pack := string(e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/many"), nil, Bearer(s.ReadToken))).Body)
	page := string(e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/many-pkg/", s.ProjectID), nil, Basic("x", s.ReadToken))).Body)
	meta := string(e.Must(200, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/many/maven-metadata.xml", nil, DeployHdr(s.ReadToken))).Body)
	for i := 0; i < raceN; i++ {
		if !strings.Contains(pack, fmt.Sprintf(`"1.0.%d"`, i)) {
			t.Errorf("npm packument lacks 1.0.%d", i)
		}
		if !strings.Contains(page, fmt.Sprintf("many_pkg-1.%d-py3-none-any.whl", i)) {
			t.Errorf("simple page lacks 1.%d", i)
		}
		if !strings.Contains(meta, fmt.Sprintf("<version>2.%d</version>", i)) {
			t.Errorf("maven-metadata.xml lacks 2.%d", i)
		}
	}
	var generic int
	e.Store.DB().Get(&generic, "SELECT count(*) FROM packages WHERE package_type = 'generic' AND name = 'many'")
	if generic != raceN {
		t.Errorf("%d generic packages", generic)
	}
	assertNoOrphanObjects(t, e)
}

// TestFindOrCreateSeesConcurrentCreate: a publish that finds its package
// being created by another, uncommitted transaction waits for it and then
// uses that row. The deterministic form of what concurrent uploads of
// different files into one new version do by chance.
func TestFindOrCreateSeesConcurrentCreate(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	version := "1.0"
	pkg := func() *meta.Package {
		return &meta.Package{ProjectID: s.ProjectID, PackageType: "generic", Name: "waits", Version: &version}
	}
	for _, touch := range []bool{false, true} {
		version = fmt.Sprintf("%v", touch)
		created := make(chan struct{})
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- e.Store.Tx(ctx, func(tx *meta.Tx) error {
				p := pkg()
				ok, err := tx.FindOrCreatePackage(ctx, p, touch)
				if err == nil && !ok {
					err = fmt.Errorf("first transaction did not create the package")
				}
				close(created)
				<-release
				return err
			})
		}()
		<-created
		second := make(chan error, 1)
		var got *meta.Package
		go func() {
			second <- e.Store.Tx(ctx, func(tx *meta.Tx) error {
				got = pkg()
				ok, err := tx.FindOrCreatePackage(ctx, got, touch)
				if err == nil && ok {
					err = fmt.Errorf("second transaction created the package again")
				}
				return err
			})
		}()
		// Give the second transaction time to block on the first's row.
		time.Sleep(200 * time.Millisecond)
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("touch=%v: %v", touch, err)
		}
		if err := <-second; err != nil {
			t.Fatalf("touch=%v: %v", touch, err)
		}
		if got.ID == 0 {
			t.Fatalf("touch=%v: second transaction got no package", touch)
		}
	}
}
