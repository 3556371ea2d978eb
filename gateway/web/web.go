// Package web serves the deploy-token management pages.
package web

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/storage/meta"
)

// Deps is what the pages need.
type Deps struct {
	Store       *meta.Store
	Auth        *auth.Authenticator
	ExternalURL string
	Log         *slog.Logger
}

// Register mounts the pages under /-/ui. (Pages not built yet.)
func Register(e *gin.Engine, d Deps) {}
