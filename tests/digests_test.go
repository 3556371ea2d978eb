package tests

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/janitor"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/tests/harness"
)

// randomBytes returns n reproducible bytes, different for each seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

type fileDigests struct{ md5, sha1, sha256 string }

func digestsOf(b []byte) fileDigests {
	m, s1, s256 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b)
	return fileDigests{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])}
}

// listedDigests reads a generic file's digests from the package files API
// (nil when null).
func listedDigests(e *Env, projectID int64, pkgID any) (md5, sha1 any) {
	e.t.Helper()
	var files []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/%v/package_files", projectID, pkgID), nil, PAT(e.Admin))).JSON(e.t, &files)
	if len(files) != 1 {
		e.t.Fatalf("package files: %v", files)
	}
	return files[0]["file_md5"], files[0]["file_sha1"]
}

// Generic files larger than one part (8 MiB) get md5 and sha1 from the
// backfill once stored; smaller ones with the upload. Either way the API
// and the download headers end up with the digests of the bytes.
func TestGenericDigestBackfill(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	// MinIO's ETags are md5s: the one-part uploads below take theirs
	// from it (GATEWAY_S3_ETAG_MD5), and the answers must still be right.
	if max := e.Server.Blobs.(blob.StoreMD5).StoredMD5Max(); max != int64(e.Cfg.S3PartSize) {
		t.Fatalf("the gateway's probe of MinIO: md5s reported up to %d bytes, want the part size %d", max, e.Cfg.S3PartSize)
	}
	const part = 8 << 20
	cases := []struct {
		name    string
		size    int
		chunked bool // no Content-Length: the upload learns the size at the end
		inline  bool
	}{
		{"one part, announced", part, false, true},
		{"one part, chunked", part, true, true},
		{"past one part, announced", part + 1, false, false},
		{"past one part, chunked", 9 << 20, true, false},
	}
	// No subtests: the harness's helpers fail the test they were made for.
	for i, tc := range cases {
		data := randomBytes(uint64(i+1), tc.size)
		want := digestsOf(data)
		url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/digests/%d/file.bin", s.ProjectID, i)
		var body io.Reader = bytes.NewReader(data)
		if tc.chunked {
			body = struct{ io.Reader }{body} // hides the length from net/http
		}
		rec := e.Must(200, e.Do("PUT", url+"?select=package_file", body, DeployHdr(s.WriteToken))).Map(t)
		if rec["file_sha256"] != want.sha256 {
			t.Fatalf("%s: file_sha256 %v, want %s", tc.name, rec["file_sha256"], want.sha256)
		}
		if tc.inline {
			if rec["file_md5"] != want.md5 || rec["file_sha1"] != want.sha1 {
				t.Fatalf("%s: upload response: md5 %v sha1 %v, want %s %s", tc.name, rec["file_md5"], rec["file_sha1"], want.md5, want.sha1)
			}
		} else if rec["file_md5"] != nil || rec["file_sha1"] != nil {
			// Only the backfill knows them: the upload stopped hashing
			// md5 and sha1 at the part boundary, or never started.
			t.Fatalf("%s: upload response: md5 %v sha1 %v, want null until the backfill", tc.name, rec["file_md5"], rec["file_sha1"])
		}
		if !tc.inline {
			// Caches the file's lookup, with its digests still empty
			// unless the backfill was quicker.
			e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
		}
		// Sooner than the backfill's minute: a commit that defers
		// digests starts it.
		deadline := time.Now().Add(30 * time.Second)
		for {
			m, s1 := listedDigests(e, s.ProjectID, rec["package_id"])
			if m == want.md5 && s1 == want.sha1 {
				break
			}
			if m != nil || s1 != nil {
				t.Fatalf("%s: listed md5 %v sha1 %v, want %s %s", tc.name, m, s1, want.md5, want.sha1)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the backfill did not fill md5 and sha1 within 30 s", tc.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Downloads announce them too: the cached file lookup was
		// dropped when the backfill filled the row.
		got := e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
		if got.Header.Get("X-Checksum-MD5") != want.md5 || got.Header.Get("X-Checksum-SHA1") != want.sha1 || !bytes.Equal(got.Body, data) {
			t.Fatalf("%s: download: md5 %q sha1 %q, %d bytes", tc.name, got.Header.Get("X-Checksum-MD5"), got.Header.Get("X-Checksum-SHA1"), len(got.Body))
		}
		// The same bytes again, under another name and through each
		// publish path (status= takes the transaction): the blob row has
		// the digests now, and the upload's answer shows them at once.
		for _, q := range []string{"?select=package_file", "?select=package_file&status=default"} {
			body = bytes.NewReader(data)
			if tc.chunked {
				body = struct{ io.Reader }{body}
			}
			again := e.Must(200, e.Do("PUT", strings.Replace(url, "file.bin", "again.bin", 1)+q, body, DeployHdr(s.WriteToken))).Map(t)
			if again["file_md5"] != want.md5 || again["file_sha1"] != want.sha1 {
				t.Fatalf("%s: upload of known bytes (%s): md5 %v sha1 %v, want %s %s", tc.name, q, again["file_md5"], again["file_sha1"], want.md5, want.sha1)
			}
		}
	}
}

// TestStoredMD5FollowsTheStore: the gateway asks the store again whether
// its ETags are md5s (GATEWAY_S3_ETAG_PROBE_EVERY), so a MinIO restarted
// under it with --no-compat, whose ETags are then random UUIDs of an md5's
// shape, stops lending uploads their md5 without a restart of the
// gateway, and a MinIO back to md5 ETags lends it again.
func TestStoredMD5FollowsTheStore(t *testing.T) {
	ctx := context.Background()
	m, err := harness.StartMinIO(ctx)
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	defer m.Close()
	e := NewEnvOn(t, adminDSN, m.S3(), func(c *gateway.Config) { c.S3ETagProbeEvery = 100 * time.Millisecond })
	s := e.NewScenario()
	stored := e.Server.Blobs.(blob.StoreMD5)
	part := int64(e.Cfg.S3PartSize)
	upload := func(i int) {
		t.Helper()
		data := randomBytes(uint64(100+i), 64<<10)
		want := digestsOf(data)
		url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/follow/1.0/f%d.bin?select=package_file", s.ProjectID, i)
		rec := e.Must(200, e.Do("PUT", url, bytes.NewReader(data), DeployHdr(s.WriteToken))).Map(t)
		if rec["file_md5"] != want.md5 || rec["file_sha256"] != want.sha256 {
			t.Fatalf("upload %d: md5 %v sha256 %v, want %s %s", i, rec["file_md5"], rec["file_sha256"], want.md5, want.sha256)
		}
	}
	restart := func(flags ...string) {
		t.Helper()
		if err := m.Stop(); err != nil {
			t.Fatalf("stop minio: %v", err)
		}
		m.SetFlags(flags...)
		if err := m.Start(ctx); err != nil {
			t.Fatalf("start minio %v: %v", flags, err)
		}
	}
	if got := stored.StoredMD5Max(); got != part {
		t.Fatalf("at start: md5s lent up to %d bytes, want %d", got, part)
	}
	upload(0)
	restart("--no-compat")
	eventually(t, 20*time.Second, "the gateway still takes md5s from a MinIO started with --no-compat", func() bool { return stored.StoredMD5Max() == 0 })
	upload(1) // its md5 computed by the gateway: the ETag is a UUID now
	restart()
	eventually(t, 20*time.Second, "the gateway does not take md5s again from a MinIO back to md5 ETags", func() bool { return stored.StoredMD5Max() == part })
	upload(2)
}

// The backfill fills only digests of bytes that match the row: an object
// that does not hold its blob's bytes stays without md5 and sha1 (and is
// logged, and its row marked damaged), while the intact rows of the same
// pass are filled.
func TestDigestBackfillChecksObjects(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	url := func(name string) string {
		return fmt.Sprintf("/api/v4/projects/%d/packages/generic/checks/1/%s", s.ProjectID, name)
	}
	upload := func(name string, data []byte) string {
		e.Must(201, e.Do("PUT", url(name), data, DeployHdr(s.WriteToken)))
		return digestsOf(data).sha256
	}
	intact, damaged := randomBytes(101, 64<<10), randomBytes(102, 64<<10)
	// The damaged row is the older: a pass reaches it before the intact
	// one, so once the intact one is filled the damaged one was tried.
	damagedSHA := upload("damaged.bin", damaged)
	intactSHA := upload("intact.bin", intact)
	// As an older version, which computed no md5 or sha1 for generic
	// files, would have left them; then the damaged object's bytes change.
	db := e.Store.DB()
	if _, err := db.ExecContext(ctx, `UPDATE blobs SET md5 = '', sha1 = '' WHERE sha256 IN ($1, $2)`, intactSHA, damagedSHA); err != nil {
		t.Fatal(err)
	}
	// A download now caches the intact file's lookup without digests; the
	// backfill must drop it. (After the uploads' own change notifications,
	// which arrive within milliseconds and would drop it too.)
	time.Sleep(200 * time.Millisecond)
	if got := e.Must(200, e.Do("GET", url("intact.bin"), nil, DeployHdr(s.ReadToken))); got.Header.Get("X-Checksum-MD5") != "" {
		t.Fatalf("X-Checksum-MD5 %q before the backfill", got.Header.Get("X-Checksum-MD5"))
	}
	var key string
	if err := db.GetContext(ctx, &key, `SELECT storage_key FROM blobs WHERE sha256 = $1`, damagedSHA); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(damaged)
	flipped[len(flipped)/2] ^= 1
	overwriteObject(t, e, key, flipped)

	digestsIn := func(sha string) (md5, sha1 string) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT md5, sha1 FROM blobs WHERE sha256 = $1`, sha).Scan(&md5, &sha1); err != nil {
			t.Fatal(err)
		}
		return md5, sha1
	}
	want := digestsOf(intact)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A pass of this node's background runner may hold the lock; then
		// this one does nothing and the loop tries again.
		if _, err := e.Server.Registry.BackfillDigests(ctx); err != nil {
			t.Fatal(err)
		}
		if m, s1 := digestsIn(intactSHA); m != "" {
			if m != want.md5 || s1 != want.sha1 {
				t.Fatalf("intact blob filled with md5 %s sha1 %s, want %s %s", m, s1, want.md5, want.sha1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the intact blob was not filled within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, s1 := digestsIn(damagedSHA); m != "" || s1 != "" {
		t.Fatalf("damaged blob filled with md5 %q sha1 %q from bytes that are not its own", m, s1)
	}
	var marked bool
	if err := db.GetContext(ctx, &marked, `SELECT damaged_at IS NOT NULL FROM blobs WHERE sha256 = $1`, damagedSHA); err != nil || !marked {
		t.Fatalf("damaged blob marked %v (%v)", marked, err)
	}
	// Its file is refused rather than served.
	ErrBody(t, e.Must(503, e.Do("GET", url("damaged.bin"), nil, DeployHdr(s.ReadToken))), "message", "503 Service Unavailable - file data is damaged in blob storage")
	// Operators see both outcomes.
	metrics := string(e.Must(200, e.Do("GET", "/-/metrics", nil, nil)).Body)
	for _, line := range []string{`pkgate_digest_backfill_blobs_total{result="damaged"} 1`, `pkgate_digest_backfill_blobs_total{result="filled"} 1`, `pkgate_digest_backfill_bytes_total 65536`} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	got := e.Must(200, e.Do("GET", url("intact.bin"), nil, DeployHdr(s.ReadToken)))
	if got.Header.Get("X-Checksum-MD5") != want.md5 || got.Header.Get("X-Checksum-SHA1") != want.sha1 {
		t.Fatalf("download after the backfill: md5 %q sha1 %q, want %s %s", got.Header.Get("X-Checksum-MD5"), got.Header.Get("X-Checksum-SHA1"), want.md5, want.sha1)
	}
}

// One node at a time runs the backfill: while one holds its lock another
// skips its pass, and the lock is free again once the pass ends, also
// when the pass failed or its context ended.
func TestDigestBackfillLock(t *testing.T) {
	e := NewEnv(t)
	other := e.SecondNode()
	ctx := context.Background()
	// Each node's own runner passes at start-up, and briefly holds the
	// lock then: a pass here may have to wait its turn.
	until := func(store *meta.Store, fn func() error) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ran, err := store.WithBackfillLock(ctx, fn)
			if ran || err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no pass ran within 10 s: the lock stayed taken")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	inner := func() error {
		ran, err := other.Store.WithBackfillLock(ctx, func() error { return nil })
		if err != nil {
			return err
		}
		if ran {
			return fmt.Errorf("a second node ran a pass while the first held the lock")
		}
		return nil
	}
	if err := until(e.Store, inner); err != nil {
		t.Fatalf("first node: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	failing := func() error { cancel(); return cctx.Err() }
	if err := until(e.Store, failing); err == nil {
		t.Fatal("a failed pass reported no error")
	}
	// Every pooled connection of the first node must be free of the lock.
	for i := 0; i < 3; i++ {
		if err := until(other.Store, func() error { return nil }); err != nil {
			t.Fatalf("after the first node's passes, the second: %v", err)
		}
	}
}

// A row whose object is missing (storage lost, not freed by gc, which
// deletes the row first) is a failure the operator is told of, and is left
// for the retry period, not marked damaged (the object may be back); it
// was skipped as if gc had freed it, uncounted, unlogged and opened again
// by every pass.
func TestDigestBackfillMissingObject(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	upload := func(name string, data []byte) string {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/lost/1/%s", s.ProjectID, name), data, DeployHdr(s.WriteToken)))
		return digestsOf(data).sha256
	}
	// The lost row is the older: once the intact one is filled, a pass
	// has been through the lost one.
	lostSHA := upload("lost.bin", randomBytes(201, 64<<10))
	intactSHA := upload("intact.bin", randomBytes(202, 64<<10))
	db := e.Store.DB()
	if _, err := db.ExecContext(ctx, `UPDATE blobs SET md5 = '', sha1 = '' WHERE sha256 IN ($1, $2)`, lostSHA, intactSHA); err != nil {
		t.Fatal(err)
	}
	var key string
	if err := db.GetContext(ctx, &key, `SELECT storage_key FROM blobs WHERE sha256 = $1`, lostSHA); err != nil {
		t.Fatal(err)
	}
	if err := e.Server.Blobs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.Server.Registry.BackfillDigests(ctx); err != nil {
			t.Fatal(err)
		}
		var md5 string
		if err := db.GetContext(ctx, &md5, `SELECT md5 FROM blobs WHERE sha256 = $1`, intactSHA); err != nil {
			t.Fatal(err)
		}
		if md5 != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the intact blob was not filled within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	metrics := string(e.Must(200, e.Do("GET", "/-/metrics", nil, nil)).Body)
	for _, line := range []string{`pkgate_digest_backfill_blobs_total{result="failed"} 1`, `pkgate_digest_backfill_blobs_total{result="filled"} 1`} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	var marked bool
	if err := db.GetContext(ctx, &marked, `SELECT damaged_at IS NOT NULL FROM blobs WHERE sha256 = $1`, lostSHA); err != nil || marked {
		t.Fatalf("lost blob marked damaged %v (%v)", marked, err)
	}
}

// metric returns the value of a sample in a node's /-/metrics, 0 when the
// node has none.
func metric(e *Env, sample string) float64 {
	e.t.Helper()
	body := string(e.Must(200, e.Do("GET", "/-/metrics", nil, nil)).Body)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// within calls done until it reports true, running a backfill pass of e's
// node before each call (a pass of a node's own runner may hold the lock;
// then this one does nothing), and fails the test after 30 s.
func within(t *testing.T, e *Env, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.Server.Registry.BackfillDigests(context.Background()); err != nil {
			t.Fatal(err)
		}
		if done() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A blob whose object the backfill finds holding other bytes is marked
// damaged: no pass on any node reads it again (it was read every hour on
// every node, for ever), downloads of its files answer 503 on every node,
// a redirecting one too, instead of serving the bytes, and an upload of
// the right bytes to any package heals it: the row names the new object,
// every file naming the blob downloads it again, the backfill fills the
// digests from it, and gc frees the damaged object. Both publish paths:
// the one statement of a plain upload, and the transaction that ?status=
// takes; and a file small enough for the blob cache.
func TestDigestBackfillDamagedObject(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	db := e.Store.DB()
	cfg := e.Cfg
	cfg.ExternalURL, cfg.RedirectDownloads = "", true
	redirecting := startEnv(t, cfg, e.Bucket)
	other := e.Project("other", s.SubID, "private")
	const refused = "503 Service Unavailable - file data is damaged in blob storage"
	row := func(sha string) (key string, damaged bool, md5, sha1 string) {
		t.Helper()
		err := db.QueryRowContext(ctx, `SELECT storage_key, damaged_at IS NOT NULL, md5, sha1 FROM blobs WHERE sha256 = $1`, sha).Scan(&key, &damaged, &md5, &sha1)
		if err != nil {
			t.Fatal(err)
		}
		return key, damaged, md5, sha1
	}
	both := func(sample string) float64 { return metric(e, sample) + metric(redirecting, sample) }
	const opens = `pkgate_blob_store_duration_seconds_count{driver="s3",op="open"}`
	// redirected polls the redirecting node until a download of url
	// answers status (its lookups drop when another node's notification
	// arrives) and returns the answer.
	redirected := func(url string, status int) *Resp {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := redirecting.Do("GET", url, nil, DeployHdr(s.ReadToken))
			if r.Status == status || time.Now().After(deadline) {
				return redirecting.Must(status, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cases := []struct {
		query string
		size  int
	}{
		{"", 64 << 10},
		{"?status=default", 64 << 10},
		// Past one part: the healing upload's md5 and sha1 come from the
		// backfill, which reads the new object. (Its fill also drops the
		// lookups of every project naming the blob, and may come before
		// the check that the heal dropped them.)
		{"", 9 << 20},
	}
	for i, tc := range cases {
		query := tc.query
		data := randomBytes(uint64(300+i), tc.size)
		want := digestsOf(data)
		path := func(project int64, pkg, name string) string {
			return fmt.Sprintf("/api/v4/projects/%d/packages/generic/%s%d/1/%s", project, pkg, i, name)
		}
		inA, inB := path(s.ProjectID, "damaged", "file.bin"), path(other, "damaged", "copy.bin")
		e.Must(201, e.Do("PUT", inA, data, DeployHdr(s.WriteToken)))
		e.Must(201, e.Do("PUT", inB, data, PAT(e.Admin)))
		within(t, e, "the upload's digests", func() bool { _, _, m, _ := row(want.sha256); return m != "" })
		damagedKey, _, _, _ := row(want.sha256)
		if loc := redirected(inA, 302).Header.Get("Location"); !strings.Contains(loc, damagedKey) {
			t.Fatalf("redirected to %s, not to %s", loc, damagedKey)
		}
		// The object's bytes change; the row lacks its digests again, as
		// one an older version wrote.
		flipped := bytes.Clone(data)
		flipped[len(flipped)/2] ^= 1
		overwriteObject(t, e, damagedKey, flipped)
		if _, err := db.ExecContext(ctx, `UPDATE blobs SET md5 = '', sha1 = '' WHERE sha256 = $1`, want.sha256); err != nil {
			t.Fatal(err)
		}
		within(t, e, "marking the damaged blob", func() bool { _, d, _, _ := row(want.sha256); return d })
		if key, _, m, s1 := row(want.sha256); key != damagedKey || m != "" || s1 != "" {
			t.Fatalf("damaged row: key %s (was %s), md5 %q sha1 %q", key, damagedKey, m, s1)
		}
		if n := both(`pkgate_digest_backfill_blobs_total{result="damaged"}`); n != float64(i+1) {
			t.Errorf("%v blobs counted damaged, want %d", n, i+1)
		}
		if n := both(`pkgate_digest_backfill_blobs_total{result="failed"}`); n != 0 {
			t.Errorf("%v blobs counted failed, want 0", n)
		}

		// No pass reads it again: of the rows lacking digests, one newer
		// than it is read, and it is not.
		lacking, err := e.Store.BlobsLackingDigests(ctx, time.Time{}, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range lacking {
			if b.SHA256 == want.sha256 {
				t.Fatal("the damaged blob is still listed for the backfill")
			}
		}
		read := both(opens)
		newer := randomBytes(uint64(310+i), 64<<10)
		e.Must(201, e.Do("PUT", path(s.ProjectID, "newer", "f.bin"), newer, DeployHdr(s.WriteToken)))
		if _, err := db.ExecContext(ctx, `UPDATE blobs SET md5 = '', sha1 = '' WHERE sha256 = $1`, digestsOf(newer).sha256); err != nil {
			t.Fatal(err)
		}
		within(t, e, "the newer blob's digests", func() bool { _, _, m, _ := row(digestsOf(newer).sha256); return m != "" })
		if n := both(opens) - read; n != 1 {
			t.Fatalf("the passes opened %v objects, want the newer blob's alone", n)
		}

		// Downloads are refused, on every node and in either project; the
		// refusals cache the lookups of both files as damaged, once the
		// change notifications of the passes have come and gone (they
		// would drop them too).
		time.Sleep(200 * time.Millisecond)
		ErrBody(t, e.Must(503, e.Do("GET", inA, nil, DeployHdr(s.ReadToken))), "message", refused)
		ErrBody(t, e.Must(503, e.Do("GET", inB, nil, PAT(e.Admin))), "message", refused)
		ErrBody(t, redirected(inA, 503), "message", refused)

		// An upload of the right bytes to another package of the other
		// project heals the blob.
		e.Must(201, e.Do("PUT", path(other, "again", "file.bin")+query, data, PAT(e.Admin)))
		key, damaged, _, _ := row(want.sha256)
		if key == damagedKey || damaged {
			t.Fatalf("after the upload: key %s (the damaged one: %v), damaged %v", key, key == damagedKey, damaged)
		}
		if _, err := e.Server.Blobs.Stat(ctx, key); err != nil {
			t.Fatalf("the row names %s: %v", key, err)
		}
		// At once on this node, in the project uploaded to and the other.
		for _, d := range []struct {
			url string
			h   H
		}{{inA, DeployHdr(s.ReadToken)}, {inB, PAT(e.Admin)}} {
			if got := e.Must(200, e.Do("GET", d.url, nil, d.h)); !bytes.Equal(got.Body, data) {
				t.Fatalf("%s: %d bytes, not the uploaded ones", d.url, len(got.Body))
			}
		}
		if loc := redirected(inA, 302).Header.Get("Location"); !strings.Contains(loc, key) {
			t.Fatalf("redirected to %s, not to %s", loc, key)
		}
		within(t, e, "the healed blob's digests", func() bool {
			_, _, m, s1 := row(want.sha256)
			return m == want.md5 && s1 == want.sha1
		})

		// gc frees the damaged object, which no row names now.
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		if _, err := janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Server.Blobs.Stat(ctx, damagedKey); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("the damaged object after gc: %v, want it gone", err)
		}
		assertNoOrphanObjects(t, e)
		if got := e.Must(200, e.Do("GET", inA, nil, DeployHdr(s.ReadToken))); !bytes.Equal(got.Body, data) {
			t.Fatalf("after gc: %d bytes, not the uploaded ones", len(got.Body))
		}
	}
}

// A small file is read whole into the blob cache before its first byte is
// sent, so its download checks the object: one holding other bytes than
// the row (a flipped byte, a byte more) is refused with 503, its row is
// marked damaged for every node, and an upload of the right bytes heals
// it. An object cut short is a failed read, refused but not marked (a
// response cut short on the network looks the same).
func TestSmallDownloadChecksObject(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	db := e.Store.DB()
	for i, tc := range []struct {
		name   string
		damage func([]byte) []byte
		marked bool
	}{
		{"a flipped byte", func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/3] ^= 0x40; return b }, true},
		{"a byte more", func(b []byte) []byte { return append(bytes.Clone(b), 'x') }, true},
		{"cut short", func(b []byte) []byte { return b[:len(b)-1] }, false},
	} {
		data := randomBytes(uint64(200+i), 64<<10)
		sha := digestsOf(data).sha256
		url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/small-check/%d/f.bin", s.ProjectID, i)
		e.Must(201, e.Do("PUT", url, data, DeployHdr(s.WriteToken)))
		var key string
		if err := db.GetContext(ctx, &key, `SELECT storage_key FROM blobs WHERE sha256 = $1`, sha); err != nil {
			t.Fatal(err)
		}
		overwriteObject(t, e, key, tc.damage(data))
		want := "503 Service Unavailable - blob storage unavailable"
		if tc.marked {
			want = "503 Service Unavailable - file data is damaged in blob storage"
		}
		for range 2 { // the second answer comes from the mark (or again from the read)
			r := e.Do("GET", url, nil, DeployHdr(s.ReadToken))
			e.Must(503, r)
			ErrBody(t, r, "message", want)
		}
		var marked bool
		if err := db.GetContext(ctx, &marked, `SELECT damaged_at IS NOT NULL FROM blobs WHERE sha256 = $1`, sha); err != nil {
			t.Fatal(err)
		}
		if marked != tc.marked {
			t.Fatalf("%s: row marked damaged %v, want %v", tc.name, marked, tc.marked)
		}
		if !tc.marked {
			continue
		}
		// The right bytes again, under another name: the row takes the
		// new object, and the first file downloads as published.
		e.Must(201, e.Do("PUT", strings.Replace(url, "f.bin", "again.bin", 1), data, DeployHdr(s.WriteToken)))
		if got := e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken))); !bytes.Equal(got.Body, data) {
			t.Fatalf("%s: after the heal, %d bytes that are not the file's", tc.name, len(got.Body))
		}
	}
}

// overwriteObject replaces the stored object key with data, as storage
// that went bad would, behind the gateway's back.
func overwriteObject(t *testing.T, e *Env, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := e.Server.Blobs.Writer(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
