package e2e

// Fault-injection tests (issue 4): carbon restarts, a collector killed
// with SIGKILL, a misbehaving vendor API and a full spool. Each runs the
// real code paths (app.Main in process, or the built binary) against the
// simulator's Fastly stand-in and a real carbon-cache + graphite-web, and
// compares what graphite-web renders with what the traffic model served
// (the Fastly factory's Expect). Only Fastly is used: one vendor is enough
// to exercise the sink, the scheduler and httpx, and it keeps each test to
// a few hundred whisper files.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// faultPrefix is the Graphite prefix of these tests: graphitetest gives
// cdn.* short retentions (10s:1d,1m:7d), a quarter of the disk per metric.
const faultPrefix = "cdn"

// faultModel is the default traffic model cut to its first n services.
func faultModel(seed int64, n int) *traffic.Model {
	m := traffic.Default(seed)
	m.Services = append([]traffic.Service(nil), m.Services[:n]...)
	return m
}

// faultSim serves the model's Fastly stand-in behind wrap (nil: none) on a
// loopback httptest server.
func faultSim(t *testing.T, m *traffic.Model, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	h, names := simulate.Handler(simulate.Options{Model: m, Only: []string{"fastly"}})
	if len(names) != 1 {
		t.Fatalf("simulator serves %v, want fastly", names)
	}
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// faultConfig writes a config with only the Fastly collector (see
// fastlyConfig). spoolMax 0 keeps the default spool (256 MiB).
func faultConfig(t *testing.T, dir, simURL, carbon string, m *traffic.Model, spoolMax int64) string {
	graphite := ""
	if spoolMax > 0 {
		graphite = fmt.Sprintf("spool_max_bytes = %d\n", spoolMax)
	}
	return fastlyConfig(t, dir, simURL, carbon, m, graphite, "")
}

// fastlyConfig writes dir/config.toml with only the Fastly collector,
// pointed at the stand-in under simURL, listing the model's services and
// regions; graphite and fastly are further lines of those sections.
func fastlyConfig(t *testing.T, dir, simURL, carbon string, m *traffic.Model, graphite, fastly string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = %q\n[graphite]\naddress = %q\nprefix = %q\n%s", filepath.Join(dir, "state"), carbon, faultPrefix, graphite)
	regions := make([]string, 0, len(m.Regions()))
	for _, r := range m.Regions() {
		regions = append(regions, strconv.Quote(r))
	}
	fmt.Fprintf(&b, "[fastly]\napi_url = %q\nrt_url = %q\ntoken_env = %q\ndelay = \"3m\"\n%sregions = [%s]\n",
		simURL+"/fastly", simURL+"/fastly", collectors.SimSecretEnv, fastly, strings.Join(regions, ", "))
	for _, s := range m.Services {
		fmt.Fprintf(&b, "[[fastly.service]]\nid = %q\nname = %q\n", s.ID, s.Name)
	}
	return writeConfig(t, dir, b.String())
}

// fastlyWant is what Fastly's Expect says graphite-web must render for
// windows ws, as WaitValues wants it, with the number of points.
func fastlyWant(t *testing.T, m *traffic.Model, ws ...collectors.Window) (map[string]map[int64]float64, int) {
	t.Helper()
	f, ok := simulate.Lookup("fastly")
	if !ok || f.Expect == nil {
		t.Fatal("fastly has no Expect")
	}
	want := map[string]map[int64]float64{}
	n := 0
	for _, w := range ws {
		n += addPoints(t, want, faultPrefix, f.Expect(m, w))
	}
	return want, n
}

// collectRun is one in-process `cdnmetrics collect`.
type collectRun struct {
	code        int
	out, errOut string
	points      int // from the summary line
}

var summaryPoints = regexp.MustCompile(`(\d+) points in `)

func runCollect(cfg string, w collectors.Window, extra ...string) collectRun {
	var out, errb bytes.Buffer
	args := append([]string{"collect", "--config", cfg, "--collector", "fastly",
		"--from", strconv.FormatInt(w.Start.Unix(), 10), "--to", strconv.FormatInt(w.End.Unix(), 10)}, extra...)
	code := app.Main(context.Background(), args, app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	r := collectRun{code: code, out: out.String(), errOut: errb.String()}
	summary := r.out
	if !strings.Contains(summary, "collect:") {
		summary = r.errOut // dry runs print the summary on stderr
	}
	if m := summaryPoints.FindStringSubmatch(summary); m != nil {
		r.points, _ = strconv.Atoi(m[1])
	}
	return r
}

// countLines counts log lines containing msg and sums their key=N field.
func countLines(log, msg, key string) (lines, sum int) {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `=(\d+)`)
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, msg) {
			continue
		}
		lines++
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			sum += n
		}
	}
	return lines, sum
}

