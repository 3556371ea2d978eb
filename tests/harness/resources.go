package harness

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/lib/pq"
)

// NewDatabase creates a fresh, uniquely named empty database on the cluster behind adminDSN and returns its DSN.
//
// A database per test is the isolation unit: it is cheap (milliseconds),
// lets tests run in parallel against one server, and needs no cleanup
// between tests. The database is cloned from template0 so nothing anyone
// added to template1 leaks in, and so concurrent creations never fail with
// "source database is being accessed by other users". The returned DSN is
// adminDSN with only the database name changed.
func NewDatabase(ctx context.Context, adminDSN, prefix string) (string, error) {
	name := uniqueName(prefix, '_', 63)
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return "", fmt.Errorf("harness: open admin connection: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("harness: create database %s: %w", name, err)
	}
	dsn, err := withDatabase(adminDSN, name)
	if err != nil {
		return "", err
	}
	return dsn, nil
}

// withDatabase replaces the database name in a lib/pq DSN, either URL form
// (postgres://...) or keyword/value form (host=... dbname=...).
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("harness: parse DSN: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In keyword/value form a later keyword overrides an earlier one, and
	// uniqueName only produces [a-z0-9_], which needs no quoting.
	return strings.TrimSpace(dsn) + " dbname=" + name, nil
}

// NewBucket creates a fresh uniquely named bucket (path-style addressing) and returns its name.
//
// Like [NewDatabase], a bucket per test keeps tests independent without any
// cleanup. Path-style addressing is used because virtual-hosted style would
// need DNS for <bucket>.127.0.0.1, which does not exist.
func NewBucket(ctx context.Context, s S3, prefix string) (string, error) {
	name := uniqueName(prefix, '-', 63)
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if s.Region != "" && s.Region != DefaultRegion {
		// Real S3 rejects an explicit us-east-1 constraint and requires one
		// everywhere else.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.Region),
		}
	}
	if _, err := NewS3Client(s).CreateBucket(ctx, in); err != nil {
		return "", fmt.Errorf("harness: create bucket %s at %s: %w", name, s.Endpoint, err)
	}
	return name, nil
}

// NewS3Client returns an aws-sdk-go-v2 S3 client for s: static credentials,
// BaseEndpoint and path-style addressing, and nothing read from the host's
// ~/.aws or AWS_* variables, so a developer's real AWS setup can never be
// used by a test by accident. opts are applied last (e.g. to disable retries
// in fault-injection tests).
func NewS3Client(s S3, opts ...func(*s3.Options)) *s3.Client {
	region := s.Region
	if region == "" {
		region = DefaultRegion
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		// Only send/verify checksums when the operation requires them: older
		// S3-compatible servers (including older MinIO images) reject the
		// SDK's default trailing CRC checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	all := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	}}, opts...)
	return s3.NewFromConfig(cfg, all...)
}

// uniqueName builds "<sanitized prefix><sep><random hex>" of at most max
// bytes, using only characters valid in both Postgres identifiers (sep '_')
// and S3 bucket names (sep '-'): lower-case letters, digits and sep. It
// starts with a letter and ends with a hex digit, which satisfies both.
func uniqueName(prefix string, sep byte, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(prefix) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte(sep)
		}
	}
	p := strings.Trim(b.String(), string(sep))
	// Collapse runs of separators ("a--b" is legal but ugly; "a..b" would
	// not be, should the separator ever be a dot).
	for strings.Contains(p, string([]byte{sep, sep})) {
		p = strings.ReplaceAll(p, string([]byte{sep, sep}), string(sep))
	}
	if p == "" {
		p = "test"
	}
	if p[0] < 'a' || p[0] > 'z' {
		p = "t" + string(sep) + p
	}
	suffix := randomHex(6) // 48 bits: collisions are not a practical concern
	if limit := max - len(suffix) - 1; len(p) > limit {
		p = strings.TrimRight(p[:limit], string(sep))
	}
	return p + string(sep) + suffix
}
