package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// Secret prefixes, as GitLab's, so secret scanners recognise leaked tokens.
const (
	DeployTokenPrefix = "gldt-"
	PATPrefix         = "glpat-"
)

// NewSecret returns prefix + 20 random characters of [A-Za-z0-9_-]
// (120 bits of entropy) and the digest to store.
func NewSecret(prefix string) (secret string, digest []byte) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, Digest(secret)
}

// Digest is what the database stores for a secret. Secrets carry 120 random
// bits, so an unsalted SHA-256 is not brute-forceable, and being
// deterministic it lets authentication find the row by an index lookup.
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// SameDigest compares digests in constant time.
func SameDigest(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Deploy token scopes, in GitLab's canonical order.
var DeployScopes = []string{
	"read_repository", "read_registry", "write_registry", "read_package_registry",
	"write_package_registry", "read_virtual_registry", "write_virtual_registry",
}

// Package-registry scopes.
const (
	ScopeReadPackages  = "read_package_registry"
	ScopeWritePackages = "write_package_registry"
)

// PATScopes are the personal access token scopes accepted on create.
var PATScopes = []string{
	"api", "read_api", "read_user", "create_runner", "manage_runner", "k8s_proxy", "read_repository",
	"write_repository", "read_registry", "write_registry", "read_virtual_registry", "write_virtual_registry",
	"sudo", "admin_mode", "read_service_ping", "ai_features", "self_rotate",
}

// NormalizeScopes returns the known scopes of input in canonical order
// without duplicates, and whether every input scope was known.
func NormalizeScopes(input, canonical []string) ([]string, bool) {
	ok := true
	for _, s := range input {
		if !slices.Contains(canonical, s) {
			ok = false
		}
	}
	var out []string
	for _, s := range canonical {
		if slices.Contains(input, s) {
			out = append(out, s)
		}
	}
	return out, ok
}

// IssuePAT stores a new personal access token and returns its secret,
// which exists nowhere else afterwards.
func IssuePAT(ctx context.Context, s *meta.Store, p *meta.PAT) (string, error) {
	secret, digest := NewSecret(PATPrefix)
	if err := s.CreatePAT(ctx, p, digest); err != nil {
		return "", err
	}
	return secret, nil
}

// RotatePAT replaces a token with a new one that keeps its name,
// description and scopes and expires at expiresAt (meta.Store.RotatePAT),
// drops the old one from this node's cache (the store tells the others),
// and returns both and the new secret, which exists nowhere else
// afterwards.
func RotatePAT(ctx context.Context, s *meta.Store, c *Cache, id int64, expiresAt *time.Time) (old, rotated *meta.PAT, secret string, err error) {
	secret, digest := NewSecret(PATPrefix)
	old, rotated, err = s.RotatePAT(ctx, id, expiresAt, digest)
	if err != nil {
		return nil, nil, "", err
	}
	c.ForgetPAT(old.ID)
	return old, rotated, secret, nil
}

// IssueDeployToken stores a new deploy token and returns its secret.
func IssueDeployToken(ctx context.Context, s *meta.Store, t *meta.DeployToken) (string, error) {
	secret, digest := NewSecret(DeployTokenPrefix)
	if err := s.CreateDeployToken(ctx, t, digest); err != nil {
		return "", err
	}
	return secret, nil
}
