package web

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/pkgate/pkgate/storage/meta"
)

// InstallCommand is a copy-paste command line shown next to a package.
type InstallCommand struct {
	Tool    string // npm, pip, mvn, curl
	Label   string // what the command does, for the copy button's label
	Command string
}

// The commands read the credential from environment variables, as the
// spec's client examples do, so that no secret ever appears on the page and
// the lines can be pasted into CI scripts unchanged.
const (
	tokenVar = "$DEPLOY_TOKEN"
	userVar  = "$DEPLOY_USER"
)

// installCommands builds the install or download commands of one package of
// project projectID, for a gateway reachable at base (the external URL,
// without trailing slash). files are the package's files (only the generic
// format needs them: each file is downloaded on its own).
func installCommands(base string, projectID int64, p meta.Package, files []meta.PackageFile) []InstallCommand {
	api := base + "/api/v4/projects/" + strconv.FormatInt(projectID, 10) + "/packages/"
	version := p.VersionString()
	switch p.PackageType {
	case "npm":
		spec := p.Name + "@" + version
		registry := api + "npm/"
		flag := "--registry=" + registry
		if scope, _, ok := strings.Cut(p.Name, "/"); ok && strings.HasPrefix(scope, "@") {
			// --registry only applies to unscoped names; a scoped package
			// needs its scope mapped to the registry.
			flag = "--" + scope + ":registry=" + registry
		}
		return []InstallCommand{{Tool: "npm", Label: "npm install command", Command: "npm install " + shellQuote(spec) + " " + shellQuote(flag)}}
	case "pypi":
		u, err := url.Parse(api + "pypi/simple")
		if err != nil {
			return nil
		}
		// The credential goes into the index URL (pip sends it as Basic
		// auth; the gateway ignores the user name, "__token__" is pip's
		// convention). Double quotes so the shell expands the variable.
		index := u.Scheme + "://__token__:" + tokenVar + "@" + dqEscape(u.Host+u.EscapedPath())
		return []InstallCommand{{Tool: "pip", Label: "pip install command",
			Command: "pip install --index-url \"" + index + "\" " + shellQuote(p.Name+"=="+version)}}
	case "maven":
		group, artifact := mavenCoordinates(p.Name)
		coords := artifact + ":" + version
		if group != "" {
			coords = group + ":" + coords
		}
		return []InstallCommand{{Tool: "mvn", Label: "Maven download command",
			Command: "mvn dependency:get " + shellQuote("-Dartifact="+coords) + " " +
				shellQuote("-DremoteRepositories=gateway::default::"+api+"maven")}}
	case "generic":
		// A file name uploaded again (duplicates are allowed by default)
		// has more than one row, but one URL, which serves the newest.
		var out []InstallCommand
		seen := map[string]bool{}
		for _, f := range files {
			if seen[f.FileName] {
				continue
			}
			seen[f.FileName] = true
			rel, out1 := genericFilePath(f.FileName)
			out = append(out, InstallCommand{Tool: "curl", Label: "curl download command for " + out1,
				Command: "curl --fail --location --header \"Deploy-Token: " + tokenVar + "\" --output " + shellQuote(out1) + " " +
					shellQuote(api+"generic/"+url.PathEscape(p.Name)+"/"+url.PathEscape(version)+"/"+rel)})
		}
		return out
	}
	return nil
}

// mavenCoordinates splits a Maven package name (the path of its groupId
// with slashes, then the artifactId: com/acme/hello) into groupId and
// artifactId.
func mavenCoordinates(name string) (group, artifact string) {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return "", name
	}
	return strings.ReplaceAll(name[:i], "/", "."), name[i+1:]
}

// genericFilePath turns a stored generic file name into the URL path after
// the version and the local file name: a file uploaded under a directory is
// stored as its whole relative path escaped into one component
// (path%2Fto%2Ffile.tar.gz) and downloaded as path/to/file.tar.gz.
func genericFilePath(stored string) (urlPath, local string) {
	rel, err := url.PathUnescape(stored)
	if err != nil {
		rel = stored
	}
	parts := strings.Split(rel, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/"), parts[len(parts)-1]
}

// shellQuote quotes s for a POSIX shell when it holds anything beyond a
// conservative set of safe characters.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dqEscape escapes what a POSIX shell interprets inside double quotes.
func dqEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(s)
}

// clientSetup is the one-time configuration a client needs for a project,
// shown once on the packages page rather than repeated on every package.
type clientSetup struct {
	Tool, Title, File, Text string
}

func clientSetups(base string, projectID int64) []clientSetup {
	api := base + "/api/v4/projects/" + strconv.FormatInt(projectID, 10) + "/packages/"
	hostPath := strings.TrimPrefix(strings.TrimPrefix(api, "https:"), "http:") // //host/api/v4/...
	return []clientSetup{
		{Tool: "npm", Title: "npm", File: ".npmrc",
			Text: hostPath + "npm/:_authToken=${DEPLOY_TOKEN}"},
		{Tool: "twine", Title: "PyPI (twine upload)", File: "shell",
			Text: "TWINE_USERNAME=__token__ TWINE_PASSWORD=\"" + tokenVar + "\" twine upload --repository-url " + shellQuote(api+"pypi") + " dist/*"},
		{Tool: "mvn", Title: "Maven credentials", File: "~/.m2/settings.xml",
			Text: "<settings>\n  <servers>\n    <server>\n      <id>gateway</id>\n      <configuration>\n        <httpHeaders>\n" +
				"          <property><name>Deploy-Token</name><value>${env.DEPLOY_TOKEN}</value></property>\n" +
				"        </httpHeaders>\n      </configuration>\n    </server>\n  </servers>\n</settings>"},
		{Tool: "mvn", Title: "Maven repository", File: "pom.xml",
			Text: "<repositories>\n  <repository>\n    <id>gateway</id>\n    <url>" + api + "maven</url>\n  </repository>\n</repositories>\n" +
				"<distributionManagement>\n  <repository>\n    <id>gateway</id>\n    <url>" + api + "maven</url>\n  </repository>\n</distributionManagement>"},
		{Tool: "curl", Title: "curl (generic packages)", File: "shell",
			Text: "export DEPLOY_USER=<token username>\nexport DEPLOY_TOKEN=<token>\n" +
				"curl --fail --user \"" + userVar + ":" + tokenVar + "\" --upload-file ./file.tar.gz \\\n  " +
				shellQuote(api+"generic/my-package/1.0.0/file.tar.gz")},
	}
}
