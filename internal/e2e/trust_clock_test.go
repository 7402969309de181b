package e2e

// Issue 16 item 1, "poisoned clock": no vendor time is trusted beyond our
// own clock. One Fastly real-time answer stamped in the year 2100 must not
// stop Fastly collection, stamp points in the future, or drag the
// checkpoint there; a checkpoint found in the future is reset. Through a
// real carbon-cache and graphite-web.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudflare/cloudflaresim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// year2100 is 2100-01-01T00:00:00Z.
const year2100 = 4102444800

// tapLines stops tp accepting, waits (bounded) for its connections to end
// and returns every plaintext line that passed through.
func tapLines(t *testing.T, tp *tap) []string {
	t.Helper()
	tp.ln.Close()
	done := make(chan struct{})
	go func() { tp.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("tap: a carbon connection is still open 10 s after the run ended")
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(tp.lines.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// futureLines returns the lines stamped after limit.
func futureLines(t *testing.T, lines []string, limit time.Time) []string {
	t.Helper()
	var bad []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Errorf("tap: malformed plaintext line %q", l)
			continue
		}
		ts, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Errorf("tap: line %q: bad timestamp", l)
			continue
		}
		if ts > limit.Unix() {
			bad = append(bad, l)
		}
	}
	return bad
}

// TestTrustClockFastlyAnswerFrom2100 runs `cdnmetrics run` against the
// Fastly stand-in (10 s real-time buckets, two services) and poisons the
// first real-time answer of the first service: its Timestamp (Fastly's
// "now", passed back as the next ts) and one extra second's recorded time
// are in the year 2100. Before the fix that second became the
// subscription's first bucket, so every later bucket was "incomplete; not
// emitted", and the next poll asked for data after 2100, so the service
// got none ever again.
//
// Wanted: every later whole bucket of both services is in graphite-web,
// nothing written to carbon is stamped after the run, the checkpoint is
// not after now, and the collector's rejected_future self-metric counts the
// two rejected times (the second and the Timestamp), with one warning.
//
// Then, with the checkpoint set to 2100 by hand (as an older build left
// it), `collect` must reset it to now minus the look-back with a warning,
// collect a window (not "0 windows") and count the reset.
func TestTrustClockFastlyAnswerFrom2100(t *testing.T) {
	g := graphitetest.Start(t)
	tp := startTap(t, g.CarbonAddr)
	const res = 10 * time.Second
	m := faultModel(16, 2)
	poisonID := m.Services[0].ID

	var (
		mu       sync.Mutex
		firstRT  = map[string]time.Time{}
		poisoned atomic.Int64 // poisoned answers served
	)
	sim := faultSim(t, m, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			if !strings.Contains(p, "/v1/channel/") {
				h.ServeHTTP(w, r)
				return
			}
			id := strings.Split(strings.SplitAfter(p, "/v1/channel/")[1], "/")[0]
			mu.Lock()
			if _, ok := firstRT[id]; !ok {
				firstRT[id] = time.Now()
			}
			mu.Unlock()
			if id != poisonID || !poisoned.CompareAndSwap(0, 1) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Errorf("stand-in answer: %v", err)
				h.ServeHTTP(w, r)
				return
			}
			data, _ := body["Data"].([]any)
			future := map[string]any{
				"datacenter": map[string]any{m.POPs[0].Code: map[string]any{"requests": 7}},
				"aggregated": map[string]any{"requests": 7},
				"recorded":   year2100,
			}
			body["Data"] = append([]any{future}, data...)
			body["Timestamp"] = year2100 + 30
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	})
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, sim.URL, tp.addr, m, res)

	var stdout, stderr collectorstest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	exit := make(chan int, 1)
	go func() {
		exit <- app.Main(ctx, []string{"run", "--config", cfg}, app.IO{Stdout: &stdout, Stderr: &stderr, Getenv: simGetenv})
	}()
	waitUntil := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(limit); !cond(); {
			select {
			case code := <-exit:
				t.Fatalf("daemon exited (%d) while waiting for %s\n%s", code, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s\n%s", limit, what, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil("every service subscribed and the poisoned answer served", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(firstRT) == len(m.Services) && poisoned.Load() == 1
	})
	mu.Lock()
	var subscribed time.Time // the last subscription
	for _, at := range firstRT {
		if at.After(subscribed) {
			subscribed = at
		}
	}
	mu.Unlock()
	rtFrom := subscribed.Add(res - time.Nanosecond).Truncate(res) // the first bucket start after it
	const minBuckets = 4
	notBefore := rtFrom.Add(minBuckets*res + rtAggDelay + rtGrace + time.Second)
	// Stop mid-bucket, so the last self-metric tick follows the last write.
	waitUntil("the stop moment (mid-bucket)", 90*time.Second, func() bool {
		now := time.Now()
		ph := sincePass(now, res)
		return !now.Before(notBefore) && ph >= res/2-150*time.Millisecond && ph < res/2+150*time.Millisecond
	})
	stopped := time.Now()
	cancel()
	var code int
	select {
	case code = <-exit:
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon did not exit within 60s of the stop\n%s", stderr.String())
	}
	exited := time.Now()
	logs := stderr.String()
	if code != 0 {
		t.Fatalf("daemon exit %d\n%s", code, logs)
	}

	// Every whole real-time bucket of both services after the last
	// subscription, to the last one due before the stop.
	want := map[string]map[int64]float64{}
	rtTo := stopped.Add(-rtAggDelay - rtGrace - time.Second).Truncate(res)
	nRT, buckets := rtWant(t, want, m, rtFrom, rtTo, res)
	found, missing := g.WaitValues(t, want, 30*time.Second)
	rejected, rejectedOK := maxRendered(g, faultPrefix+".cdnmetrics.collector.fastly.rejected_future", started.Unix()-10, time.Now().Unix()+10)
	warnings, _ := countLines(logs, "fastly real-time times ahead of our clock rejected", "")
	incomplete, _ := countLines(logs, "incomplete; not emitted", "")
	t.Logf("daemon ran %.1fs; real-time %d buckets × %d services [%s, %s): %d points expected, %d found, %d missing; rejected_future %v (in Graphite: %v); %d warning(s), %d incomplete-bucket notes",
		exited.Sub(started).Seconds(), buckets, len(m.Services), rtFrom.UTC().Format("15:04:05"), rtTo.UTC().Format("15:04:05"),
		nRT, found, missing, rejected, rejectedOK, warnings, incomplete)

	if buckets < minBuckets {
		t.Errorf("only %d real-time buckets expected: the run was too short to test anything", buckets)
	}
	if missing != 0 {
		t.Errorf("%d of %d real-time points after the poisoned answer are not in graphite-web; log:\n%s", missing, nRT, grepLines(logs, "fastly"))
	}
	if !rejectedOK || rejected != 2 {
		t.Errorf("self-metric collector.fastly.rejected_future = %v (in Graphite: %v), want 2 (one second recorded in 2100, one Timestamp)", rejected, rejectedOK)
	}
	if warnings != 1 {
		t.Errorf("%d warnings about times ahead of our clock, want 1 (one per poisoned answer):\n%s", warnings, grepLines(logs, "ahead of our clock"))
	}
	if incomplete > len(m.Services) {
		t.Errorf("%d buckets reported incomplete, want at most one per service (the first after subscribing):\n%s", incomplete, grepLines(logs, "incomplete"))
	}
	store, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	cp, ok, err := store.Get("fastly")
	switch {
	case err != nil:
		t.Fatal(err)
	case !ok:
		t.Errorf("no fastly checkpoint after the run")
	case cp.End.After(exited):
		t.Errorf("checkpoint %s is after the end of the run %s", cp.End.UTC().Format(time.RFC3339), exited.UTC().Format(time.RFC3339))
	}

	// A checkpoint an older build moved to 2100: collect resets it.
	if err := store.Set("fastly", state.Checkpoint{End: time.Unix(year2100, 0).UTC(), Updated: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code = app.Main(context.Background(), []string{"collect", "--config", cfg, "--collector", "fastly"}, app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	collected := time.Now()
	t.Logf("collect after a checkpoint in 2100: exit %d: %s", code, strings.TrimSpace(out.String()))
	if code != 0 {
		t.Errorf("collect exit %d, want 0\n%s\n%s", code, out.String(), errb.String())
	}
	if mw := regexp.MustCompile(`fastly ok \((\d+) windows`).FindStringSubmatch(out.String()); mw == nil || mw[1] == "0" {
		t.Errorf("collect did not collect a window after the checkpoint reset: %q", out.String())
	}
	if n, _ := countLines(errb.String(), "checkpoint is in the future", ""); n != 1 {
		t.Errorf("%d warnings about the checkpoint in the future, want 1:\n%s", n, errb.String())
	}
	cp, _, err = store.Get("fastly")
	if err != nil {
		t.Fatal(err)
	}
	// Reset to now - look-back (5m) - delay (3m), then moved by the window collected.
	if cp.End.After(collected) || cp.End.Before(started.Add(-10*time.Minute)) {
		t.Errorf("checkpoint after collect is %s, want within [%s, %s]", cp.End.UTC().Format(time.RFC3339),
			started.Add(-10*time.Minute).UTC().Format(time.RFC3339), collected.UTC().Format(time.RFC3339))
	}
	resets, ok := maxRendered(g, faultPrefix+".cdnmetrics.collector.fastly.checkpoint_resets", started.Unix()-10, time.Now().Unix()+10)
	for deadline := time.Now().Add(10 * time.Second); (!ok || resets != 1) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		resets, ok = maxRendered(g, faultPrefix+".cdnmetrics.collector.fastly.checkpoint_resets", started.Unix()-10, time.Now().Unix()+10)
	}
	if !ok || resets != 1 {
		t.Errorf("self-metric collector.fastly.checkpoint_resets = %v (in Graphite: %v), want 1", resets, ok)
	}

	// Nothing the two runs wrote to carbon is stamped after they ended.
	lines := tapLines(t, tp)
	if bad := futureLines(t, lines, time.Now()); len(bad) > 0 {
		t.Errorf("%d of %d lines written to carbon are stamped in the future, e.g. %q", len(bad), len(lines), bad[0])
	}
}

// TestTrustClockCloudflareAheadOfOurs: a Cloudflare stand-in whose clock
// runs two hours ahead of ours serves minutes up to its own now. `collect`
// over a window reaching an hour past our now must write none of the
// minutes stamped more than clock_skew_tolerance (5m) ahead of our clock,
// must keep the others, and must say how many it rejected in one warning.
func TestTrustClockCloudflareAheadOfOurs(t *testing.T) {
	model := traffic.Default(0)
	ahead := func() time.Time { return time.Now().Add(2 * time.Hour) }
	h, _ := simulate.Handler(simulate.Options{Model: model, Only: []string{"cloudflare"}, Now: ahead, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sim := httptest.NewServer(h)
	defer sim.Close()
	dir := t.TempDir()
	section, err := cloudflaresim.Config(sim.URL+"/cloudflare", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\nprefix = \"e2ecf\"\n", filepath.Join(dir, "state"))+section)
	from := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	w := collectors.Window{Start: from, End: from.Add(90 * time.Minute)} // to an hour past now
	var out, errb bytes.Buffer
	before := time.Now()
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--dry-run", "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	after := time.Now()
	if code != 0 {
		t.Fatalf("collect exit %d\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if bad := futureLines(t, lines, after.Add(5*time.Minute)); len(bad) > 0 {
		t.Errorf("%d of %d points are stamped more than 5m ahead of our clock, e.g. %q", len(bad), len(lines), bad[0])
	}
	// What the stand-in serves, split at our clock + 5m (at the start and
	// at the end of the run: a minute may start between them).
	recs := cloudflaresim.Expect(model, w)
	future := func(now time.Time) (n int) {
		for _, r := range recs {
			if r.Start > now.Add(5*time.Minute).Unix() {
				n++
			}
		}
		return n
	}
	lo, hi := future(after), future(before)
	if lo == 0 || lo == len(recs) {
		t.Fatalf("the stand-in serves %d records, %d of them ahead of our clock: nothing to test", len(recs), lo)
	}
	re := regexp.MustCompile(`rejected.* collector=cloudflare .*future=(\d+)`)
	total := 0
	for _, m := range re.FindAllStringSubmatch(errb.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if total < lo || total > hi {
		t.Errorf("warnings count %d records rejected ahead of our clock, want %d..%d:\n%s", total, lo, hi, grepLines(errb.String(), "rejected"))
	}
	// Minutes within the tolerance are kept.
	kept := 0
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && strings.HasPrefix(f[0], "e2ecf.cloudflare.") {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("no Cloudflare point kept: the minutes before our clock must pass\n%s", errb.String())
	}
	t.Logf("%d records served, %d..%d ahead of our clock + 5m, %d rejected; %d points kept", len(recs), lo, hi, total, kept)
}
