// Package maven implements the maven protocol of GitLab's package registry.
package maven

import (
	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
)

// Register mounts the maven routes on the /api/v4 group. (Routes not built yet.)
func Register(rg *gin.RouterGroup, d formats.Deps) {}
