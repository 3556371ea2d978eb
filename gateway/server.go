package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/formats/generic"
	"github.com/pkgate/pkgate/formats/maven"
	"github.com/pkgate/pkgate/formats/npm"
	"github.com/pkgate/pkgate/formats/pypi"
	"github.com/pkgate/pkgate/gateway/web"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/migrations"
	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/janitor"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// Server is one gateway node.
type Server struct {
	Cfg      Config
	Log      *slog.Logger
	Store    *meta.Store
	Blobs    blob.Driver
	Registry *registry.Registry
	Auth     *auth.Authenticator
	engine   *gin.Engine
	metrics  *metrics
	docs     *formats.DocCache
	// etagMD5s is the ETag probe's last answer, "yes" or "no" ("": none
	// yet); only New and then watchStoredMD5 touch it.
	etagMD5s string
}

// NewLogger builds the process logger from the config.
func NewLogger(c Config) *slog.Logger {
	lvl, _ := ParseLogLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// OpenBlobs builds the configured blob driver.
func OpenBlobs(ctx context.Context, c Config) (blob.Driver, error) {
	switch c.BlobDriver {
	case "s3":
		return blob.NewS3(ctx, blob.S3Config{Bucket: c.S3Bucket, Region: c.S3Region, Endpoint: c.S3Endpoint, PathStyle: c.S3PathStyle,
			PartSize: c.S3PartSize, Concurrency: c.S3Concurrency, DownloadConcurrency: c.S3DownloadConcurrency, ETagMD5: c.S3ETagMD5})
	default:
		return blob.NewFS(c.FSRoot)
	}
}

// StartupCheckTimeout is how long each of New's checks may take: the
// database's answer, the blob store's, the blob store's ETag probe.
// Migrations are not bounded by it (a long one, or the wait for another
// node's, must finish).
var StartupCheckTimeout = 15 * time.Second

// New connects to Postgres and the blob store (failing with a clear message
// when either is unreachable), migrates when configured, and builds routes.
func New(ctx context.Context, c Config, log *slog.Logger) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	store, err := meta.Open(c.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database: GATEWAY_DATABASE_URL: %w", err)
	}
	// Each check gets its own time: one deadline for them all ran out
	// while migrations ran (or waited for another node's), and the blob
	// store, checked next, was then reported unreachable.
	pctx, cancel := context.WithTimeout(ctx, StartupCheckTimeout)
	defer cancel()
	if err := store.DB().PingContext(pctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("database unreachable (GATEWAY_DATABASE_URL): %v", err)
	}
	if c.Migrate {
		if _, err := migrations.Up(ctx, store.DB().DB, log); err != nil {
			store.Close()
			return nil, err
		}
	}
	blobs, err := OpenBlobs(ctx, c)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	bctx, cancel := context.WithTimeout(ctx, StartupCheckTimeout)
	defer cancel()
	if err := blobs.Ping(bctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("blob store unreachable (GATEWAY_BLOB_DRIVER=%s): %v", c.BlobDriver, err)
	}
	m := newMetrics()
	blobs = blob.WithObserver(blobs, m.observeBlob)
	s := &Server{
		Cfg:      c,
		Log:      log,
		Store:    store,
		Blobs:    blobs,
		metrics:  m,
		docs:     formats.NewDocCache(store),
		Registry: &registry.Registry{Meta: store, Blobs: blobs, Log: log, Cache: registry.NewBlobCache(c.BlobCacheSize, 1<<20), BackgroundDigests: c.BackgroundDigests, OnBackfill: m.observeBackfill},
		Auth:     &auth.Authenticator{Store: store, Cache: auth.NewCache(c.TokenCacheTTL)},
	}
	// Package changes on any node drop this node's file lookups of the
	// project the notification names (all of them after a reconnect).
	invalidate := func(payload string) {
		ids, all := meta.ParseChanges(payload)
		if all {
			store.InvalidateLookups()
			return
		}
		for _, id := range ids {
			store.InvalidateProjectLookups(id)
		}
	}
	if err := meta.Listen(ctx, c.DatabaseURL, meta.PackagesChannel, invalidate); err != nil {
		store.Close()
		return nil, fmt.Errorf("database: listen for package changes: %w", err)
	}
	// Token and project-settings invalidations from other nodes; stops
	// with ctx.
	if err := meta.Listen(ctx, c.DatabaseURL, meta.TokensChannel, s.Auth.Invalidate); err != nil {
		store.Close()
		return nil, fmt.Errorf("database: listen for token invalidations: %w", err)
	}
	ectx, cancel := context.WithTimeout(ctx, StartupCheckTimeout)
	defer cancel()
	go s.watchStoredMD5(ctx, s.probeStoredMD5(ectx))
	s.engine = s.routes()
	return s, nil
}

