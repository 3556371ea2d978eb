// Command bench measures the gateway against the S3 under it, in one run on
// this machine: it starts Postgres and MinIO (tests/harness), builds and
// starts the gateway as its own process (so its memory can be read from
// /proc), and runs every case against the gateway and against S3 directly,
// printing throughput, ratios and the gateway's memory growth.
//
//	go run ./tests/bench [-size-mib 1024] [-small 2000] [-duration 5s] [-rounds 5] [-only generic,small,auth,docs] [-bare=false]
//
// The 1 GiB upload and streamed download also run through a bare proxy
// (bare.go) in the same rounds, which prints what a process that only
// moves the bytes between client and S3 reaches on this machine, and the
// gateway's ratio to it.
//
// With -against, the upload and download cases compare this build with
// another gateway binary instead of with direct S3: two fresh processes
// serve the same database and bucket, their runs alternate as a gateway's
// and S3's do, and the ratio is this build over the other, pair by pair
// under the same drift. Separate runs of one build on this machine differ
// by 20-30 %; against an identical build the medians came out 0.92-1.05
// with three rounds, so a change of 10 % or more shows:
//
//	git worktree add /tmp/before HEAD && (cd /tmp/before && go build -o /tmp/gateway-before ./cmd/gateway)
//	go run ./tests/bench -only generic,small -against /tmp/gateway-before
//	git worktree remove /tmp/before
//
// The document cases (npm packument, PyPI simple index, maven-metadata.xml)
// run when those formats answer; their absence is reported, not hidden.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/tests/harness"
)

var (
	sizeMiB  = flag.Int("size-mib", 1024, "size of the large-file cases")
	small    = flag.Int("small", 2000, "number of small files")
	smallKiB = flag.Int("small-kib", 64, "size of each small file")
	dur      = flag.Duration("duration", 5*time.Second, "duration of each request-rate case")
	rounds   = flag.Int("rounds", 5, "rounds of each compared case, alternating which side goes first (medians reported)")
	only     = flag.String("only", "", "comma-separated case groups to run: generic, redirect, small, auth, npm, pypi, maven")
	against  = flag.String("against", "", "another gateway binary: the upload and download cases compare this build with it instead of with direct S3")
	drop     = flag.Bool("drop-caches", true, "drop the page cache before each upload run (needs root; see alternate)")
)

// otherName names the compared side in the output.
func otherName() string {
	if *against != "" {
		return "other build"
	}
	return "direct S3"
}

func want(group string) bool {
	if *only == "" {
		return true
	}
	for _, g := range strings.Split(*only, ",") {
		if g == group {
			return true
		}
	}
	return false
}

