package tests

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// TestIngestSizes streams bodies of sizes around every buffer boundary of
// the S3 writer (its 1 MiB first buffer, the registry's 1 MiB read chunk,
// the part size) into the store, and checks each digest and every byte read
// back, whole and in a range. The body arrives in uneven reads, as from a
// network.
func TestIngestSizes(t *testing.T) {
	const part = 5 << 20
	e := NewEnv(t, func(c *gateway.Config) { c.S3PartSize = part })
	s := e.NewScenario()
	ctx := context.Background()
	sizes := []int{0, 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 17, part - 1, part, part + 1, 2*part + 1, 3*part + 12345}
	for i, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rng := rand.New(rand.NewPCG(uint64(size), 3))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			st, err := e.Server.Registry.Ingest(ctx, &unevenReader{r: bytes.NewReader(data), rng: rng}, registry.IngestOptions{SHA512: true})
			if err != nil {
				t.Fatal(err)
			}
			s256, s1, m5, s512 := sha256.Sum256(data), sha1.Sum(data), md5.Sum(data), sha512.Sum512(data)
			want := registry.Digests{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]),
				MD5: hex.EncodeToString(m5[:]), SHA512: hex.EncodeToString(s512[:]), Size: int64(size)}
			if st.Digests != want {
				t.Fatalf("digests %+v, want %+v", st.Digests, want)
			}
			version := "1.0"
			p := &meta.Package{ProjectID: s.ProjectID, PackageType: "generic", Name: "sizes", Version: &version}
			f := &meta.PackageFile{FileName: fmt.Sprintf("f%d.bin", i), BlobSHA256: st.SHA256, Size: st.Size}
			if err := e.Server.Registry.Publish(ctx, st, p, f); err != nil {
				t.Fatal(err)
			}
			got := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/sizes/1.0/%s", s.ProjectID, f.FileName), nil, DeployHdr(s.ReadToken)))
			if !bytes.Equal(got.Body, data) {
				t.Fatalf("read back %d bytes, not the %d written", len(got.Body), size)
			}
			// A range off the part bounds: past two parts it is read as
			// parallel ranged GETs (blob.S3.Open), as the whole file was.
			if size > 2 {
				got = e.Must(206, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/sizes/1.0/%s", s.ProjectID, f.FileName), nil,
					H{"Deploy-Token": s.ReadToken, "Range": fmt.Sprintf("bytes=1-%d", size-2)}))
				if !bytes.Equal(got.Body, data[1:size-1]) {
					t.Fatalf("range read back %d bytes, not the %d asked for", len(got.Body), size-2)
				}
			}
		})
	}
	// Every range after a parallel download's first is timed as well: the
	// largest file alone was read as four, its range as four again.
	r := e.Must(200, e.Do("GET", "/-/metrics", nil, nil))
	m := regexp.MustCompile(`pkgate_blob_store_duration_seconds_count\{driver="s3",op="range"\} (\d+)`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatal("no blob store latency for the ranged GETs in the metrics")
	}
	if n, _ := strconv.Atoi(string(m[1])); n < 6 {
		t.Errorf("%d ranged GETs timed, want at least 6", n)
	}
	assertNoOrphanObjects(t, e)
}

// unevenReader returns between 1 byte and 300 KiB per read.
type unevenReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (u *unevenReader) Read(p []byte) (int, error) {
	n := 1 + u.rng.IntN(300<<10)
	if u.rng.IntN(8) == 0 {
		n = 1 + u.rng.IntN(16)
	}
	if len(p) > n {
		p = p[:n]
	}
	return u.r.Read(p)
}