// grepLines returns the lines of log that contain s.
func grepLines(log, s string) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// spoolLines counts the segment files in dir and (roughly: a frame
// header may hold a newline byte) the lines in them.
func spoolLines(dir string) (segs, lines int) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			lines += bytes.Count(b, []byte{'\n'}) - 1 // the magic ends in one
		}
	}
	return len(files), lines
}

// pastHour is the start of the hour h hours before now's hour: past every
// lag, inside whisper's first archive (10 s for a day).
func pastHour(h int) time.Time {
	return time.Now().Truncate(time.Hour).Add(-time.Duration(h) * time.Hour)
}

// carbonConns counts the established TCP connections to 127.0.0.1:port
// (the client ends, from /proc/net/tcp).
func carbonConns(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 3 && f[2] == want && f[3] == "01" {
			n++
		}
	}
	return n
}

// TestFaultCarbonRestartedDuringRun restarts carbon-cache three times while
// one-shot `collect` runs follow each other over consecutive windows, then
// checks that every point the collector emitted is rendered by
// graphite-web and that the last run left the spool empty.
//
// A collect run asks the vendor for about a second and then emits its
// batches at once, so the restarts are placed by what the runs do:
//   - restarts 1 and 3 begin while a run holds a connection to carbon (it
//     emitted, and its Close keeps the connection open until the writes
//     are settled): carbon closes it and may lose what it received in the
//     last second before the SIGTERM (GRAPHITE.md §5), so the sink must
//     notice and re-send or spool the recent writes;
//   - restart 2 begins in the middle of a run's vendor requests: the run
//     emits while carbon is down, so its points are retried, then spooled,
//     and a later run replays them.
//
// The test fails if a restart did not find what it should (an open
// connection noticed as closed, a run that found carbon away).
func TestFaultCarbonRestartedDuringRun(t *testing.T) {
	g := graphitetest.Start(t)
	_, portS, _ := strings.Cut(g.CarbonAddr, ":")
	carbonPort, err := strconv.Atoi(portS)
	if err != nil {
		t.Fatalf("carbon address %q", g.CarbonAddr)
	}
	m := faultModel(11, 3)
	var stats atomic.Int64
	// 60 ms per stats request: a collect run (3 services × 5 requests)
	// spends about a second asking before it emits.
	sim := faultSim(t, m, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/stats/service/") {
				stats.Add(1)
				time.Sleep(60 * time.Millisecond) // simulated vendor latency
			}
			h.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 0)

	const step = 5 * time.Minute
	const maxWindows = 20 // 100 min from base: still hours in the past
	base := pastHour(4)
	var (
		mu       sync.Mutex
		runs     []collectRun
		windows  []collectors.Window
		finished = make(chan struct{})
		restarts atomic.Bool // set once the 3 restarts are done
	)
	go func() {
		defer close(finished)
		after := 0
		for i := 0; i < maxWindows && after < 2; i++ {
			if restarts.Load() {
				after++ // two more runs with carbon up: they replay the spool
			}
			w := collectors.Window{Start: base.Add(time.Duration(i) * step), End: base.Add(time.Duration(i+1) * step)}
			r := runCollect(cfg, w)
			mu.Lock()
			runs, windows = append(runs, r), append(windows, w)
			mu.Unlock()
		}
	}()
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d stats requests so far)", what, stats.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A run makes 15 stats requests (no vendor faults here), so run r
	// makes requests 15r+1 … 15r+15.
	const perRun = 15
	nextRun := func() int64 { return (stats.Load()/perRun + 1) * perRun }
	for k := 0; k < 3; k++ {
		what := "a run connected to carbon"
		if k == 1 {
			// The middle of the next run's requests, with no connection
			// open: that run will emit into the restart.
			what = "a run in the middle of its vendor requests"
			target := nextRun() + perRun/2
			waitUntil(what, func() bool { return stats.Load() >= target && carbonConns(t, carbonPort) == 0 })
		} else {
			// The next run done asking (a later run than the last
			// restart's), then its connection.
			target := nextRun()
			if k == 0 {
				target = perRun
			}
			waitUntil(what, func() bool { return stats.Load() >= target && carbonConns(t, carbonPort) > 0 })
		}
		t0, at := time.Now(), stats.Load()
		g.RestartCarbon(t)
		t.Logf("carbon restart %d (%s, stats request %d) took %.1fs", k+1, what, at, time.Since(t0).Seconds())
	}
	restarts.Store(true)
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("collect loop did not finish within 60s")
	}

	mu.Lock()
	defer mu.Unlock()
	emitted := 0
	var logs strings.Builder
	for i, r := range runs {
		if r.code != 0 {
			t.Errorf("collect %v: exit %d\n%s\n%s", windows[i], r.code, r.out, r.errOut)
		}
		emitted += r.points
		logs.WriteString(r.errOut)
	}
	want, n := fastlyWant(t, m, windows...)
	found, missing := g.WaitValues(t, want, 30*time.Second)
	disc, resent := countLines(logs.String(), "graphite disconnected", "resend_points")
	refused, _ := countLines(logs.String(), "graphite reconnect scheduled", "")
	spoolRuns, _ := countLines(logs.String(), "graphite carbon unavailable: spooling", "")
	replays, replayed := countLines(logs.String(), "graphite spool replayed", "points")
	segs, lines := spoolLines(filepath.Join(dir, "state", "spool"))
	t.Logf("%d collect runs (%d-minute windows), 3 carbon restarts: %d points emitted, %d expected, %d found, %d missing",
		len(runs), int(step.Minutes()), emitted, n, found, missing)
	t.Logf("sink logs: %d disconnects noticed (%d points queued for re-send), %d failed connects/writes, %d runs spooled, %d replays (%d points); spool left: %d segments",
		disc, resent, refused, spoolRuns, replays, replayed, segs)
	for i, r := range runs {
		t.Logf("run %d: %s", i, strings.TrimSpace(r.out))
	}
	if emitted != n {
		t.Errorf("collect runs emitted %d points, Expect says %d", emitted, n)
	}
	if missing != 0 || found != emitted {
		// Which window and service lost points (one short poll each).
		for i, w := range windows {
			for _, svc := range m.Services {
				sub := map[string]map[int64]float64{}
				ww, _ := fastlyWant(t, m, w)
				for p, vs := range ww {
					if strings.HasPrefix(p, faultPrefix+".fastly."+svc.Name+".") {
						sub[p] = vs
					}
				}
				if f, miss := g.WaitValues(t, sub, 100*time.Millisecond); miss > 0 {
					t.Logf("window %d %v service %s: %d found, %d missing", i, w, svc.Name, f, miss)
				}
			}
		}
		t.Fatalf("points emitted %d != points found %d (%d missing); spool left: %d segments, ~%d lines; sink log:\n%s",
			emitted, found, missing, segs, lines, grepLines(logs.String(), "graphite"))
	}
	// The restarts did what they were placed for. Restarts 1 and 3 are
	// placed while a run holds a connection (usually 2 disconnects are
	// noticed), but under load the run may finish its settle and close
	// before SIGTERM lands: at least one must be noticed.
	if disc < 1 {
		t.Errorf("%d disconnects noticed, want at least 1 (restarts 1 and 3 were placed on an open connection); sink log:\n%s",
			disc, grepLines(logs.String(), "graphite"))
	}
	if refused == 0 || spoolRuns+resent == 0 {
		t.Errorf("no run found carbon away (%d failed connects/writes, %d spooled runs, %d points re-sent): the restarts tested nothing",
			refused, spoolRuns, resent)
	}
	if segs != 0 {
		t.Errorf("the last runs, with carbon up, left %d spool segments (~%d lines)", segs, lines)
	}
}

