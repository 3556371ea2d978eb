package tests

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedirectDownloadsRealClients: with GATEWAY_REDIRECT_DOWNLOADS on,
// every client of the spec still gets the published bytes. One package per
// format is published through a streaming gateway; the real clients (npm
// install, pip download, poetry lock + install when Poetry is installed,
// curl -L, mvn dependency:get) then fetch it through gateways on the same
// database and bucket with redirects on, in two layouts:
//
//   - the S3 endpoint on another host name than the gateway (the usual
//     one): every npm, PyPI and generic download is a 302 to a presigned
//     URL, which each client follows, dropping its Authorization header;
//   - the S3 endpoint on the gateway's host name, another port (a MinIO
//     next to the gateway): npm keeps its Authorization header when only
//     the port changes and S3 refuses a presigned request carrying one,
//     so a download sent with that header is streamed (see
//     formats.authorizationFollows); one with a PRIVATE-TOKEN or
//     Deploy-Token header is still redirected.
//
// Each expectation is checked twice: with a client that does not follow
// redirects (302 to the bucket, or the file streamed), and on the
// gateway's request counter after the real client ran, so the test cannot
// pass if redirects silently stop happening. Maven downloads are never
// redirected (200 with the checksum headers Maven reads).
func TestRedirectDownloadsRealClients(t *testing.T) {
	// Missing clients fail rather than skip, as in the other client tests:
	// CI installs them, a missing one is a broken environment.
	pypiRequireClients(t)
	mavenRequireClient(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl not found (%v): run ../shared/clients/install.sh", err)
	}
	npm := newNPMCLI(t) // fails when npm is missing

	e := NewEnv(t)
	s := e.NewScenario()
	readerID, readerPAT := e.User("reader")
	e.Member("projects", s.ProjectID, readerID, 20) // reporter

	// One publish per format, through the streaming gateway.
	npmPath := fmt.Sprintf("/api/v4/projects/%d/packages/npm/", s.ProjectID)
	npm.must(npmPackageDir(t, "@acme/hello", "1.0.0", nil), npm.npmrc(e.URL+npmPath, e.URL+npmPath, s.WriteToken), "publish")
	pk := e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/hello"), nil, Bearer(s.ReadToken))).Map(t)
	tarballURL := pk["versions"].(map[string]any)["1.0.0"].(map[string]any)["dist"].(map[string]any)["tarball"].(string)
	tarballPath := strings.TrimPrefix(tarballURL, e.URL)
	tarball := e.Must(200, e.Do("GET", tarballPath, nil, Bearer(s.ReadToken))).Body

	dist := pypiBuild(t, "acme-hello", "0.1.0", ">=3.7")
	if out, err := pypiTwine(t, fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), s.WriteToken, dist.Wheel, dist.Sdist); err != nil {
		t.Fatalf("twine upload: %v\n%s", err, out)
	}
	simple := fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple", s.ProjectID)
	wheel, err := os.ReadFile(dist.Wheel)
	pypiMust(t, err)
	wheelSHA := pypiSHA256(wheel)
	page := e.Must(200, e.Do("GET", simple+"/acme-hello/", nil, Basic("__token__", s.ReadToken)))
	href := regexp.MustCompile(`href="` + regexp.QuoteMeta(e.URL) + `([^"#]*/` + regexp.QuoteMeta(filepath.Base(dist.Wheel)) + `)#sha256=` + wheelSHA + `"`).FindSubmatch(page.Body)
	if href == nil {
		t.Fatalf("the simple page lacks the wheel:\n%s", page.Body)
	}
	wheelPath := string(href[1])

	generic := randomBytes(77, 300<<10)
	genericPath := fmt.Sprintf("/api/v4/projects/%d/packages/generic/redir/1.0.0/data.bin", s.ProjectID)
	e.Must(201, e.Do("PUT", genericPath, generic, DeployHdr(s.WriteToken)))

	mavenBase := mvnProject(s.ProjectID)
	jar := randomBytes(78, 40<<10)
	pom := []byte(`<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>` +
		`<groupId>com.acme</groupId><artifactId>redir</artifactId><version>1.0.0</version></project>`)
	mvnDeploy(t, e, mavenBase, "com/acme/redir/1.0.0/redir-1.0.0.pom", pom, DeployHdr(s.WriteToken))
	mvnDeploy(t, e, mavenBase, "com/acme/redir/1.0.0/redir-1.0.0.jar", jar, DeployHdr(s.WriteToken))

	// The two layouts. The gateways listen on 127.0.0.1; the store is
	// reached as "localhost" for another host name.
	s3u, err := url.Parse(s3svc.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	endpointAt := func(host string) string {
		u := *s3u
		u.Host = host
		if p := s3u.Port(); p != "" {
			u.Host = net.JoinHostPort(host, p)
		}
		return u.String()
	}
	type layout struct {
		name     string
		endpoint string // "": not possible with these services
		sameHost bool
		rd       *Env
	}
	layouts := []*layout{
		{name: "store on another host name", endpoint: s3svc.Endpoint},
		{name: "store on the gateway's host name", sameHost: true},
	}
	switch s3u.Hostname() {
	case "127.0.0.1":
		layouts[0].endpoint, layouts[1].endpoint = endpointAt("localhost"), s3svc.Endpoint
	case "localhost":
		layouts[1].endpoint = endpointAt("127.0.0.1")
	}
	for _, l := range layouts {
		if l.endpoint == "" {
			continue
		}
		cfg := e.Cfg
		cfg.ExternalURL, cfg.RedirectDownloads, cfg.S3Endpoint = "", true, l.endpoint
		l.rd = startEnv(t, cfg, e.Bucket)
		l.rd.Admin = e.Admin
	}

	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			if l.rd == nil {
				t.Skipf("the S3 endpoint %s is not on this machine's loopback: the gateway cannot share its host name", s3svc.Endpoint)
			}
			bucketURL := l.endpoint + "/" + e.Bucket + "/"
			// answer asserts how one GET of path, not followed, is
			// answered: a 302 to a presigned URL of the bucket, or the
			// file itself.
			answer := func(t *testing.T, path string, h H, redirect bool, want []byte) {
				t.Helper()
				r := envFor(l.rd, t).Do("GET", path, nil, h)
				loc := r.Header.Get("Location")
				switch {
				case redirect && (r.Status != 302 || !strings.HasPrefix(loc, bucketURL) || !strings.Contains(loc, "X-Amz-Signature=")):
					t.Fatalf("GET %s: %d, Location %q; want a 302 to a presigned URL under %s", path, r.Status, loc, bucketURL)
				case !redirect && (r.Status != 200 || !bytes.Equal(r.Body, want)):
					t.Fatalf("GET %s: %d, Location %q, %d bytes; want the %d bytes of the file streamed", path, r.Status, loc, len(r.Body), len(want))
				}
			}
			// ran asserts, after a client ran, whether its download
			// was redirected: the gateway's 302 count for the format
			// grew from before, or stayed.
			ran := func(t *testing.T, format string, before float64, redirect bool) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for {
					n := redirectedGETs(envFor(l.rd, t), format)
					switch {
					case !redirect && n != before:
						t.Fatalf("the client's %s download was redirected (%v 302s, %v before)", format, n, before)
					case !redirect || n > before:
						return
					case time.Now().After(deadline):
						t.Fatalf("the client's %s download was not redirected (%v 302s before and after)", format, before)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			viaAuthorization := !l.sameHost // redirected when sent with an Authorization header

			t.Run("npm install", func(t *testing.T) {
				rd := envFor(l.rd, t)
				answer(t, tarballPath, Bearer(s.ReadToken), viaAuthorization, tarball)
				before := redirectedGETs(rd, "npm")
				dir := npmConsumerDir(t)
				consumer := newNPMCLI(t) // a fresh cache
				out, err := consumer.run(dir, consumer.npmrc(rd.URL+npmPath, rd.URL+npmPath, s.ReadToken), "install", "@acme/hello@1.0.0")
				if err != nil {
					t.Fatalf("npm install: %v\n%s", err, out)
				}
				ran(t, "npm", before, viaAuthorization)
				got, err := os.ReadFile(filepath.Join(dir, "node_modules", "@acme", "hello", "index.js"))
				if want := "module.exports = \"@acme/hello@1.0.0\";\n"; err != nil || string(got) != want {
					t.Fatalf("installed index.js = %q (%v), want %q", got, err, want)
				}
				npmRequire(t, dir, "@acme/hello", "@acme/hello@1.0.0")
				lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
				if err != nil || !strings.Contains(string(lock), `"resolved": "`+rd.URL+npmPath) {
					t.Fatalf("package-lock.json does not resolve through the redirecting gateway (%v):\n%s", err, lock)
				}
			})

			t.Run("pip download", func(t *testing.T) {
				rd := envFor(l.rd, t)
				answer(t, wheelPath, Basic("__token__", s.ReadToken), viaAuthorization, wheel)
				before := redirectedGETs(rd, "pypi")
				dest := t.TempDir()
				args := append([]string{"-m", "pip"}, pypiPipArgs...)
				args = append(args, "download", "--no-deps", "--only-binary", ":all:", "--dest", dest,
					"--index-url", pypiIndexURL(rd.URL, s.ReadToken, simple), "acme-hello==0.1.0")
				if out, err := pypiExec(t, t.TempDir(), nil, "python3", args...); err != nil {
					t.Fatalf("pip download: %v\n%s", err, out)
				}
				ran(t, "pypi", before, viaAuthorization)
				got, err := os.ReadFile(filepath.Join(dest, filepath.Base(dist.Wheel)))
				if err != nil || pypiSHA256(got) != wheelSHA {
					entries, _ := os.ReadDir(dest)
					t.Fatalf("pip downloaded %v (%v), not the wheel with sha256 %s", entries, err, wheelSHA)
				}
			})

			t.Run("poetry lock + install", func(t *testing.T) {
				requirePoetry(t) // skips without Poetry, fails if it is broken
				rd := envFor(l.rd, t)
				before := redirectedGETs(rd, "pypi")
				p := newPoetry(t)
				index := rd.URL + simple
				app := poetryProject(t, "acme-app", "1.0.0", `acme-hello = "0.1.0"`,
					fmt.Sprintf("[[tool.poetry.source]]\nname = \"gitlab\"\nurl = %q\ndefault = true\n", index))
				p.run(app, "config", "http-basic.gitlab", s.ReadUser, s.ReadToken)
				p.run(app, "lock")
				p.run(app, "install")
				ran(t, "pypi", before, viaAuthorization)
				lock, err := os.ReadFile(filepath.Join(app, "poetry.lock"))
				if err != nil || !strings.Contains(string(lock), fmt.Sprintf(`{file = "%s", hash = "sha256:%s"}`, filepath.Base(dist.Wheel), wheelSHA)) {
					t.Fatalf("poetry.lock lacks the wheel's hash (%v):\n%s", err, lock)
				}
				got := pypiRun(t, app, nil, filepath.Join(app, ".venv", "bin", "python"), "-c", "import acme_hello; print(acme_hello.VERSION)")
				if strings.TrimSpace(got) != "0.1.0" {
					t.Fatalf("import in Poetry's virtualenv: %q", got)
				}
			})

			for _, c := range []struct {
				name     string
				h        H
				args     []string
				redirect bool
			}{
				{"Deploy-Token header", DeployHdr(s.ReadToken), []string{"--header", "Deploy-Token: " + s.ReadToken}, true},
				{"PRIVATE-TOKEN header", PAT(readerPAT), []string{"--header", "PRIVATE-TOKEN: " + readerPAT}, true},
				{"--user Basic", Basic(s.ReadUser, s.ReadToken), []string{"--user", s.ReadUser + ":" + s.ReadToken}, viaAuthorization},
			} {
				t.Run("curl -L with "+c.name, func(t *testing.T) {
					rd := envFor(l.rd, t)
					answer(t, genericPath, c.h, c.redirect, generic)
					before := redirectedGETs(rd, "generic")
					out := filepath.Join(t.TempDir(), "data.bin")
					args := append([]string{"-fsS", "-L", "-o", out}, c.args...)
					if msg, err := exec.Command(curl, append(args, rd.URL+genericPath)...).CombinedOutput(); err != nil {
						t.Fatalf("curl: %v\n%s", err, msg)
					}
					ran(t, "generic", before, c.redirect)
					if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, generic) {
						t.Fatalf("curl got %d bytes (%v), want the %d uploaded", len(got), err, len(generic))
					}
				})
			}

			t.Run("Maven streamed", func(t *testing.T) {
				rd := envFor(l.rd, t)
				for _, h := range []H{DeployHdr(s.ReadToken), Basic(s.ReadUser, s.ReadToken)} {
					got := rd.Do("GET", mavenBase+"/com/acme/redir/1.0.0/redir-1.0.0.jar", nil, h)
					if got.Status != 200 || got.Header.Get("X-Checksum-Sha1") != mavenSums(jar)["sha1"] || !bytes.Equal(got.Body, jar) {
						t.Fatalf("Maven jar: %d, X-Checksum-Sha1 %q, %d bytes; want a streamed 200 with the sha1 header",
							got.Status, got.Header.Get("X-Checksum-Sha1"), len(got.Body))
					}
				}
				if l.sameHost {
					return // one mvn run is enough: its downloads never redirect
				}
				work, repo := t.TempDir(), t.TempDir()
				// Basic credentials: the GETs go out anonymously, are
				// challenged, and retried. The second -Dmaven.repo.local
				// overrides mavenRun's own, so the resolved files can be
				// read back.
				mavenMust(t, "mvn dependency:get", mavenRun(t, work, mavenSettings(t, work, "basic"), s.ReadUser, s.ReadToken, rd.URL+mavenBase,
					"org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get", "-Dmaven.repo.local="+repo,
					"-Dartifact=com.acme:redir:1.0.0", "-Dtransitive=false", "-DremoteRepositories=gateway::default::"+rd.URL+mavenBase))
				if b, err := os.ReadFile(filepath.Join(repo, "com/acme/redir/1.0.0/redir-1.0.0.jar")); err != nil || !bytes.Equal(b, jar) {
					t.Fatalf("resolved jar: %d bytes (%v), want the %d deployed", len(b), err, len(jar))
				}
				if n := redirectedGETs(rd, "maven"); n != 0 {
					t.Fatalf("%v Maven downloads were redirected; they must be streamed", n)
				}
			})
		})
	}
}

// envFor is e reporting to t, for use inside a subtest (an Env fails the
// test it was created by). The copy cannot stop the gateway.
func envFor(e *Env, t *testing.T) *Env {
	c := *e
	c.t, c.cancel = t, nil
	return &c
}

// redirectedGETs sums the GETs of format the gateway answered with 302.
func redirectedGETs(e *Env, format string) float64 {
	e.t.Helper()
	body := string(e.Must(200, e.Do("GET", "/-/metrics", nil, nil)).Body)
	var n float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, `pkgate_http_requests_total{format="`+format+`"`) ||
			!strings.Contains(line, `method="GET"`) || !strings.Contains(line, `status="302"`) {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			e.t.Fatalf("%s: %v", line, err)
		}
		n += f
	}
	return n
}