// probeRetry is how soon the ETag probe is asked again when the blob
// store did not answer it.
const probeRetry = 30 * time.Second

// probeStoredMD5 asks the blob store whether its answers carry the md5 of
// what it stores (blob.StoreMD5, GATEWAY_S3_ETAG_MD5), and says whether
// it answered. Until it has, uploads compute md5 themselves; after, they
// follow its latest answer. Only an answer that differs from the one
// before is logged.
func (s *Server) probeStoredMD5(ctx context.Context) bool {
	p, ok := s.Blobs.(blob.StoreMD5)
	if !ok {
		return true
	}
	md5s, err := p.ProbeStoredMD5(ctx)
	if err != nil {
		if s.etagMD5s == "" {
			s.Log.Warn("could not ask the blob store whether its ETags are md5s; uploads compute md5 until it answers", "err", err)
		} else {
			s.Log.Warn("could not ask the blob store again whether its ETags are md5s; its last answer stands", "err", err)
		}
		return false
	}
	answer := "no"
	if md5s {
		answer = "yes"
	}
	if answer == s.etagMD5s {
		return true
	}
	s.etagMD5s = answer
	switch {
	case md5s:
		s.Log.Info("the blob store's ETags are md5s: uploads of up to one part take their md5 from it (GATEWAY_S3_ETAG_MD5)")
	case s.Cfg.BlobDriver == "s3" && s.Cfg.S3ETagMD5:
		s.Log.Info("the blob store's ETags are not md5s (SSE-KMS, SSE-C, or MinIO's --no-compat): uploads compute md5 themselves")
	}
	return true
}

// watchStoredMD5 repeats the ETag probe: every probeRetry (or sooner, as
// often as S3ETagProbeEvery) until the store has answered, then every
// S3ETagProbeEvery (0: never again), so that a store that stops
// answering md5s (or starts) is followed without a restart. answered is
// the first probe's outcome; a store that takes no md5 from its answers
// (the filesystem driver, GATEWAY_S3_ETAG_MD5=false) is never asked again.
func (s *Server) watchStoredMD5(ctx context.Context, answered bool) {
	if _, ok := s.Blobs.(blob.StoreMD5); !ok || s.Cfg.BlobDriver != "s3" || !s.Cfg.S3ETagMD5 {
		return
	}
	every := s.Cfg.S3ETagProbeEvery
	for {
		wait := every
		if !answered && (every <= 0 || every > probeRetry) {
			wait = probeRetry
		}
		if wait <= 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		answered = s.probeStoredMD5(pctx)
		cancel()
	}
}

// Handler is the HTTP handler (tests mount it on their own listener).
func (s *Server) Handler() http.Handler { return s.engine }

// Close releases the database pool.
func (s *Server) Close() error { return s.Store.Close() }

