package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// fakeS3 answers each request with the next of its answers (the last one
// repeats) and records what it was sent.
type fakeS3 struct {
	mu      sync.Mutex
	answers []fakeAnswer
	got     []fakeRequest
}

type fakeAnswer struct {
	status int
	body   string
}

// fakeRequest is what the SDK and the signed path must agree on.
type fakeRequest struct {
	method, path, query, rng, ctype, encoding, sha, expect string
	length                                                 int64
	body                                                   string
	auth                                                   string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	q.Del("x-id") // the SDK names its operation there
	f.mu.Lock()
	f.got = append(f.got, fakeRequest{r.Method, r.URL.EscapedPath(), q.Encode(), r.Header.Get("Range"), r.Header.Get("Content-Type"),
		r.Header.Get("Accept-Encoding"), r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Expect"), r.ContentLength, string(b), r.Header.Get("Authorization")})
	a := f.answers[min(len(f.got), len(f.answers))-1]
	f.mu.Unlock()
	w.Header().Set("ETag", `"fake-etag"`)
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeS3) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func newFakeS3(t *testing.T, answers ...fakeAnswer) (*fakeS3, *S3) {
	t.Helper()
	f := &fakeS3{answers: answers}
	return f, newS3For(t, f)
}

// newS3For is a driver whose endpoint is h, retrying without waits.
func newS3For(t *testing.T, h http.Handler) *S3 {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "")
	d, err := NewS3(context.Background(), S3Config{Bucket: "bkt", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.signed == nil {
		t.Fatal("a plain endpoint did not get the signed request path")
	}
	// No waiting between attempts.
	d.signed.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
	return d
}

func s3ErrorXML(code string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>because %s</Message></Error>`, code, code)
}

// The signed path must send what PutObject and GetObject send: same
// method, same escaped path (the SDK adds only a marker query, x-id), same
// range, content type, encoding and payload headers, same credential
// scope.
func TestSignedRequestsMatchTheSDK(t *testing.T) {
	f, d := newFakeS3(t, fakeAnswer{200, "stored bytes"})
	signed := d.signed
	ctx := context.Background()
	large := bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/16)
	for _, key := range []string{"blobs/0b6f", "a b/c+d", "100%/é", "x=y&z;w", "q?x#y", "~tilde'"} {
		for _, call := range []struct {
			name string
			fn   func() error
		}{
			{"put", func() error { return putErr(ctx, d, key, []byte("bytes of "+key)) }},
			{"get", func() error { return readAll(d.Open(ctx, key, 0, -1)) }},
			{"get range", func() error { return readAll(d.Open(ctx, key, 3, 5)) }},
			{"get tail", func() error { return readAll(d.Open(ctx, key, 3, -1)) }},
			{"upload part", func() error {
				etag, err := d.uploadPart(ctx, key, "id/with+odd=chars", 7, []byte("part of "+key))
				if err == nil && etag != `"fake-etag"` {
					err = fmt.Errorf("ETag %q", etag)
				}
				return err
			}},
			// Large enough for Expect: 100-continue and a whole write.
			{"put large", func() error { return putErr(ctx, d, key, large) }},
			{"upload large part", func() error {
				_, err := d.uploadPart(ctx, key, "u", 1, large)
				return err
			}},
		} {
			d.signed = signed
			if err := call.fn(); err != nil {
				t.Fatalf("%s %q through the signed path: %v", call.name, key, err)
			}
			d.signed = nil
			if err := call.fn(); err != nil {
				t.Fatalf("%s %q through the SDK: %v", call.name, key, err)
			}
			fast, sdk := f.got[len(f.got)-2], f.got[len(f.got)-1]
			scope := strings.SplitN(sdk.auth, ",", 2)[0]
			if !strings.HasPrefix(fast.auth, scope+",") {
				t.Errorf("%s %q: credential scope %q, the SDK's %q", call.name, key, fast.auth, scope)
			}
			fast.auth, sdk.auth = "", ""
			if fast != sdk {
				t.Errorf("%s %q:\nsigned %+v\nSDK    %+v", call.name, key, fast, sdk)
			}
		}
	}
}

func readAll(rc io.ReadCloser, err error) error {
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && string(b) != "stored bytes" {
		err = fmt.Errorf("read %q", b)
	}
	return err
}

// Failures are retried as the SDK's retryer says: server errors and
// throttling are, client errors are not. The last error is a
// smithy.APIError with S3's code, and a missing key is ErrNotFound.
func TestSignedRequestRetries(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		answers  []fakeAnswer
		attempts int
		code     string // "" when the request succeeds
	}{
		{"ok", []fakeAnswer{{200, ""}}, 1, ""},
		{"slow down, then ok", []fakeAnswer{{503, s3ErrorXML("SlowDown")}, {200, ""}}, 2, ""},
		{"server errors exhaust the attempts", []fakeAnswer{{500, s3ErrorXML("InternalError")}}, 3, "InternalError"},
		{"access denied is final", []fakeAnswer{{403, s3ErrorXML("AccessDenied")}}, 1, "AccessDenied"},
		{"missing bucket is final", []fakeAnswer{{404, s3ErrorXML("NoSuchBucket")}}, 1, "NoSuchBucket"},
		{"an answer without XML is named by its status", []fakeAnswer{{400, "nope"}}, 1, "400"},
	} {
		for _, m := range []string{"put", "get"} {
			t.Run(m+" "+tc.name, func(t *testing.T) {
				f, d := newFakeS3(t, tc.answers...)
				var err error
				if m == "put" {
					err = putErr(ctx, d, "k", []byte("body"))
				} else {
					var rc io.ReadCloser
					if rc, err = d.Open(ctx, "k", 0, -1); err == nil {
						rc.Close()
					}
				}
				if n := f.requests(); n != tc.attempts {
					t.Errorf("%d attempts, want %d", n, tc.attempts)
				}
				var ae smithy.APIError
				switch {
				case tc.code == "" && err != nil:
					t.Errorf("err = %v", err)
				case tc.code != "" && !errors.As(err, &ae):
					t.Errorf("err = %v (%T), want an APIError", err, err)
				case tc.code != "" && ae.ErrorCode() != tc.code:
					t.Errorf("code %q, want %q (%v)", ae.ErrorCode(), tc.code, err)
				}
			})
		}
	}
	t.Run("get missing key", func(t *testing.T) {
		f, d := newFakeS3(t, fakeAnswer{404, s3ErrorXML("NoSuchKey")})
		if _, err := d.Open(ctx, "k", 0, -1); !errors.Is(err, ErrNotFound) || f.requests() != 1 {
			t.Errorf("err = %v after %d requests, want ErrNotFound after 1", err, f.requests())
		}
	})
}

// A cancelled request is not retried, whatever the retryer thinks of the
// error it caused.
func TestSignedRequestStopsWhenCancelled(t *testing.T) {
	f, d := newFakeS3(t, fakeAnswer{503, s3ErrorXML("SlowDown")})
	ctx, cancel := context.WithCancel(context.Background())
	d.signed.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { cancel(); return time.Hour, nil })
	})
	done := make(chan error, 1)
	go func() { done <- putErr(ctx, d, "k", []byte("body")) }()
	select {
	case err := <-done:
		if err == nil || f.requests() != 1 {
			t.Errorf("err = %v after %d attempts, want the first attempt's error", err, f.requests())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled request kept waiting to retry")
	}
}

// The bucket's URL comes from the SDK's endpoint rules, so the signed path
// addresses the same place the SDK would on AWS as on MinIO; buckets the
// rules sign differently (S3 Express) keep the SDK.
func TestSignedS3BucketURL(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "")
	for _, tc := range []struct {
		name string
		cfg  S3Config
		want string // "" when the SDK keeps these requests
	}{
		{"AWS, virtual host", S3Config{Bucket: "pkgs", Region: "eu-west-1"}, "https://pkgs.s3.eu-west-1.amazonaws.com"},
		{"AWS, path style", S3Config{Bucket: "pkgs", Region: "eu-west-1", PathStyle: true}, "https://s3.eu-west-1.amazonaws.com/pkgs"},
		{"AWS, dotted bucket", S3Config{Bucket: "my.pkgs", Region: "us-east-1"}, "https://s3.us-east-1.amazonaws.com/my.pkgs"},
		{"MinIO, path style", S3Config{Bucket: "pkgs", Endpoint: "http://127.0.0.1:9000", PathStyle: true}, "http://127.0.0.1:9000/pkgs"},
		{"S3-compatible, virtual host", S3Config{Bucket: "pkgs", Endpoint: "https://objects.example.com"}, "https://pkgs.objects.example.com"},
		{"S3 Express directory bucket", S3Config{Bucket: "pkgs--use1-az4--x-s3", Region: "us-east-1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewS3(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d.signed != nil {
				got = d.signed.bucket.String()
			}
			if got != tc.want {
				t.Errorf("bucket URL %q, want %q", got, tc.want)
			}
		})
	}
}

// skewedS3 keeps its own clock, offset from ours, and refuses a request
// signed more than window away from it with code, as S3 refuses one
// signed more than 15 minutes away with RequestTimeTooSkewed. Every
// answer carries its clock in the Date header.
type skewedS3 struct {
	mu       sync.Mutex
	offset   time.Duration
	window   time.Duration
	code     string
	requests int
}

func (s *skewedS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.requests++
	now := time.Now().Add(s.offset)
	window, code := s.window, s.code
	s.mu.Unlock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || signed.Sub(now).Abs() > window {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, s3ErrorXML(code))
		return
	}
	io.WriteString(w, "stored bytes") // what readAll expects
}

func (s *skewedS3) set(offset time.Duration) (before int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = offset
	return s.requests
}

func (s *skewedS3) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// A host whose clock is off must still upload and download: the first
// refusal teaches the signed path the server's clock (as the SDK learns
// it), the retry is signed with it, and later requests are signed with it
// from the start. A refusal while the clocks agree is not a clock problem
// and is not retried.
func TestSignedRequestsCorrectClockSkew(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		offset time.Duration // the server's clock against ours
		window time.Duration // how far off a signature it accepts
		code   string
		// requests the first and the second call take; 0 for the first
		// means it fails with code
		first, second int
	}{
		{"server an hour ahead", time.Hour, 15 * time.Minute, "RequestTimeTooSkewed", 2, 1},
		{"server an hour behind", -time.Hour, 15 * time.Minute, "RequestTimeTooSkewed", 2, 1},
		{"skew refused as a bad signature", 20 * time.Minute, 15 * time.Minute, "SignatureDoesNotMatch", 2, 1},
		{"refused while the clocks agree", 0, -time.Second, "RequestTimeTooSkewed", 0, 0},
		{"refused two minutes apart", 2 * time.Minute, time.Minute, "RequestTimeTooSkewed", 0, 0},
		{"a code that is not about time", time.Hour, 15 * time.Minute, "AccessDenied", 0, 0},
	} {
		for _, m := range []string{"put", "get"} {
			t.Run(m+" "+tc.name, func(t *testing.T) {
				srv := &skewedS3{offset: tc.offset, window: tc.window, code: tc.code}
				d := newS3For(t, srv)
				call := func() error {
					if m == "put" {
						return putErr(ctx, d, "k", []byte("body"))
					}
					return readAll(d.Open(ctx, "k", 0, -1))
				}
				err := call()
				if tc.first == 0 {
					var ae smithy.APIError
					if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || srv.count() != 1 {
						t.Fatalf("err = %v after %d requests, want %s after 1", err, srv.count(), tc.code)
					}
					return
				}
				if err != nil || srv.count() != tc.first {
					t.Fatalf("first call: err = %v after %d requests, want success after %d", err, srv.count(), tc.first)
				}
				if err := call(); err != nil || srv.count() != tc.first+tc.second {
					t.Fatalf("second call: err = %v after %d requests, want success after %d more", err, srv.count()-tc.first, tc.second)
				}
			})
		}
	}
	t.Run("clocks that realign", func(t *testing.T) {
		srv := &skewedS3{offset: time.Hour, window: 15 * time.Minute, code: "RequestTimeTooSkewed"}
		d := newS3For(t, srv)
		if err := putErr(ctx, d, "k", []byte("body")); err != nil {
			t.Fatal(err)
		}
		// The server's clock is set right; the offset learnt must go.
		before := srv.set(0)
		if err := putErr(ctx, d, "k", []byte("body")); err != nil || srv.count()-before != 2 {
			t.Fatalf("err = %v after %d requests, want success after 2", err, srv.count()-before)
		}
		before = srv.count()
		if err := putErr(ctx, d, "k", []byte("body")); err != nil || srv.count()-before != 1 {
			t.Fatalf("err = %v after %d requests, want success after 1", err, srv.count()-before)
		}
	})
}

// recordingConn notes the size of every write.
type recordingConn struct {
	net.Conn
	mu     *sync.Mutex
	writes *[]int
}

func (c recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	*c.writes = append(*c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// A part held in memory goes to the socket in one write, past the 32 KiB
// pieces net/http's copy would cut it into; any other body still arrives
// whole, the usual way.
func TestMemBodyGoesOutInOneWrite(t *testing.T) {
	const size = 8 << 20
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name    string
		body    func([]byte) io.ReadCloser
		largest int // at least
	}{
		{"memBody", func(b []byte) io.ReadCloser { return memBody{bytes.NewReader(b)} }, size - 512<<10},
		{"any other body", func(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var writes []int
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return recordingConn{c, &mu, &writes}, nil
			}}
			wholeBodies(tr)
			t.Cleanup(tr.CloseIdleConnections)
			req, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
			req.Body, req.ContentLength = tc.body(make([]byte, size)), size
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			mu.Lock()
			largest := slices.Max(writes)
			mu.Unlock()
			if got.Load() != size || largest < tc.largest {
				t.Errorf("server got %d bytes, largest write %d; want %d and at least %d", got.Load(), largest, size, tc.largest)
			}
		})
	}
}

// A part answered without an ETag cannot be completed: the upload fails
// with that reason and is aborted, instead of the store refusing the
// whole part list.
func TestPartWithoutETagFailsTheUpload(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	d := newS3For(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		q := r.URL.Query()
		var what string
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			what = "create"
			io.WriteString(w, `<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPut && q.Has("partNumber"):
			what = "part"
		case r.Method == http.MethodPost:
			what = "complete"
			io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"x"</ETag></CompleteMultipartUploadResult>`)
		case r.Method == http.MethodDelete:
			what = "abort"
			w.WriteHeader(http.StatusNoContent)
		default:
			what = r.Method
			w.WriteHeader(http.StatusBadRequest)
		}
		mu.Lock()
		seen = append(seen, what)
		mu.Unlock()
	}))
	ctx := context.Background()
	w, err := d.Writer(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, d.cfg.PartSize+1)); err != nil {
		t.Fatal(err)
	}
	err = w.Commit(ctx)
	mu.Lock()
	defer mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "no ETag") || !slices.Contains(seen, "abort") || slices.Contains(seen, "complete") {
		t.Errorf("Commit: %v; requests %v; want the missing ETag named, an abort and no complete", err, seen)
	}
}

// The S3 client's own connections write bodies whole, whatever defaults
// mode the environment names: the SDK fits a new dialer to the mode.
func TestSignedClientDialsBodyConns(t *testing.T) {
	for _, mode := range []string{"", "legacy", "standard", "in-region", "auto"} {
		t.Run("mode "+mode, func(t *testing.T) {
			t.Setenv("AWS_DEFAULTS_MODE", mode)
			_, d := newFakeS3(t, fakeAnswer{200, ""})
			var conn net.Conn
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { conn = i.Conn },
			})
			if err := putErr(ctx, d, "k", make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if _, ok := conn.(bodyConn); !ok {
				t.Errorf("the client dialled a %T, want a bodyConn", conn)
			}
		})
	}
}

// putErr is putObject's error alone.
func putErr(ctx context.Context, d *S3, key string, body []byte) error {
	_, err := d.putObject(ctx, key, body)
	return err
}
