package pypi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// index serves the root of the simple index: one anchor per distinct
// normalised name (GitLab emits one per version, duplicates included; one
// per project is what PEP 503 describes), href = the project page with the
// normalised name, text = the stored name, data-requires-python = the
// newest version's value.
func (h *handler) index(sc func(*gin.Context) scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sc(c)
		ctx := c.Request.Context()
		fl := Negotiate(c.GetHeader("Accept"))
		key := fmt.Sprintf("pypi:index:%s:%v:%d", s.base, s.projectIDs, fl)
		doc, err := h.d.Docs.Get(ctx, key, s.projectIDs, "pypi", fl.ContentType(), func() ([]byte, time.Time, error) {
			entries, err := h.d.Registry.Meta.PyPIProjects(ctx, s.projectIDs, meta.InstallableStatuses)
			if err != nil {
				return nil, time.Time{}, err
			}
			if fl == JSON {
				return renderIndexJSON(entries), time.Time{}, nil
			}
			links := make([]Link, 0, len(entries))
			for _, e := range entries {
				links = append(links, Link{Href: s.base + "/simple/" + e.Normalized, Text: e.Name, RequiresPython: e.RequiresPython})
			}
			return renderHTML(s.title, links), time.Time{}, nil
		})
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		doc.Serve(c, http.StatusOK)
	}
}

// page serves a project page: every file of every installable version
// whose name normalises like the requested one. The request is normalised
// too (GitLab only lower-cases it), so any spelling pip or a human uses
// resolves. No file -> 404, which pip reads as "no versions here".
func (h *handler) page(sc func(*gin.Context) scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "pypi.Page"
		s := sc(c)
		name := httpx.Param(c, "package_name")
		if !ValidPathParam(name) {
			httpx.Abort(c, errs.Param(op, "package_name should be a valid file path"))
			return
		}
		norm := Normalize(name)
		ctx := c.Request.Context()
		fl := Negotiate(c.GetHeader("Accept"))
		key := fmt.Sprintf("pypi:page:%s:%v:%d:%s", s.base, s.projectIDs, fl, norm)
		doc, err := h.d.Docs.Get(ctx, key, s.projectIDs, "pypi", fl.ContentType(), func() ([]byte, time.Time, error) {
			files, err := h.d.Registry.Meta.PyPIFiles(ctx, s.projectIDs, norm, meta.InstallableStatuses)
			if err != nil || len(files) == 0 {
				return nil, time.Time{}, err
			}
			links := make([]Link, len(files))
			for i, f := range files {
				links[i] = fileLink(s.base, f)
			}
			if fl == JSON {
				return renderProjectJSON(norm, links), time.Time{}, nil
			}
			return renderHTML(files[0].Name, links), time.Time{}, nil
		})
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if doc.Body == nil {
			httpx.Abort(c, errs.New(op, errs.NotFound, "404 Package Not Found"))
			return
		}
		doc.Serve(c, http.StatusOK)
	}
}

// file streams one distribution file. Both the SHA-256 and the exact file
// name must match a file of the scope (spec 4.6), so a URL cannot be
// reused to fetch another file or another scope's bytes.
func (h *handler) file(sc func(*gin.Context) scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "pypi.Download"
		s := sc(c)
		sha := httpx.Param(c, "sha256")
		if !ValidSHA256(sha) {
			// GitLab's route only matches a 64-digit hex sha256: any
			// other value finds no route (spec 4.6: otherwise 404).
			httpx.Abort(c, &errs.Error{Op: op, Kind: errs.NotFound, Msg: "404 Not Found", Shape: errs.ShapeError})
			return
		}
		fileName := httpx.Param(c, "file_name")
		if !ValidPathParam(fileName) {
			httpx.Abort(c, errs.Param(op, "file_name should be a valid file path"))
			return
		}
		pkg, f, err := h.d.Registry.Meta.PyPIFile(c.Request.Context(), s.projectIDs, strings.ToLower(sha), fileName, meta.InstallableStatuses)
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				err = errs.New(op, errs.NotFound, "404 Package Not Found")
			}
			httpx.Abort(c, err)
			return
		}
		formats.ServeFile(c, h.d, pkg, f, formats.ServeOptions{})
	}
}