// Deps is what the format packages receive.
func (s *Server) Deps() formats.Deps {
	return formats.Deps{
		Registry:    s.Registry,
		Auth:        s.Auth,
		ExternalURL: s.Cfg.ExternalURL,
		Log:         s.Log,
		Limits: formats.Limits{
			Generic: s.Cfg.MaxGenericSize, NPM: s.Cfg.MaxNPMSize, Maven: s.Cfg.MaxMavenSize, PyPI: s.Cfg.MaxPyPISize,
		},
		RedirectDownloads: s.Cfg.RedirectDownloads,
		Docs:              s.docs,
	}
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Route on the escaped path so %2F stays inside one segment (project
	// paths, npm scopes); handlers decode parameters once (httpx.Param).
	// The path as the client escaped it, always: URL.RawPath is empty when
	// that escaping is Go's own, and routing on the decoded Path then
	// would hand handlers a value decoded once already (a%2541 stored as
	// "aA" after the second decode).
	e.UseEscapedPath = true
	e.UnescapePathValues = false
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.RemoveExtraSlash = false
	e.ContextWithFallback = true
	// gin trusts X-Forwarded-For from anyone by default; the client address
	// feeds the failed-auth limiter and the audit log, so only configured
	// proxies may set it (validated in Config.Validate).
	_ = e.SetTrustedProxies(s.Cfg.TrustedProxies)
	proxies, _ := httpx.ParseProxies(s.Cfg.TrustedProxies) // checked in Config.Validate
	e.Use(s.requestContext(), bodyIdleTimeout(s.Cfg.BodyIdleTimeout), s.recovery(), plainJSONContentType, s.metrics.middleware)
	if s.Cfg.HSTSMaxAge > 0 {
		ext, _ := url.Parse(s.Cfg.ExternalURL) // checked in Config.Validate
		e.Use(hsts(s.Cfg.HSTSMaxAge, ext != nil && ext.Scheme == "https", proxies))
	}
	if fl := newFailLimiter(s.Cfg.AuthFailPerMinute, s.Cfg.AuthFailBurst); fl != nil {
		e.Use(fl.middleware)
	}
	e.Use(s.auditPackages, s.invalidateOnWrite)
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "404 Not Found"})
	})
	// HEAD too, as GitLab's: load balancers' HTTP checks (HAProxy's
	// "option httpchk HEAD", for one) send it, and a 404 took every node
	// out of service.
	health := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
	e.GET("/-/health", health)
	e.HEAD("/-/health", health)
	e.GET("/-/readiness", s.readiness)
	e.HEAD("/-/readiness", s.readiness)
	e.GET("/-/metrics", s.metrics.handler())

	web.Register(e, web.Deps{Store: s.Store, Auth: s.Auth, ExternalURL: s.Cfg.ExternalURL, TrustedProxies: proxies, Log: s.Log,
		AuditToken: func(c *gin.Context, by *meta.User, action string, group bool, holderID int64, holderPath string, t *meta.DeployToken) {
			s.audit(c, &auth.Identity{User: by}, deployTokenAudit(action, holderEntity(group, holderID, holderPath), t))
		},
		Delete: func(c *gin.Context, by *meta.User, group bool, id int64) error {
			return s.remove(c, &auth.Identity{User: by}, group, id)
		}})

	v4 := e.Group("/api/v4", privateAnswers)
	s.registerAPI(v4)
	d := s.Deps()
	generic.RegisterWith(v4, d, generic.Options{Duplicates: duplicates(s.Cfg.GenericDuplicatesAllowed, s.Cfg.GenericDuplicateExceptionRegex)})
	npm.Register(v4, d)
	maven.RegisterWith(v4, d, maven.Options{Duplicates: duplicates(s.Cfg.MavenDuplicatesAllowed, s.Cfg.MavenDuplicateExceptionRegex)})
	pypi.Register(v4, d)
	return e
}