// TestFaultCollectorKilledAndRestarted runs the built binary's `backfill`
// over three 6-hour chunks, kills it with SIGKILL in the middle of the
// second chunk (after one service's batch of that chunk was emitted and
// while the next service's request hangs), runs the same command again,
// and checks that no interval of any series is missing.
func TestFaultCollectorKilledAndRestarted(t *testing.T) {
	g := graphitetest.Start(t)
	bin := filepath.Join(t.TempDir(), "cdnmetrics")
	bctx, bcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer bcancel()
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, "github.com/cdnmetrics/cdnmetrics/cmd/cdnmetrics").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	m := faultModel(12, 2)
	// Backfill chunks are Fastly's MaxWindow (6 h): [from, +6h), [+6h,
	// +12h), [+12h, +12h30m).
	to := pastHour(2)
	from := to.Add(-12*time.Hour - 30*time.Minute)
	chunk2 := from.Add(6 * time.Hour)
	hold := m.Services[1].ID // the second service's chunk-2 requests hang
	var (
		held    = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	sim := faultSim(t, m, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/stats/service/"+hold) && r.URL.Query().Get("from") == strconv.FormatInt(chunk2.Unix(), 10) {
				select {
				case <-release:
				default:
					once.Do(func() { close(held) })
					select {
					case <-release:
					case <-r.Context().Done():
						return // the client died
					case <-time.After(2 * time.Minute):
					}
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 0)
	args := []string{"backfill", "--config", cfg, "--collector", "fastly",
		"--from", strconv.FormatInt(from.Unix(), 10), "--to", strconv.FormatInt(to.Unix(), 10)}
	env := append(os.Environ(), collectors.SimSecretEnv+"="+collectors.SimSecret)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out1, err1 bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out1, &err1
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("backfill never reached chunk 2 of %s\n%s\n%s", hold, out1.String(), err1.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	close(release)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first backfill was not killed by SIGKILL: %v\n%s", werr, err1.String())
	}
	t.Logf("first backfill killed with SIGKILL after %.1fs, inside chunk 2", time.Since(t0).Seconds())
	if !strings.Contains(err1.String(), "chunk=1/3") || strings.Contains(err1.String(), "chunk=2/3") {
		t.Fatalf("first backfill should have finished chunk 1 only:\n%s", err1.String())
	}

	var out2, err2 bytes.Buffer
	cmd2 := exec.CommandContext(ctx, bin, args...)
	cmd2.Env, cmd2.Stdout, cmd2.Stderr = env, &out2, &err2
	t1 := time.Now()
	if err := cmd2.Run(); err != nil {
		t.Fatalf("second backfill: %v\n%s\n%s", err, out2.String(), err2.String())
	}
	t.Logf("second backfill took %.1fs: %s", time.Since(t1).Seconds(), strings.TrimSpace(out2.String()))
	// It resumed at chunk 2 instead of starting over: the progress saved
	// after chunk 1 survived the kill.
	resumed := `done_until=` + chunk2.UTC().Format(time.RFC3339)
	if !strings.Contains(err2.String(), "resuming backfill") || !strings.Contains(err2.String(), resumed) {
		t.Errorf("second backfill did not resume at %s:\n%s", chunk2.UTC().Format(time.RFC3339), err2.String())
	}
	if !strings.Contains(out2.String(), "fastly done: 2 chunk(s)") {
		t.Errorf("second backfill summary: %q, want 2 chunks", out2.String())
	}

	want, n := fastlyWant(t, m, collectors.Window{Start: from, End: to})
	found, missing := g.WaitValues(t, want, 90*time.Second)
	series, minutes := len(want), int(to.Sub(from).Minutes())
	t.Logf("%d series × %d minutes = %d points expected, %d found, %d missing", series, minutes, n, found, missing)
	if n != series*minutes {
		t.Fatalf("expected points %d != %d series × %d minutes", n, series, minutes)
	}
	if missing != 0 {
		t.Fatalf("%d of %d intervals missing after kill -9 and restart", missing, n)
	}
}

// faultProxy answers the first stats requests of the Fastly stand-in with
// the faults in plan, in order, and passes everything else through. It
// logs when each request arrived and how each fault ended.
type faultProxy struct {
	next http.Handler
	plan []string

	mu   sync.Mutex
	seen []faultHit
}

type faultHit struct {
	fault     string
	uri       string
	at        time.Time // request arrived
	done      time.Time // answer sent, or the client gave up (stall)
	abandoned bool      // stall: the client hung up first
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/stats/service/") {
		p.next.ServeHTTP(w, r)
		return
	}
	hit := faultHit{fault: "pass", uri: r.URL.RequestURI(), at: time.Now()}
	p.mu.Lock()
	if i := len(p.seen); i < len(p.plan) {
		hit.fault = p.plan[i]
	}
	p.seen = append(p.seen, hit)
	idx := len(p.seen) - 1
	p.mu.Unlock()
	switch hit.fault {
	case "429":
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"msg":"Too many requests"}`)
	case "500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"msg":"Internal Server Error"}`)
	case "stall":
		// No answer: the client's per-attempt timeout must give up.
		select {
		case <-r.Context().Done():
			hit.abandoned = true
		case <-time.After(20 * time.Second):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	case "502-html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1>\x00\xff</body></html>")
	case "truncated":
		// Promises 4000 bytes and sends 20: the client reads an
		// unexpected EOF.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "4000")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"data":[{"start_tim`)
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "\x00\x1f\x8bnot json at all {{{")
	default:
		p.next.ServeHTTP(w, r)
	}
	p.mu.Lock()
	p.seen[idx].done, p.seen[idx].abandoned = time.Now(), hit.abandoned
	p.mu.Unlock()
}

