package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// Templates and static files are embedded: the binary is the whole
// installation, with no asset build step and nothing fetched at run time
// (the CSP below forbids third-party origins anyway).
//
//go:embed templates/*.html static/*
var files embed.FS

// staticFile is an embedded asset served with a content hash, so pages can
// link it as /-/ui/static/app.css?v=<hash> and browsers may cache it forever.
type staticFile struct {
	body  []byte
	hash  string
	ctype string
}

type renderer struct {
	pages  map[string]*template.Template
	static map[string]staticFile
}

func newRenderer() (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}, static: map[string]staticFile{}}
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		r.static[e.Name()] = staticFile{body: b, hash: hex.EncodeToString(sum[:6]), ctype: ct}
	}
	base, err := template.New("layout.html").Funcs(r.funcs()).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(files, p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", p, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

func (r *renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"static": func(name string) string {
			if f, ok := r.static[name]; ok {
				return uiPrefix + "/static/" + name + "?v=" + f.hash
			}
			return uiPrefix + "/static/" + name
		},
		"date": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format("2006-01-02")
			}
			return ""
		},
		"datetime": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format("2006-01-02 15:04 UTC")
			}
			return ""
		},
		"iso": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format(time.RFC3339)
			}
			return ""
		},
		"bytes":  humanBytes,
		"role":   roleName,
		"scopes": func(s []string) string { return strings.Join(s, ", ") },
		"field":  func(e FormErrors, f string) string { return e.For(f) },
		"has": func(list []string, s string) bool {
			for _, x := range list {
				if x == s {
					return true
				}
			}
			return false
		},
	}
}

func timeOf(v any) *time.Time {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return nil
		}
		return &t
	case *time.Time:
		return t
	}
	return nil
}

// humanBytes formats a size with binary units ("1.5 KiB").
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// roleName names GitLab's access levels.
func roleName(level int) string {
	switch {
	case level >= meta.Owner:
		return "Owner"
	case level >= meta.Maintainer:
		return "Maintainer"
	case level >= meta.Developer:
		return "Developer"
	case level >= meta.Reporter:
		return "Reporter"
	case level >= meta.Guest:
		return "Guest"
	}
	return "No role"
}

// crumb is one breadcrumb link.
type crumb struct {
	Label, URL string
}

// view is what the layout reads; Main is the page's own data.
type view struct {
	Title      string
	User       *meta.User
	CSRF       string
	ReadOnly   bool
	Crumbs     []crumb
	ReplaceURL string // JS replaces the history entry (see create)
	Main       any
}

// render writes a page. The body is rendered into a buffer first, so a
// template error becomes a clean 500 rather than half a page.
func (u *ui) render(c *gin.Context, status int, page string, v view) {
	t, ok := u.r.pages[page]
	if !ok {
		u.fail(c, fmt.Errorf("web: no template %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.fail(c, fmt.Errorf("web: template %s: %w", page, err))
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// fail logs an unexpected error and shows a page that says what to do,
// with the request id so an operator can find the log line.
func (u *ui) fail(c *gin.Context, err error) {
	httpx.Logger(c).Error("web page failed", "error", err.Error(), "path", c.Request.URL.Path)
	c.Header("Content-Type", "text/html; charset=utf-8")
	status := http.StatusInternalServerError
	msg := "Something went wrong on our side. Try again in a moment."
	if strings.Contains(err.Error(), "database unavailable") {
		status = http.StatusServiceUnavailable
		msg = "The registry database is unavailable. Try again in a moment."
	}
	t, ok := u.r.pages["message"]
	if ok {
		var buf bytes.Buffer
		v := view{Title: "Error", Main: messagePage{Heading: "Something went wrong", Text: msg, RequestID: c.Writer.Header().Get("X-Request-Id")}}
		if t.ExecuteTemplate(&buf, "layout", v) == nil {
			c.Status(status)
			_, _ = c.Writer.Write(buf.Bytes())
			c.Abort()
			return
		}
	}
	c.String(status, msg)
	c.Abort()
}

// messagePage is a plain page with a heading and a sentence (404, 403...).
type messagePage struct {
	Heading   string
	Text      string
	RequestID string
	BackURL   string
	BackLabel string
}

func (u *ui) message(c *gin.Context, s *session, status int, heading, text string) {
	v := u.view(s, heading)
	v.Main = messagePage{Heading: heading, Text: text, BackURL: uiPrefix + "/", BackLabel: "Back to your groups and projects"}
	u.render(c, status, "message", v)
	c.Abort()
}

func (u *ui) notFound(c *gin.Context, s *session, what string) {
	u.message(c, s, http.StatusNotFound, "Page not found",
		what+" does not exist, or you do not have access to it.")
}

func (u *ui) view(s *session, title string) view {
	v := view{Title: title}
	if s != nil {
		v.User = s.user
		v.CSRF = s.csrf
		v.ReadOnly = !s.canWrite()
	}
	return v
}

// serveStatic serves an embedded asset; a request naming the current hash
// may be cached for a year.
func (u *ui) serveStatic(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	f, ok := u.r.static[name]
	if !ok {
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusNotFound, "not found")
		return
	}
	if c.Query("v") == f.hash {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "no-cache")
	}
	c.Header("X-Content-Type-Options", "nosniff")
	etag := `"` + f.hash + `"`
	c.Header("ETag", etag)
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, f.ctype, f.body)
}
