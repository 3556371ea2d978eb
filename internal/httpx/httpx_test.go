package httpx

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/errs"
)

func TestPageHeaders(t *testing.T) {
	cases := []struct {
		query                   string
		total                   int
		page, next, prev, pages string
		hasNext, hasPrev        bool
		xTotal                  string // "": none (over CountLimit)
	}{
		{"", 0, "1", "", "", "1", false, false, "0"},
		{"per_page=20", 45, "1", "2", "", "3", true, false, "45"},
		{"per_page=20&page=2", 45, "2", "3", "1", "3", true, true, "45"},
		{"per_page=20&page=3", 45, "3", "", "2", "3", false, true, "45"},
		{"per_page=100&page=100", CountLimit, "100", "", "99", "100", false, true, "10000"},
		// Over the limit: counted up to CountCap, no totals or last page.
		{"per_page=20", CountCap(20, 0), "1", "2", "", "", true, false, ""},
		{"per_page=20&page=600", CountCap(20, 11980), "600", "601", "599", "", true, true, ""},
		{"per_page=20&page=600", 11990, "600", "", "599", "", false, true, ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		ctx, _ := gin.CreateTestContext(w)
		ctx.Request = httptest.NewRequest("GET", "/api/v4/x?"+c.query, nil)
		p, err := ParsePage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		SetPageHeaders(ctx, "https://reg.example/prefix", p, c.total)
		h := w.Header()
		if h.Get("X-Page") != c.page || h.Get("X-Next-Page") != c.next || h.Get("X-Prev-Page") != c.prev || h.Get("X-Total-Pages") != c.pages || h.Get("X-Total") != c.xTotal {
			t.Errorf("%s (%d): %v", c.query, c.total, h)
		}
		if _, ok := h["X-Total"]; ok != (c.xTotal != "") {
			t.Errorf("%s (%d): X-Total present %v", c.query, c.total, ok)
		}
		link := h.Get("Link")
		if strings.Contains(link, `rel="next"`) != c.hasNext || strings.Contains(link, `rel="prev"`) != c.hasPrev ||
			strings.Contains(link, `rel="last"`) != (c.xTotal != "") || !strings.Contains(link, `rel="first"`) ||
			!strings.HasPrefix(link, "<https://reg.example/prefix/api/v4/x?") {
			t.Errorf("%s (%d): Link %s", c.query, c.total, link)
		}
	}
}

func TestParsePageErrors(t *testing.T) {
	for _, q := range []string{"page=0", "page=x", "per_page=0", "per_page=-1"} {
		ctx, _ := gin.CreateTestContext(httptest.NewRecorder())
		ctx.Request = httptest.NewRequest("GET", "/?"+q, nil)
		if _, err := ParsePage(ctx); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestAbortShapes(t *testing.T) {
	invalid := &errs.Error{Kind: errs.Unauthorized, Challenge: `Bearer error="invalid_token"`, Body: map[string]any{"error": "invalid_token"}}
	cases := []struct {
		err       error
		challenge bool
		strict    bool
		status    int
		body      string
		want      string // the WWW-Authenticate header
	}{
		{errs.New("op", errs.NotFound, "404 Project Not Found"), true, false, 404, `{"message":"404 Project Not Found"}`, ""},
		{errs.Param("op", "name is missing"), false, false, 400, `{"error":"name is missing"}`, ""},
		{errs.New("op", errs.Unauthorized, "401 Unauthorized"), true, false, 401, `{"message":"401 Unauthorized"}`, PackagesRealm},
		{errs.New("op", errs.Unauthorized, "401 Unauthorized"), false, false, 401, `{"message":"401 Unauthorized"}`, ""},
		{invalid, true, false, 401, `{"error":"invalid_token"}`, invalid.Challenge},
		{invalid, false, false, 401, `{"error":"invalid_token"}`, invalid.Challenge},
		{invalid, true, true, 401, `{"error":"invalid_token"}`, PackagesRealm},
		{errs.E("op", errs.Internal, errs.Msg("secret detail")), false, false, 500, `{"message":"500 Internal Server Error"}`, ""},
		{errs.New("op", errs.TooLarge, ""), false, false, 413, `{"message":"413 Request Entity Too Large"}`, ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		ctx, _ := gin.CreateTestContext(w)
		ctx.Request = httptest.NewRequest("GET", "/", nil)
		if c.challenge {
			ctx.Set(ChallengeKey, PackagesRealm)
		}
		if c.strict {
			ctx.Set(StrictChallengeKey, true)
		}
		Abort(ctx, c.err)
		if w.Code != c.status || w.Body.String() != c.body {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body)
		}
		if got := w.Header().Get("WWW-Authenticate"); got != c.want {
			t.Errorf("%v (route challenge %v, strict %v): challenge %q, want %q", c.err, c.challenge, c.strict, got, c.want)
		}
	}
}
