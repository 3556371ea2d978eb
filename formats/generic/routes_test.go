package generic

import (
	"regexp"
	"testing"

	"github.com/pkgate/pkgate/formats"
)

func TestDuplicateAllowed(t *testing.T) {
	tool := Target{Name: "tool", Version: "1.2.3", FileName: "tool.bin"}
	cases := []struct {
		name    string
		allowed bool
		except  string // "" = no exception regex
		t       Target
		want    bool
	}{
		{name: "allowed by default", allowed: true, t: tool, want: true},
		{name: "allowed, exception has no effect", allowed: true, except: "tool", t: tool, want: true},
		{name: "refused", t: tool, want: false},
		{name: "refused, name excepted", except: "tool", t: tool, want: true},
		{name: "refused, version excepted", except: `1\.2\..*`, t: tool, want: true},
		{name: "refused, alternation excepts either", except: "other|tool", t: tool, want: true},
		{name: "exception is anchored: prefix", except: "too", t: tool, want: false},
		{name: "exception is anchored: longer name", except: "tool", t: Target{Name: "toolbox", Version: "1.0"}, want: false},
		{name: "exception is anchored: version", except: "1", t: tool, want: false},
		{name: "exception does not look at the file name", except: `tool\.bin`, t: tool, want: false},
		{name: "case-sensitive", except: "TOOL", t: tool, want: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{DuplicatesAllowed: c.allowed}
			if c.except != "" {
				o.DuplicateException = regexp.MustCompile(c.except)
			}
			if got := newHandler(formats.Deps{}, o).duplicateAllowed(c.t); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestDefaultOptionsAllowDuplicates(t *testing.T) {
	if o := DefaultOptions(); !o.DuplicatesAllowed || o.DuplicateException != nil {
		t.Errorf("DefaultOptions() = %+v, want GitLab's default (allowed, no exception)", o)
	}
}
