package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/pkgate/pkgate/internal/bufpool"
)

// S3Config configures the S3 driver. Credentials come from the standard AWS
// chain (environment, shared config, instance role).
type S3Config struct {
	Bucket    string
	Region    string
	Endpoint  string // empty: AWS; set for MinIO and other S3-compatible stores
	PathStyle bool   // MinIO without virtual-host DNS needs path-style
	// PartSize is the multipart part size; memory per upload is bounded by
	// PartSize × (Concurrency + 1).
	PartSize    int
	Concurrency int
	// DownloadConcurrency is how many part-sized ranges of one download
	// are open at once (1: one GET per download). Downloads hold at most
	// downloadBudget × DownloadConcurrency ranged GETs open in all.
	DownloadConcurrency int
	// ETagMD5 lets ProbeStoredMD5 find out whether the store's ETag of
	// an object stored in one PUT is its md5, and then lets writers
	// report it (StoreMD5). False: never trusted, nothing probed.
	ETagMD5 bool
}

// S3 stores objects in one bucket through aws-sdk-go-v2.
type S3 struct {
	cfg     S3Config
	client  *s3.Client
	presign *s3.PresignClient
	pool    *bufpool.Pool             // part buffers
	small   *bufpool.Pool             // first buffer of every upload
	signed  *signedS3                 // nil: PUTs, parts and GETs go through the SDK too
	dlSlots chan struct{}             // the download budget: one token per open range
	etagMD5 atomic.Pointer[etagProbe] // nil until ProbeStoredMD5 decided
}

// etagProbe is what ProbeStoredMD5 found: whether a PUT's ETag was the
// md5 of its body, and the server-side encryption the answer named, which
// every answer trusted later must name too. The ETag is the md5 on S3
// without encryption or with SSE-S3, and on MinIO, Ceph, R2 and most
// others; it is not under SSE-KMS or SSE-C, nor on a MinIO started with
// --no-compat, which skips md5 for speed. A bucket's default encryption
// changed to KMS later shows in the header of each answer (AWS names
// aws:kms there), so those answers are not trusted.
type etagProbe struct {
	md5 bool
	sse string
}

