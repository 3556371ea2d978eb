package formats

import (
	"strconv"
	"strings"
)

// AcceptsGzip reports whether an Accept-Encoding header allows gzip
// (explicitly, or through "*"), honouring q=0 refusals.
func AcceptsGzip(h string) bool {
	gzip, star := -1, -1
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		ok := 1
		if QZero(params) {
			ok = 0
		}
		switch coding {
		case "gzip", "x-gzip":
			gzip = ok
		case "*":
			star = ok
		}
	}
	if gzip >= 0 {
		return gzip == 1
	}
	return star == 1
}

// QZero reports whether media-range or coding parameters carry q=0.
func QZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

// ETagMatch reports whether an If-None-Match header matches an entity tag
// under the weak comparison RFC 9110 prescribes for If-None-Match.
func ETagMatch(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
