package npm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

func TestRenderPackument(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sha512 := strings.Repeat("ab", 64)
	rows := []meta.NPMVersion{
		{PackageID: 1, ProjectID: 7, Version: "1.0.0", Metadata: []byte(`{"name":"@acme/hello","version":"1.0.0","description":"d","dependencies":{"@acme/dep":"^1"},"scripts":{"test":"x"},"deprecated":"old"}`),
			CreatedAt: t0, UpdatedAt: t0, SHA1: strings.Repeat("1", 40), SHA512: &sha512},
		{PackageID: 2, ProjectID: 7, Version: "1.1.0", Metadata: []byte(`{"os":["linux"],"bin":{"h":"x.js"}}`),
			CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour), SHA1: strings.Repeat("2", 40)},
		// The same version in a newer project: the later row wins.
		{PackageID: 3, ProjectID: 9, Version: "1.1.0", Metadata: []byte(`{}`), CreatedAt: t0.Add(3 * time.Hour), UpdatedAt: t0.Add(3 * time.Hour), SHA1: strings.Repeat("3", 40)},
		{PackageID: 4, ProjectID: 7, Version: "2.0.0-beta.1", Metadata: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0, SHA1: strings.Repeat("4", 40)},
	}
	tags := []meta.NPMTag{{Tag: "beta", Version: "2.0.0-beta.1", UpdatedAt: t0.Add(5 * time.Hour)}, {Tag: "gone", Version: "0.0.1"}}
	in := PackumentInput{Name: Name{"acme", "hello"}, Versions: rows, Tags: tags, ExternalURL: "https://pkg.example.test"}

	full, err := RenderPackument(in)
	if err != nil || !json.Valid(full) {
		t.Fatalf("%v %s", err, full)
	}
	var doc struct {
		ID       string                    `json:"_id"`
		Rev      string                    `json:"_rev"`
		Name     string                    `json:"name"`
		DistTags map[string]string         `json:"dist-tags"`
		Versions map[string]map[string]any `json:"versions"`
		Time     map[string]string         `json:"time"`
		Modified string                    `json:"modified"`
	}
	json.Unmarshal(full, &doc)
	if doc.ID != "@acme/hello" || doc.Name != "@acme/hello" || doc.Rev != Rev(rows) || !strings.HasPrefix(doc.Rev, "4-") {
		t.Fatalf("header: %+v", doc)
	}
	if len(doc.DistTags) != 2 || doc.DistTags["latest"] != "1.1.0" || doc.DistTags["beta"] != "2.0.0-beta.1" {
		t.Fatalf("dist-tags %v", doc.DistTags)
	}
	v1 := doc.Versions["1.0.0"]
	dist := v1["dist"].(map[string]any)
	if dist["tarball"] != "https://pkg.example.test/api/v4/projects/7/packages/npm/@acme/hello/-/@acme/hello-1.0.0.tgz" ||
		dist["shasum"] != strings.Repeat("1", 40) || !strings.HasPrefix(dist["integrity"].(string), "sha512-q6urq6") {
		t.Fatalf("dist %v", dist)
	}
	if v1["description"] != "d" || v1["deprecated"] != "old" || v1["scripts"] == nil {
		t.Fatalf("full manifest %v", v1)
	}
	v11 := doc.Versions["1.1.0"]
	if v11["dist"].(map[string]any)["shasum"] != strings.Repeat("3", 40) || v11["name"] != "@acme/hello" || v11["version"] != "1.1.0" {
		t.Fatalf("newest record must win: %v", v11)
	}
	if _, ok := v11["dist"].(map[string]any)["integrity"]; ok {
		t.Fatal("no sha512, no integrity")
	}
	if doc.Time["created"] != "2026-01-02T03:04:05.000Z" || doc.Time["1.1.0"] != "2026-01-02T06:04:05.000Z" || doc.Time["modified"] != "2026-01-02T08:04:05.000Z" {
		t.Fatalf("time %v", doc.Time)
	}

	in.Abbreviated = true
	abbr, err := RenderPackument(in)
	if err != nil || !json.Valid(abbr) {
		t.Fatalf("%v %s", err, abbr)
	}
	doc = struct {
		ID       string                    `json:"_id"`
		Rev      string                    `json:"_rev"`
		Name     string                    `json:"name"`
		DistTags map[string]string         `json:"dist-tags"`
		Versions map[string]map[string]any `json:"versions"`
		Time     map[string]string         `json:"time"`
		Modified string                    `json:"modified"`
	}{}
	json.Unmarshal(abbr, &doc)
	if doc.ID != "" || doc.Rev != "" || doc.Time != nil || doc.Modified != "2026-01-02T08:04:05.000Z" {
		t.Fatalf("abbreviated header %+v", doc)
	}
	v1 = doc.Versions["1.0.0"]
	if v1["description"] != nil || v1["scripts"] != nil || v1["deprecated"] != "old" || v1["dependencies"] == nil || v1["dist"] == nil {
		t.Fatalf("abbreviated manifest %v", v1)
	}
	if doc.Versions["1.1.0"] == nil {
		t.Fatal("missing version")
	}

	// Same input, same bytes (ETags must agree across nodes).
	again, _ := RenderPackument(in)
	if string(again) != string(abbr) {
		t.Fatal("rendering is not deterministic")
	}
}