// sseHeaders are the answer headers that say how S3 encrypted an object;
// an answer trusted for its md5 must carry the probe's values.
var sseHeaders = []string{"X-Amz-Server-Side-Encryption", "X-Amz-Server-Side-Encryption-Customer-Algorithm", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"}

func sseOf(h http.Header) string {
	var b strings.Builder
	for _, k := range sseHeaders {
		b.WriteString(h.Get(k))
		b.WriteByte(0)
	}
	return b.String()
}

// ProbeStoredMD5 implements StoreMD5: it stores a small object of random
// bytes in one PUT, as an upload of up to one part is stored, compares
// the answer's ETag with their md5 and deletes it. The object's key is
// under blobs/, so that gc's orphan sweep frees it if the delete fails.
// Only the signed PUT path reports md5s: through the SDK (S3 Express,
// access points) the driver never trusts them.
func (d *S3) ProbeStoredMD5(ctx context.Context) (bool, error) {
	if !d.cfg.ETagMD5 || d.signed == nil {
		d.etagMD5.Store(&etagProbe{})
		return false, nil
	}
	body := make([]byte, 4096)
	rand.Read(body)
	key := "blobs/etag-probe-" + hex.EncodeToString(body[:16])
	h, err := d.signed.putWith(ctx, key, "", body)
	if err != nil {
		return false, fmt.Errorf("blob: s3 etag probe: %w", err)
	}
	_ = d.Delete(ctx, key)
	sum := md5.Sum(body)
	p := &etagProbe{md5: etagHex(h) == hex.EncodeToString(sum[:]), sse: sseOf(h)}
	d.etagMD5.Store(p)
	return p.md5, nil
}

// StoredMD5Max implements StoreMD5: a body of up to one part is stored
// in one PUT (s3Writer).
func (d *S3) StoredMD5Max() int64 {
	if p := d.etagMD5.Load(); p != nil && p.md5 {
		return int64(d.cfg.PartSize)
	}
	return 0
}

// etagHex is an answer's ETag as lowercase hex if it has an md5's shape.
func etagHex(h http.Header) string {
	e := strings.ToLower(strings.Trim(h.Get("ETag"), `"`))
	if len(e) != 2*md5.Size {
		return ""
	}
	if _, err := hex.DecodeString(e); err != nil {
		return ""
	}
	return e
}

// storedMD5 is the md5 a PUT's answer h reports, if the probe said the
// store's ETags are md5s and h names the probe's encryption.
func (d *S3) storedMD5(h http.Header) string {
	p := d.etagMD5.Load()
	if p == nil || !p.md5 || h == nil || sseOf(h) != p.sse {
		return ""
	}
	return etagHex(h)
}

const (
	defaultPartSize    = 8 << 20
	defaultConcurrency = 3
	// downloadBudget is how many downloads at a time may read in parallel
	// ranges; later ones use one GET until one of them ends. Past a few
	// downloads the store already sees parallel requests, and more open
	// connections would only hold more of its buffers (a stalled client's
	// ranges stay open until the gateway's write timeout).
	downloadBudget = 4
	minPartSize    = 5 << 20 // S3's minimum for all but the last part
	// firstBufSize is what an upload holds until it proves larger: most
	// packages are far smaller than a part, and sixteen concurrent 64 KiB
	// uploads each taking an 8 MiB part buffer cost 128 MiB of zeroed
	// memory and the GC work to drop it.
	firstBufSize = 1 << 20
)

// NewS3 builds a client; it does not contact the store (Ping does).
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if c.Bucket == "" {
		return nil, errors.New("blob: s3 bucket is empty")
	}
	if c.PartSize == 0 {
		c.PartSize = defaultPartSize
	}
	if c.PartSize < minPartSize {
		c.PartSize = minPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	if c.DownloadConcurrency <= 0 {
		c.DownloadConcurrency = defaultConcurrency
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
		t.IdleConnTimeout = 90 * time.Second
		t.ResponseHeaderTimeout = 60 * time.Second
		t.ReadBufferSize = transportBuffer
		t.WriteBufferSize = transportBuffer
	}).WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 5 * time.Second
	})
	awsCfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(c.Region),
		config.WithHTTPClient(httpClient),
		config.WithRetryMaxAttempts(3),
	)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// The registry verifies its own sha256 of every byte; the SDK's
		// extra CRC32 and payload hashing would triple the CPU spent per
		// uploaded byte on a 2-core box for no additional guarantee.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		// Last, after the SDK has fitted the client to the defaults mode:
		// a mode's connect timeout (AWS_DEFAULTS_MODE=standard, in-region,
		// auto) comes with a new dialer, which would drop bodyConn.
		if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = b.WithTransportOptions(wholeBodies)
		}
	})
	d := &S3{cfg: c, client: client, presign: s3.NewPresignClient(client), signed: newSignedS3(ctx, client.Options(), c.Bucket)}
	d.pool = bufpool.New(c.PartSize, 2*(c.Concurrency+1))
	d.small = bufpool.New(firstBufSize, 64)
	d.dlSlots = make(chan struct{}, downloadBudget*c.DownloadConcurrency)
	return d, nil
}

func (d *S3) Name() string { return "s3" }

// Client exposes the SDK client for tests and benchmarks that compare the
// gateway with direct S3 access.
func (d *S3) Client() *s3.Client { return d.client }

// Bucket is the configured bucket.
func (d *S3) Bucket() string { return d.cfg.Bucket }

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}

// s3Writer buffers one part at a time. A body smaller than one part becomes
// a single PutObject; anything larger becomes a multipart upload whose parts
// are sent in parallel (bounded by Concurrency) while the next part fills.
// It starts with a small buffer and moves to a part buffer only when the
// body outgrows it. A full buffer is sent when more bytes arrive (or at
// Commit), so a body of exactly one part is still a single PutObject.
type s3Writer struct {
	d        *S3
	ctx      context.Context
	key      string
	buf      *[]byte
	first    bool // buf is the small first buffer
	n        int
	uploadID *string
	partNum  int32
	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	parts    []types.CompletedPart
	err      error
	done     bool
	answer   http.Header // the store's answer to a body sent in one PUT (StoredMD5)
}

func (d *S3) Writer(ctx context.Context, key string) (Writer, error) {
	return &s3Writer{d: d, ctx: ctx, key: key, buf: d.small.Get(), first: true, sem: make(chan struct{}, d.cfg.Concurrency)}, nil
}

func (w *s3Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("blob: writer closed")
	}
	written := 0
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return written, err
		}
		if err := w.makeRoom(nil); err != nil {
			return written, err
		}
		c := copy((*w.buf)[w.n:], p)
		w.n += c
		written += c
		p = p[c:]
	}
	return written, nil
}

// Lend implements Lender: a full buffer is sent (or, the first one,
// moved into a part buffer) only when more space is asked for, as Write
// does when more bytes arrive.
func (w *s3Writer) Lend(max int, settle func()) ([]byte, error) {
	if w.done {
		return nil, errors.New("blob: writer closed")
	}
	if err := w.failed(); err != nil {
		return nil, err
	}
	if err := w.makeRoom(settle); err != nil {
		return nil, err
	}
	p := (*w.buf)[w.n:]
	if len(p) > max {
		p = p[:max]
	}
	return p, nil
}