// TestFaultVendorErrorsRetried puts faults in front of the Fastly stand-in:
// the first stats request gets 429 with Retry-After: 1, then 500, then no
// answer (timeout), then a 502 HTML page; it succeeds at the fifth attempt
// (httpx allows four retries). The next request gets a truncated body
// (retried) and then a 200 with garbage, which no retry can fix: that
// region of that service fails with an error naming vendor and endpoint,
// everything else is kept, and the next run (as the daemon's next tick or
// cron would) fills the gap. Checks every interval is in Graphite and that
// the Retry-After wait was honoured.
func TestFaultVendorErrorsRetried(t *testing.T) {
	g := graphitetest.Start(t)
	// The Fastly collector's per-attempt timeout is httpx's 30 s and not
	// configurable; its HTTP client is a clone of http.DefaultTransport, so
	// a response-header timeout set there shortens the stall to 3 s.
	dt := http.DefaultTransport.(*http.Transport)
	old := dt.ResponseHeaderTimeout
	dt.ResponseHeaderTimeout = 3 * time.Second
	t.Cleanup(func() { dt.ResponseHeaderTimeout = old })

	m := faultModel(13, 3)
	proxy := &faultProxy{plan: []string{"429", "500", "stall", "502-html", "pass", "truncated", "garbage"}}
	sim := faultSim(t, m, func(h http.Handler) http.Handler { proxy.next = h; return proxy })
	dir := t.TempDir()
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 0)
	end := pastHour(2)
	w := collectors.Window{Start: end.Add(-15 * time.Minute), End: end}

	t0 := time.Now()
	r1 := runCollect(cfg, w)
	el1 := time.Since(t0)
	proxy.mu.Lock()
	hits := append([]faultHit(nil), proxy.seen...)
	proxy.mu.Unlock()
	for i, h := range hits[:min(len(hits), len(proxy.plan))] {
		t.Logf("stats request %d: %-9s %s (answered after %v)", i+1, h.fault, h.uri, h.done.Sub(h.at).Round(time.Millisecond))
	}
	if len(hits) < len(proxy.plan) {
		t.Fatalf("only %d stats requests reached the stand-in\n%s", len(hits), r1.errOut)
	}
	// The first five attempts are one request (www, all regions).
	for i := 1; i < 5; i++ {
		if hits[i].uri != hits[0].uri {
			t.Errorf("attempt %d went to %s, want a retry of %s", i+1, hits[i].uri, hits[0].uri)
		}
	}
	if hits[6].uri != hits[5].uri || hits[5].uri == hits[0].uri {
		t.Errorf("requests 6 and 7 should be one retried request after the first: %s, %s", hits[5].uri, hits[6].uri)
	}
	// Retry-After: 1 honoured: the retry came at least 1 s after the 429.
	gap := hits[1].at.Sub(hits[0].done)
	t.Logf("retry after 429 (Retry-After: 1) came %v later", gap.Round(time.Millisecond))
	if gap < time.Second {
		t.Errorf("retry %v after a 429 with Retry-After: 1", gap)
	}
	stall := hits[2].done.Sub(hits[2].at)
	t.Logf("stalled request abandoned by the client after %v (abandoned=%v)", stall.Round(time.Millisecond), hits[2].abandoned)
	if !hits[2].abandoned || stall < 3*time.Second-100*time.Millisecond || stall > 10*time.Second {
		t.Errorf("stall: abandoned=%v after %v, want the client to time out after ~3s", hits[2].abandoned, stall)
	}

	want, n := fastlyWant(t, m, w)
	// What the garbage answer cost: www's europe region, nothing else.
	lost := faultPrefix + ".fastly.www.europe."
	if !strings.Contains(hits[6].uri, "region=europe") || !strings.Contains(hits[6].uri, m.Services[0].ID) {
		t.Fatalf("the garbage answer hit %s, not www/europe: the fault plan no longer matches the collector's request order", hits[6].uri)
	}
	kept := map[string]map[int64]float64{}
	nKept := 0
	for p, vs := range want {
		if !strings.HasPrefix(p, lost) {
			kept[p] = vs
			nKept += len(vs)
		}
	}
	t.Logf("run 1: exit %d in %.1fs, %d points emitted: %s", r1.code, el1.Seconds(), r1.points, strings.TrimSpace(r1.out))
	if r1.code != 1 {
		t.Errorf("run 1 exit %d, want 1 (one region answered garbage)", r1.code)
	}
	for _, s := range []string{"fastly FAILED", "GET /stats/service", `region "europe"`, "decode"} {
		if !strings.Contains(r1.out, s) {
			t.Errorf("run 1 summary does not say %q: %s", s, r1.out)
		}
	}
	if strings.Contains(r1.out+r1.errOut, collectors.SimSecret) {
		t.Errorf("the credential appears in the output")
	}
	if r1.points != nKept {
		t.Errorf("run 1 emitted %d points, want %d (all but www/europe)", r1.points, nKept)
	}
	found1, missing1 := g.WaitValues(t, kept, 30*time.Second)
	t.Logf("run 1: %d of %d points kept in Graphite (%d missing); www/europe's %d to come", found1, nKept, missing1, n-nKept)
	if missing1 != 0 {
		t.Errorf("run 1 lost %d points besides the failed region", missing1)
	}

	t1 := time.Now()
	r2 := runCollect(cfg, w)
	t.Logf("run 2: exit %d in %.1fs: %s", r2.code, time.Since(t1).Seconds(), strings.TrimSpace(r2.out))
	if r2.code != 0 {
		t.Fatalf("run 2 exit %d\n%s\n%s", r2.code, r2.out, r2.errOut)
	}
	found, missing := g.WaitValues(t, want, 30*time.Second)
	t.Logf("after run 2: %d points expected, %d found, %d missing", n, found, missing)
	if missing != 0 {
		t.Fatalf("%d of %d points missing after the faults", missing, n)
	}
	retries, _ := countLines(r1.errOut, "retrying vendor request", "")
	t.Logf("run 1 logged %d retries", retries)
	if retries != 5 {
		t.Errorf("run 1 logged %d retries, want 5 (4 for the first request, 1 for the truncated body)", retries)
	}
}

