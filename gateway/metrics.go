package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are per server (not the global registry) so several gateways in
// one process, as in the tests, do not collide. Labels are route templates,
// never raw paths or anything taken from credentials.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	bytesIn      *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	blobOps      *prometheus.HistogramVec
	blobErrors   *prometheus.CounterVec
	backfill     *prometheus.CounterVec
	backfillSize prometheus.Counter
	gcRuns       *prometheus.CounterVec
	gcFreed      prometheus.Counter
	gcScanned    prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_http_requests_total", Help: "HTTP requests by format, route, method and status.",
		}, []string{"format", "route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pkgate_http_request_duration_seconds", Help: "HTTP request latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"format", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_http_bytes_in_total", Help: "Request body bytes received.",
		}, []string{"format"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_http_bytes_out_total", Help: "Response body bytes sent.",
		}, []string{"format"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_auth_failures_total", Help: "Requests refused with 401, by format and whether credentials were presented.",
		}, []string{"format", "credentials"}),
		blobOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pkgate_blob_store_duration_seconds", Help: "Blob store operation latency (open: time to first byte; range: the same for each later ranged GET of a parallel download).",
			Buckets: prometheus.DefBuckets,
		}, []string{"driver", "op"}),
		blobErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_blob_store_errors_total", Help: "Failed blob store operations.",
		}, []string{"driver", "op"}),
		backfill: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_digest_backfill_blobs_total",
			Help: "Blobs the digest backfill read: filled, failed (unreadable or missing, retried later) or damaged (not holding the bytes its row names, marked; see the log).",
		}, []string{"result"}),
		backfillSize: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgate_digest_backfill_bytes_total", Help: "Bytes the digest backfill read to fill digests.",
		}),
		gcRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgate_gc_runs_total", Help: "gc runs inside serve (GATEWAY_GC_INTERVAL): done, failed, or skipped because another node was running one.",
		}, []string{"result"}),
		gcFreed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgate_gc_freed_bytes_total", Help: "Bytes the gc runs inside serve freed.",
		}),
		gcScanned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgate_gc_objects_scanned_total", Help: "Objects the gc runs inside serve listed to find orphans (0 unless GATEWAY_GC_ORPHANS).",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, m.authFailures, m.blobOps, m.blobErrors, m.backfill, m.backfillSize, m.gcRuns, m.gcFreed, m.gcScanned,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeBlob(driver, op string, d time.Duration, err error) {
	m.blobOps.WithLabelValues(driver, op).Observe(d.Seconds())
	if err != nil {
		m.blobErrors.WithLabelValues(driver, op).Inc()
	}
}

func (m *metrics) observeBackfill(result string, size int64) {
	m.backfill.WithLabelValues(result).Inc()
	m.backfillSize.Add(float64(size))
}

// formatOf names the protocol of a route template.
func formatOf(route string) string {
	for _, f := range []string{"generic", "npm", "maven", "pypi"} {
		if strings.Contains(route, "/packages/"+f) {
			return f
		}
	}
	switch {
	case strings.HasPrefix(route, "/api/v4"):
		return "api"
	case strings.HasPrefix(route, "/-/ui"):
		return "ui"
	case route == "":
		return "unmatched"
	}
	return "internal"
}

// sentBytes is the size of the body the answer sent (-1: nothing was
// written). HEAD sends none, though a REST API handler writes its JSON as
// for GET and net/http drops it (getAndHead).
func sentBytes(c *gin.Context) int {
	if n := c.Writer.Size(); c.Request.Method != http.MethodHead || n <= 0 {
		return n
	}
	return 0
}

// methodLabel is the method as a metrics label: net/http accepts any
// token as a method, and each new one made new series (one counter and a
// 15-bucket histogram), so anonymous requests with made-up methods grew
// the gateway's memory and the scrape without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	format := formatOf(route)
	status := c.Writer.Status()
	method := methodLabel(c.Request.Method)
	m.requests.WithLabelValues(format, route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(format, method).Observe(time.Since(start).Seconds())
	if c.Request.ContentLength > 0 {
		m.bytesIn.WithLabelValues(format).Add(float64(c.Request.ContentLength))
	}
	if n := sentBytes(c); n > 0 {
		m.bytesOut.WithLabelValues(format).Add(float64(n))
	}
	if status == 401 {
		m.authFailures.WithLabelValues(format, strconv.FormatBool(hasCredentials(c))).Inc()
	}
}

func (m *metrics) handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return gin.WrapH(h)
}
