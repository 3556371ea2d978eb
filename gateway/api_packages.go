package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// The packages REST API accepts personal access tokens only: deploy tokens
// are ignored here as in GitLab (apiAuth never reads them).
func (s *Server) registerPackagesAPI(api *gin.RouterGroup) {
	getAndHead(api, "/projects/:id/packages", s.listProjectPackages)
	getAndHead(api, "/groups/:id/packages", s.listGroupPackages)
	getAndHead(api, "/projects/:id/packages/:package_id", s.getPackage)
	api.DELETE("/projects/:id/packages/:package_id", s.deletePackage)
	getAndHead(api, "/projects/:id/packages/:package_id/package_files", s.listPackageFiles)
	api.DELETE("/projects/:id/packages/:package_id/package_files/:package_file_id", s.deletePackageFile)
	getAndHead(api, "/projects/:id/packages/:package_id/package_files/:package_file_id/download", s.downloadPackageFile)
}

var (
	packageTypes = []string{"maven", "npm", "conan", "nuget", "pypi", "composer", "generic", "golang", "debian",
		"rubygems", "helm", "terraform_module", "rpm", "ml_model", "cargo"}
	packageStatuses = []string{"default", "hidden", "processing", "error", "pending_destruction", "deprecated"}
	packageOrders   = []string{"created_at", "name", "version", "type"}
	// The group listing may also order by the project's full path (gitlabhq
	// lib/api/group_packages.rb).
	groupPackageOrders = append(slices.Clip(packageOrders), "project_path")
	// gitlabhq lib/api/package_files.rb: order_by id (default), created_at
	// or file_name.
	packageFileOrders = []string{"id", "created_at", "file_name"}
)

// enumParam reads an optional enumerated query parameter: a value outside
// allowed is 400 "<name> does not have a valid value", as Grape's values:.
func enumParam(c *gin.Context, name string, allowed []string) (string, error) {
	v := c.Query(name)
	if v != "" && !slices.Contains(allowed, v) {
		return "", errs.Param("gateway.enumParam", name+" does not have a valid value")
	}
	return v, nil
}

// orderParams reads order_by (among orders) and sort (asc or desc).
func orderParams(c *gin.Context, orders []string) (orderBy string, desc bool, err error) {
	if orderBy, err = enumParam(c, "order_by", orders); err != nil {
		return "", false, err
	}
	sort, err := enumParam(c, "sort", []string{"asc", "desc"})
	return orderBy, sort == "desc", err
}

// packageFilter reads the list filters of GET /projects/:id/packages and,
// with group, of GET /groups/:id/packages (which adds exclude_subgroups and
// order_by=project_path).
func packageFilter(c *gin.Context, group bool) (meta.PackageFilter, error) {
	const op = "gateway.packageFilter"
	var f meta.PackageFilter
	check := func(name string, allowed []string) (string, error) { return enumParam(c, name, allowed) }
	orders := packageOrders
	if group {
		orders = groupPackageOrders
		if v := c.Query("exclude_subgroups"); v != "" {
			b, err := httpx.ParseBool(v)
			if err != nil {
				return f, errs.Param(op, "exclude_subgroups is invalid")
			}
			f.ExcludeSubgroups = b
		}
	}
	var err error
	if f.OrderBy, f.Desc, err = orderParams(c, orders); err != nil {
		return f, err
	}
	if f.Type, err = check("package_type", packageTypes); err != nil {
		return f, err
	}
	if f.Status, err = check("status", packageStatuses); err != nil {
		return f, err
	}
	f.Name = c.Query("package_name")
	f.Version = c.Query("package_version")
	if v := c.Query("include_versionless"); v != "" {
		if f.IncludeVersionless, err = httpx.ParseBool(v); err != nil {
			return f, errs.Param(op, "include_versionless is invalid")
		}
	}
	return f, nil
}

