// Package npm implements the npm protocol of GitLab's package registry.
package npm

import (
	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
)

// Register mounts the npm routes on the /api/v4 group. (Routes not built yet.)
func Register(rg *gin.RouterGroup, d formats.Deps) {}
