// Package httpx holds the HTTP conventions every route shares: the one error
// mapping (Abort), GitLab's timestamp and boolean formats, path-parameter
// decoding and offset pagination. It sits below gateway/ and formats/ so both
// can use it without importing each other.
package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/errs"
)

// Context keys shared by middleware and handlers.
const (
	// ChallengeKey, when set on a request, makes every 401 carry this
	// WWW-Authenticate value (package routes set the Basic challenge).
	ChallengeKey = "httpx.challenge"
	// StrictChallengeKey, when true, makes the ChallengeKey value win over
	// an error's own challenge (see StrictChallenge).
	StrictChallengeKey = "httpx.strictChallenge"
	// RendererKey may hold a Renderer that replaces the JSON error body for
	// a format whose clients expect another shape.
	RendererKey = "httpx.renderer"
	// LoggerKey holds the request's *slog.Logger.
	LoggerKey = "httpx.logger"
	// CredentialKey is set (true) by a handler that read a credential from
	// the request body (the web sign-in form), so that a 401 counts as a
	// failed authentication as one from a header does.
	CredentialKey = "httpx.credential"
)

// StrictChallenge is the middleware of the routes whose every 401 must
// carry the route's own challenge, an expired or revoked token's
// included: Maven and pip look for the Basic challenge to send
// credentials, and sbt and Ivy match credentials by its realm (spec
// npm-maven-pypi 1.3). Elsewhere such a token gets GitLab's Bearer
// invalid_token challenge.
func StrictChallenge(c *gin.Context) {
	c.Set(StrictChallengeKey, true)
	c.Next()
}

// PackagesRealm is the Basic challenge GitLab sends on package routes; pip
// and Maven only retry with credentials after seeing it.
const PackagesRealm = `Basic realm="GitLab Packages Registry"`

// Renderer writes an error body for a status and a client-facing text.
type Renderer func(c *gin.Context, status int, text string, shape errs.Shape)

var defaultText = map[errs.Kind]string{
	errs.Internal:      "500 Internal Server Error",
	errs.Invalid:       "400 Bad request",
	errs.Unauthorized:  "401 Unauthorized",
	errs.Forbidden:     "403 Forbidden",
	errs.NotFound:      "404 Not Found",
	errs.Conflict:      "409 Conflict",
	errs.TooLarge:      "413 Request Entity Too Large",
	errs.Unprocessable: "422 Unprocessable Entity",
	errs.Unavailable:   "503 Service Unavailable",
	errs.RangeInvalid:  "416 Range Not Satisfiable",
}

// Status maps an error kind to its HTTP status.
func Status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.Unprocessable:
		return http.StatusUnprocessableEntity
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.RangeInvalid:
		return http.StatusRequestedRangeNotSatisfiable
	}
	return http.StatusInternalServerError
}

// Abort is the only place that turns an error into a response. Internal
// details are logged with the request id and never sent.
func Abort(c *gin.Context, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Kind: errs.Internal, Err: err}
	}
	kind := e.Kind
	status := Status(kind)
	text := e.Msg
	if text == "" || kind == errs.Internal {
		text = defaultText[kind]
	}
	log := Logger(c)
	switch {
	case status >= 500:
		log.Error("request failed", "op", e.Op, "status", status, "err", err.Error())
	default:
		log.Debug("request refused", "op", e.Op, "status", status, "err", err.Error())
	}
	if status == http.StatusUnauthorized {
		ch, routed := c.Get(ChallengeKey)
		switch {
		case routed && (e.Challenge == "" || c.GetBool(StrictChallengeKey)):
			c.Header("WWW-Authenticate", ch.(string))
		case e.Challenge != "":
			c.Header("WWW-Authenticate", e.Challenge)
		}
	}
	if c.Writer.Written() {
		// Headers are gone (a stream broke mid-body): all we can do is stop.
		c.Abort()
		return
	}
	if e.Body != nil {
		c.AbortWithStatusJSON(status, e.Body)
		return
	}
	if r, ok := c.Get(RendererKey); ok {
		r.(Renderer)(c, status, text, e.Shape)
		c.Abort()
		return
	}
	// HEAD gets the GET's answer too, whose body net/http drops: the
	// status and every header, Content-Type and Content-Length included,
	// as Rack's HEAD handling answers for GitLab.
	if e.Shape == errs.ShapeError {
		c.AbortWithStatusJSON(status, gin.H{"error": text})
		return
	}
	c.AbortWithStatusJSON(status, gin.H{"message": text})
}

// Logger returns the request-scoped logger, or the default one.
func Logger(c *gin.Context) *slog.Logger {
	if v, ok := c.Get(LoggerKey); ok {
		return v.(*slog.Logger)
	}
	return slog.Default()
}