func main() {
	flag.Parse()
	if *bareListen != "" {
		if err := serveBare(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: bare proxy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type gw struct {
	url   string
	cmd   *exec.Cmd
	admin string
}

// status reads a memory field of the gateway's /proc status (VmRSS,
// VmHWM) in MiB.
func (g *gw) status(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// peakDuring returns how far the gateway's RSS rose above where it stood
// when fn started. The kernel keeps the peak (VmHWM), which writing 5 to
// clear_refs resets to the current RSS: exact, and nothing runs beside the
// transfer. Sampling instead (every 20 ms, where clear_refs cannot be
// written) could miss a short peak, and its wake-ups cost this client CPU
// that the transfer competes for.
func (g *gw) peakDuring(fn func() error) (float64, error) {
	base := g.status("VmRSS")
	if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", g.cmd.Process.Pid), []byte("5"), 0) == nil {
		err := fn()
		return g.status("VmHWM") - base, err
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if r := uint64(g.status("VmRSS") * 1024); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := fn()
	close(stop)
	<-done
	return float64(peak.Load())/1024 - base, err
}

func freePort() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

func run() error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "pkgate-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gateway").CombinedOutput(); err != nil {
		return fmt.Errorf("build gateway (run from the repository root): %v\n%s", err, out)
	}
	fmt.Println("starting Postgres and MinIO ...")
	pg, err := harness.StartPostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Close()
	mio, err := harness.StartMinIO(ctx)
	if err != nil {
		return err
	}
	defer mio.Close()
	s3svc := mio.S3()
	dsn, err := harness.NewDatabase(ctx, pg.DSN(), "bench")
	if err != nil {
		return err
	}
	bucket, err := harness.NewBucket(ctx, s3svc, "bench")
	if err != nil {
		return err
	}
	env := append(append(os.Environ(), harness.GatewayEnv(dsn, s3svc, bucket)...),
		"GATEWAY_LOG_LEVEL=warn", "GATEWAY_AUTH_FAIL_PER_MINUTE=0")
	startBin := func(bin string, extra ...string) (*gw, error) {
		addr := freePort()
		return startProcess(bin, []string{"serve"}, append(append(env, "GATEWAY_LISTEN="+addr), extra...),
			addr, filepath.Join(tmp, "gateway-"+addr+".log"), "/-/readiness")
	}
	start := func(extra ...string) (*gw, error) { return startBin(bin, extra...) }
	g, err := start()
	if err != nil {
		return err
	}
	defer g.cmd.Process.Kill()
	boot := exec.Command(bin, "admin", "bootstrap", "--username", "root")
	boot.Env = env
	out, err := boot.Output()
	if err != nil {
		return fmt.Errorf("bootstrap: %v", err)
	}
	g.admin = strings.TrimSpace(string(out))

	f, err := setup(g)
	if err != nil {
		return err
	}
	os.Setenv("AWS_ACCESS_KEY_ID", s3svc.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", s3svc.SecretKey)
	direct, err := blob.NewS3(ctx, blob.S3Config{Bucket: bucket, Region: s3svc.Region, Endpoint: s3svc.Endpoint, PathStyle: true})
	if err != nil {
		return err
	}
	// The other build runs as a process named gateway too, so each run's
	// printed gateway CPU is that of the side that ran it.
	var other *gw
	if *against != "" {
		ob := filepath.Join(tmp, "other", "gateway")
		if err := copyExecutable(*against, ob); err != nil {
			return err
		}
		if other, err = startBin(ob); err != nil {
			return fmt.Errorf("the -against gateway: %w", err)
		}
		defer other.cmd.Process.Kill()
		// This build's side gets a fresh process as well: the first one
		// served the setup, and against an identical build it came out
		// 5-12 % faster on every case.
		fresh, err := start()
		if err != nil {
			return err
		}
		defer fresh.cmd.Process.Kill()
		fresh.admin, g = g.admin, fresh
		fmt.Printf("comparing with %s (\"direct\" below is that build)\n", *against)
	}
	var bp *gw
	if *bare && other == nil && (want("generic") || want("small")) {
		if bp, err = startBare(tmp, os.Environ(), s3svc.Endpoint, bucket, s3svc.Region); err != nil {
			return err
		}
		defer bp.cmd.Process.Kill()
	}
	rep := &report{}
	if want("generic") || want("redirect") {
		if err := largeFiles(ctx, g, other, bp, f, direct, rep, start); err != nil {
			return err
		}
	}
	if want("small") {
		if err := smallFiles(ctx, g, other, bp, f, direct, rep); err != nil {
			return err
		}
	}
	if want("auth") {
		if err := authCost(g, f, rep); err != nil {
			return err
		}
	}
	documents(g, f, rep)
	rep.print()
	return nil
}

// startProcess starts bin and waits until GET ready answers 200 on addr.
func startProcess(bin string, args, env []string, addr, logPath, ready string) (*gw, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &gw{url: "http://" + addr, cmd: cmd}
	for i := 0; i < 200; i++ {
		if r, err := http.Get(g.url + ready); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return g, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("%s did not become ready", bin)
}

// fixture is one group with a private and a public project and tokens.
type fixture struct {
	private, public int64
	write, read     string
}

func api(g *gw, method, path string, body any, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, g.url+path, bytes.NewReader(b))
	req.Header.Set("PRIVATE-TOKEN", g.admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func setup(g *gw) (*fixture, error) {
	var grp, priv, pub, w, r struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if err := api(g, "POST", "/api/v4/groups", map[string]any{"name": "Bench", "path": "bench", "visibility": "public"}, &grp); err != nil {
		return nil, err
	}
	if err := api(g, "POST", "/api/v4/projects", map[string]any{"path": "private", "namespace_id": grp.ID}, &priv); err != nil {
		return nil, err
	}
	if err := api(g, "POST", "/api/v4/projects", map[string]any{"path": "public", "namespace_id": grp.ID, "visibility": "public"}, &pub); err != nil {
		return nil, err
	}
	if err := api(g, "POST", "/api/v4/groups/"+strconv.FormatInt(grp.ID, 10)+"/deploy_tokens", map[string]any{"name": "w", "scopes": []string{"read_package_registry", "write_package_registry"}}, &w); err != nil {
		return nil, err
	}
	if err := api(g, "POST", "/api/v4/groups/"+strconv.FormatInt(grp.ID, 10)+"/deploy_tokens", map[string]any{"name": "r", "scopes": []string{"read_package_registry"}}, &r); err != nil {
		return nil, err
	}
	return &fixture{private: priv.ID, public: pub.ID, write: w.Token, read: r.Token}, nil
}

// pattern is a reader of n bytes cycling through a random 1 MiB block:
// free to produce, and not compressible or deduplicable by the store.
// Patterns with different seeds start at different places in the block,
// so their bytes (and digests) differ.
type pattern struct {
	block []byte
	n     int64
	off   int64
	shift int64
}

var block = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

func newPattern(n int64, seed int) *pattern {
	return &pattern{block: block, n: n, shift: int64(seed) * 7919}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	i := (p.off + p.shift) % int64(len(p.block))
	c := copy(b, p.block[i:])
	if rem := p.n - p.off; int64(c) > rem {
		c = int(rem)
	}
	p.off += int64(c)
	return c, nil
}

var transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true,
	WriteBufferSize: 256 << 10, ReadBufferSize: 256 << 10,
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bigWrites{c}, nil
	}}
var client = &http.Client{Transport: transport}

// bigWrites sends a request body in writes of up to 1 MiB, as the direct
// side's multipart writer does (it writes each part whole). net/http hands
// a body of known length to the connection's ReadFrom, which copies it
// through a 32 KiB buffer: the gateway side's client made 32 times the
// write calls of the direct side's for the same bytes.
type bigWrites struct{ net.Conn }

func (c bigWrites) ReadFrom(r io.Reader) (int64, error) {
	// Pooled: the small-files cases send thousands of bodies a second.
	bp := writeBufs.Get().(*[]byte)
	defer writeBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *bp)
}

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

type row struct {
	name            string
	gateway, direct float64
	ratio           float64 // 0: gateway/direct
	unit            string
	target          float64 // minimum ratio, 0: none
	note            string
}

func (x row) ratioOf() float64 {
	if x.ratio > 0 {
		return x.ratio
	}
	return x.gateway / x.direct
}

type report struct{ rows []row }

func (r *report) add(x row) {
	r.rows = append(r.rows, x)
	ratio := ""
	if x.direct > 0 {
		ratio = fmt.Sprintf("  ratio %.2f", x.ratioOf())
	}
	fmt.Printf("  %-52s gateway %9.1f %-6s direct %9.1f%s %s\n", x.name, x.gateway, x.unit, x.direct, ratio, x.note)
}

// addBare reports a case's bare-proxy side (the third of runs): its own
// ratio to direct S3, and the gateway's to it, round by round.
func (r *report) addBare(what, unit string, runs sideRuns) {
	r.add(runs.pair(2, 0).row("bare proxy "+what+" (no auth, database or digests)", unit, 0))
	g := runs.pair(1, 2).row("gateway over the bare proxy, "+what, unit, 0)
	g.note = "(direct column: the bare proxy) " + g.note
	r.add(g)
}

func (r *report) print() {
	fmt.Printf("\n| case | gateway | %s | ratio | target |\n", otherName())
	fmt.Println("|---|---|---|---|---|")
	for _, x := range r.rows {
		d, ratio, target := "—", "—", "—"
		if x.direct > 0 {
			d = fmt.Sprintf("%.1f %s", x.direct, x.unit)
			ratio = fmt.Sprintf("%.2f", x.ratioOf())
		}
		if x.target > 0 {
			target = fmt.Sprintf("≥ %.2f", x.target)
			if x.direct > 0 && x.ratioOf() < x.target {
				target += " (missed)"
			}
		}
		if x.note != "" {
			target += " " + x.note
		}
		fmt.Printf("| %s | %.1f %s | %s | %s | %s |\n", x.name, x.gateway, x.unit, d, ratio, target)
	}
}

// alternate measures a direct and a gateway case for -rounds rounds and
// returns the median of each (both functions return a rate: MiB/s or
// req/s), printing every run with the CPU seconds MinIO, the gateway,
// Postgres and this client spent on it. Each run starts after sync(2), and
// the order alternates between rounds. On a shared 2-core machine single
// runs swing by 30 % or more, and MinIO is not steady either (below).
// Measuring one side once after the other decided the ratio by order.
//
// The ratio is the median of the rounds' own ratios, each gateway run over
// the direct run next to it: MinIO drifts within a run (one run's direct
// downloads went from 722 to 1364 MiB/s over five rounds), and a pair
// shares the state it drifted to, while a ratio of the two sides' medians
// can pair a slow round of one side with a fast round of the other.
//
// One run of each side comes first and is not counted.
//
// Before each run of a case that writes (writes), the page cache is
// dropped as well (-drop-caches). What a GiB written costs MinIO depends
// on it: with the cache dropped before each 1 GiB PUT, 2.9-3.5
// CPU-seconds every time; with every PUT's pages left cached, 3.1 for
// the first two PUTs, then more with each until 6.5-7 from the fifth on
// (2026-11-26, ten PUTs each way, MinIO alone). Runs used to start at
// wherever earlier work had left the machine: the first counted round,
// still on the slope, paired a cheap direct run with a dear gateway one
// (0.64 in both of that day's runs, the other rounds 0.82-0.92), and the
// steady state they reached flattered the gateway, whose share is
// smaller the more MinIO spends. Reads are left cached: a download of
// bytes just written comes from memory, as in a registry serving what it
// holds.
func alternate(what, unit string, writes bool, direct, gateway func() (float64, error)) (compared, error) {
	names, sides := caseSides(direct, gateway, nil)
	r, err := alternateSides(what, unit, writes, names, sides...)
	if err != nil {
		return compared{}, err
	}
	return r.pair(1, 0), nil
}

// caseSides names a case's sides in the order alternateSides takes them:
// direct, gateway and, when bare is not nil, the bare proxy (bare.go).
func caseSides(direct, gateway, bare func() (float64, error)) ([]string, []func() (float64, error)) {
	names, sides := []string{"direct ", "gateway"}, []func() (float64, error){direct, gateway}
	if bare != nil {
		names, sides = append(names, "bare   "), append(sides, bare)
	}
	return names, sides
}

// sideRuns holds each side's rates, round by round.
type sideRuns [][]float64

// pair compares side a with side b: their medians and the median and range
// of the rounds' own ratios a/b.
func (r sideRuns) pair(a, b int) compared {
	rs := make([]float64, len(r[a]))
	for i := range rs {
		rs[i] = r[a][i] / r[b][i]
	}
	return compared{direct: median(r[b]), gateway: median(r[a]), ratio: median(rs), low: slices.Min(rs), high: slices.Max(rs)}
}

// settle, when set, runs before each run of a compared case (and outside
// its measurements) to wait for background work an earlier run left.
var settle func() error

// alternateSides is alternate for any number of sides: each round runs
// every side once, starting one side further each round (with two sides,
// the order alternates), after one uncounted run of each.
func alternateSides(what, unit string, writes bool, names []string, sides ...func() (float64, error)) (sideRuns, error) {
	runs := make(sideRuns, len(sides))
	prepare := func() error {
		if settle != nil {
			if err := settle(); err != nil {
				return err
			}
		}
		syscall.Sync()
		if writes && *drop {
			dropCaches()
		}
		return nil
	}
	for _, fn := range sides {
		if err := prepare(); err != nil {
			return nil, err
		}
		if _, err := fn(); err != nil {
			return nil, err
		}
	}
	fmt.Printf("    %s: one warm-up run of each side done (not counted)\n", what)
	for i := 0; i < *rounds; i++ {
		for j := range sides {
			k := (i + j) % len(sides)
			if err := prepare(); err != nil {
				return nil, err
			}
			c0 := cpuNow()
			v, err := sides[k]()
			if err != nil {
				return nil, err
			}
			runs[k] = append(runs[k], v)
			fmt.Printf("    %s %s round %d: %8.1f %-6s %v\n", what, names[k], i+1, v, unit, cpuNow().since(c0))
		}
	}
	return runs, nil
}

var dropWarned sync.Once

// dropCaches empties the page cache (clean pages only: it follows a sync).
func dropCaches() {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		dropWarned.Do(func() {
			fmt.Printf("    (page cache not dropped: %v; upload runs start from whatever the cache holds)\n", err)
		})
	}
}

// compared is the outcome of alternate: each side's median, the median of
// the paired ratios and their range.
type compared struct{ direct, gateway, ratio, low, high float64 }

// row makes the report row of a compared case.
func (c compared) row(name, unit string, target float64) row {
	return row{name: name, gateway: c.gateway, direct: c.direct, ratio: c.ratio, unit: unit, target: target,
		note: fmt.Sprintf("(rounds %.2f–%.2f)", c.low, c.high)}
}

// perSecond turns a timed transfer of n bytes into a MiB/s measurement.
func perSecond(n int64, fn func() (time.Duration, error)) func() (float64, error) {
	return func() (float64, error) {
		d, err := fn()
		if err != nil {
			return 0, err
		}
		return mibps(n, d), nil
	}
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

func largeFiles(ctx context.Context, g, other, bp *gw, f *fixture, direct *blob.S3, rep *report, start func(...string) (*gw, error)) error {
	n := int64(*sizeMiB) << 20
	fmt.Printf("large file: %d MiB\n", *sizeMiB)
	url := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/big/1.0/big.bin", g.url, f.private)

	// Direct multipart PUT of the same bytes, with the gateway's own part
	// size and concurrency. Each round uploads new bytes to a new key on
	// both sides: bytes the gateway already holds would cost it an extra
	// DELETE of its new copy, and an overwrite would cost MinIO the removal
	// of the old version, neither of which is the case being measured.
	var dRound, gRound int
	directKey := ""
	directPut := func() (time.Duration, error) {
		dRound++
		t0 := time.Now()
		directKey = fmt.Sprintf("direct/big-%d.bin", dRound)
		w, err := direct.Writer(ctx, directKey)
		if err != nil {
			return 0, err
		}
		if _, err := io.CopyBuffer(w, newPattern(n, dRound), make([]byte, 1<<20)); err != nil {
			_ = w.Cancel(ctx)
			return 0, err
		}
		if err := w.Commit(ctx); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	// put uploads n bytes; with rec, it asks for the file record
	// (select=package_file) and reads it into rec.
	put := func(url string, seed int, rec *fileRecord) (time.Duration, error) {
		want := http.StatusCreated
		if rec != nil {
			url += "?select=package_file"
			want = http.StatusOK
		}
		t0 := time.Now()
		req, _ := http.NewRequest("PUT", url, newPattern(n, seed))
		req.ContentLength = n
		req.Header.Set("Deploy-Token", f.write)
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if res.StatusCode != want {
			return 0, fmt.Errorf("upload: %d", res.StatusCode)
		}
		if rec != nil {
			if err := json.Unmarshal(body, rec); err != nil {
				return 0, fmt.Errorf("upload's file record: %v", err)
			}
		}
		return d, nil
	}
	var growth float64
	var backfills []float64
	var pending *fileRecord
	gwPut := func() (time.Duration, error) {
		var d time.Duration
		var rec fileRecord
		gr, err := g.peakDuring(func() error {
			gRound++
			var e error
			d, e = put(url, gRound, &rec)
			return e
		})
		growth = max(growth, gr)
		if err == nil {
			pending = &rec
		}
		return d, err
	}
	// The digest backfill reads back what each upload stored to compute
	// its md5 and sha1; the next run starts once it is done, so that no
	// run's time or CPU includes it. Its own time is reported beside the
	// upload's.
	settle = func() error {
		if pending == nil {
			return nil
		}
		took, err := waitBackfill(g, f.private, *pending)
		pending = nil
		backfills = append(backfills, took.Seconds())
		return err
	}
	defer func() { settle = nil }()
	var otherURL string
	if other != nil {
		// The same file name: every upload adds a file to the package,
		// and both sides download the newest, whichever side wrote it.
		otherURL = strings.Replace(url, g.url, other.url, 1)
		directPut = func() (time.Duration, error) {
			dRound++
			return put(otherURL, 1000+dRound, nil)
		}
	}
	var barePut func() (float64, error)
	if bp != nil {
		var bRound int
		barePut = perSecond(n, func() (time.Duration, error) {
			bRound++
			return put(fmt.Sprintf("%s/bare/big-%d.bin", bp.url, bRound), 2000+bRound, nil)
		})
	}
	names, sides := caseSides(perSecond(n, directPut), perSecond(n, gwPut), barePut)
	up, err := alternateSides("upload", "MiB/s", true, names, sides...)
	if err != nil {
		return err
	}
	if err := settle(); err != nil { // the last run's
		return err
	}
	rep.add(up.pair(1, 0).row("generic upload 1 file", "MiB/s", 0.85))
	rep.add(row{name: "gateway RSS growth during upload", gateway: growth, unit: "MiB", note: "(target < 64 MiB)"})
	rep.add(row{name: "md5 and sha1 backfill after each upload", gateway: median(backfills), unit: "s",
		note: fmt.Sprintf("(median of %d; between runs, outside their times)", len(backfills))})
	if bp != nil {
		rep.addBare("upload", "MiB/s", up)
	}

	get := func(u string, hdr string) (time.Duration, error) {
		t0 := time.Now()
		req, _ := http.NewRequest("GET", u, nil)
		if hdr != "" {
			req.Header.Set("Deploy-Token", hdr)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		got, _ := io.CopyBuffer(io.Discard, res.Body, make([]byte, 256<<10))
		res.Body.Close()
		if res.StatusCode != 200 || got != n {
			return 0, fmt.Errorf("download: %d, %d bytes", res.StatusCode, got)
		}
		return time.Since(t0), nil
	}
	directGet := func() (time.Duration, error) {
		if other != nil {
			return get(otherURL, f.read)
		}
		t0 := time.Now()
		out, err := direct.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(direct.Bucket()), Key: aws.String(directKey)})
		if err != nil {
			return 0, err
		}
		io.CopyBuffer(io.Discard, out.Body, make([]byte, 256<<10))
		out.Body.Close()
		return time.Since(t0), nil
	}
	if want("generic") {
		growth = 0
		gwGet := func() (time.Duration, error) {
			var d time.Duration
			gr, err := g.peakDuring(func() error { var e error; d, e = get(url, f.read); return e })
			growth = max(growth, gr)
			return d, err
		}
		var bareGet func() (float64, error)
		if bp != nil {
			bareGet = perSecond(n, func() (time.Duration, error) { return get(bp.url+"/"+directKey, "") })
		}
		names, sides := caseSides(perSecond(n, directGet), perSecond(n, gwGet), bareGet)
		down, err := alternateSides("download", "MiB/s", false, names, sides...)
		if err != nil {
			return err
		}
		rep.add(down.pair(1, 0).row("generic download 1 file (streamed)", "MiB/s", 0.8))
		rep.add(row{name: "gateway RSS growth during download", gateway: growth, unit: "MiB", note: "(target < 64 MiB)"})
		if bp != nil {
			rep.addBare("download", "MiB/s", down)
		}
	}
	if want("redirect") && other == nil {
		r, err := start("GATEWAY_REDIRECT_DOWNLOADS=true")
		if err != nil {
			return err
		}
		defer r.cmd.Process.Kill()
		rurl := strings.Replace(url, g.url, r.url, 1)
		red, err := alternate("redirect download", "MiB/s", false, perSecond(n, directGet), perSecond(n, func() (time.Duration, error) { return get(rurl, f.read) }))
		if err != nil {
			return err
		}
		rep.add(red.row("generic download 1 file (presigned redirect)", "MiB/s", 0.95))
	}
	return nil
}

// fileRecord is the part of an upload's package_file record the
// benchmark reads.
type fileRecord struct {
	ID        int64  `json:"id"`
	PackageID int64  `json:"package_id"`
	MD5       string `json:"file_md5"`
	SHA1      string `json:"file_sha1"`
}

// waitBackfill waits until the package files API reports md5 and sha1 for
// the file rec names, and says how long that took.
func waitBackfill(g *gw, project int64, rec fileRecord) (time.Duration, error) {
	t0 := time.Now()
	for rec.MD5 == "" || rec.SHA1 == "" {
		if time.Since(t0) > 5*time.Minute {
			return 0, fmt.Errorf("the digest backfill left file %d without md5 and sha1 for 5 minutes", rec.ID)
		}
		time.Sleep(50 * time.Millisecond)
		var files []fileRecord
		if err := api(g, "GET", fmt.Sprintf("/api/v4/projects/%d/packages/%d/package_files?per_page=100", project, rec.PackageID), nil, &files); err != nil {
			return 0, err
		}
		for _, f := range files {
			if f.ID == rec.ID {
				rec.MD5, rec.SHA1 = f.MD5, f.SHA1
			}
		}
	}
	return time.Since(t0), nil
}

// rate runs fn from c workers for the configured duration and returns req/s.
func rate(c int, fn func(i int) error) (float64, error) {
	n, d, err := burst(c, *dur, fn)
	return float64(n) / d.Seconds(), err
}

// burst runs fn from c workers for about d and returns the requests done
// and the time taken.
func burst(c int, d time.Duration, fn func(i int) error) (int64, time.Duration, error) {
	var count atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += c {
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, 0, e.(error)
	}
	return count.Load(), time.Since(t0), nil
}

// interleaved runs a and b from c workers in alternating 500 ms slices,
// -duration × -rounds in all for each, and returns the req/s of each. The
// load on a shared machine drifts over seconds (five-second runs of the
// same case differed by 20 %); slices this short see the same conditions,
// so a small difference between two request kinds is not lost in the drift.
func interleaved(c int, a, b func(i int) error) (float64, float64, error) {
	const slice = 500 * time.Millisecond
	var na, nb int64
	var da, db time.Duration
	total := *dur * time.Duration(*rounds)
	for k := 0; da < total || db < total; k++ {
		fn, n, d := a, &na, &da
		if k%2 == 1 {
			fn, n, d = b, &nb, &db
		}
		cnt, took, err := burst(c, slice, fn)
		if err != nil {
			return 0, 0, err
		}
		*n += cnt
		*d += took
	}
	return float64(na) / da.Seconds(), float64(nb) / db.Seconds(), nil
}

func copyExecutable(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func fetch(req *http.Request, wantStatus int) error {
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != wantStatus {
		return fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
	}
	return nil
}

func smallFiles(ctx context.Context, g, other, bp *gw, f *fixture, direct *blob.S3, rep *report) error {
	size := int64(*smallKiB) << 10
	fmt.Printf("small files: %d × %d KiB, concurrency 16\n", *small, *smallKiB)
	// Every file of every round has its own content: a re-upload of bytes
	// the gateway already holds costs MinIO a PUT and a DELETE (the new
	// object is dropped for the stored one), which would compare a
	// different workload from round 2 on.
	body := func(round, i int) []byte {
		b := make([]byte, size)
		copy(b, block[i%len(block):])
		copy(b, fmt.Sprintf("%d-%d", round, i))
		return b
	}
	urlOn := func(host, prefix string, round, i int) string {
		return fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/small/1.0/%s%d-%d.bin", host, f.private, prefix, round, i%*small)
	}
	// uploadRate stores one round of files with put, 16 at a time, and
	// returns the files per second; httpPut is one file over HTTP, with a
	// deploy token when the other end asks for one.
	uploadRate := func(put func(i int) error) (float64, error) {
		t0 := time.Now()
		err := parallel(16, *small, put)
		return float64(*small) / time.Since(t0).Seconds(), err
	}
	httpPut := func(url string, seed, i int, token string) error {
		req, _ := http.NewRequest("PUT", url, bytes.NewReader(body(seed, i)))
		if token != "" {
			req.Header.Set("Deploy-Token", token)
		}
		return fetch(req, 201)
	}
	// gwUpload uploads one round of files through a gateway; gwDownload
	// fetches the first round's, as the gateway side named them.
	gwUpload := func(host, prefix string, round, seed int) (float64, error) {
		return uploadRate(func(i int) error { return httpPut(urlOn(host, prefix, round, i), seed, i, f.write) })
	}
	gwDownload := func(host string) (float64, error) {
		return rate(16, func(i int) error {
			req, _ := http.NewRequest("GET", urlOn(host, "f", 1, i), nil)
			req.Header.Set("Deploy-Token", f.read)
			return fetch(req, 200)
		})
	}
	// Uploads: the same files both ways, under new names every round.
	var gwRound, dRound int
	gwPut := func() (float64, error) {
		gwRound++
		return gwUpload(g.url, "f", gwRound, gwRound)
	}
	directPut := func() (float64, error) {
		dRound++
		if other != nil {
			// Names of their own: a second upload of a name is another workload.
			return gwUpload(other.url, "o", dRound, 1000+dRound)
		}
		return uploadRate(func(i int) error {
			_, err := direct.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(direct.Bucket()),
				Key: aws.String(fmt.Sprintf("direct/small/f%d-%d.bin", dRound, i)), Body: bytes.NewReader(body(dRound, i)), ContentLength: aws.Int64(size)})
			return err
		})
	}
	// The bare proxy stores each file with one signed PUT, as the gateway
	// does: what a second hop costs a small upload before any of the
	// gateway's own work (token, statement, digests).
	var barePut func() (float64, error)
	if bp != nil {
		var bRound int
		barePut = func() (float64, error) {
			bRound++
			return uploadRate(func(i int) error {
				return httpPut(fmt.Sprintf("%s/bare/small/f%d-%d.bin", bp.url, bRound, i), 2000+bRound, i, "")
			})
		}
	}
	names, sides := caseSides(directPut, gwPut, barePut)
	up, err := alternateSides("small uploads", "req/s", true, names, sides...)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("small files upload (%d KiB, c=16)", *smallKiB)
	rep.add(up.pair(1, 0).row(what, "req/s", 0))
	if bp != nil {
		rep.addBare(what, "req/s", up)
	}

	// Downloads: the first round's files.
	down, err := alternate("small downloads", "req/s", false, func() (float64, error) {
		if other != nil {
			return gwDownload(other.url)
		}
		return rate(16, func(i int) error {
			out, err := direct.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(direct.Bucket()), Key: aws.String(fmt.Sprintf("direct/small/f1-%d.bin", i%*small))})
			if err != nil {
				return err
			}
			io.Copy(io.Discard, out.Body)
			return out.Body.Close()
		})
	}, func() (float64, error) { return gwDownload(g.url) })
	if err != nil {
		return err
	}
	rep.add(down.row(fmt.Sprintf("small files download (%d KiB, c=16)", *smallKiB), "req/s", 0.8))
	return nil
}

