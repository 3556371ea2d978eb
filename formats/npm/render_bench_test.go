package npm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// benchManifest is a stored version manifest of about 1 KiB, shaped as
// Postgres jsonb prints it (", " and ": " separators, shorter keys first),
// because that is what RenderPackument reads on a cache miss. The fields
// are what storedManifest keeps of a typical library's package.json.
func benchManifest(name, version string) []byte {
	return fmt.Appendf(nil, `{"_id": "%[1]s@%[2]s", "main": "dist/index.js", "name": "%[1]s", "files": ["dist", "README.md"], "types": "dist/index.d.ts", "author": {"url": "https://example.test/~dev", "name": "A. Developer", "email": "dev@example.test"}, "engines": {"node": ">=18"}, "license": "MIT", "scripts": {"lint": "eslint .", "test": "vitest run", "build": "tsc -p tsconfig.build.json", "prepublishOnly": "npm run build"}, "version": "%[2]s", "homepage": "https://example.test/acme/hello#readme", "keywords": ["http", "client", "retry", "typescript"], "description": "A small HTTP client with retries, timeouts and typed responses for services inside the acme monorepo.", "repository": {"url": "git+https://example.test/acme/hello.git", "type": "git"}, "dependencies": {"debug": "^4.3.4", "undici": "^6.19.2", "@acme/log": "^2.1.0", "@acme/retry": "~1.4.0", "content-type": "^1.0.5"}, "devDependencies": {"eslint": "^9.8.0", "vitest": "^2.0.5", "typescript": "^5.5.4", "@types/node": "^20.14.0", "@acme/eslint-config": "^3.0.0"}, "peerDependencies": {"@acme/runtime": ">=2 <4"}, "peerDependenciesMeta": {"@acme/runtime": {"optional": true}}}`, name, version)
}

// benchPackument builds a packument input with n versions of @acme/hello,
// oldest first as meta.NPMVersions returns them, and four dist-tags.
func benchPackument(n int, abbreviated bool) PackumentInput {
	name := Name{"acme", "hello"}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := make([]meta.NPMVersion, n)
	for i := range rows {
		v := fmt.Sprintf("%d.%d.%d", 1+i/100, i/10%10, i%10)
		sha512 := fmt.Sprintf("%0128x", i+1)
		rows[i] = meta.NPMVersion{PackageID: int64(1000 + i), ProjectID: 7, Version: v, Status: meta.StatusDefault,
			Metadata:  benchManifest(name.String(), v),
			CreatedAt: t0.Add(time.Duration(i) * time.Hour), UpdatedAt: t0.Add(time.Duration(i) * time.Hour),
			FileID: int64(5000 + i), Size: 48213, SHA1: fmt.Sprintf("%040x", i+1), SHA512: &sha512}
	}
	tags := []meta.NPMTag{
		{ProjectID: 7, Tag: "lts", Version: rows[n/2].Version, UpdatedAt: t0},
		{ProjectID: 7, Tag: "legacy", Version: rows[0].Version, UpdatedAt: t0},
		{ProjectID: 7, Tag: "next", Version: rows[n-1].Version, UpdatedAt: t0},
		{ProjectID: 7, Tag: "latest", Version: rows[n-2].Version, UpdatedAt: t0},
	}
	return PackumentInput{Name: name, Versions: rows, Tags: tags, ExternalURL: "https://pkg.example.test", Abbreviated: abbreviated}
}

// BenchmarkRenderPackument measures what a packument cache miss spends in
// rendering, for growing version counts. ns/version staying flat as the
// count doubles is the evidence that the cost is linear in versions (the
// README's Performance section quotes it). Run:
//
//	go test ./formats/npm -run '^$' -bench RenderPackument -benchmem -benchtime 2s
func BenchmarkRenderPackument(b *testing.B) {
	for _, mode := range []string{"full", "abbreviated"} {
		for _, n := range []int{25, 50, 100, 200, 400, 800} {
			b.Run(fmt.Sprintf("%s/versions=%d", mode, n), func(b *testing.B) {
				in := benchPackument(n, mode == "abbreviated")
				doc, err := RenderPackument(in)
				if err != nil || !json.Valid(doc) {
					b.Fatalf("render: %v", err)
				}
				b.SetBytes(int64(len(doc)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := RenderPackument(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/version")
			})
		}
	}
}

// TestBenchManifestSize keeps the benchmark input honest: each manifest is
// about 1 KiB, as the README states for the measured figures.
func TestBenchManifestSize(t *testing.T) {
	m := benchManifest("@acme/hello", "1.2.3")
	if !json.Valid(m) || len(m) < 900 || len(m) > 1300 {
		t.Fatalf("manifest is %d bytes (valid %t)", len(m), json.Valid(m))
	}
	in := benchPackument(25, false)
	doc, err := RenderPackument(in)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]any    `json:"versions"`
	}
	if err := json.Unmarshal(doc, &p); err != nil || len(p.Versions) != 25 || len(p.DistTags) != 4 || !strings.HasPrefix(p.DistTags["latest"], "1.2.") {
		t.Fatalf("packument: %v %d versions, tags %v", err, len(p.Versions), p.DistTags)
	}
}