// dryLine is one plaintext line of a dry run, in sending order.
type dryLine struct {
	path string
	ts   int64
	v    float64
}

func parseDryRun(t *testing.T, out string) []dryLine {
	t.Helper()
	var ls []dryLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("dry run line %q", sc.Text())
		}
		v, err1 := strconv.ParseFloat(f[1], 64)
		ts, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("dry run line %q", sc.Text())
		}
		ls = append(ls, dryLine{f[0], ts, v})
	}
	return ls
}

func wantOf(ls []dryLine) map[string]map[int64]float64 {
	w := map[string]map[int64]float64{}
	for _, l := range ls {
		if w[l.path] == nil {
			w[l.path] = map[int64]float64{}
		}
		w[l.path][l.ts] = l.v
	}
	return w
}

// TestFaultSpoolFullDropsOldest stops carbon, runs collect with a spool
// of 200 000 bytes (too small for the window's points), starts carbon and
// lets the next collect (with a larger spool) replay the spool. The sending order comes from a
// dry run of the same window. Checks: the dropped points are exactly the
// oldest (a prefix of the sending order) and none of them is in Graphite,
// every newer point is, and the dropped count the sink logged equals
// expected − found.
func TestFaultSpoolFullDropsOldest(t *testing.T) {
	g := graphitetest.Start(t)
	m := faultModel(14, 3)
	sim := faultSim(t, m, nil)
	dir := t.TempDir()
	const spoolMax = 200000
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, spoolMax)
	end := pastHour(3)
	w1 := collectors.Window{Start: end.Add(-30 * time.Minute), End: end}
	w2 := collectors.Window{Start: end, End: end.Add(5 * time.Minute)}

	dry := runCollect(cfg, w1, "--dry-run")
	if dry.code != 0 {
		t.Fatalf("dry run exit %d: %s", dry.code, dry.errOut)
	}
	order := parseDryRun(t, dry.out)
	want1, n1 := fastlyWant(t, m, w1)
	if len(order) != n1 {
		t.Fatalf("dry run printed %d lines, Expect says %d points", len(order), n1)
	}
	seen := map[string]bool{}
	for _, l := range order {
		k := l.path + "@" + strconv.FormatInt(l.ts, 10)
		if seen[k] || want1[l.path][l.ts] != l.v {
			t.Fatalf("dry run line %s %v: duplicate or not what Expect says", k, l.v)
		}
		seen[k] = true
	}

	g.StopCarbon(t)
	r1 := runCollect(cfg, w1)
	// Points were lost: the run says so in its exit code (issue 16 item 5).
	if r1.code != 1 {
		t.Fatalf("collect with carbon down and the spool overflowing: exit %d, want 1 (points dropped)\n%s\n%s", r1.code, r1.out, r1.errOut)
	}
	drops, dropped := countLines(r1.errOut, "graphite spool full: dropped oldest segment", "dropped_points")
	if want := fmt.Sprintf(", %d dropped (%d: spool full", dropped, dropped); !strings.Contains(r1.out, want) {
		t.Errorf("summary does not say %q:\n%s", want, r1.out)
	}
	t.Logf("carbon down: %d points emitted, spool max %d bytes: %d segments dropped, %d points dropped (logged)", r1.points, spoolMax, drops, dropped)
	if dropped <= 0 || dropped >= n1 {
		t.Fatalf("want some but not all points dropped, got %d of %d\n%s", dropped, n1, r1.errOut)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "state", "spool", "*.seg"))
	var spoolBytes int64
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil {
			spoolBytes += st.Size()
		}
	}
	t.Logf("spool after the outage: %d segments, %d bytes (max %d)", len(segs), spoolBytes, spoolMax)
	if spoolBytes > spoolMax {
		t.Errorf("spool holds %d bytes, more than spool_max_bytes %d", spoolBytes, spoolMax)
	}

	g.StartCarbon(t)
	// While the backlog replays, new points are spooled behind it (order
	// is kept), so with the same small limit the replay run's own points
	// would evict more of the backlog, a second round of drops that
	// depends on timing. A larger limit for the replay isolates the
	// outage's drops; the replay runs must log none.
	cfg = faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 1<<20)
	// A collect of the next window replays the spool: first while it
	// runs, then in Close (carbon is up), so one run should empty it;
	// more runs of the same window (harmless re-sends) are allowed.
	runs := 0
	var replayLog strings.Builder
	for ; runs < 5; runs++ {
		r := runCollect(cfg, w2)
		replayLog.WriteString(r.errOut)
		if r.code != 0 {
			t.Fatalf("collect after carbon restart: exit %d\n%s\n%s", r.code, r.out, r.errOut)
		}
		if segs, _ := filepath.Glob(filepath.Join(dir, "state", "spool", "*.seg")); len(segs) == 0 {
			runs++
			break
		}
	}
	_, replayed := countLines(replayLog.String(), "graphite spool replayed", "points")
	if n, d := countLines(replayLog.String(), "graphite spool full", "dropped_points"); n != 0 {
		t.Errorf("the replay runs dropped %d more segments (%d points)", n, d)
	}
	t.Logf("carbon up: %d collect run(s) of the next window until the spool was empty; %d points replayed (logged)", runs, replayed)
	if segs, _ := filepath.Glob(filepath.Join(dir, "state", "spool", "*.seg")); len(segs) != 0 {
		t.Fatalf("spool still holds %d segments after %d runs with carbon up", len(segs), runs)
	}

	// The newest points, all of them, are in Graphite.
	newer := order[dropped:]
	foundNew, missingNew := g.WaitValues(t, wantOf(newer), 60*time.Second)
	// The next window's own points too.
	want2, n2 := fastlyWant(t, m, w2)
	found2, missing2 := g.WaitValues(t, want2, 30*time.Second)
	// The oldest, dropped ones are not: carbon never saw them.
	foundOld, _ := g.WaitValues(t, wantOf(order[:dropped]), time.Second)
	found := foundNew + foundOld
	t.Logf("window 1: %d points expected, %d found (newest %d of %d, oldest %d of %d dropped ones), expected − found = %d, dropped counter %d",
		n1, found, foundNew, len(newer), foundOld, dropped, n1-found, dropped)
	t.Logf("window 2: %d of %d found", found2, n2)
	if missingNew != 0 {
		t.Errorf("%d of the %d newest points are missing; sink log of the outage:\n%s\nof the replay:\n%s", missingNew, len(newer),
			grepLines(r1.errOut, "graphite"), grepLines(replayLog.String(), "graphite"))
	}
	if foundOld != 0 {
		t.Errorf("%d of the %d dropped (oldest) points are in Graphite", foundOld, dropped)
	}
	if n1-found != dropped {
		t.Errorf("expected − found = %d, but the sink logged %d dropped points", n1-found, dropped)
	}
	if missing2 != 0 {
		t.Errorf("%d of %d points of the next window missing", missing2, n2)
	}
}