func parallel(c, n int, fn func(i int) error) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return e.(error)
	}
	return nil
}

// authCost compares a token-authenticated download from a private project
// with an anonymous one from a public project (same 64 KiB file).
func authCost(g *gw, f *fixture, rep *report) error {
	fmt.Println("authentication cost: 64 KiB downloads, c=16")
	data := block[:64<<10]
	for _, p := range []int64{f.private, f.public} {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/auth/1.0/f.bin", g.url, p), bytes.NewReader(data))
		req.Header.Set("Deploy-Token", f.write)
		if err := fetch(req, 201); err != nil {
			return err
		}
	}
	c0 := cpuNow()
	public, authed, err := interleaved(16, func(int) error {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/auth/1.0/f.bin", g.url, f.public), nil)
		return fetch(req, 200)
	}, func(int) error {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/auth/1.0/f.bin", g.url, f.private), nil)
		req.Header.Set("Deploy-Token", f.read)
		return fetch(req, 200)
	})
	if err != nil {
		return err
	}
	fmt.Printf("    both kinds: %v\n", cpuNow().since(c0))
	rep.add(row{name: "authenticated vs public download (req/s)", gateway: authed, direct: public, unit: "req/s", target: 0.95,
		note: "(direct = anonymous public download)"})
	return nil
}
