package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/internal/errs"
)

func mustName(t *testing.T, s string) Name {
	t.Helper()
	n, err := ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidatePublish(t *testing.T) {
	tgz := []byte("tarball bytes")
	s1 := sha1.Sum(tgz)
	s512 := sha512.Sum512(tgz)
	sha1Hex, sha512Hex := hex.EncodeToString(s1[:]), hex.EncodeToString(s512[:])
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	manifest := func(extra string) json.RawMessage {
		return json.RawMessage(`{"name":"@acme/hello","version":"1.0.0","readme":"big","dist":{"integrity":"` + integrity +
			`","shasum":"` + sha1Hex + `","tarball":"http://x/y.tgz"},"scripts":{"test":"x"}` + extra + `}`)
	}
	good := func() *PublishDoc {
		return &PublishDoc{Name: "@acme/hello", HasName: true, HasVersions: true, DistTags: map[string]string{"latest": "1.0.0", "other": "0.1.0"},
			Versions: []VersionDoc{{Version: "1.0.0", Manifest: manifest("")}},
			Tarball:  &AttachmentDoc{FileName: "@acme/hello-1.0.0.tgz", Length: 13, Size: 13}}
	}
	url := mustName(t, "@acme/hello")
	tests := []struct {
		name   string
		mutate func(d *PublishDoc)
		err    string
		check  func(t *testing.T, p *Publication)
	}{
		{name: "ok", check: func(t *testing.T, p *Publication) {
			if p.Version != "1.0.0" || p.FileName != "@acme/hello-1.0.0.tgz" || strings.Join(p.Tags, ",") != "latest" {
				t.Fatalf("%+v", p)
			}
			var m map[string]any
			json.Unmarshal(p.Manifest, &m)
			if m["readme"] != nil || m["dist"] != nil || m["_id"] != "@acme/hello@1.0.0" || m["hasInstallScript"] != nil {
				t.Fatalf("stored manifest %s", p.Manifest)
			}
			if err := p.VerifyDigests(sha1Hex, sha512Hex); err != nil {
				t.Fatal(err)
			}
			if err := p.VerifyDigests(sha1Hex, strings.Repeat("0", 128)); err == nil || !strings.Contains(errText(err), "dist.integrity") {
				t.Fatalf("sha512 mismatch: %v", err)
			}
			if err := p.VerifyDigests(strings.Repeat("0", 40), sha512Hex); err == nil || !strings.Contains(errText(err), "dist.shasum") {
				t.Fatalf("sha1 mismatch: %v", err)
			}
		}},
		{name: "install script", mutate: func(d *PublishDoc) {
			d.Versions[0].Manifest = json.RawMessage(`{"scripts":{"postinstall":"node x"}}`)
		}, check: func(t *testing.T, p *Publication) {
			if !strings.Contains(string(p.Manifest), `"hasInstallScript":true`) || len(p.Expect.SHA1)+len(p.Expect.SHA512) != 0 {
				t.Fatalf("%s %+v", p.Manifest, p.Expect)
			}
		}},
		{name: "no name", mutate: func(d *PublishDoc) { d.HasName, d.Name = false, "" }, err: "name is missing"},
		{name: "name mismatch", mutate: func(d *PublishDoc) { d.Name = "@acme/other" },
			err: `400 Bad request - package name in the URL (@acme/hello) does not match the name in the body ("@acme/other")`},
		{name: "no versions", mutate: func(d *PublishDoc) { d.HasVersions, d.Versions = false, nil }, err: "versions is missing"},
		// GitLab's route declares only "versions": Grape names it first.
		{name: "neither name nor versions", mutate: func(d *PublishDoc) {
			d.HasName, d.Name, d.HasVersions, d.Versions = false, "", false, nil
		}, err: "versions is missing"},
		{name: "empty versions", mutate: func(d *PublishDoc) { d.Versions = nil }, err: "Version is empty."},
		{name: "empty version", mutate: func(d *PublishDoc) { d.Versions[0].Version = "" }, err: "Version is empty."},
		{name: "two versions", mutate: func(d *PublishDoc) { d.Versions = append(d.Versions, d.Versions[0]) }, err: "400 Bad request - a publish must contain exactly one version"},
		{name: "bad version", mutate: func(d *PublishDoc) { d.Versions[0].Version = "v1.0" }, err: "Validation failed: Version is invalid"},
		{name: "no attachment", mutate: func(d *PublishDoc) { d.Tarball = nil }, err: `400 Bad request - attachment "@acme/hello-1.0.0.tgz" is missing`},
		{name: "attachment for another version", mutate: func(d *PublishDoc) { d.Tarball.FileName = "@acme/hello-2.0.0.tgz" },
			err: `400 Bad request - attachment "@acme/hello-2.0.0.tgz" does not match the package name and version (expected "@acme/hello-1.0.0.tgz")`},
		{name: "length mismatch", mutate: func(d *PublishDoc) { d.Tarball.Length = 12 }, err: "400 Bad request - attachment length does not match its data"},
		{name: "manifest version mismatch", mutate: func(d *PublishDoc) { d.Versions[0].Manifest = json.RawMessage(`{"version":"2.0.0"}`) },
			err: `400 Bad request - the manifest's version does not match "1.0.0"`},
		{name: "manifest name mismatch", mutate: func(d *PublishDoc) { d.Versions[0].Manifest = json.RawMessage(`{"name":"evil"}`) },
			err: `400 Bad request - the manifest's name does not match "@acme/hello"`},
		{name: "bad integrity", mutate: func(d *PublishDoc) { d.Versions[0].Manifest = json.RawMessage(`{"dist":{"integrity":"sha512-xx"}}`) },
			err: "400 Bad request - dist.integrity is not a valid sha512 integrity string"},
		{name: "bad shasum", mutate: func(d *PublishDoc) { d.Versions[0].Manifest = json.RawMessage(`{"dist":{"shasum":"xyz"}}`) },
			err: "400 Bad request - dist.shasum is not a SHA-1 hex digest"},
		{name: "dist not an object", mutate: func(d *PublishDoc) { d.Versions[0].Manifest = json.RawMessage(`{"dist":"x"}`) },
			err: "400 Bad request - dist must hold string integrity and shasum"},
		{name: "manifest too large", mutate: func(d *PublishDoc) {
			d.Versions[0].Manifest = json.RawMessage(`{"description":"` + strings.Repeat("d", 20000) + `"}`)
		}, err: "Validation failed: Package json structure is too large. Maximum size is 20000 characters"},
		{name: "readme does not count", mutate: func(d *PublishDoc) {
			d.Versions[0].Manifest = json.RawMessage(`{"readme":"` + strings.Repeat("d", 50000) + `"}`)
		}},
		{name: "semver-like tag", mutate: func(d *PublishDoc) { d.DistTags = map[string]string{"1.0.0": "1.0.0"} },
			err: "tag is invalid: a tag must not be a valid SemVer version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := good()
			if tc.mutate != nil {
				tc.mutate(d)
			}
			p, err := ValidatePublish(url, d)
			if tc.err != "" {
				if err == nil || errText(err) != tc.err || errs.KindOf(err) != errs.Invalid {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestEarlyCheck(t *testing.T) {
	url := mustName(t, "@acme/hello")
	d := &PublishDoc{Name: "@acme/hello", HasName: true, Versions: []VersionDoc{{Version: "1.0.0"}}}
	if v, err := EarlyCheck(url, d, "@acme/hello-1.0.0.tgz"); v != "1.0.0" || err != nil {
		t.Fatal(v, err)
	}
	if _, err := EarlyCheck(url, d, "@acme/hello-1.0.1.tgz"); err == nil {
		t.Fatal("wrong attachment accepted")
	}
	if v, err := EarlyCheck(url, &PublishDoc{}, "x.tgz"); v != "" || err != nil {
		t.Fatal("nothing known yet must pass", v, err)
	}
	if _, err := EarlyCheck(url, &PublishDoc{Name: "x", HasName: true}, "x.tgz"); err == nil {
		t.Fatal("name mismatch accepted")
	}
}

// TestParseDeprecateParams: the deprecate PUT shares the publish route's
// declared parameters, so GitLab's Grape answers a body without a
// "versions" object before its own "not given" check.
func TestParseDeprecateParams(t *testing.T) {
	for _, c := range []struct {
		body, err string
		shape     errs.Shape
	}{
		{`{"name":"@acme/hello"}`, "versions is missing", errs.ShapeError},
		{`{"name":"@acme/hello","versions":null}`, "versions is missing", errs.ShapeError},
		{`{}`, "versions is missing", errs.ShapeError},
		{`{"versions":[]}`, "versions is invalid", errs.ShapeError},
		{`{"versions":"1.0.0"}`, "versions is invalid", errs.ShapeError},
		{`{"versions":{}}`, `"package versions to deprecate" not given`, errs.ShapeError},
		{`{"versions":{"1.0.0":{}}}`, `"package versions to deprecate" not given`, errs.ShapeError},
		{`{"versions":{"1.0.0":{"deprecated":1}}}`, "", errs.ShapeMessage},
		{`[]`, "", errs.ShapeMessage},
	} {
		_, err := ParseDeprecate([]byte(c.body))
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Invalid || e.Shape != c.shape || (c.err != "" && e.Msg != c.err) {
			t.Errorf("ParseDeprecate(%s) = %v, want 400 %q (shape %d)", c.body, err, c.err, c.shape)
		}
	}
}

func TestParseSmallBodies(t *testing.T) {
	deps, err := ParseDeprecate([]byte(`{"_id":"x","versions":{"1.0.0":{"deprecated":"old"},"1.1.0":{},"2.0.0":{"deprecated":""}}}`))
	if err != nil || len(deps) != 2 || deps[0] != (Deprecation{"1.0.0", "old"}) || deps[1] != (Deprecation{"2.0.0", ""}) {
		t.Fatalf("%v %v", deps, err)
	}
	if _, err := ParseDeprecate([]byte(`{"versions":{"1.0.0":{}}}`)); errText(err) != `"package versions to deprecate" not given` {
		t.Fatal(err)
	}
	if _, err := ParseDeprecate([]byte(`{`)); errs.KindOf(err) != errs.Invalid {
		t.Fatal(err)
	}
	keep, err := ParseKeptVersions([]byte(`{"versions":{"1.0.0":{},"2.0.0":{}}}`))
	if err != nil || !keep["1.0.0"] || !keep["2.0.0"] || len(keep) != 2 {
		t.Fatal(keep, err)
	}
	if _, err := ParseKeptVersions([]byte(`{"name":"x"}`)); errText(err) != "versions is missing" {
		t.Fatal("a body without versions must not mean 'delete everything'", err)
	}
	if keep, err := ParseKeptVersions([]byte(`{"versions":{}}`)); err != nil || len(keep) != 0 {
		t.Fatal(keep, err)
	}
	for body, want := range map[string]string{`"1.0.0"`: "1.0.0", "1.0.0\n": "1.0.0", ` " 2.0.0-rc.1 " `: "2.0.0-rc.1"} {
		if v, err := ParseTagVersion([]byte(body)); v != want || err != nil {
			t.Errorf("ParseTagVersion(%q) = %q, %v", body, v, err)
		}
	}
	for body, wantErr := range map[string]string{``: `"Version" not given`, `""`: `"Version" not given`, `"x"`: `400 Bad request - "x" is not a valid version`,
		`"1.0.0`: "400 Bad request - the body must be a JSON string holding a version"} {
		if _, err := ParseTagVersion([]byte(body)); errText(err) != wantErr {
			t.Errorf("ParseTagVersion(%q): %v, want %q", body, err, wantErr)
		}
	}
}

type tarEntry struct {
	name string
	data string
	typ  byte
}

func makeTgz(entries ...tarEntry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Size: int64(len(e.data)), Mode: 0o644, Typeflag: typ})
		tw.Write([]byte(e.data))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestInspectTarball(t *testing.T) {
	pj := func(name, version string) string { return `{"name":"` + name + `","version":"` + version + `"}` }
	tests := []struct {
		name    string
		data    []byte
		cap     int64
		want    TarballManifest
		err     string
		checkOK bool // CheckTarballManifest against @acme/hello 1.0.0
	}{
		{name: "npm pack", data: makeTgz(tarEntry{name: "package/package.json", data: pj("@acme/hello", "1.0.0")}, tarEntry{name: "package/index.js", data: "x"}),
			want: TarballManifest{true, "@acme/hello", "1.0.0"}, checkOK: true},
		{name: "other top dir, loose version", data: makeTgz(tarEntry{name: "./hello/package.json", data: pj("@acme/hello", "v1.0.0")}),
			want: TarballManifest{true, "@acme/hello", "v1.0.0"}, checkOK: true},
		{name: "build metadata", data: makeTgz(tarEntry{name: "package/package.json", data: pj("@acme/hello", "1.0.0+b1")}),
			want: TarballManifest{true, "@acme/hello", "1.0.0+b1"}, checkOK: true},
		{name: "last one wins", data: makeTgz(tarEntry{name: "package/package.json", data: pj("@acme/hello", "1.0.0")}, tarEntry{name: "package/package.json", data: pj("@acme/hello", "9.9.9")}),
			want: TarballManifest{true, "@acme/hello", "9.9.9"}},
		{name: "nested package.json ignored", data: makeTgz(tarEntry{name: "package/node_modules/x/package.json", data: pj("x", "1.0.0")}, tarEntry{name: "package.json", data: pj("y", "1.0.0")}),
			want: TarballManifest{}},
		{name: "directory entry ignored", data: makeTgz(tarEntry{name: "package/package.json", typ: tar.TypeDir}), want: TarballManifest{}},
		{name: "wrong name", data: makeTgz(tarEntry{name: "package/package.json", data: pj("@acme/evil", "1.0.0")}), want: TarballManifest{true, "@acme/evil", "1.0.0"}},
		{name: "not gzip", data: []byte("plain text"), err: "400 Bad request - the tarball is not a valid gzip-compressed tar archive"},
		{name: "gzip but not tar", data: gz([]byte(strings.Repeat("x", 1000))), err: "400 Bad request - the tarball is not a valid gzip-compressed tar archive"},
		{name: "bad package.json", data: makeTgz(tarEntry{name: "package/package.json", data: "{"}), err: "400 Bad request - package.json in the tarball is not valid JSON"},
		{name: "huge package.json", data: makeTgz(tarEntry{name: "package/package.json", data: strings.Repeat(" ", MaxPackageJSON+1)}),
			err: "400 Bad request - package.json in the tarball is larger than 4 MiB"},
		{name: "cap keeps what was seen", cap: 3000, data: makeTgz(tarEntry{name: "package/package.json", data: pj("@acme/hello", "1.0.0")}, tarEntry{name: "package/big", data: strings.Repeat("b", 100000)}),
			want: TarballManifest{true, "@acme/hello", "1.0.0"}, checkOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := InspectTarball(bytes.NewReader(tc.data), tc.cap)
			if tc.err != "" {
				if errText(err) != tc.err || errs.KindOf(err) != errs.Invalid {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || m != tc.want {
				t.Fatalf("InspectTarball = %+v, %v; want %+v", m, err, tc.want)
			}
			err = CheckTarballManifest(m, mustName(t, "@acme/hello"), "1.0.0")
			if (err == nil) != tc.checkOK {
				t.Fatalf("CheckTarballManifest: %v", err)
			}
		})
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