// privateAnswers keeps every API answer out of shared caches unless its
// handler says otherwise (cached documents revalidate, redirects are
// no-store), as GitLab's API answers: a proxy that caches what it is not
// told not to (Varnish by default, for requests without an
// Authorization header) would otherwise serve a file fetched with a
// Deploy-Token or PRIVATE-TOKEN header to the next anonymous caller.
func privateAnswers(c *gin.Context) {
	c.Header("Cache-Control", "max-age=0, private, must-revalidate")
	c.Next()
}

// duplicates builds a duplicate setting whose regex Config.Validate has
// already checked.
func duplicates(allowed bool, exception string) formats.Duplicates {
	d, err := formats.NewDuplicates(allowed, exception)
	if err != nil {
		panic(err) // unreachable after Config.Validate
	}
	return d
}

func (s *Server) readiness(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	checks := gin.H{}
	ok := true
	if err := s.Store.Ping(ctx); err != nil {
		checks["database"] = gin.H{"status": "failed", "message": "database unreachable"}
		ok = false
	} else {
		checks["database"] = gin.H{"status": "ok"}
	}
	if err := s.Blobs.Ping(ctx); err != nil {
		checks["blob_store"] = gin.H{"status": "failed", "message": "blob store unreachable"}
		ok = false
	} else {
		checks["blob_store"] = gin.H{"status": "ok"}
	}
	status := http.StatusOK
	checks["status"] = "ok"
	if !ok {
		status = http.StatusServiceUnavailable
		checks["status"] = "failed"
	}
	c.JSON(status, checks)
}

// requestContext gives each request an id (echoed in X-Request-Id) and a
// logger carrying it, and writes one access-log line. The URL is logged
// without its query string: private_token may be a query parameter.
func (s *Server) requestContext() gin.HandlerFunc {
	return func(c *gin.Context) {
		if m := c.Request.Method; m == http.MethodPut || m == http.MethodPost {
			growStack()
		}
		start := time.Now()
		rid := c.GetHeader("X-Request-Id")
		if rid == "" || len(rid) > 64 {
			rid = uuid.NewString()
		}
		c.Header("X-Request-Id", rid)
		log := s.Log.With("request_id", rid)
		c.Set(httpx.LoggerKey, log)
		c.Next()
		log.Info("request",
			"method", c.Request.Method, "path", c.Request.URL.EscapedPath(), "status", c.Writer.Status(),
			"bytes_out", sentBytes(c), "bytes_in", c.Request.ContentLength,
			"duration_ms", time.Since(start).Milliseconds(), "remote", c.ClientIP(), "user_agent", c.Request.UserAgent())
	}
}

// growStack grows the calling goroutine's stack once, to 64 KiB, while
// the stack is still shallow. An upload's call into the AWS SDK runs some
// hundred frames deep, and a goroutine starts with a small stack that
// doubles each time a call overflows it, copying all its frames each time:
// for a client that opens a connection per upload (curl in CI jobs), whose
// request therefore runs on a fresh goroutine, those copies were 14 % of
// the gateway's CPU. Measured 2026-11-26 at 250 uploads of 64 KiB a second:
// 1.80–1.84 ms of gateway CPU per upload without this, 1.57–1.68 with it;
// with keep-alive connections (whose goroutines keep their stacks between
// requests) no difference. The stack shrinks back at garbage collection
// once the goroutine is idle.
//
//go:noinline
func growStack() {
	var frame [48 << 10]byte
	touchFrame(&frame)
}

// touchFrame keeps the compiler from dropping growStack's frame.
//
//go:noinline
func touchFrame(f *[48 << 10]byte) { f[0] = 1 }

// recovery turns a panic into a logged 500 instead of a dropped connection.
func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				httpx.Logger(c).Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				httpx.Abort(c, errs.New("gateway.recovery", errs.Internal, ""))
			}
		}()
		c.Next()
	}
}

