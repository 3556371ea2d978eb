package formats

import "testing"

func TestDuplicatesAllow(t *testing.T) {
	cases := []struct {
		name         string
		allowed      bool
		except       string
		pkg, version string
		want         bool
	}{
		{name: "allowed", allowed: true, pkg: "tool", version: "1.0", want: true},
		{name: "allowed, exception has no effect", allowed: true, except: "other", pkg: "tool", version: "1.0", want: true},
		{name: "refused", pkg: "tool", version: "1.0", want: false},
		{name: "name excepted", except: "tool", pkg: "tool", version: "1.0", want: true},
		{name: "version excepted", except: `1\.2\..*`, pkg: "tool", version: "1.2.3", want: true},
		{name: "anchored: longer name", except: "tool", pkg: "toolbox", version: "1.0", want: false},
		{name: "anchored: prefix", except: "too", pkg: "tool", version: "1.0", want: false},
		{name: "anchored: suffix", except: "tool", pkg: "my-tool", version: "1.0", want: false},
		{name: "alternation grouped before anchoring", except: `1\.0|2\.0`, pkg: "x", version: "1.0.1", want: false},
		{name: "alternation excepts either", except: `1\.0|2\.0`, pkg: "x", version: "2.0", want: true},
		{name: "flags inside cannot unanchor", except: "(?m)^a$", pkg: "a\nb", version: "1", want: false},
		{name: "snapshot pattern", except: ".*-SNAPSHOT", pkg: "x", version: "1.0-SNAPSHOT", want: true},
		{name: "case-sensitive", except: "TOOL", pkg: "tool", version: "1.0", want: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDuplicates(c.allowed, c.except)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Allow(c.pkg, c.version); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if !AllowDuplicates.Allow("x", "1") || (Duplicates{}).Allow("x", "1") {
		t.Error("AllowDuplicates must allow and the zero value refuse")
	}
	if _, err := NewDuplicates(false, "[a-"); err == nil {
		t.Error("a bad regex is accepted")
	}
}