func (w *s3Writer) Filled(n int) { w.n += n }

// makeRoom makes the buffer non-full: the first buffer moves into a part
// buffer, a full part buffer is sent. settle, when lent bytes are in the
// buffer, runs first.
func (w *s3Writer) makeRoom(settle func()) error {
	if w.n < len(*w.buf) {
		return nil
	}
	if settle != nil {
		settle()
	}
	if w.first {
		w.grow()
		return nil
	}
	return w.flushPart()
}

// grow moves the bytes of the small first buffer into a part buffer.
func (w *s3Writer) grow() {
	nb := w.d.pool.Get()
	copy(*nb, (*w.buf)[:w.n])
	w.d.small.Put(w.buf)
	w.buf, w.first = nb, false
}

func (w *s3Writer) flushPart() error {
	if w.uploadID == nil {
		out, err := w.d.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(w.d.cfg.Bucket), Key: aws.String(w.key),
		})
		if err != nil {
			return fmt.Errorf("blob: s3 create multipart: %w", err)
		}
		w.uploadID = out.UploadId
	}
	w.partNum++
	num := w.partNum
	buf, n := w.buf, w.n
	w.buf, w.n = w.d.pool.Get(), 0
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		w.d.pool.Put(buf)
		return w.ctx.Err()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem; w.d.pool.Put(buf) }()
		etag, err := w.d.uploadPart(w.ctx, w.key, *w.uploadID, num, (*buf)[:n])
		if err == nil && etag == "" {
			// Completing the upload needs it; say so here rather than
			// have the store refuse the whole list later.
			err = errors.New("the answer carried no ETag")
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("blob: s3 upload part %d: %w", num, err)
			}
			return
		}
		w.parts = append(w.parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
	}()
	return nil
}

func (w *s3Writer) release() {
	if w.buf == nil {
		return
	}
	if w.first {
		w.d.small.Put(w.buf)
	} else {
		w.d.pool.Put(w.buf)
	}
	w.buf = nil
}

func (w *s3Writer) Commit(ctx context.Context) error {
	if w.done {
		return errors.New("blob: writer closed")
	}
	w.done = true
	defer w.release()
	if w.uploadID == nil {
		h, err := w.d.putObject(ctx, w.key, (*w.buf)[:w.n])
		if err != nil {
			return fmt.Errorf("blob: s3 put: %w", err)
		}
		w.answer = h
		return nil
	}
	if w.n > 0 {
		if err := w.flushPart(); err != nil {
			w.abort(ctx)
			return err
		}
	}
	w.wg.Wait()
	if err := w.failed(); err != nil {
		w.abort(ctx)
		return err
	}
	slices.SortFunc(w.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := w.d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(w.d.cfg.Bucket), Key: aws.String(w.key), UploadId: w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		w.abort(ctx)
		return fmt.Errorf("blob: s3 complete multipart: %w", err)
	}
	return nil
}

// uploadPart sends one part of a multipart upload.
func (d *S3) uploadPart(ctx context.Context, key, uploadID string, num int32, body []byte) (string, error) {
	if d.signed != nil {
		return d.signed.uploadPart(ctx, key, uploadID, num, body)
	}
	out, err := d.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(num), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// StoredMD5 implements MD5Reporter, read from the answer only when asked:
// most uploads (every format but generic's) never ask.
func (w *s3Writer) StoredMD5() string { return w.d.storedMD5(w.answer) }

// putObject stores an object that fits in one request, and answers the
// headers of the store's answer (nil through the SDK).
func (d *S3) putObject(ctx context.Context, key string, body []byte) (http.Header, error) {
	if d.signed != nil {
		return d.signed.putWith(ctx, key, "", body)
	}
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	return nil, err
}

func (w *s3Writer) abort(ctx context.Context) {
	if w.uploadID == nil {
		return
	}
	// Use a fresh context: the request's may already be cancelled, and an
	// abandoned multipart upload keeps its parts billed until aborted.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = w.d.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(w.d.cfg.Bucket), Key: aws.String(w.key), UploadId: w.uploadID,
	})
}

func (w *s3Writer) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	w.wg.Wait()
	w.release()
	w.abort(ctx)
	return nil
}

