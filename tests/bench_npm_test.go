package tests

import (
	"bytes"
	"encoding/json"
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
	env       *Env
	url       string
	projectID int64
	token     string
	client    *http.Client
}

const npmBenchVersions = 200

func newNPMBench(b *testing.B) *npmBench {
	b.Helper()
	nb := startNPMBench(b)
	nb.publish(b, "@acme/bench", 0, npmBenchVersions, func(m map[string]any) {
		m["description"] = "a package with a realistic manifest " + strings.Repeat("x", 200)
		m["dependencies"] = map[string]any{"@acme/a": "^1.0.0", "@acme/b": "~2.3.4", "@acme/c": ">=3"}
		m["scripts"] = map[string]any{"test": "node test.js", "build": "tsc -p ."}
		m["keywords"] = []string{"bench", "npm", "gateway"}
		m["repository"] = map[string]any{"type": "git", "url": "https://example.test/acme/bench.git"}
	})
	return nb
}

// startNPMBench starts the gateway and creates the project and its deploy
// token, with no packages yet.
func startNPMBench(b *testing.B) *npmBench {
	b.Helper()
	e := BenchEnv(b)
	g := e.Group("acme", 0, "private")
	pid := e.Project("app", g, "private")
	tok, _, _ := e.DeployToken("projects", pid, auth.ScopeReadPackages, auth.ScopeWritePackages)
	return &npmBench{env: e, url: e.URL, projectID: pid, token: tok, client: &http.Client{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true},
	}}
}

// publish publishes versions from..to-1 of name ("1.<i/10>.<i%10>")
// through the real publish path, 8 at a time; manifest adds fields to each
// version's manifest.
func (nb *npmBench) publish(b *testing.B, name string, from, to int, manifest func(m map[string]any)) {
	b.Helper()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errc := make(chan error, to-from)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			v := fmt.Sprintf("1.%d.%d", i/10, i%10)
			tgz := npmTarball(b, name, v, nil)
			doc := npmPublishDoc(name, v, tgz)
			manifest(doc["versions"].(map[string]any)[v].(map[string]any))
			req, _ := http.NewRequest("PUT", nb.url+npmPkgPath(nb.projectID, name), strings.NewReader(string(npmJSON(doc))))
			req.Header.Set("Authorization", "Bearer "+nb.token)
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
}

// get GETs url with the bench token and headers h, and returns the status
// and the body's size; into, when set, receives the body.
func (nb *npmBench) get(url string, h map[string]string, into *bytes.Buffer) (int, int64, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+nb.token)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := nb.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	var w io.Writer = io.Discard
	if into != nil {
		w = into
	}
	n, err := io.Copy(w, res.Body)
	return res.StatusCode, n, err
}

// run measures GETs of one URL from parallel clients and reports req/s.
func (nb *npmBench) run(b *testing.B, url string, h map[string]string, concurrency int) {
	b.Helper()
	get := func() (int, int64, error) { return nb.get(url, h, nil) }
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

// BenchmarkUncachedPackument measures the packument request that misses the
// document cache, which is the only one whose cost depends on the version
// count: the generation read, the versions and tags queries, rendering,
// ETag and gzip, and the HTTP exchange, from one sequential client. Before
// each request the project's npm generation is bumped (with the timer
// stopped), as any publish or tag change would; the document bytes stay
// the same. One package grows from 50 to 400 versions of about 1 KiB of
// stored manifest each. A linear cost shows as ns/op growing by a constant
// amount per added version; ns/version (ns/op divided by the count) then
// falls as the count grows, because the fixed part of a request is spread
// over more versions, and would rise if anything were superlinear. It is
// not in the BenchmarkNPM pattern because its publishes take a while. Run:
//
//	go test ./tests/ -run '^$' -bench BenchmarkUncachedPackument -benchtime 100x -count 3
func BenchmarkUncachedPackument(b *testing.B) {
	nb := startNPMBench(b)
	const name = "@acme/grow"
	pkg := nb.url + npmPkgPath(nb.projectID, name)
	abbr := map[string]string{"Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}
	have := 0
	for _, n := range []int{50, 100, 200, 400} {
		nb.publish(b, name, have, n, benchManifest)
		have = n
		b.Run(fmt.Sprintf("full/versions=%d", n), func(b *testing.B) { nb.miss(b, pkg, nil, n) })
		b.Run(fmt.Sprintf("abbreviated/versions=%d", n), func(b *testing.B) { nb.miss(b, pkg, abbr, n) })
	}
}

// benchManifest gives a version the fields of a typical library's
// package.json, about 1 KiB once stored (as in formats/npm's
// BenchmarkRenderPackument, so the two can be compared).
func benchManifest(m map[string]any) {
	m["description"] = "A small HTTP client with retries, timeouts and typed responses for services inside the acme monorepo."
	m["main"], m["types"], m["license"] = "dist/index.js", "dist/index.d.ts", "MIT"
	m["files"] = []string{"dist", "README.md"}
	m["homepage"] = "https://example.test/acme/hello#readme"
	m["keywords"] = []string{"http", "client", "retry", "typescript"}
	m["author"] = map[string]any{"name": "A. Developer", "email": "dev@example.test", "url": "https://example.test/~dev"}
	m["repository"] = map[string]any{"type": "git", "url": "git+https://example.test/acme/hello.git"}
	m["engines"] = map[string]any{"node": ">=18"}
	m["scripts"] = map[string]any{"lint": "eslint .", "test": "vitest run", "build": "tsc -p tsconfig.build.json", "prepublishOnly": "npm run build"}
	m["dependencies"] = map[string]any{"debug": "^4.3.4", "undici": "^6.19.2", "@acme/log": "^2.1.0", "@acme/retry": "~1.4.0", "content-type": "^1.0.5"}
	m["devDependencies"] = map[string]any{"eslint": "^9.8.0", "vitest": "^2.0.5", "typescript": "^5.5.4", "@types/node": "^20.14.0", "@acme/eslint-config": "^3.0.0"}
	m["peerDependencies"] = map[string]any{"@acme/runtime": ">=2 <4"}
	m["peerDependenciesMeta"] = map[string]any{"@acme/runtime": map[string]any{"optional": true}}
}

// miss GETs url b.N times in a row, each after a generation bump so that
// the gateway rebuilds the document, and reports ns/version.
func (nb *npmBench) miss(b *testing.B, url string, h map[string]string, versions int) {
	b.Helper()
	db := nb.env.Store.DB()
	get := func() ([]byte, error) {
		var body bytes.Buffer
		st, _, err := nb.get(url, h, &body)
		if err == nil && st != 200 {
			err = fmt.Errorf("GET %s: %d", url, st)
		}
		return body.Bytes(), err
	}
	body, err := get()
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		Versions map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Versions) != versions {
		b.Fatalf("packument has %d versions, want %d (%v)", len(doc.Versions), versions, err)
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := db.Exec(`SELECT bump_package_generation($1, 'npm')`, nb.projectID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(versions), "ns/version")
}