// packageJSON is GitLab's Package entity. project_id and project_path are
// exposed on group listings only (gitlabhq lib/api/entities/package.rb:
// `if: opts[:group]`); a project's own listing and GET by id omit them.
func (s *Server) packageJSON(p *meta.Package, proj *meta.Project, canDelete, group bool) gin.H {
	links := gin.H{}
	if p.Status == meta.StatusDefault || p.Status == meta.StatusDeprecated {
		path := "/"
		if proj != nil {
			path = "/" + proj.FullPath()
		}
		links["web_path"] = strings.TrimSuffix(path, "/") + fmt.Sprintf("/-/packages/%d", p.ID)
	}
	if canDelete {
		links["delete_api_path"] = fmt.Sprintf("%s/api/v4/projects/%d/packages/%d", s.Cfg.ExternalURL, p.ProjectID, p.ID)
	}
	h := gin.H{
		"id": p.ID, "name": p.Name, "version": p.Version, "package_type": p.PackageType, "status": p.Status,
		"_links": links, "created_at": httpx.TS(p.CreatedAt), "last_downloaded_at": httpx.TSPtr(p.LastDownloadedAt),
		"tags": []any{},
	}
	if group {
		h["project_id"] = p.ProjectID
		if proj != nil {
			h["project_path"] = proj.FullPath()
		}
	}
	return h
}

func fileJSON(f *meta.PackageFile) gin.H {
	return gin.H{
		"id": f.ID, "package_id": f.PackageID, "created_at": httpx.TS(f.CreatedAt), "file_name": f.FileName,
		"size": f.Size, "file_md5": nilIfEmpty(f.MD5), "file_sha1": nilIfEmpty(f.SHA1), "file_sha256": f.BlobSHA256,
	}
}

// packagesProject resolves :id and the caller's package permissions:
// reading needs visibility (Guest+ for private), deleting Maintainer+.
func (s *Server) packagesProject(c *gin.Context) (*meta.Project, bool, error) {
	const op = "gateway.packagesProject"
	p, level, err := s.projectFor(c, identity(c))
	if err != nil {
		return nil, false, err
	}
	if !p.PackagesEnabled {
		return nil, false, errForbidden(op)
	}
	c.Set(writesProjectKey, p.ID) // see invalidateOnWrite
	meta.SetAuditProject(c.Request.Context(), p)
	return p, level >= meta.Maintainer, nil
}

func (s *Server) listProjectPackages(c *gin.Context) {
	p, canDelete, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f, err := packageFilter(c, false)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f.ProjectID = p.ID
	s.packageList(c, f, false, func(int64) (*meta.Project, bool) { return p, canDelete })
}

func (s *Server) listGroupPackages(c *gin.Context) {
	id := identity(c)
	g, _, err := s.groupFor(c, id)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f, err := packageFilter(c, true)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f.GroupID, f.VisibleTo = g.ID, id.User
	projects := map[int64]*meta.Project{}
	s.packageList(c, f, true, func(pid int64) (*meta.Project, bool) {
		p, ok := projects[pid]
		if !ok {
			p, _ = s.Store.ProjectByID(c.Request.Context(), pid)
			projects[pid] = p
		}
		canDelete := id.IsAdmin()
		if !canDelete && id.User != nil && p != nil {
			lvl, _ := s.Store.ProjectAccess(c.Request.Context(), id.User.ID, p)
			canDelete = lvl >= meta.Maintainer
		}
		return p, canDelete
	})
}

func (s *Server) packageList(c *gin.Context, f meta.PackageFilter, group bool, project func(int64) (*meta.Project, bool)) {
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.Package, int, error) {
		return s.Store.ListPackages(c.Request.Context(), f, limit, offset)
	}, func(p *meta.Package) gin.H {
		proj, canDelete := project(p.ProjectID)
		return s.packageJSON(p, proj, canDelete, group)
	})
}

// findPackage loads :package_id of the project, hiding packages GitLab
// does not display in detail.
func (s *Server) findPackage(c *gin.Context, p *meta.Project) (*meta.Package, error) {
	pid, err := httpx.ParseID(c, "package_id")
	if err != nil {
		return nil, err
	}
	return s.displayedPackage(c, p, pid)
}

// displayedPackage is package pid of the project among those GitLab
// finds by id (spec 6.5): a hidden or processing one is not found.
func (s *Server) displayedPackage(c *gin.Context, p *meta.Project, pid int64) (*meta.Package, error) {
	const op = "gateway.findPackage"
	pkg, err := s.Store.PackageByID(c.Request.Context(), p.ID, pid)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errs.New(op, errs.NotFound, "404 Not found")
		}
		return nil, err
	}
	switch pkg.Status {
	case meta.StatusHidden, meta.StatusProcessing:
		return nil, errs.New(op, errs.NotFound, "404 Not found")
	}
	return pkg, nil
}

