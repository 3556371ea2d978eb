package gateway

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

const apiIdentityKey = "gateway.identity"

// apiAuth resolves the caller on non-package API routes (PATs only, with
// the api or read_api scope).
func (s *Server) apiAuth() gin.HandlerFunc { return s.apiAuthWith(scopesAPI) }

// apiAuthAnyScope is apiAuth for the routes any PAT may call on itself
// whatever its scopes (auth.Authenticator.APIAnyScope).
func (s *Server) apiAuthAnyScope() gin.HandlerFunc { return s.apiAuthWith(scopesAny) }

// apiAuthReadUser is apiAuth for the routes a read_user PAT may read too
// (auth.Authenticator.APIReadUser).
func (s *Server) apiAuthReadUser() gin.HandlerFunc { return s.apiAuthWith(scopesReadUser) }

// The PAT scopes a route group takes.
const (
	scopesAPI      = iota // api; read_api to read
	scopesAny             // any
	scopesReadUser        // api; read_api or read_user to read
)

// apiAuthWith calls the authenticator directly rather than through a func
// value: c.ClientIP handed on through one would be allocated on every
// request, anonymous ones included.
func (s *Server) apiAuthWith(scopes int) gin.HandlerFunc {
	return func(c *gin.Context) {
		var id *auth.Identity
		var err error
		switch scopes {
		case scopesAny:
			id, err = s.Auth.APIAnyScope(c.Request.Context(), c.Request, c.ClientIP)
		case scopesReadUser:
			id, err = s.Auth.APIReadUser(c.Request.Context(), c.Request, c.ClientIP)
		default:
			id, err = s.Auth.API(c.Request.Context(), c.Request, c.ClientIP)
		}
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Set(apiIdentityKey, id)
		c.Next()
	}
}

func identity(c *gin.Context) *auth.Identity {
	if v, ok := c.Get(apiIdentityKey); ok {
		return v.(*auth.Identity)
	}
	return &auth.Identity{}
}

func errUnauthorized(op string) error { return errs.New(op, errs.Unauthorized, "401 Unauthorized") }

// requireUser answers 401 to a caller who is not signed in as a user (no
// credential, or a deploy token), and otherwise returns the caller.
func requireUser(c *gin.Context, op string) (*auth.Identity, bool) {
	id := identity(c)
	if id.User == nil {
		httpx.Abort(c, errUnauthorized(op))
		return nil, false
	}
	return id, true
}

// userParams is requireUser and then readParams: the request of a
// signed-in person, with its parameters, or false once answered.
func userParams(c *gin.Context, op string) (*auth.Identity, *params, bool) {
	id, ok := requireUser(c, op)
	if !ok {
		return nil, nil, false
	}
	p, err := readParams(c)
	if err != nil {
		httpx.Abort(c, err)
		return nil, nil, false
	}
	return id, p, true
}

// requireAdmin answers 401 to anonymous callers and 403 to non-admins, and
// reports whether the request may go on.
func requireAdmin(c *gin.Context, op string) bool {
	id := identity(c)
	switch {
	case id.User == nil:
		httpx.Abort(c, errUnauthorized(op))
	case !id.IsAdmin():
		httpx.Abort(c, errForbidden(op))
	default:
		return true
	}
	return false
}
func errForbidden(op string) error { return errs.New(op, errs.Forbidden, "403 Forbidden") }

// validation renders GitLab's model-validation shape {"message": {field:
// [msg, ...]}}: every refusal of the one field.
func validation(op string, field string, msgs ...string) error {
	return &errs.Error{Op: op, Kind: errs.Invalid, Body: map[string]any{"message": map[string][]string{field: msgs}}}
}

// dateOrNil is an expiry date as the API writes it (expires_at of
// memberships and tokens, a date without time), or null.
func dateOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format("2006-01-02")
}

// params reads request parameters the way Grape does: query string, then
// a JSON body or a form body on top (a GET's or HEAD's body is ignored).
type params struct {
	m map[string]any
}