// Run serves, and runs the digest backfill (unless turned off), until ctx
// is cancelled, then shuts down gracefully: the listener closes at once and
// running requests (uploads included) get up to ShutdownTimeout to finish;
// a backfill pass stops where it is and the next start resumes it.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	// The profiler's address is taken before anything is served: a busy
	// or unusable one fails the start, naming the variable, instead of a
	// log line after it that nobody reads until the profile is needed.
	var pprofLn net.Listener
	if s.Cfg.PprofListen != "" {
		l, err := net.Listen("tcp", s.Cfg.PprofListen)
		if err != nil {
			return fmt.Errorf("GATEWAY_PPROF_LISTEN: %w", err)
		}
		pprofLn = l
		defer l.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if pprofLn != nil {
		go servePprof(pprofLn, s.Log)
	}
	// Digests that large uploads left for later (storage/registry).
	if s.Cfg.DigestBackfill {
		go s.Registry.RunBackfill(ctx)
	}
	if s.Cfg.GCInterval > 0 {
		go s.runGC(ctx)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "timeout", s.Cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.Cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runGC runs gc every GCInterval until ctx ends (see Config.GCInterval),
// skipping a round another node is running; each run is logged and
// counted in the metrics.
func (s *Server) runGC(ctx context.Context) {
	t := time.NewTimer(min(s.Cfg.GCInterval, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var rep janitor.Report
		ran, err := s.Store.WithGCLock(ctx, func() error {
			var err error
			rep, err = janitor.Run(ctx, s.Store, s.Blobs, janitor.Options{Grace: s.Cfg.GCGrace, SkipOrphans: !s.Cfg.GCOrphans})
			return err
		})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.metrics.gcRuns.WithLabelValues("failed").Inc()
			s.Log.Warn("gc failed; retrying at the next interval", "err", err.Error(), "freed_bytes", rep.Bytes)
		case !ran:
			s.metrics.gcRuns.WithLabelValues("skipped").Inc()
		default:
			s.metrics.gcRuns.WithLabelValues("done").Inc()
			s.Log.Info(rep.String(), "blobs", rep.BlobRows, "objects", rep.Objects, "unfinished", rep.Unfinished, "freed_bytes", rep.Bytes)
		}
		s.metrics.gcFreed.Add(float64(rep.Bytes))
		s.metrics.gcScanned.Add(float64(rep.ObjectsSeen))
		t.Reset(s.Cfg.GCInterval)
	}
}

// hsts tells browsers to use https only for this host, on answers to
// requests that came over https as the pages' Secure cookies decide it:
// GATEWAY_EXTERNAL_URL is https, the request came over TLS here, or a
// trusted proxy says so (X-Forwarded-Proto, Forwarded). A header from an
// untrusted peer changes nothing.
func hsts(maxAge int, externalHTTPS bool, proxies httpx.Proxies) gin.HandlerFunc {
	v := "max-age=" + strconv.Itoa(maxAge)
	return func(c *gin.Context) {
		if externalHTTPS || proxies.HTTPS(c.Request) {
			c.Header("Strict-Transport-Security", v)
		}
		c.Next()
	}
}

// plainJSONContentType sends JSON as exactly "application/json": gin adds
// "; charset=utf-8", and python-gitlab 3.x compares the header verbatim, so
// with the parameter it refuses every body (GitlabParsingError).
func plainJSONContentType(c *gin.Context) {
	c.Writer = jsonWriter{c.Writer}
	c.Next()
}

type jsonWriter struct{ gin.ResponseWriter }

func (w jsonWriter) fix() {
	h := w.Header()
	if v := h["Content-Type"]; len(v) == 1 && v[0] == "application/json; charset=utf-8" {
		h["Content-Type"] = []string{"application/json"}
	}
}

func (w jsonWriter) Write(b []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(b)
}

func (w jsonWriter) WriteString(s string) (int, error) {
	w.fix()
	return w.ResponseWriter.WriteString(s)
}

func (w jsonWriter) WriteHeaderNow() {
	w.fix()
	w.ResponseWriter.WriteHeaderNow()
}

// servePprof exposes the Go profiler on its own (loopback) address. It is
// off unless GATEWAY_PPROF_LISTEN is set: profiles reveal internals.
func servePprof(ln net.Listener, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Error("pprof", "err", err.Error())
	}
}

// bodyIdleTimeout keeps a stalled client from holding a request (and its
// buffers) forever: every read of the request body and every write of the
// response must make progress within d, else it fails and the connection
// is dropped. There is no total timeout, so a slow but steady multi-GiB
// transfer still works.
func bodyIdleTimeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d > 0 {
			ctl := http.NewResponseController(c.Writer)
			if c.Request.Body != nil && c.Request.Body != http.NoBody {
				// Wrap the body in a shallow copy of the request: net/http
				// looks at its own Request.Body after the handler to tell
				// an Expect: 100-continue body it never asked for (it then
				// closes the connection) from one to drain. Replaced in
				// place, the server tried to drain up to 256 KiB of a body
				// refused from its headers (413, duplicate), which the
				// client holds back until its own 100-continue timeout, so
				// every such refusal came that much later.
				r := *c.Request
				r.Body = &idleBody{ReadCloser: c.Request.Body, ctl: ctl, d: d}
				c.Request = &r
			}
			c.Writer = &idleWriter{ResponseWriter: c.Writer, ctl: ctl, d: d}
		}
		c.Next()
	}
}

