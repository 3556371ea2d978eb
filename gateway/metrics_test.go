package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMetricsMethodLabelBounded: made-up request methods, which net/http
// accepts from anyone, all count under one "other" label instead of each
// making new series.
func TestMetricsMethodLabelBounded(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	m := newMetrics()
	e := gin.New()
	e.Use(m.middleware)
	e.GET("/-/health", func(c *gin.Context) { c.Status(http.StatusOK) })
	for i := range 50 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(fmt.Sprintf("X%d", i), "/-/health", nil))
	}
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/-/health", nil))
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "pkgate_http_requests_total", "pkgate_http_request_duration_seconds":
			var methods []string
			for _, mt := range f.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "method" {
						methods = append(methods, l.GetValue())
					}
				}
			}
			if strings.Join(methods, ",") != "GET,other" && strings.Join(methods, ",") != "other,GET" {
				t.Errorf("%s: series by method %v, want GET and other", f.GetName(), methods)
			}
		}
	}
}