func (s *Server) getPackage(c *gin.Context) {
	p, canDelete, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pkg, err := s.findPackage(c, p)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if pkg.Status == meta.StatusError {
		// A failed package is displayable (listed, its files listed and
		// deleted) but GitLab refuses its details (spec 6.5).
		httpx.Abort(c, errs.New("gateway.getPackage", errs.NotFound, "Package not found"))
		return
	}
	others, err := s.Store.PackageVersions(c.Request.Context(), pkg)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out := s.packageJSON(pkg, p, canDelete, false)
	versions := make([]gin.H, 0, len(others))
	for i := range others {
		versions = append(versions, s.packageJSON(&others[i], p, canDelete, false))
	}
	out["versions"] = versions
	c.JSON(http.StatusOK, out)
}

func (s *Server) deletePackage(c *gin.Context) {
	const op = "gateway.deletePackage"
	p, canDelete, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pid, err := httpx.ParseID(c, "package_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !canDelete {
		httpx.Abort(c, errForbidden(op))
		return
	}
	// Found as GET finds it: a hidden or processing package is not
	// found here either.
	pkg, err := s.displayedPackage(c, p, pid)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	meta.SetAuditTarget(c.Request.Context(), packageTarget("Packages::Package", pkg.ID, p, pkg))
	if _, err := s.Store.DeletePackage(c.Request.Context(), p.ID, pid); err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.New(op, errs.NotFound, "404 Not found")
		}
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listPackageFiles(c *gin.Context) {
	p, _, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	// Parameters are checked before the package is looked up, as Grape
	// validates before the handler runs.
	pid, err := httpx.ParseID(c, "package_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	orderBy, desc, err := orderParams(c, packageFileOrders)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pkg, err := s.displayedPackage(c, p, pid)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.PackageFile, int, error) {
		return s.Store.ListFiles(c.Request.Context(), pkg.ID, orderBy, desc, limit, offset)
	}, fileJSON)
}

// deletePackageFile follows GitLab's order (gitlabhq
// lib/api/package_files.rb): both ids are validated (400), then the role
// (403), then the package (404 "404 Not found", the record lookup's text)
// and the file (404 "404 Not Found", GitLab's not_found!).
func (s *Server) deletePackageFile(c *gin.Context) {
	const op = "gateway.deletePackageFile"
	p, canDelete, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pid, err := httpx.ParseID(c, "package_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	fid, err := httpx.ParseID(c, "package_file_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !canDelete {
		httpx.Abort(c, errForbidden(op))
		return
	}
	pkg, err := s.displayedPackage(c, p, pid)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	meta.SetAuditTarget(c.Request.Context(), packageTarget("Packages::PackageFile", fid, p, pkg))
	if err := s.Store.DeleteFile(c.Request.Context(), pkg.ID, fid); err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.New(op, errs.NotFound, "404 Not Found")
		}
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// downloadPackageFile is GitLab 18.4's download of one package file by id
// (gitlabhq lib/api/package_files.rb): whoever may read the project's
// packages (a PAT, or anonymous on a public project; deploy tokens are not
// credentials here, as on the rest of this API) gets the file as the format
// routes serve it: attachment, ranges, X-Checksum-SHA256. A missing package
// is the record lookup's "404 Not found", a missing file GitLab's
// not_found! "404 Not Found".
//
// Decision: the attachment's name is the stored file name's last segment,
// so a generic file stored with directories (dir%2Ffile) downloads as
// "file", as the generic route names it.
func (s *Server) downloadPackageFile(c *gin.Context) {
	const op = "gateway.downloadPackageFile"
	p, _, err := s.packagesProject(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pid, err := httpx.ParseID(c, "package_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	fid, err := httpx.ParseID(c, "package_file_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pkg, err := s.displayedPackage(c, p, pid)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f, err := s.Store.FileByID(c.Request.Context(), pkg.ID, fid)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.New(op, errs.NotFound, "404 Not Found")
		}
		httpx.Abort(c, err)
		return
	}
	name := f.FileName
	if i := strings.LastIndex(name, "%2F"); i >= 0 {
		name = name[i+len("%2F"):]
	}
	formats.ServeFile(c, s.Deps(), pkg, f, formats.ServeOptions{FileName: name})
}

// packageTarget names a package (or one of its files) in an audit event
// as GitLab's package events do: "<project full path>/<name>-<version>".
func packageTarget(kind string, id int64, p *meta.Project, pkg *meta.Package) meta.AuditTarget {
	details := p.FullPath() + "/" + pkg.Name
	if pkg.Version != nil && *pkg.Version != "" {
		details += "-" + *pkg.Version
	}
	return meta.AuditTarget{Type: kind, ID: id, Details: details}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
