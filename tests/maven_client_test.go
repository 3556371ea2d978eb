package tests

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mavenExamples are the tested Maven files of ../shared/clients (copied
// into temp dirs, never modified in place).
const mavenExamples = "../../shared/clients/examples/maven"

// mavenRequireClient fails (never skips) when mvn or java are missing.
func mavenRequireClient(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"mvn", "java"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found (%v): run ../shared/clients/install.sh (CI installs the real clients)", bin, err)
		}
	}
	if _, err := os.Stat("/usr/share/maven-repo/org/apache/maven/plugins/maven-deploy-plugin"); err != nil {
		t.Fatalf("Debian's Maven plugin repository is missing (%v): run ../shared/clients/install.sh", err)
	}
	if _, err := os.Stat(filepath.Join(mavenExamples, "settings.xml")); err != nil {
		t.Fatalf("Maven examples missing at %s: %v", mavenExamples, err)
	}
}

// mavenCopyDir copies the example tree src into dst.
func mavenCopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// mavenEdit replaces old by new in a copied file, failing when the
// example no longer contains old (so a changed example is noticed).
func mavenEdit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s no longer contains %q: update the Maven client test", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mavenSettings writes a settings.xml variant: "basic" is the example as
// is (<username>/<password> from GATEWAY_USER/GATEWAY_TOKEN); any other
// value is the name of a header sent with GATEWAY_TOKEN on every request
// (settings.xml <httpHeaders>, the form GitLab documents).
func mavenSettings(t *testing.T, dir, form string) string {
	t.Helper()
	file := filepath.Join(dir, "settings-"+strings.ToLower(form)+".xml")
	b, err := os.ReadFile(filepath.Join(mavenExamples, "settings.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if form != "basic" {
		mavenEdit(t, file, "<username>${env.GATEWAY_USER}</username>\n      <password>${env.GATEWAY_TOKEN}</password>",
			"<configuration><httpHeaders><property><name>"+form+"</name><value>${env.GATEWAY_TOKEN}</value></property></httpHeaders></configuration>")
	}
	return file
}

// mavenResult is a finished mvn run.
type mavenResult struct {
	out string
	err error
}

// mavenRun runs mvn offline in dir with a fresh local repository.
func mavenRun(t *testing.T, dir, settings, user, token, url string, args ...string) mavenResult {
	t.Helper()
	repo := t.TempDir()
	// No tests exist in the examples: skipping them spares resolving
	// surefire. C1-only JIT cuts JVM warm-up, most of a short mvn run.
	full := append([]string{"-B", "-ntp", "-Dstyle.color=never", "-Dmaven.test.skip=true", "-s", settings,
		"-Dmaven.repo.local=" + repo, "-Dgateway.url=" + url}, args...)
	cmd := exec.Command("mvn", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEWAY_USER="+user, "GATEWAY_TOKEN="+token,
		"MAVEN_OPTS=-XX:+TieredCompilation -XX:TieredStopAtLevel=1 "+os.Getenv("MAVEN_OPTS"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("mvn %s in %s: %.1fs", strings.Join(args, " "), filepath.Base(dir), time.Since(start).Seconds())
	return mavenResult{string(out), err}
}

// mavenMust fails unless mvn succeeded without checksum warnings.
func mavenMust(t *testing.T, what string, r mavenResult) string {
	t.Helper()
	out, err := r.out, r.err
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", what, err, mavenTail(out, 6000))
	}
	for _, bad := range []string{"Failed to upload checksum", "Checksum validation failed", "Could not validate integrity"} {
		if strings.Contains(out, bad) {
			t.Fatalf("%s: Maven warned %q:\n%s", what, bad, mavenTail(out, 6000))
		}
	}
	return out
}

func mavenTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestMavenClientDeployResolve is the whole story with the real mvn:
// deploy a release and a SNAPSHOT (twice) of a project with a sources
// classifier using a write deploy token (Basic, Deploy-Token and
// Private-Token forms), fail to deploy with a read-only token, then build
// a consumer against the deployed artifacts through the project, group and
// instance URLs with read tokens.
func TestMavenClientDeployResolve(t *testing.T) {
	mavenRequireClient(t)
	e := NewEnv(t)
	s := e.NewScenario()
	groupRead, groupReadUser, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	work := t.TempDir()
	basic := mavenSettings(t, work, "basic")
	deployHdr := mavenSettings(t, work, "Deploy-Token")
	privateHdr := mavenSettings(t, work, "Private-Token")
	projectURL := e.URL + mvnProject(s.ProjectID)

	producer := filepath.Join(work, "producer")
	mavenCopyDir(t, filepath.Join(mavenExamples, "producer"), producer)
	pom := filepath.Join(producer, "pom.xml")
	// A second artifact with a classifier: the sources jar.
	mavenEdit(t, pom, "</pluginManagement>", `</pluginManagement>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-jar-plugin</artifactId>
        <executions>
          <execution>
            <id>sources</id>
            <phase>package</phase>
            <goals><goal>jar</goal></goals>
            <configuration>
              <classifier>sources</classifier>
              <classesDirectory>${project.basedir}/src/main/java</classesDirectory>
            </configuration>
          </execution>
        </executions>
      </plugin>
    </plugins>`)
	hello := filepath.Join(producer, "src/main/java/com/acme/Hello.java")

	// 1. Release 1.0.0 with Basic credentials (PUTs are preemptive).
	mavenMust(t, "deploy 1.0.0", mavenRun(t, producer, basic, s.WriteUser, s.WriteToken, projectURL, "deploy"))
	// 2. 1.1.0-SNAPSHOT with the Deploy-Token header, then 3. again with a
	// different greeting and the Private-Token header.
	mavenEdit(t, pom, "<version>1.0.0</version>\n  <packaging>", "<version>1.1.0-SNAPSHOT</version>\n  <packaging>")
	mavenEdit(t, hello, `"hello from gateway"`, `"hello from snapshot build 1"`)
	mavenMust(t, "deploy 1.1.0-SNAPSHOT #1", mavenRun(t, producer, deployHdr, "", s.WriteToken, projectURL, "deploy"))
	mavenEdit(t, hello, `"hello from snapshot build 1"`, `"hello from snapshot build 2"`)
	mavenMust(t, "deploy 1.1.0-SNAPSHOT #2", mavenRun(t, producer, privateHdr, "", s.WriteToken, projectURL, "deploy"))
	// 4. A read-only token cannot deploy.
	mavenEdit(t, pom, "<version>1.1.0-SNAPSHOT</version>\n  <packaging>", "<version>1.2.0</version>\n  <packaging>")
	ro := mavenRun(t, producer, basic, s.ReadUser, s.ReadToken, projectURL, "deploy")
	out, err := ro.out, ro.err
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("deploy with a read-only token should fail with 403, got err=%v:\n%s", err, mavenTail(out, 4000))
	}

	// What the deploys left on the server.
	r := DeployHdr(s.ReadToken)
	am := mavenParseMeta(t, e.Must(200, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/hello/maven-metadata.xml", nil, r)))
	if strings.Join(am.Versioning.Versions, ",") != "1.0.0,1.1.0-SNAPSHOT" || am.Versioning.Release != "1.0.0" || am.Versioning.Latest != "1.1.0-SNAPSHOT" {
		t.Fatalf("artifact metadata after deploys: %+v", am.Versioning)
	}
	sm := mavenParseMeta(t, e.Must(200, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/hello/1.1.0-SNAPSHOT/maven-metadata.xml", nil, r)))
	if sm.Versioning.Snapshot.BuildNumber != 2 || len(sm.Versioning.SnapshotVersions) != 3 {
		t.Fatalf("snapshot metadata after two deploys: %+v", sm.Versioning)
	}
	for _, f := range []string{"1.0.0/hello-1.0.0.jar", "1.0.0/hello-1.0.0-sources.jar", "1.0.0/hello-1.0.0.pom"} {
		res := e.Must(200, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/hello/"+f, nil, r))
		sha := e.Must(200, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/hello/"+f+".sha1", nil, r))
		if res.Header.Get("X-Checksum-Sha1") != string(sha.Body) || mavenSums(res.Body)["sha1"] != string(sha.Body) {
			t.Fatalf("%s: checksum header %q, .sha1 %q", f, res.Header.Get("X-Checksum-Sha1"), sha.Body)
		}
	}
	e.Must(404, e.Do("GET", mvnProject(s.ProjectID)+"/com/acme/hello/1.2.0/hello-1.2.0.pom", nil, r))

	// 5. Resolve from a consumer at each level, each with a fresh local
	// repository. The dependency is declared twice: plain and sources.
	consumer := func(name, version string) string {
		dir := filepath.Join(work, name)
		mavenCopyDir(t, filepath.Join(mavenExamples, "consumer"), dir)
		mavenEdit(t, filepath.Join(dir, "pom.xml"), `      <version>1.0.0</version>
    </dependency>`, fmt.Sprintf(`      <version>%[1]s</version>
    </dependency>
    <dependency>
      <groupId>com.acme</groupId>
      <artifactId>hello</artifactId>
      <version>%[1]s</version>
      <classifier>sources</classifier>
    </dependency>`, version))
		return dir
	}
	levels := []struct {
		name, settings, user, token, url, version, want string
	}{
		// Basic: GETs go out anonymously, get the 401 challenge and are
		// retried with the read token.
		{"project", basic, s.ReadUser, s.ReadToken, projectURL, "1.0.0", "hello from gateway"},
		{"group", deployHdr, groupReadUser, groupRead, e.URL + mvnGroup(s.GroupID), "1.1.0-SNAPSHOT", "hello from snapshot build 2"},
		// A version range goes through artifact-level maven-metadata.xml,
		// then the SNAPSHOT's version-level one.
		{"instance", privateHdr, "", s.ReadToken, e.URL + mvnInstance, "[1.0,2.0)", "hello from snapshot build 2"},
	}
	for _, l := range levels {
		dir := consumer("consumer-"+l.name, l.version)
		mavenMust(t, "resolve at "+l.name+" level", mavenRun(t, dir, l.settings, l.user, l.token, l.url,
			"package", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"))
		cp, err := os.ReadFile(filepath.Join(dir, "cp.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`hello-[^/:]*-sources\.jar`).Match(cp) {
			t.Fatalf("%s: the sources classifier was not resolved: %s", l.name, cp)
		}
		run := exec.Command("java", "-cp", filepath.Join(dir, "target", "app-0.0.1.jar")+string(os.PathListSeparator)+string(cp), "com.acme.app.App")
		got, err := run.CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != l.want {
			t.Fatalf("%s: App printed %q (%v), want %q (classpath %s)", l.name, got, err, l.want, cp)
		}
	}
	mavenAssertNoOrphans(t, e)
}
