// Package auth turns request credentials into an identity and an identity
// into permissions. Every package route gets its decision from the same
// middleware here, so the status table of the spec (401 with a Basic
// challenge, 404 for the invisible, 403 for the visible but not entitled)
// is implemented once.
package auth

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// Credentials are every carrier GitLab reads, extracted without judging
// them. Header names are case-insensitive (net/http canonicalises them).
type Credentials struct {
	DeployToken  string // Deploy-Token header
	Bearer       string // Authorization: Bearer, or ?access_token= / ?bearer_token=
	PrivateToken string // PRIVATE-TOKEN header or private_token query param
	JobToken     string // JOB-TOKEN header or job_token param
	HasBasic     bool
	BasicUser    string
	BasicPass    string
	// PrivateFromQuery: PrivateToken came from ?private_token=, which
	// carries PATs only (see deployCandidate).
	PrivateFromQuery bool
}

// deployCandidate is the secret a deploy-token lookup tries first: the
// Deploy-Token header, else the Bearer token, else (a PROJECT DECISION,
// see Authenticator.Packages) the PRIVATE-TOKEN header; the Basic password
// replaces it when Basic is present.
//
// The two specs disagree on query parameters: the generic one says deploy
// tokens are never read from them, the npm/Maven/PyPI one lists
// ?access_token= and ?bearer_token= in the Bearer slot. GitLab's
// deploy_token_from_request reads the Deploy-Token header or Doorkeeper's
// OAuth token, whose carriers are the Bearer header and exactly those two
// parameters, on every package route, generic included; so does the
// gateway. ?private_token= is a PAT carrier only, in GitLab and here.
func (c Credentials) deployCandidate() string {
	if c.HasBasic {
		return c.BasicPass
	}
	switch {
	case c.DeployToken != "":
		return c.DeployToken
	case c.Bearer != "":
		return c.Bearer
	case c.PrivateToken != "" && !c.PrivateFromQuery:
		return c.PrivateToken
	}
	return ""
}

// Any reports whether any credential was presented.
func (c Credentials) Any() bool {
	return c.DeployToken != "" || c.Bearer != "" || c.PrivateToken != "" || c.JobToken != "" || c.HasBasic
}

// Extract reads credentials from a request. It never fails: a malformed
// Authorization header is simply no credential.
func Extract(r *http.Request) Credentials {
	var c Credentials
	c.DeployToken = strings.TrimSpace(r.Header.Get("Deploy-Token"))
	c.PrivateToken = strings.TrimSpace(r.Header.Get("Private-Token"))
	c.JobToken = strings.TrimSpace(r.Header.Get("Job-Token"))
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		if c.PrivateToken == "" {
			c.PrivateToken = q.Get("private_token")
			c.PrivateFromQuery = c.PrivateToken != ""
		}
		if c.JobToken == "" {
			c.JobToken = q.Get("job_token")
		}
		c.Bearer = q.Get("access_token")
		if c.Bearer == "" {
			c.Bearer = q.Get("bearer_token")
		}
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if ok {
		rest = strings.TrimSpace(rest)
		switch strings.ToLower(scheme) {
		case "bearer":
			c.Bearer = rest
		case "basic":
			if raw, err := base64.StdEncoding.DecodeString(rest); err == nil {
				user, pass, found := strings.Cut(string(raw), ":")
				if found {
					c.HasBasic, c.BasicUser, c.BasicPass = true, user, pass
				}
			}
		}
	}
	return c
}
