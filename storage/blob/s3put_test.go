package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

type fakeRequest struct {
	method, path, ctype, sha, auth string
	length                         int64
	body                           string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, fakeRequest{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Authorization"), r.ContentLength, string(b)})
	a := f.answers[min(len(f.got), len(f.answers))-1]
	f.mu.Unlock()
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func newFakeS3(t *testing.T, answers ...fakeAnswer) (*fakeS3, *S3) {
	t.Helper()
	f := &fakeS3{answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "")
	d, err := NewS3(context.Background(), S3Config{Bucket: "bkt", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

func s3ErrorXML(code string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>because %s</Message></Error>`, code, code)
}

// The single-request path must send what PutObject sends: same method,
// same escaped path (PutObject adds only a marker query, x-id), same
// content type and payload header, same credential scope.
func TestSignedPutSendsWhatPutObjectSends(t *testing.T) {
	f, d := newFakeS3(t, fakeAnswer{200, ""})
	if d.signed == nil {
		t.Fatal("a plain endpoint did not get the signed single-PUT path")
	}
	signed := d.signed
	for _, key := range []string{"blobs/0b6f", "a b/c+d", "100%/é", "x=y&z;w", "q?x#y", "~tilde'"} {
		body := "bytes of " + key
		d.signed = signed
		if err := d.putObject(context.Background(), key, []byte(body)); err != nil {
			t.Fatalf("%q through the signed path: %v", key, err)
		}
		d.signed = nil
		if err := d.putObject(context.Background(), key, []byte(body)); err != nil {
			t.Fatalf("%q through PutObject: %v", key, err)
		}
		fast, sdk := f.got[len(f.got)-2], f.got[len(f.got)-1]
		if fast.method != sdk.method || fast.path != sdk.path || fast.ctype != sdk.ctype || fast.sha != sdk.sha || fast.length != sdk.length || fast.body != sdk.body {
			t.Errorf("%q:\nsigned   %+v\nPutObject %+v", key, fast, sdk)
		}
		if scope := strings.SplitN(sdk.auth, ",", 2)[0]; !strings.HasPrefix(fast.auth, scope+",") {
			t.Errorf("%q: credential scope %q, PutObject's %q", key, fast.auth, scope)
		}
	}
}

// Failures are retried as the SDK's retryer says: server errors and
// throttling are, client errors are not, and the last error is a
// smithy.APIError with S3's code.
func TestSignedPutRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []fakeAnswer
		attempts int
		code     string // "" when the put succeeds
	}{
		{"ok", []fakeAnswer{{200, ""}}, 1, ""},
		{"slow down, then ok", []fakeAnswer{{503, s3ErrorXML("SlowDown")}, {200, ""}}, 2, ""},
		{"server errors exhaust the attempts", []fakeAnswer{{500, s3ErrorXML("InternalError")}}, 3, "InternalError"},
		{"access denied is final", []fakeAnswer{{403, s3ErrorXML("AccessDenied")}}, 1, "AccessDenied"},
		{"missing bucket is final", []fakeAnswer{{404, s3ErrorXML("NoSuchBucket")}}, 1, "NoSuchBucket"},
		{"an answer without XML is named by its status", []fakeAnswer{{400, "nope"}}, 1, "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, d := newFakeS3(t, tc.answers...)
			d.signed.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
			err := d.putObject(context.Background(), "k", []byte("body"))
			if len(f.got) != tc.attempts {
				t.Errorf("%d attempts, want %d", len(f.got), tc.attempts)
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

// A cancelled request is not retried, whatever the retryer thinks of the
// error it caused.
func TestSignedPutStopsWhenCancelled(t *testing.T) {
	f, d := newFakeS3(t, fakeAnswer{503, s3ErrorXML("SlowDown")})
	ctx, cancel := context.WithCancel(context.Background())
	d.signed.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { cancel(); return time.Hour, nil })
	})
	done := make(chan error, 1)
	go func() { done <- d.putObject(ctx, "k", []byte("body")) }()
	select {
	case err := <-done:
		if err == nil || len(f.got) != 1 {
			t.Errorf("err = %v after %d attempts, want the first attempt's error", err, len(f.got))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled put kept waiting to retry")
	}
}