type idleWriter struct {
	gin.ResponseWriter
	ctl *http.ResponseController
	d   time.Duration
}

func (w *idleWriter) Write(b []byte) (int, error) {
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(b)
}

func (w *idleWriter) WriteString(s string) (int, error) {
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.WriteString(s)
}

type idleBody struct {
	io.ReadCloser
	ctl *http.ResponseController
	d   time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.d))
	return b.ReadCloser.Read(p)
}

// invalidateOnWrite drops this node's cached file lookups before a writing
// request's answer leaves (at its first header or byte), so a client that
// deletes or replaces a file and then downloads it through this node never
// sees the old row. A request that writes in one project (every package
// route, and the packages API) drops that project's lookups and, unless it
// was refused (4xx), has the other nodes told within milliseconds
// (meta.Store.PackagesChanged, which sends one notification for many
// writes). Any other write changes no row a lookup returns (a
// group-level npm dist-tag names no file) but drops this node's lookups all
// the same, as the cheap safe default.
func (s *Server) invalidateOnWrite(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	var w *invalidatingWriter
	invalidate := func() {
		id := writesProject(c)
		if id == 0 {
			s.Store.InvalidateLookups()
			return
		}
		s.Store.InvalidateProjectLookups(id)
		if st := w.Status(); st >= 400 && st < 500 {
			return
		}
		s.Store.PackagesChanged(id)
	}
	w = &invalidatingWriter{ResponseWriter: c.Writer, invalidate: invalidate}
	c.Writer = w
	c.Next()
	// gin writes the header of an answer without a body itself, after
	// the handlers and past this wrapper: drop the lookups here then.
	w.before()
}

// writesProjectKey names the project of a packages API request (set by
// packagesProject), whose package routes carry no auth.Access.
const writesProjectKey = "gateway.writes_project"

// writesProject is the project whose packages the request may change, or 0.
func writesProject(c *gin.Context) int64 {
	if acc := auth.AccessFrom(c); acc != nil && acc.Project != nil {
		return acc.Project.ID
	}
	return c.GetInt64(writesProjectKey)
}

type invalidatingWriter struct {
	gin.ResponseWriter
	invalidate func()
	done       bool
}

func (w *invalidatingWriter) before() {
	if !w.done {
		w.done = true
		w.invalidate()
	}
}

func (w *invalidatingWriter) WriteHeaderNow() { w.before(); w.ResponseWriter.WriteHeaderNow() }

func (w *invalidatingWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

func (w *invalidatingWriter) WriteString(s string) (int, error) {
	w.before()
	return w.ResponseWriter.WriteString(s)
}
