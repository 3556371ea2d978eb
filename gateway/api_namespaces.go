package gateway

import (
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// gitlabVersion is the GitLab version whose package API this gateway
// speaks, as GET /version and /metadata report it: tools that check a
// minimum version (or send the checksum headers of 17.8, see the spec)
// find what they need. Decision: a plain version without GitLab's "-ee"
// suffix, so that nothing takes the gateway for an Enterprise Edition.
const gitlabVersion = "17.8.0"

// revision is the gateway's own commit, where the build recorded it.
var revision = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 11 {
				return s.Value[:11]
			}
		}
	}
	return "unknown"
}()

// version is GitLab's GET /version, for a signed-in user (401 otherwise,
// as GitLab answers): python-gitlab's Gitlab.version() and the tools that
// probe a GitLab before they talk to it.
func (s *Server) version(c *gin.Context) {
	if _, ok := requireUser(c, "gateway.version"); !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"version": gitlabVersion, "revision": revision})
}

// metadata is GitLab's GET /metadata: the version, no agent server (KAS)
// and not an Enterprise Edition.
func (s *Server) metadata(c *gin.Context) {
	if _, ok := requireUser(c, "gateway.metadata"); !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"version": gitlabVersion, "revision": revision, "enterprise": false,
		"kas": gin.H{"enabled": false, "externalUrl": nil, "externalK8sProxyUrl": nil, "version": nil}})
}

// listNamespaces is GitLab's GET /namespaces (search, owned_only): where
// scripts look up the id of the group or personal namespace to create a
// project in (see meta.ListNamespaces for which).
func (s *Server) listNamespaces(c *gin.Context) {
	const op = "gateway.listNamespaces"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	owned := false
	if q := c.Query("owned_only"); q != "" {
		var err error
		if owned, err = httpx.ParseBool(q); err != nil {
			httpx.Abort(c, errs.Param(op, "owned_only is invalid"))
			return
		}
	}
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.Namespace, int, error) {
		return s.Store.ListNamespaces(c.Request.Context(), id.User, owned, c.Query("search"), limit, offset)
	}, s.namespaceJSON)
}

// getNamespace is GitLab's GET /namespaces/:id, by id or full path: a
// group to those who may read it (as GET /groups/:id), a personal
// namespace to its owner and admins (GitLab's read_namespace); anything
// else "404 Namespace Not Found".
func (s *Server) getNamespace(c *gin.Context) {
	const op = "gateway.getNamespace"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	n, err := auth.FindNamespace(c.Request.Context(), s.Store, httpx.Param(c, "id"))
	visible := false
	switch {
	case err != nil:
	case n.Kind == "user":
		visible = id.User.IsAdmin || (n.OwnerID != nil && *n.OwnerID == id.User.ID)
	default:
		_, visible, err = auth.GroupRole(c.Request.Context(), s.Store, id.User, n)
	}
	if errs.Is(err, errs.NotFound) || (err == nil && !visible) {
		err = errs.New(op, errs.NotFound, "404 Namespace Not Found")
	}
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, s.namespaceJSON(n))
}
