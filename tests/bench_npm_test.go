package tests

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/pkgate/pkgate/auth"
)

// npmBench is a gateway with one private project holding @acme/bench in
// npmBenchVersions versions. It is built without Env (whose helpers need a
// *testing.T) but on the same shared Postgres and MinIO.
type npmBench struct {
	url       string
	projectID int64
	token     string
	client    *http.Client
}

const npmBenchVersions = 200

func newNPMBench(b *testing.B) *npmBench {
	b.Helper()
	e := BenchEnv(b)
	g := e.Group("acme", 0, "private")
	pid := e.Project("app", g, "private")
	tok, _, _ := e.DeployToken("projects", pid, auth.ScopeReadPackages, auth.ScopeWritePackages)
	nb := &npmBench{url: e.URL, projectID: pid, token: tok, client: &http.Client{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true},
	}}
	// Publish the versions through the real publish path, 8 at a time.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errc := make(chan error, npmBenchVersions)
	for i := 0; i < npmBenchVersions; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			v := fmt.Sprintf("1.%d.%d", i/10, i%10)
			tgz := npmTarball(b, "@acme/bench", v, nil)
			doc := npmPublishDoc("@acme/bench", v, tgz)
			m := doc["versions"].(map[string]any)[v].(map[string]any)
			m["description"] = "a package with a realistic manifest " + strings.Repeat("x", 200)
			m["dependencies"] = map[string]any{"@acme/a": "^1.0.0", "@acme/b": "~2.3.4", "@acme/c": ">=3"}
			m["scripts"] = map[string]any{"test": "node test.js", "build": "tsc -p ."}
			m["keywords"] = []string{"bench", "npm", "gateway"}
			m["repository"] = map[string]any{"type": "git", "url": "https://example.test/acme/bench.git"}
			req, _ := http.NewRequest("PUT", nb.url+npmPkgPath(pid, "@acme/bench"), strings.NewReader(string(npmJSON(doc))))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := nb.client.Do(req)
			if err != nil {
				errc <- err
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				errc <- fmt.Errorf("publish %s: %d", v, res.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	return nb
}

// run measures GETs of one URL from parallel clients and reports req/s.
func (nb *npmBench) run(b *testing.B, url string, h map[string]string, concurrency int) {
	b.Helper()
	get := func() (int, int64, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+nb.token)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := nb.client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, n, nil
	}
	st, size, err := get()
	if err != nil || st != 200 {
		b.Fatalf("GET %s: %d %v", url, st, err)
	}
	b.SetBytes(size)
	b.SetParallelism(max(1, concurrency/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if st, _, err := get(); err != nil || st != 200 {
				b.Errorf("GET %s: %d %v", url, st, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkNPM reports packument requests/second for a package with 200
// versions (full, abbreviated, abbreviated+gzip) and tarball downloads per
// second. Run:
//
//	go test ./tests/ -run '^$' -bench BenchmarkNPM -benchtime 5s
func BenchmarkNPM(b *testing.B) {
	nb := newNPMBench(b)
	pkg := nb.url + npmPkgPath(nb.projectID, "@acme/bench")
	abbr := map[string]string{"Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}
	for _, c := range []int{16, 64} {
		b.Run(fmt.Sprintf("PackumentFull200/c%d", c), func(b *testing.B) { nb.run(b, pkg, nil, c) })
		b.Run(fmt.Sprintf("PackumentAbbreviated200/c%d", c), func(b *testing.B) { nb.run(b, pkg, abbr, c) })
	}
	b.Run("PackumentAbbreviated200Gzip/c16", func(b *testing.B) {
		nb.run(b, pkg, map[string]string{"Accept": "application/vnd.npm.install-v1+json", "Accept-Encoding": "gzip"}, 16)
	})
	b.Run("Tarball/c16", func(b *testing.B) {
		nb.run(b, fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/@acme/bench/-/@acme/bench-1.9.9.tgz", nb.url, nb.projectID), nil, 16)
	})
}
