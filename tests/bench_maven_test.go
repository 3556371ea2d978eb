package tests

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkMavenGet measures what a Maven build asks most, in requests
// per second, on a private project holding 50 releases of one artifact
// (16 KiB jar + pom each), authenticated with a read deploy token over
// Basic as mvn retries after the challenge. Sub-benchmarks: metadata (the
// artifact-level maven-metadata.xml, served from the document cache),
// artifact (a 16 KiB jar, from the small-blob cache after the first read)
// and checksum (the jar's .sha1, from the blob row). Run:
//
//	go test ./tests/ -run '^$' -bench BenchmarkMavenGet -benchtime 5s
func BenchmarkMavenGet(b *testing.B) {
	e := BenchEnv(b)
	base := e.URL
	pid := e.Project("app", e.Group("acme", 0, "private"), "private")
	wtok, _, _ := e.DeployToken("projects", pid, "write_package_registry")
	rtok, ruser, _ := e.DeployToken("projects", pid, "read_package_registry")
	wh := map[string]string{"Deploy-Token": wtok}
	rh := map[string]string(Basic(ruser, rtok))
	repo := fmt.Sprintf("%s/api/v4/projects/%d/packages/maven/com/acme/hello", base, pid)
	jar := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	for i := range 50 {
		v := fmt.Sprintf("1.%d.0", i)
		for _, f := range []struct {
			name string
			body []byte
		}{{"hello-" + v + ".pom", []byte("<project/>")}, {"hello-" + v + ".jar", append([]byte(v), jar...)}} {
			if st, body := benchDo(b, "PUT", repo+"/"+v+"/"+f.name, bytes.NewReader(f.body), wh); st != 200 {
				b.Fatalf("deploy %s: %d %s", f.name, st, body)
			}
		}
	}
	for _, tc := range []struct{ name, url string }{
		{"metadata", repo + "/maven-metadata.xml"},
		{"artifact", repo + "/1.25.0/hello-1.25.0.jar"},
		{"checksum", repo + "/1.25.0/hello-1.25.0.jar.sha1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if st, body := benchDo(b, "GET", tc.url, nil, rh); st != 200 {
				b.Fatalf("GET %s: %d %s", tc.url, st, body)
			}
			benchGETs(b, tc.url, rh)
		})
	}
}
