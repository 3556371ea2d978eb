package web

import (
	"strings"
	"testing"

	"github.com/pkgate/pkgate/storage/meta"
)

func pkg(typ, name, version string) meta.Package {
	p := meta.Package{PackageType: typ, Name: name}
	if version != "" {
		p.Version = &version
	}
	return p
}

func TestInstallCommands(t *testing.T) {
	const base = "https://pkg.example.test"
	tests := []struct {
		name  string
		p     meta.Package
		files []meta.PackageFile
		want  []string
	}{
		{"npm unscoped", pkg("npm", "left-pad", "1.3.0"), nil,
			[]string{"npm install left-pad@1.3.0 --registry=https://pkg.example.test/api/v4/projects/42/packages/npm/"}},
		{"npm scoped", pkg("npm", "@acme/hello", "1.0.0"), nil,
			[]string{"npm install @acme/hello@1.0.0 --@acme:registry=https://pkg.example.test/api/v4/projects/42/packages/npm/"}},
		{"pypi", pkg("pypi", "acme-hello", "0.1.0"), nil,
			[]string{`pip install --index-url "https://__token__:$DEPLOY_TOKEN@pkg.example.test/api/v4/projects/42/packages/pypi/simple" acme-hello==0.1.0`}},
		{"maven", pkg("maven", "com/acme/hello", "1.0-SNAPSHOT"), nil,
			[]string{"mvn dependency:get -Dartifact=com.acme:hello:1.0-SNAPSHOT -DremoteRepositories=gateway::default::https://pkg.example.test/api/v4/projects/42/packages/maven"}},
		{"generic, one line per file, directories restored", pkg("generic", "tool", "1.0.0"),
			[]meta.PackageFile{{FileName: "tool.bin"}, {FileName: "linux%2Famd64%2Ftool.tar.gz"}},
			[]string{
				`curl --fail --location --header "Deploy-Token: $DEPLOY_TOKEN" --output tool.bin https://pkg.example.test/api/v4/projects/42/packages/generic/tool/1.0.0/tool.bin`,
				`curl --fail --location --header "Deploy-Token: $DEPLOY_TOKEN" --output tool.tar.gz https://pkg.example.test/api/v4/projects/42/packages/generic/tool/1.0.0/linux/amd64/tool.tar.gz`,
			}},
		{"generic file uploaded twice (duplicates allowed) has one command", pkg("generic", "tool", "1.2.3"),
			[]meta.PackageFile{{FileName: "tool.bin"}, {FileName: "tool.bin"}},
			[]string{`curl --fail --location --header "Deploy-Token: $DEPLOY_TOKEN" --output tool.bin https://pkg.example.test/api/v4/projects/42/packages/generic/tool/1.2.3/tool.bin`}},
		{"generic file with shell-special characters is quoted", pkg("generic", "tool", "1.0.0"),
			[]meta.PackageFile{{FileName: "a~b@c.txt"}},
			[]string{`curl --fail --location --header "Deploy-Token: $DEPLOY_TOKEN" --output 'a~b@c.txt' 'https://pkg.example.test/api/v4/projects/42/packages/generic/tool/1.0.0/a~b@c.txt'`}},
		{"unknown format has no command", pkg("conan", "x", "1"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := installCommands(base, 42, tt.p, tt.files)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d commands %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Command != tt.want[i] {
					t.Errorf("command %d:\n got %s\nwant %s", i, got[i].Command, tt.want[i])
				}
				if got[i].Tool == "" || got[i].Label == "" {
					t.Errorf("command %d lacks tool or label: %+v", i, got[i])
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":              "''",
		"plain-1.0":     "plain-1.0",
		"@acme/x@1.0":   "@acme/x@1.0",
		"it's":          `'it'\''s'`,
		"$(rm -rf /)":   `'$(rm -rf /)'`,
		"a b":           "'a b'",
		"https://h/p?q": "'https://h/p?q'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := dqEscape("a$b`c\"d\\"); got != "a\\$b\\`c\\\"d\\\\" {
		t.Errorf("dqEscape = %s", got)
	}
}

func TestClientSetupsUseExternalURL(t *testing.T) {
	for _, s := range clientSetups("http://127.0.0.1:8080", 7) {
		if s.File == "~/.m2/settings.xml" {
			continue // credentials only
		}
		if !strings.Contains(s.Text, "127.0.0.1:8080/api/v4/projects/7/packages/") {
			t.Errorf("%s: %s", s.Tool, s.Text)
		}
	}
}

func TestMavenCoordinates(t *testing.T) {
	for in, want := range map[string][2]string{
		"com/acme/hello": {"com.acme", "hello"},
		"hello":          {"", "hello"},
		"org/x":          {"org", "x"},
	} {
		g, a := mavenCoordinates(in)
		if g != want[0] || a != want[1] {
			t.Errorf("%s: %s %s", in, g, a)
		}
	}
}