// TimeFormat is GitLab's JSON timestamp: UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// TS formats a timestamp the way GitLab emits it.
func TS(t time.Time) string { return t.UTC().Format(TimeFormat) }

// TSPtr formats an optional timestamp; nil stays JSON null.
func TSPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return TS(*t)
}

// ParseBool accepts the boolean spellings Grape accepts (python-gitlab sends
// Python's True/False).
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "t", "yes", "y", "on":
		return true, nil
	case "false", "0", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

// Storable reports whether s can be sent to Postgres as text: it refuses
// NUL bytes and invalid UTF-8 (an error the handlers would answer with a
// 500), and nothing stored holds them, so a lookup of such a value finds
// nothing and an input holding one is invalid.
func Storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Param returns a path parameter percent-decoded exactly once. The router
// matches on the escaped path (so %2F stays inside one segment) and leaves
// values escaped; decoding here is the single place it happens. A value that
// is not valid percent-encoding is returned as-is and fails later validation.
func Param(c *gin.Context, name string) string {
	raw := c.Param(name)
	v, err := url.PathUnescape(raw)
	if err != nil {
		return raw
	}
	return v
}

// ParseID parses an integer path parameter, answering GitLab's
// {"error":"<name> is invalid"} when it is not one. Zero and negative
// numbers are integers to Grape too: they pass, and the lookup that
// follows answers 404, as GitLab's does.
func ParseID(c *gin.Context, name string) (int64, error) {
	v := Param(c, name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errs.Param("httpx.ParseID", name+" is invalid")
	}
	return n, nil
}

// maxPage bounds a requested page: every page past the last one is empty.
const maxPage = 1 << 40

// Page is an offset pagination request.
type Page struct {
	Page    int
	PerPage int
}

// Offset is the SQL offset of the page.
func (p Page) Offset() int { return (p.Page - 1) * p.PerPage }

// ParsePage reads page/per_page with GitLab's defaults and clamping.
func ParsePage(c *gin.Context) (Page, error) {
	p := Page{Page: 1, PerPage: 20}
	if s := c.Query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, errs.Param("httpx.ParsePage", "page is invalid")
		}
		// Far past any last page, and small enough that the offset
		// (page-1)*per_page cannot overflow into a negative OFFSET.
		p.Page = min(n, maxPage)
	}
	if s := c.Query("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, errs.Param("httpx.ParsePage", "per_page is invalid")
		}
		p.PerPage = min(n, 100)
	}
	return p, nil
}

// CountLimit is GitLab's COUNT_LIMIT (Gitlab::Pagination::OffsetPagination):
// a list of more rows than this is paged without its count. Counting
// every matching row for every page of a table that only grows (the audit
// log) costs a scan of all of them per request.
const CountLimit = 10000

// CountCap is how many rows a list's count needs to read for the page of
// limit rows from offset (its count query's LIMIT): past CountLimit the
// headers only need to know whether a row follows the page.
func CountCap(limit, offset int) int { return max(CountLimit, offset+limit) + 1 }

// SetPageHeaders writes GitLab's X-* pagination headers and a Link header
// whose URLs are built on externalURL, so python-gitlab can follow rel="next".
// A total over CountLimit (exact, or counted up to CountCap) is GitLab's
// list without a count: no X-Total, X-Total-Pages or rel="last", and a
// next page while rows follow this one.
func SetPageHeaders(c *gin.Context, externalURL string, p Page, total int) {
	counted := total <= CountLimit
	pages := max(1, (total+p.PerPage-1)/p.PerPage)
	h := c.Writer.Header()
	h.Set("X-Page", strconv.Itoa(p.Page))
	h.Set("X-Per-Page", strconv.Itoa(p.PerPage))
	if counted {
		h.Set("X-Total", strconv.Itoa(total))
		h.Set("X-Total-Pages", strconv.Itoa(pages))
	}
	next, prev := "", ""
	if p.Offset()+p.PerPage < total {
		next = strconv.Itoa(p.Page + 1)
	}
	if p.Page > 1 {
		prev = strconv.Itoa(p.Page - 1)
	}
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)

	link := func(page int, rel string) string {
		q := c.Request.URL.Query()
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(p.PerPage))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", strings.TrimRight(externalURL, "/"), c.Request.URL.EscapedPath(), q.Encode(), rel)
	}
	var links []string
	if prev != "" {
		links = append(links, link(p.Page-1, "prev"))
	}
	if next != "" {
		links = append(links, link(p.Page+1, "next"))
	}
	links = append(links, link(1, "first"))
	if counted {
		links = append(links, link(pages, "last"))
	}
	h.Set("Link", strings.Join(links, ", "))
}
