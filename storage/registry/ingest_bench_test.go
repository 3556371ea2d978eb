package registry

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/pkgate/pkgate/storage/blob"
)

// discard is a blob store that keeps nothing: the benchmark measures the
// gateway's own work on an upload, not a store's.
type discard struct{ blob.Driver }

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error)                   { return len(p), nil }
func (discardWriter) Commit(context.Context) error                  { return nil }
func (discardWriter) Cancel(context.Context) error                  { return nil }
func (discard) Writer(context.Context, string) (blob.Writer, error) { return discardWriter{}, nil }
func (discard) Name() string                                        { return "discard" }

// BenchmarkIngestSmall: the CPU of one 64 KiB upload's hashing and
// buffering, with every digest (what a generic file of up to one part
// gets) and with sha256 alone (what it got before md5 and sha1 were
// computed for generic files).
func BenchmarkIngestSmall(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for _, tc := range []struct {
		name string
		opt  IngestOptions
	}{
		{"all digests", IngestOptions{DeferDigests: true, SizeHint: int64(len(body))}},
		{"sha256 only", IngestOptions{DeferDigests: true, SizeHint: 1 << 30}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := &Registry{Blobs: discard{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Ingest(context.Background(), io.NopCloser(bytes.NewReader(body)), tc.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
