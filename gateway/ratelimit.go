package gateway

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/httpx"
)

// failLimiter slows down credential guessing: every request that presents
// credentials and is answered 401 spends one token of its client address's
// budget; once the budget is empty, that address gets 429 with Retry-After
// until it refills. Successful requests spend nothing, and anonymous probes
// that pip and Maven make before retrying with credentials do not count.
type failLimiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// newFailLimiter returns nil (no limit) when either setting is 0 or less:
// a burst of 0 would give each address that failed once a budget that
// never refills (rate.Limiter holds at most burst tokens), refusing its
// good tokens too for the life of the process.
func newFailLimiter(perMinute, burst int) *failLimiter {
	if perMinute <= 0 || burst <= 0 {
		return nil
	}
	return &failLimiter{every: time.Minute / time.Duration(perMinute), burst: burst, clients: map[string]*rate.Limiter{}}
}

func (f *failLimiter) limiter(ip string, create bool) *rate.Limiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.clients[ip]
	if l == nil && create {
		if len(f.clients) > 10000 {
			for k, v := range f.clients { // forget addresses whose budget is full again
				if v.Tokens() >= float64(f.burst) {
					delete(f.clients, k)
				}
			}
		}
		l = rate.NewLimiter(rate.Every(f.every), f.burst)
		f.clients[ip] = l
	}
	return l
}

func hasCredentials(c *gin.Context) bool { return auth.Extract(c.Request).Any() }

func (f *failLimiter) middleware(c *gin.Context) {
	ip := c.ClientIP()
	if l := f.limiter(ip, false); l != nil && l.Tokens() < 1 {
		wait := time.Duration(math.Ceil((1-l.Tokens())*f.every.Seconds())) * time.Second
		c.Header("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()))))
		c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"message": "429 Too Many Requests - too many failed authentication attempts"})
		return
	}
	c.Next()
	if c.Writer.Status() == http.StatusUnauthorized && (hasCredentials(c) || c.GetBool(httpx.CredentialKey)) && !verified(c) {
		f.limiter(ip, true).Allow()
	}
}

// verified reports that the request's credential named a live token: its
// 401 refuses an action, as GitLab answers a user asking for another
// user's tokens, and is no guess at a secret. A script making such
// requests with a good token is not to be locked out.
func verified(c *gin.Context) bool {
	return !identity(c).Anonymous() || !auth.IdentityFrom(c).Anonymous()
}