func TestDistTagsAndRev(t *testing.T) {
	rows := []meta.NPMVersion{{PackageID: 5, Version: "1.0.0"}, {PackageID: 3, Version: "1.2.0"}}
	if got := DistTags(rows, nil); len(got) != 1 || got["latest"] != "1.2.0" {
		t.Fatal(got)
	}
	if got := DistTags(rows, []meta.NPMTag{{Tag: "latest", Version: "1.0.0"}}); got["latest"] != "1.0.0" {
		t.Fatal("a stored latest wins", got)
	}
	// Later tag rows (newer changes) win.
	if got := DistTags(rows, []meta.NPMTag{{Tag: "x", Version: "1.0.0"}, {Tag: "x", Version: "1.2.0"}}); got["x"] != "1.2.0" {
		t.Fatal(got)
	}
	if len(DistTags(nil, nil)) != 0 {
		t.Fatal("no versions, no tags")
	}
	a := Rev(rows)
	if b := Rev([]meta.NPMVersion{rows[1], rows[0]}); a != b {
		t.Fatal("Rev depends on order")
	}
	if c := Rev(rows[:1]); c == a || !strings.HasPrefix(c, "1-") {
		t.Fatal("Rev must change with the version set", a, c)
	}
	if u := TarballURL("http://h:1", 3, Name{"", "plain"}, "1.0.0+b"); u != "http://h:1/api/v4/projects/3/packages/npm/plain/-/plain-1.0.0+b.tgz" {
		t.Fatal(u)
	}
}

func TestEachMember(t *testing.T) {
	tests := []struct {
		in   string
		want string // key=value pairs joined by |
		err  bool
	}{
		{in: `{}`, want: ""},
		{in: ` { } `, want: ""},
		{in: `{"a": 1, "b": "x", "c": null, "d": true}`, want: `"a"=1|"b"="x"|"c"=null|"d"=true`},
		{in: `{"a":{"b":[1,{"c":"}]\"{"}]},"e":-1.5e3}`, want: `"a"={"b":[1,{"c":"}]\"{"}]}|"e"=-1.5e3`},
		{in: `{"k\"q": "v\\", "z": []}`, want: `"k\"q"="v\\"|"z"=[]`},
		{in: "{\n\t\"a\" :\r\n [ 1 , 2 ] \n}", want: `"a"=[ 1 , 2 ]`},
		{in: `[]`, err: true},
		{in: `{"a"}`, err: true},
		{in: `{"a":}`, err: true},
		{in: `{"a":1`, err: true},
		{in: `{"a":"x`, err: true},
		{in: `{"a":[1,2}`, err: true},
		{in: `{a:1}`, err: true},
		{in: `{"a":1 "b":2}`, err: true},
		{in: ``, err: true},
	}
	for _, tc := range tests {
		var got []string
		err := eachMember([]byte(tc.in), func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
		if tc.err {
			if err == nil {
				t.Errorf("eachMember(%q) accepted: %v", tc.in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != tc.want {
			t.Errorf("eachMember(%q) = %q, %v; want %q", tc.in, strings.Join(got, "|"), err, tc.want)
		}
	}
}
