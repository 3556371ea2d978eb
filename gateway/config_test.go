package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Listen: "127.0.0.1:8080", DatabaseURL: "postgres://x", BlobDriver: "fs", FSRoot: "/tmp/x", LogLevel: "info", LogFormat: "json", S3PartSize: 8 << 20, S3Concurrency: 3, S3DownloadConcurrency: 3}
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		errHas string
	}{
		{"ok", func(*Config) {}, ""},
		{"bad listen", func(c *Config) { c.Listen = "nope" }, "GATEWAY_LISTEN"},
		{"no database", func(c *Config) { c.DatabaseURL = "" }, "GATEWAY_DATABASE_URL"},
		{"bad driver", func(c *Config) { c.BlobDriver = "gcs" }, "GATEWAY_BLOB_DRIVER"},
		{"s3 without bucket", func(c *Config) { c.BlobDriver = "s3" }, "GATEWAY_S3_BUCKET"},
		{"small s3 parts", func(c *Config) { c.BlobDriver = "s3"; c.S3Bucket = "b"; c.S3PartSize = 1 << 20 }, "GATEWAY_S3_PART_SIZE"},
		{"no s3 download concurrency", func(c *Config) { c.BlobDriver = "s3"; c.S3Bucket = "b"; c.S3DownloadConcurrency = 0 }, "GATEWAY_S3_DOWNLOAD_CONCURRENCY"},
		{"bad s3 endpoint", func(c *Config) { c.BlobDriver = "s3"; c.S3Bucket = "b"; c.S3Endpoint = "::" }, "GATEWAY_S3_ENDPOINT"},
		{"bad external url", func(c *Config) { c.ExternalURL = "ftp://x" }, "GATEWAY_EXTERNAL_URL"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "GATEWAY_LOG_LEVEL"},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "proxy.example"} }, "GATEWAY_TRUSTED_PROXIES"},
		{"negative limit", func(c *Config) { c.MaxPyPISize = -1 }, "GATEWAY_MAX_PYPI_SIZE"},
		{"negative blob cache", func(c *Config) { c.BlobCacheSize = -1 }, "GATEWAY_BLOB_CACHE_SIZE"},
		{"negative hsts max age", func(c *Config) { c.HSTSMaxAge = -1 }, "GATEWAY_HSTS_MAX_AGE"},
		{"negative auth fail rate", func(c *Config) { c.AuthFailPerMinute = -5 }, "GATEWAY_AUTH_FAIL_PER_MINUTE"},
		{"negative auth fail burst", func(c *Config) { c.AuthFailBurst = -1 }, "GATEWAY_AUTH_FAIL_BURST"},
		{"negative token cache", func(c *Config) { c.TokenCacheTTL = -time.Second }, "GATEWAY_TOKEN_CACHE_TTL"},
		{"negative idle timeout", func(c *Config) { c.BodyIdleTimeout = -time.Second }, "GATEWAY_BODY_IDLE_TIMEOUT"},
		{"negative shutdown timeout", func(c *Config) { c.ShutdownTimeout = -time.Second }, "GATEWAY_SHUTDOWN_TIMEOUT"},
		{"negative gc interval", func(c *Config) { c.GCInterval = -time.Hour }, "GATEWAY_GC_INTERVAL"},
		{"negative etag probe interval", func(c *Config) { c.S3ETagProbeEvery = -time.Minute }, "GATEWAY_S3_ETAG_PROBE_EVERY"},
		{"named listen port", func(c *Config) { c.Listen = "localhost:http" }, "GATEWAY_LISTEN"},
		{"listen port out of range", func(c *Config) { c.Listen = ":99999" }, "GATEWAY_LISTEN"},
		{"external url with query", func(c *Config) { c.ExternalURL = "https://pkg.example/?x=1" }, "GATEWAY_EXTERNAL_URL"},
		{"external url with fragment", func(c *Config) { c.ExternalURL = "https://pkg.example/#top" }, "GATEWAY_EXTERNAL_URL"},
		{"external url with credentials", func(c *Config) { c.ExternalURL = "https://u:p@pkg.example" }, "GATEWAY_EXTERNAL_URL"},
		{"bad pprof address", func(c *Config) { c.PprofListen = "6060" }, "GATEWAY_PPROF_LISTEN"},
		{"negative gc grace", func(c *Config) { c.GCGrace = -time.Hour }, "GATEWAY_GC_GRACE"},
		{"short gc grace for serve's runs", func(c *Config) { c.GCInterval, c.GCGrace = time.Hour, time.Minute }, "GATEWAY_GC_GRACE"},
		{"short gc grace, serve's runs off", func(c *Config) { c.GCInterval, c.GCGrace = 0, time.Minute }, ""},
		{"zeros turn things off", func(c *Config) {
			c.BlobCacheSize, c.AuthFailPerMinute, c.AuthFailBurst, c.TokenCacheTTL, c.BodyIdleTimeout = 0, 0, 0, 0, 0
		}, ""},
		{"bad maven exception regex", func(c *Config) { c.MavenDuplicateExceptionRegex = "(" }, "GATEWAY_MAVEN_DUPLICATE_EXCEPTION_REGEX"},
		{"bad generic exception regex", func(c *Config) { c.GenericDuplicateExceptionRegex = "[a-" }, "GATEWAY_GENERIC_DUPLICATE_EXCEPTION_REGEX"},
		{"good exception regexes", func(c *Config) {
			c.MavenDuplicateExceptionRegex, c.GenericDuplicateExceptionRegex = ".*-SNAPSHOT", "nightly|1\\.0"
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.mutate(&cfg)
			err := cfg.Validate()
			if c.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.ExternalURL != "http://127.0.0.1:8080" {
					t.Errorf("default external URL %q", cfg.ExternalURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.errHas) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line naming %s", err, c.errHas)
			}
		})
	}
}

func TestLoadConfigNamesVariable(t *testing.T) {
	t.Setenv("GATEWAY_MAX_NPM_SIZE", "lots")
	_, err := LoadConfig()
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_MAX_NPM_SIZE") {
		t.Fatalf("err %v", err)
	}
}

func TestSentence(t *testing.T) {
	cases := map[string][]string{"": nil, "A": {"A"}, "A and B": {"A", "B"}, "A, B, and C": {"A", "B", "C"}}
	for want, in := range cases {
		if got := sentence(in); got != want {
			t.Errorf("%v: %q", in, got)
		}
	}
}
