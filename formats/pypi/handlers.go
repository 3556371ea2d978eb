package pypi

import (
	"net/http"
	"strconv"
	"strings"

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
		entries, err := h.d.Registry.Meta.PyPIProjects(c.Request.Context(), s.projectIDs, meta.InstallableStatuses)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		fl := Negotiate(c.GetHeader("Accept"))
		if fl == JSON {
			writeDoc(c, fl, renderIndexJSON(entries))
			return
		}
		links := make([]Link, 0, len(entries))
		for _, e := range entries {
			links = append(links, Link{Href: s.base + "/simple/" + e.Normalized, Text: e.Name, RequiresPython: e.RequiresPython})
		}
		writeDoc(c, fl, renderHTML(s.title, links))
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
		files, err := h.d.Registry.Meta.PyPIFiles(c.Request.Context(), s.projectIDs, norm, meta.InstallableStatuses)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if len(files) == 0 {
			httpx.Abort(c, errs.New(op, errs.NotFound, "404 Package Not Found"))
			return
		}
		links := make([]Link, len(files))
		for i, f := range files {
			links[i] = fileLink(s.base, f)
		}
		fl := Negotiate(c.GetHeader("Accept"))
		if fl == JSON {
			writeDoc(c, fl, renderProjectJSON(norm, links))
			return
		}
		writeDoc(c, fl, renderHTML(files[0].Name, links))
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
			httpx.Abort(c, errs.Param(op, "sha256 is invalid"))
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

// writeDoc sends an index document with its negotiated type. Vary: Accept
// always, since the same URL has HTML and JSON representations.
func writeDoc(c *gin.Context, fl Flavour, body []byte) {
	hd := c.Writer.Header()
	hd.Set("Content-Type", fl.ContentType())
	hd.Set("Vary", "Accept")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	if c.Request.Method != http.MethodHead {
		_, _ = c.Writer.Write(body)
	}
}
