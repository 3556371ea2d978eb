package tests

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// BenchmarkPyPISimpleIndex measures project-page requests per second on a
// private project holding 200 files (100 versions x wheel + sdist) of one
// package, authenticated with a read deploy token over Basic, as pip asks,
// with the production token-cache TTL (30s).
//
//	go test ./tests/ -run '^$' -bench BenchmarkPyPISimpleIndex -benchtime 5s
func BenchmarkPyPISimpleIndex(b *testing.B) {
	e := BenchEnv(b)
	base := e.URL
	pid := e.Project("app", e.Group("acme", 0, "private"), "private")
	write, _, _ := e.DeployToken("projects", pid, "write_package_registry")
	read, _, _ := e.DeployToken("projects", pid, "read_package_registry")

	// Seed 200 files with 8 parallel uploaders.
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fn := range jobs {
				version := strings.Split(fn, "-")[1]
				version = strings.TrimSuffix(version, ".tar.gz")
				content := []byte("content of " + fn)
				body, ct := pypiGood("bench-pkg", version, fn, content).body()
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", base, pid), bytes.NewReader(body))
				req.SetBasicAuth("__token__", write)
				req.Header.Set("Content-Type", ct)
				res, err := benchClient.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 201 {
					b.Errorf("seed %s: %d", fn, res.StatusCode)
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		v := fmt.Sprintf("1.%d.0", i)
		jobs <- "bench_pkg-" + v + "-py3-none-any.whl"
		jobs <- "bench_pkg-" + v + ".tar.gz"
	}
	close(jobs)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	page := fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi/simple/bench-pkg/", base, pid)
	req, _ := http.NewRequest("GET", page, nil)
	req.SetBasicAuth("__token__", read)
	auth := req.Header.Get("Authorization")
	const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	for _, flavour := range []struct{ name, accept, encoding string }{
		{"html", "text/html", ""},
		{"json", pipAccept, ""},
		// What pip sends: its Accept, and gzip (requests' default).
		{"json+gzip", pipAccept, "gzip, deflate"},
	} {
		b.Run(flavour.name, func(b *testing.B) {
			h := map[string]string{"Accept": flavour.accept, "Authorization": auth}
			st, body := benchDo(b, "GET", page, nil, h)
			if st != 200 || bytes.Count(body, []byte("#sha256=")) != 200 {
				b.Fatalf("page: %d, %d links", st, bytes.Count(body, []byte("#sha256=")))
			}
			if flavour.encoding != "" {
				h["Accept-Encoding"] = flavour.encoding
				res, err := benchClient.Do(mustRequest(b, page, h))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
					b.Fatalf("page with gzip asked: %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
				}
			}
			benchGETs(b, page, h)
		})
	}
	// A file download, as pip makes one per file it installs: the link
	// of the page's newest wheel.
	b.Run("file", func(b *testing.B) {
		h := map[string]string{"Authorization": auth}
		st, body := benchDo(b, "GET", page, nil, h)
		m := regexp.MustCompile(`href="([^"#]+)#sha256=[0-9a-f]+"`).FindAllSubmatch(body, -1)
		if st != 200 || len(m) == 0 {
			b.Fatalf("page: %d, %d links", st, len(m))
		}
		file := html.UnescapeString(string(m[len(m)-1][1]))
		if st, _ := benchDo(b, "GET", file, nil, h); st != 200 {
			b.Fatalf("file %s: %d", file, st)
		}
		benchGETs(b, file, h)
	})
}

// mustRequest is a GET of url with headers h.
func mustRequest(tb testing.TB, url string, h map[string]string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return req
}
