package tests

import (
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// benchClient keeps enough idle connections for the benchmarks' parallel
// clients, so they measure requests, not TCP handshakes. It decodes no
// gzip, as load generators do not: net/http's transparent decoding of a
// 200-file PyPI page took 57 % of the benchmark's CPU, on cores the gateway
// shares, and the figure measured the client. A case that asks for gzip
// sets Accept-Encoding itself and gets the compressed bytes.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: time.Minute}

// benchGETs times b.N GETs of url with headers h from 16 concurrent
// clients and reports them as req/s.
func benchGETs(b *testing.B, url string, h map[string]string) {
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if st, _ := benchDo(b, "GET", url, nil, h); st != 200 {
				b.Errorf("GET %s: %d", url, st)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// benchDo sends one request and returns the status and body. It reports
// failures with Error, not Fatal: it runs inside RunParallel goroutines.
func benchDo(tb testing.TB, method, url string, body io.Reader, h map[string]string) (int, []byte) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Error(err)
		return 0, nil
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := benchClient.Do(req)
	if err != nil {
		tb.Error(err)
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
