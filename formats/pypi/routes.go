// Package pypi implements the pypi protocol of GitLab's package registry.
package pypi

import (
	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
)

// Register mounts the pypi routes on the /api/v4 group. (Routes not built yet.)
func Register(rg *gin.RouterGroup, d formats.Deps) {}