func readParams(c *gin.Context) (*params, error) {
	p := &params{m: map[string]any{}}
	for k, v := range c.Request.URL.Query() {
		p.set(k, v)
	}
	if m := c.Request.Method; c.Request.Body == nil || m == http.MethodGet || m == http.MethodHead {
		if err := p.check(); err != nil {
			return nil, err
		}
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch {
	case ct == "application/json" || strings.HasSuffix(ct, "+json"):
		var m map[string]any
		dec := json.NewDecoder(io.LimitReader(c.Request.Body, 1<<20))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil && err != io.EOF {
			return nil, errs.Param("gateway.readParams", "400 Bad request - request body is not valid JSON")
		}
		for k, v := range m {
			p.m[k] = v
		}
	case ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data":
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
		if err := c.Request.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			if ct != "multipart/form-data" {
				if err := c.Request.ParseForm(); err != nil {
					return nil, errs.Param("gateway.readParams", "400 Bad request - invalid form body")
				}
			} else {
				return nil, errs.Param("gateway.readParams", "400 Bad request - invalid form body")
			}
		}
		for k, v := range c.Request.PostForm {
			p.set(k, v)
		}
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// paramTypes are the parameters the API reads, and whether each is a
// list; a parameter not named here is ignored, as Grape ignores it.
var paramTypes = map[string]bool{
	"scopes": true,
	"admin":  false, "can_create_group": false, "packages_enabled": false,
	"access_level": false, "namespace_id": false, "parent_id": false, "user_id": false,
	"description": false, "email": false, "expires_at": false, "force_random_password": false,
	"name": false, "password": false, "path": false, "reset_password": false,
	"username": false, "visibility": false, "skip_subresources": false, "unassign_issuables": false,
	"query": false, "user_ids": true, "state": false,
}

// check refuses, as Grape's type coercion does with {"error":"<k> is
// invalid"}, a list or object where the API reads one value (it read as
// an empty string before), and any text with a NUL byte or invalid UTF-8,
// which Postgres cannot store and no stored value holds.
func (p *params) check() error {
	for k, v := range p.m {
		isList, known := paramTypes[k]
		if !known {
			continue
		}
		ok := true
		switch t := v.(type) {
		case string:
			ok = httpx.Storable(t) // a list may come as "a,b"
		case []any:
			ok = isList
			for _, x := range t {
				if s, isStr := x.(string); isStr && !httpx.Storable(s) {
					ok = false
				}
			}
		case map[string]any:
			ok = false
		}
		if !ok {
			return errs.Param("gateway.params", k+" is invalid")
		}
	}
	return nil
}

func (p *params) set(k string, v []string) {
	if strings.HasSuffix(k, "[]") {
		k = strings.TrimSuffix(k, "[]")
		list := make([]any, len(v))
		for i, s := range v {
			list[i] = s
		}
		p.m[k] = list
		return
	}
	if len(v) > 0 {
		p.m[k] = v[len(v)-1]
	}
}

func (p *params) has(k string) bool { _, ok := p.m[k]; return ok }

// str returns a string parameter; null counts as absent.
func (p *params) str(k string) (string, bool) {
	v, ok := p.m[k]
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", true
}

// list accepts a JSON array, a comma-separated string or repeated keys.
func (p *params) list(k string) ([]string, bool) {
	v, ok := p.m[k]
	if !ok || v == nil {
		return nil, false
	}
	switch t := v.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return []string{"\x00invalid"}, true
			}
			out = append(out, s)
		}
		return out, true
	case string:
		if t == "" {
			return []string{}, true
		}
		parts := strings.Split(t, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, true
	}
	return []string{"\x00invalid"}, true
}

func (p *params) boolean(k string) (bool, bool, error) {
	v, ok := p.m[k]
	if !ok || v == nil {
		return false, false, nil
	}
	if b, ok := v.(bool); ok {
		return b, true, nil
	}
	s, _ := p.str(k)
	b, err := httpx.ParseBool(s)
	if err != nil {
		return false, true, errs.Param("gateway.params", k+" is invalid")
	}
	return b, true, nil
}

func (p *params) integer(k string) (int64, bool, error) {
	s, ok := p.str(k)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, errs.Param("gateway.params", k+" is invalid")
	}
	return n, true, nil
}

// missing joins GitLab's "x is missing" messages.
func missing(p *params, keys ...string) error {
	var out []string
	for _, k := range keys {
		if !p.has(k) {
			out = append(out, k+" is missing")
		}
	}
	if len(out) > 0 {
		return errs.Param("gateway.params", strings.Join(out, ", "))
	}
	return nil
}

// sentence joins messages as English prose: "A and B", "A, B, and C".
func sentence(msgs []string) string {
	switch len(msgs) {
	case 0:
		return ""
	case 1:
		return msgs[0]
	case 2:
		return msgs[0] + " and " + msgs[1]
	}
	return strings.Join(msgs[:len(msgs)-1], ", ") + ", and " + msgs[len(msgs)-1]
}

// list answers a paginated GitLab list: it reads page/per_page, runs the
// query for that page, renders each item and sets the pagination headers.
func list[T any](c *gin.Context, externalURL string, query func(limit, offset int) ([]T, int, error), render func(*T) gin.H) {
	pg, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	items, total, err := query(pg.PerPage, pg.Offset())
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out := make([]gin.H, 0, len(items))
	for i := range items {
		out = append(out, render(&items[i]))
	}
	httpx.SetPageHeaders(c, externalURL, pg, total)
	c.JSON(http.StatusOK, out)
}

// projectFor resolves :id for the API: missing or invisible is
// "404 Project Not Found", and the caller's effective level is returned.
func (s *Server) projectFor(c *gin.Context, id *auth.Identity) (*meta.Project, int, error) {
	const op = "gateway.projectFor"
	ctx := c.Request.Context()
	p, err := auth.FindProject(ctx, s.Store, httpx.Param(c, "id"))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, 0, errs.New(op, errs.NotFound, "404 Project Not Found")
		}
		return nil, 0, err
	}
	level, visible, err := auth.ProjectRole(ctx, s.Store, id.User, p)
	if err != nil {
		return nil, 0, err
	}
	if !visible {
		return nil, 0, errs.New(op, errs.NotFound, "404 Project Not Found")
	}
	return p, level, nil
}

// groupFor resolves :id as a group the caller can see.
func (s *Server) groupFor(c *gin.Context, id *auth.Identity) (*meta.Namespace, int, error) {
	const op = "gateway.groupFor"
	ctx := c.Request.Context()
	g, err := auth.FindGroup(ctx, s.Store, httpx.Param(c, "id"))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, 0, errs.New(op, errs.NotFound, "404 Group Not Found")
		}
		return nil, 0, err
	}
	level, visible, err := auth.GroupRole(ctx, s.Store, id.User, g)
	if err != nil {
		return nil, 0, err
	}
	if !visible {
		return nil, 0, errs.New(op, errs.NotFound, "404 Group Not Found")
	}
	return g, level, nil
}
