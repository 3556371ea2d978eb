// Package gateway wires the HTTP server: configuration, middleware, the
// GitLab identity and packages REST API, health checks, and the format
// routes from formats/.
package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/httpx"
)

// Config is read from GATEWAY_* environment variables; flags may override
// fields before Validate. Every variable is listed in the README.
type Config struct {
	Listen      string `env:"GATEWAY_LISTEN" envDefault:"127.0.0.1:8080"`
	ExternalURL string `env:"GATEWAY_EXTERNAL_URL"`
	DatabaseURL string `env:"GATEWAY_DATABASE_URL"`
	BlobDriver  string `env:"GATEWAY_BLOB_DRIVER" envDefault:"fs"`
	FSRoot      string `env:"GATEWAY_FS_ROOT" envDefault:"./data/blobs"`
	S3Bucket    string `env:"GATEWAY_S3_BUCKET"`
	S3Region    string `env:"GATEWAY_S3_REGION" envDefault:"us-east-1"`
	S3Endpoint  string `env:"GATEWAY_S3_ENDPOINT"`
	S3PathStyle bool   `env:"GATEWAY_S3_PATH_STYLE" envDefault:"false"`
	// S3 multipart tuning: part size in bytes and parts uploaded at once
	// per upload (memory per upload is about size × (concurrency + 1)).
	S3PartSize    int `env:"GATEWAY_S3_PART_SIZE" envDefault:"8388608"`
	S3Concurrency int `env:"GATEWAY_S3_CONCURRENCY" envDefault:"3"`
	// Part-sized ranges of one large download fetched at once (1: one GET
	// per download); see blob.S3Config.DownloadConcurrency.
	S3DownloadConcurrency int `env:"GATEWAY_S3_DOWNLOAD_CONCURRENCY" envDefault:"3"`
	// S3ETagMD5 lets generic uploads of up to one part take their md5
	// from the store's ETag once a probe has found it to be the md5
	// (blob.StoreMD5).
	S3ETagMD5 bool `env:"GATEWAY_S3_ETAG_MD5" envDefault:"true"`
	// S3ETagProbeEvery is how often that probe is repeated after its
	// first answer. A store whose ETags stop being md5s without any change
	// in its answers' encryption headers (a MinIO restarted with
	// --no-compat under a running gateway) gives wrong file_md5s for at
	// most this long; each probe is one 4 KiB PUT and one DELETE.
	S3ETagProbeEvery time.Duration `env:"GATEWAY_S3_ETAG_PROBE_EVERY" envDefault:"1m"`
	LogLevel         string        `env:"GATEWAY_LOG_LEVEL" envDefault:"info"`
	LogFormat        string        `env:"GATEWAY_LOG_FORMAT" envDefault:"json"`

	// Migrate applies pending migrations at serve start-up.
	Migrate bool `env:"GATEWAY_MIGRATE" envDefault:"true"`
	// Per-format maximum file sizes in bytes (0: unlimited). Defaults are
	// GitLab's plan limits.
	MaxGenericSize int64 `env:"GATEWAY_MAX_GENERIC_SIZE" envDefault:"5368709120"`
	MaxNPMSize     int64 `env:"GATEWAY_MAX_NPM_SIZE" envDefault:"524288000"`
	MaxMavenSize   int64 `env:"GATEWAY_MAX_MAVEN_SIZE" envDefault:"3221225472"`
	MaxPyPISize    int64 `env:"GATEWAY_MAX_PYPI_SIZE" envDefault:"3221225472"`
	// RedirectDownloads answers downloads with presigned S3 URLs.
	RedirectDownloads bool `env:"GATEWAY_REDIRECT_DOWNLOADS" envDefault:"false"`
	// TokenCacheTTL caches verified tokens. Revocation reaches other nodes
	// through Postgres NOTIFY at once, and within this time at worst. 0
	// disables the cache.
	TokenCacheTTL time.Duration `env:"GATEWAY_TOKEN_CACHE_TTL" envDefault:"30s"`
	// Maven duplicate releases (GitLab's namespace package settings):
	// allowed by default; when disallowed, names or versions matching the
	// exception regex may still be re-deployed.
	MavenDuplicatesAllowed       bool   `env:"GATEWAY_MAVEN_DUPLICATES_ALLOWED" envDefault:"true"`
	MavenDuplicateExceptionRegex string `env:"GATEWAY_MAVEN_DUPLICATE_EXCEPTION_REGEX"`
	// Generic duplicate files, the same setting for generic packages.
	// Instance-wide, as the Maven one: GitLab keeps both per namespace but
	// exposes them only through GraphQL (see generic.Options).
	GenericDuplicatesAllowed       bool   `env:"GATEWAY_GENERIC_DUPLICATES_ALLOWED" envDefault:"true"`
	GenericDuplicateExceptionRegex string `env:"GATEWAY_GENERIC_DUPLICATE_EXCEPTION_REGEX"`
	// AuthFailPerMinute and AuthFailBurst bound failed authentications per
	// client address (429 with Retry-After beyond). 0 disables the limit.
	AuthFailPerMinute int `env:"GATEWAY_AUTH_FAIL_PER_MINUTE" envDefault:"30"`
	AuthFailBurst     int `env:"GATEWAY_AUTH_FAIL_BURST" envDefault:"30"`
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For may name the client and whose X-Forwarded-Proto
	// or Forwarded may say the browser used https (the pages' cookies are
	// then Secure). Empty: none, so the client address (rate limiting,
	// audit) is the TCP peer and cannot be spoofed.
	TrustedProxies []string `env:"GATEWAY_TRUSTED_PROXIES" envSeparator:","`
	// HSTSMaxAge is the max-age, in seconds, of the Strict-Transport-Security
	// header sent on answers to requests that came over https (TLS, or a
	// trusted proxy's word); 0 = none. GitLab's Omnibus nginx sends two
	// years by default on https. Never sent over plain http, where browsers
	// ignore it anyway (RFC 6797).
	HSTSMaxAge int `env:"GATEWAY_HSTS_MAX_AGE" envDefault:"63072000"`
	// PprofListen serves Go profiles on this address; empty (default) = off.
	PprofListen string `env:"GATEWAY_PPROF_LISTEN"`
	// BlobCacheSize is the memory budget for small hot blobs (files of at
	// most 1 MiB) served without a round trip to the blob store. 0 = off.
	BlobCacheSize int64 `env:"GATEWAY_BLOB_CACHE_SIZE" envDefault:"67108864"`
	// BackgroundDigests hashes large uploads at the lowest CPU priority
	// (see registry.Registry.BackgroundDigests).
	BackgroundDigests bool `env:"GATEWAY_BACKGROUND_DIGESTS" envDefault:"true"`
	// DigestBackfill computes the md5 and sha1 of generic files past one
	// part after their upload (registry.Registry.RunBackfill). Off, those
	// files keep them null: for a store whose reads cost money, where an
	// upgrade from a version that computed neither would read every
	// generic file back once.
	DigestBackfill bool `env:"GATEWAY_DIGEST_BACKFILL" envDefault:"true"`
	// BodyIdleTimeout drops a transfer (upload body or download) that stops
	// flowing this long.
	BodyIdleTimeout time.Duration `env:"GATEWAY_BODY_IDLE_TIMEOUT" envDefault:"60s"`
	// GCInterval runs gc (storage/janitor: blobs no package references,
	// uploads that never finished) inside serve this often, on one node at
	// a time, so that deleted packages free their storage as they do in
	// GitLab without a cron job; 0 = never (leave it to `gateway gc`).
	// The first run comes an hour after start-up, or one interval if that
	// is shorter, so a node that restarts in a loop does not sweep in one.
	GCInterval time.Duration `env:"GATEWAY_GC_INTERVAL" envDefault:"24h"`
	// GCGrace is those runs' grace period (gateway gc --grace).
	GCGrace time.Duration `env:"GATEWAY_GC_GRACE" envDefault:"24h"`
	// GCOrphans adds to those runs the sweep of objects under blobs/ that
	// no row of this database names (leftovers of failed uploads). Off by
	// default: it is the one sweep that would delete another deployment's
	// objects in a bucket (or folder) two databases were wrongly given;
	// `gateway gc` always runs it, on the operator's word.
	GCOrphans bool `env:"GATEWAY_GC_ORPHANS" envDefault:"false"`
	// ShutdownTimeout bounds how long running requests may finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"GATEWAY_SHUTDOWN_TIMEOUT" envDefault:"60s"`
}

