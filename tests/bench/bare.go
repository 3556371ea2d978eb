package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkgate/pkgate/storage/blob"
)

// The bare proxy is the floor the gateway's large transfers are judged
// against on a machine it shares with MinIO: the same S3 driver, part
// size and concurrency, the body read straight into the driver's part
// buffer and downloads opened with their length (parallel ranged GETs
// past two parts) as the gateway does, and nothing else: no
// authentication, no database, no digests, no routing.
// The issue that set the targets quotes such a proxy at 0.71-0.96 of
// direct S3 for uploads here; measured in the same run, it tells how much
// of a gap to direct S3 is the gateway's own work and how much is a second
// process moving every byte twice through the kernel.
//
// It runs as this program started again with -bare-proxy-listen, from a
// copy named gateway, so its CPU is read (and scheduled) like the
// gateway's.
var (
	bareListen   = flag.String("bare-proxy-listen", "", "internal: serve as the bare proxy on this address")
	bareEndpoint = flag.String("bare-proxy-endpoint", "", "internal: the bare proxy's S3 endpoint")
	bareBucket   = flag.String("bare-proxy-bucket", "", "internal: the bare proxy's bucket")
	bareRegion   = flag.String("bare-proxy-region", "", "internal: the bare proxy's region")
	bare         = flag.Bool("bare", true, "also run the 1 GiB cases and the small uploads through a bare proxy (no auth, database or digests) as a reference")
)

// serveBare runs the bare proxy until the process is killed. PUT /key
// stores the body at key; GET /key returns the object.
func serveBare() error {
	ctx := context.Background()
	d, err := blob.NewS3(ctx, blob.S3Config{Bucket: *bareBucket, Region: *bareRegion, Endpoint: *bareEndpoint, PathStyle: true})
	if err != nil {
		return err
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		switch r.Method {
		case http.MethodPut:
			if err := bareStore(r.Context(), d, key, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			if key == "-/ready" {
				return
			}
			// The gateway knows the size from its database; the bare
			// proxy asks S3, so the answer has a length as the gateway's
			// has (not chunked).
			info, err := d.Stat(r.Context(), key)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			// Opened with its length, as the gateway's download is: a
			// span of two parts or more comes in parallel ranges and
			// writes itself, a smaller one is copied in 1 MiB steps.
			body, err := d.Open(r.Context(), key, 0, info.Size)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer body.Close()
			w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
			if wt, ok := body.(io.WriterTo); ok {
				_, _ = wt.WriteTo(struct{ io.Writer }{w})
			} else {
				_, _ = io.CopyBuffer(struct{ io.Writer }{w}, body, make([]byte, 1<<20))
			}
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}
	return http.ListenAndServe(*bareListen, http.HandlerFunc(h))
}

// bareStore reads body straight into the writer's lent part buffer, in
// reads of at least 256 KiB where the body allows, as registry.Ingest does.
func bareStore(ctx context.Context, d *blob.S3, key string, body io.Reader) error {
	w, err := d.Writer(ctx, key)
	if err != nil {
		return err
	}
	l, ok := w.(blob.Lender)
	if !ok {
		_ = w.Cancel(ctx)
		return errors.New("the S3 writer does not lend its buffer")
	}
	for {
		p, err := l.Lend(1<<20, func() {})
		if err != nil {
			_ = w.Cancel(ctx)
			return err
		}
		n, rerr := io.ReadAtLeast(body, p, min(len(p), 256<<10))
		l.Filled(n)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return w.Commit(ctx)
		}
		if rerr != nil {
			_ = w.Cancel(ctx)
			return rerr
		}
	}
}

// startBare starts the bare proxy as a process named gateway.
func startBare(tmp string, env []string, endpoint, bucket, region string) (*gw, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "bare", "gateway")
	if err := copyExecutable(self, bin); err != nil {
		return nil, err
	}
	addr := freePort()
	g, err := startProcess(bin, []string{"-bare-proxy-listen", addr, "-bare-proxy-endpoint", endpoint,
		"-bare-proxy-bucket", bucket, "-bare-proxy-region", region}, env, addr, filepath.Join(tmp, "bare.log"), "/-/ready")
	if err != nil {
		return nil, fmt.Errorf("the bare proxy: %w", err)
	}
	return g, nil
}