// Open reads length bytes from offset. A span of at least two chunks
// (part-sized) is read as ranged GETs in parallel (see rangedReader) while
// the download budget allows; anything else, and length < 0, is one GET.
func (d *S3) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	chunk := int64(d.cfg.PartSize)
	if length >= 2*chunk {
		if k := d.takeDownloadSlots(); k >= 2 {
			first, err := d.openRange(ctx, key, offset, chunk)
			if err != nil {
				d.giveDownloadSlots(k)
				return nil, err
			}
			note := noteRange(ctx)
			open := func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
				start := time.Now()
				rc, err := d.openRange(ctx, key, offset, length)
				if note != nil {
					note(start, err)
				}
				return rc, err
			}
			return newRangedReader(ctx, open, chunk, k, offset, length, first, func() { d.giveDownloadSlots(k) }), nil
		} else if k > 0 {
			d.giveDownloadSlots(k)
		}
	}
	return d.openRange(ctx, key, offset, length)
}

// takeDownloadSlots reserves up to DownloadConcurrency open ranges of the
// driver's download budget without waiting: a download that finds the
// budget spent is served by one GET as before.
func (d *S3) takeDownloadSlots() int {
	k := 0
	for k < d.cfg.DownloadConcurrency {
		select {
		case d.dlSlots <- struct{}{}:
			k++
		default:
			return k
		}
	}
	return k
}

func (d *S3) giveDownloadSlots(k int) {
	for range k {
		<-d.dlSlots
	}
}

// openRange is one GET of length bytes from offset (length < 0: to the end).
func (d *S3) openRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	var rng string
	switch {
	case length > 0:
		rng = fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
	case offset > 0:
		rng = fmt.Sprintf("bytes=%d-", offset)
	}
	var body io.ReadCloser
	var err error
	if d.signed != nil {
		body, err = d.signed.get(ctx, key, rng)
	} else {
		in := &s3.GetObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)}
		if rng != "" {
			in.Range = aws.String(rng)
		}
		var out *s3.GetObjectOutput
		if out, err = d.client.GetObject(ctx, in); err == nil {
			body = out.Body
		}
	}
	if err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("blob: s3 get: %w", err)
	}
	return body, nil
}

func (d *S3) Stat(ctx context.Context, key string) (Info, error) {
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return Info{}, ErrNotFound
		}
		return Info{}, fmt.Errorf("blob: s3 head: %w", err)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (d *S3) Delete(ctx context.Context, key string) error {
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("blob: s3 delete: %w", err)
	}
	return nil
}

func (d *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	p := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: aws.String(d.cfg.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("blob: s3 list: %w", err)
		}
		for _, o := range page.Contents {
			if err := fn(Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// SweepUnfinished aborts the multipart uploads under blobs/ initiated
// before cutoff. The bytes are their parts' sizes, one ListParts page
// (up to 1,000 parts, 8 GiB at the default part size) per upload. The
// listing asks for the whole bucket and filters here: MinIO reads a
// prefix as one exact object name. (MinIO also drops uploads left stale
// for 24 hours by itself, and lists only those since its last start.)
func (d *S3) SweepUnfinished(ctx context.Context, cutoff time.Time, dryRun bool) (Unfinished, error) {
	var u Unfinished
	p := s3.NewListMultipartUploadsPaginator(d.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(d.cfg.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return u, fmt.Errorf("blob: s3 list multipart uploads: %w", err)
		}
		for _, up := range page.Uploads {
			if up.Initiated == nil || !up.Initiated.Before(cutoff) || !strings.HasPrefix(aws.ToString(up.Key), "blobs/") {
				continue
			}
			if parts, err := d.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(d.cfg.Bucket), Key: up.Key, UploadId: up.UploadId}); err == nil {
				for _, pt := range parts.Parts {
					u.Bytes += aws.ToInt64(pt.Size)
				}
			}
			if !dryRun {
				_, err := d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(d.cfg.Bucket), Key: up.Key, UploadId: up.UploadId})
				if err != nil && !isNotFound(err) {
					return u, fmt.Errorf("blob: s3 abort multipart upload %s: %w", aws.ToString(up.Key), err)
				}
			}
			u.Uploads++
		}
	}
	return u, nil
}

func (d *S3) SignedURL(ctx context.Context, key string, ttl time.Duration, opts SignOptions) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)}
	if opts.ContentType != "" {
		in.ResponseContentType = aws.String(opts.ContentType)
	}
	if opts.ContentDisposition != "" {
		in.ResponseContentDisposition = aws.String(opts.ContentDisposition)
	}
	req, err := d.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: s3 presign: %w", err)
	}
	return req.URL, nil
}

func (d *S3) Ping(ctx context.Context) error {
	_, err := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(d.cfg.Bucket)})
	if err != nil {
		return fmt.Errorf("blob: s3 bucket %q: %w", d.cfg.Bucket, err)
	}
	return nil
}