// LoadConfig reads the environment. Errors name the variable.
func LoadConfig() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		// Name the variable, not the Go field, in the one-line error.
		var agg env.AggregateError
		if errors.As(err, &agg) && len(agg.Errors) > 0 {
			var pe env.ParseError
			if errors.As(agg.Errors[0], &pe) {
				if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
					key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
					return c, fmt.Errorf("config: %s: %v", key, pe.Err)
				}
			}
		}
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Validate checks every setting and fills derived defaults. The first
// problem is returned as one line naming the setting.
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("config: GATEWAY_LISTEN: %q is not host:port", c.Listen)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			// Checked here, or the default external URL built from it
			// failed under GATEWAY_EXTERNAL_URL, which nobody had set.
			return fmt.Errorf("config: GATEWAY_LISTEN: %q: the port must be a number from 0 to 65535", c.Listen)
		}
	}
	if c.ExternalURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.ExternalURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.ExternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: GATEWAY_EXTERNAL_URL: %q is not an absolute http(s) URL", c.ExternalURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.ExternalURL, "?") || strings.HasSuffix(c.ExternalURL, "#") || u.User != nil {
		// Every URL the gateway writes is this base and a path: a query,
		// fragment or credentials here would end up in the middle of them.
		return fmt.Errorf("config: GATEWAY_EXTERNAL_URL: %q must not have a query, fragment or user info", c.ExternalURL)
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	if c.DatabaseURL == "" {
		return fmt.Errorf("config: GATEWAY_DATABASE_URL: required (e.g. postgres://user:pass@127.0.0.1:5432/gateway?sslmode=disable)")
	}
	switch c.BlobDriver {
	case "fs":
		if c.FSRoot == "" {
			return fmt.Errorf("config: GATEWAY_FS_ROOT: required when GATEWAY_BLOB_DRIVER=fs")
		}
	case "s3":
		if c.S3PartSize < 5<<20 {
			return fmt.Errorf("config: GATEWAY_S3_PART_SIZE: must be at least 5242880 (S3's minimum part size)")
		}
		if c.S3Concurrency < 1 {
			return fmt.Errorf("config: GATEWAY_S3_CONCURRENCY: must be at least 1")
		}
		if c.S3DownloadConcurrency < 1 {
			return fmt.Errorf("config: GATEWAY_S3_DOWNLOAD_CONCURRENCY: must be at least 1")
		}
		if c.S3Bucket == "" {
			return fmt.Errorf("config: GATEWAY_S3_BUCKET: required when GATEWAY_BLOB_DRIVER=s3")
		}
		if c.S3Endpoint != "" {
			if u, err := url.Parse(c.S3Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("config: GATEWAY_S3_ENDPOINT: %q is not an absolute URL", c.S3Endpoint)
			}
		}
	default:
		return fmt.Errorf("config: GATEWAY_BLOB_DRIVER: must be fs or s3, got %q", c.BlobDriver)
	}
	if c.PprofListen != "" {
		if _, _, err := net.SplitHostPort(c.PprofListen); err != nil {
			return fmt.Errorf("config: GATEWAY_PPROF_LISTEN: %q is not host:port", c.PprofListen)
		}
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return fmt.Errorf("config: GATEWAY_LOG_LEVEL: %v", err)
	}
	if _, err := httpx.ParseProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("config: GATEWAY_TRUSTED_PROXIES: %v", err)
	}
	for name, re := range map[string]string{"GATEWAY_MAVEN_DUPLICATE_EXCEPTION_REGEX": c.MavenDuplicateExceptionRegex,
		"GATEWAY_GENERIC_DUPLICATE_EXCEPTION_REGEX": c.GenericDuplicateExceptionRegex} {
		if _, err := formats.NewDuplicates(false, re); err != nil {
			return fmt.Errorf("config: %s: %v", name, err)
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("config: GATEWAY_LOG_FORMAT: must be json or text, got %q", c.LogFormat)
	}
	if c.GCInterval > 0 && c.GCGrace < time.Hour {
		// Sweep 3 cuts off the uploads that started before the grace
		// period: repeated by itself on every node, a short one would cut
		// the large uploads of the day.
		return fmt.Errorf("config: GATEWAY_GC_GRACE: must be at least 1h while GATEWAY_GC_INTERVAL runs gc (`gateway gc --grace` takes less, on the operator's word)")
	}
	for name, v := range map[string]int64{"GATEWAY_MAX_GENERIC_SIZE": c.MaxGenericSize, "GATEWAY_MAX_NPM_SIZE": c.MaxNPMSize,
		"GATEWAY_MAX_MAVEN_SIZE": c.MaxMavenSize, "GATEWAY_MAX_PYPI_SIZE": c.MaxPyPISize} {
		if v < 0 {
			return fmt.Errorf("config: %s: must be >= 0", name)
		}
	}
	// 0 turns each of these off (or, for the shutdown, waits for nothing);
	// a negative value is a mistake, not another way to say 0.
	for _, v := range []struct {
		name string
		neg  bool
	}{
		{"GATEWAY_BLOB_CACHE_SIZE", c.BlobCacheSize < 0},
		{"GATEWAY_HSTS_MAX_AGE", c.HSTSMaxAge < 0},
		{"GATEWAY_AUTH_FAIL_PER_MINUTE", c.AuthFailPerMinute < 0},
		{"GATEWAY_AUTH_FAIL_BURST", c.AuthFailBurst < 0},
		{"GATEWAY_TOKEN_CACHE_TTL", c.TokenCacheTTL < 0},
		{"GATEWAY_BODY_IDLE_TIMEOUT", c.BodyIdleTimeout < 0},
		{"GATEWAY_SHUTDOWN_TIMEOUT", c.ShutdownTimeout < 0},
		{"GATEWAY_GC_INTERVAL", c.GCInterval < 0},
		{"GATEWAY_GC_GRACE", c.GCGrace < 0},
		{"GATEWAY_S3_ETAG_PROBE_EVERY", c.S3ETagProbeEvery < 0},
	} {
		if v.neg {
			return fmt.Errorf("config: %s: must be >= 0", v.name)
		}
	}
	return nil
}

// ParseLogLevel accepts debug, info, warn, error.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}
