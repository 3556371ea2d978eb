package maven

import (
	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/httpx"
)

// Options are the Maven settings GitLab keeps per namespace.
type Options struct {
	// Duplicates is GitLab's maven_duplicates_allowed and
	// maven_duplicate_exception_regex. When refused, a release version that
	// already holds a file of the same name refuses it with 400 "Duplicate
	// package is not allowed". SNAPSHOT versions and versionless metadata
	// are always writable.
	//
	// DECISION (spec 3.4 leaves the exact rule UNCONFIRMED): GitLab's
	// FindOrCreatePackageService compares extensions (File.extname), so
	// there a -sources.jar after the .jar, and every redeploy of a
	// SNAPSHOT (new timestamped .jar next to the old one), is refused
	// unless the exception regex matches; the spec notes that newest
	// GitLab accepts another classifier. The gateway compares whole file
	// names, which keeps classifiers, checksums and signatures deployable,
	// and exempts SNAPSHOTs, which exist to be redeployed: what a user who
	// turns duplicates off wants is immutable releases.
	Duplicates formats.Duplicates
}

// DefaultOptions are GitLab's defaults.
func DefaultOptions() Options { return Options{Duplicates: formats.AllowDuplicates} }

// Register mounts the maven routes on the /api/v4 group with GitLab's
// default settings.
func Register(rg *gin.RouterGroup, d formats.Deps) { RegisterWith(rg, d, DefaultOptions()) }

// RegisterWith mounts the maven routes with explicit settings.
//
// Uploads exist only at project level (group and instance PUT fall through
// to the 404 of unknown routes, as in GitLab). HEAD is registered next to
// every GET.
func RegisterWith(rg *gin.RouterGroup, d formats.Deps, o Options) {
	h := &handler{d: d, o: o}
	p := rg.Group("/projects/:id/packages/maven", httpx.StrictChallenge, d.Auth.PackageProject("id"))
	p.GET("/*path", auth.Require(auth.Read), h.projectGet)
	p.HEAD("/*path", auth.Require(auth.Read), h.projectGet)
	p.PUT("/*path", auth.Require(auth.Write), h.put)

	g := rg.Group("/groups/:id/-/packages/maven", httpx.StrictChallenge, d.Auth.PackageGroup("id"))
	g.GET("/*path", h.groupGet)
	g.HEAD("/*path", h.groupGet)

	i := rg.Group("/packages/maven", httpx.StrictChallenge, d.Auth.PackageInstance())
	i.GET("/*path", h.instanceGet)
	i.HEAD("/*path", h.instanceGet)
}
