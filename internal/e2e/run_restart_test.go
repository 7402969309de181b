package e2e

// Issue 4 for the daemon: carbon-cache restarted three times while
// `cdnmetrics run` follows Fastly's real-time stand-in, and every point
// the daemon emitted is readable from graphite-web afterwards.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in's real-time timing (collectors/fastly/fastlysim/sim.go): second t is
// published at t+1+rtAggDelay; the aggregator writes a bucket once
// Fastly's clock has passed its end + AggregateDelay + rtGrace.
const (
	rtAggDelay = 3 * time.Second
	rtGrace    = 2 * time.Second
)

// daemonConfig is faultConfig for `run`: real-time buckets of res, a
// short catch-up (lookback) and self-metrics every second.
func daemonConfig(t *testing.T, dir, simURL, carbon string, m *traffic.Model, res time.Duration) string {
	return fastlyConfig(t, dir, simURL, carbon, m, "self_metrics_interval = \"1s\"\n",
		fmt.Sprintf("lookback = \"5m\"\nresolution = %q\n", res.String()))
}

// rtWant adds to want the points of the real-time buckets of every
// service that lie inside [from, to), from the model (fastlysim.ExpectRT),
// and returns how many it added and how many buckets (per service) that
// was.
func rtWant(t *testing.T, want map[string]map[int64]float64, m *traffic.Model, from, to time.Time, res time.Duration) (points, buckets int) {
	t.Helper()
	starts := map[int64]bool{}
	for svc := range m.Services {
		recs := fastlysim.ExpectRT(m, svc, from, to, res)
		for _, r := range recs {
			starts[r.Start] = true
		}
		points += addPoints(t, want, faultPrefix, recs)
	}
	return points, len(starts)
}

// maxRendered is the largest value graphite-web has for target over
// [from, until]; ok is false when it has none.
func maxRendered(g *graphitetest.Server, target string, from, until int64) (v float64, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ss, err := g.Render(ctx, target, from, until)
	if err != nil {
		return 0, false
	}
	v = math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Value != nil && *p.Value > v {
				v, ok = *p.Value, true
			}
		}
	}
	return v, ok
}

// sincePass is how long ago the stand-in's clock last passed a bucket
// end + AggregateDelay + grace, the moment the daemon writes the bucket.
func sincePass(now time.Time, res time.Duration) time.Duration {
	return time.Duration((now.UnixNano() - int64(rtAggDelay+rtGrace)) % int64(res))
}

// TestFaultCarbonRestartedDuringDaemonRun runs `cdnmetrics run` in process
// against the Fastly stand-in (real clock, 10 s real-time buckets, three
// services), restarts carbon-cache three times while the daemon follows
// the stream, stops the daemon as SIGINT would (its context ends) and
// checks that graphite-web renders every point the model says the daemon
// emitted: the catch-up's historical minutes and every real-time bucket
// from the first whole one after subscribing to the last one that was due
// before the stop.
//
// Buckets (10 s: whisper's step here, so no two share a whisper slot) are
// written when Fastly's clock reaches their end + 5 s. Every restart
// begins while the sink holds a connection (self-metrics are written every
// second). Restarts 1 and 3 begin 0.2 s after a bucket write: those
// batches are in carbon's last second before SIGTERM, which carbon-cache
// may drop (GRAPHITE.md §5), so the sink has to notice the close and
// re-send them. Restart 2 begins 1.5 s before a write, so the daemon
// writes into the outage (retried, or spooled past the retry window).
//
// The daemon's own count of emitted points (its collector self-metric,
// written every second; the stop is placed mid-bucket so the last count
// follows the last write) must equal the points found: the expected set
// plus whatever whole buckets it wrote at the edges of that range.
func TestFaultCarbonRestartedDuringDaemonRun(t *testing.T) {
	t0 := time.Now()
	g := graphitetest.Start(t)
	_, portS, _ := strings.Cut(g.CarbonAddr, ":")
	carbonPort, err := strconv.Atoi(portS)
	if err != nil {
		t.Fatalf("carbon address %q", g.CarbonAddr)
	}
	const res = 10 * time.Second
	m := faultModel(15, 3)

	// The wrapper records the historical windows asked for (the daemon's
	// catch-up) and when each service's real-time subscription began.
	var (
		mu       sync.Mutex
		windows  = map[[2]int64]bool{}
		firstRT  = map[string]time.Time{}
		rtAnswer atomic.Int64
	)
	sim := faultSim(t, m, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch p := r.URL.Path; {
			case strings.Contains(p, "/stats/service/"):
				from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
				to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
				if err1 == nil && err2 == nil {
					mu.Lock()
					windows[[2]int64{from, to}] = true
					mu.Unlock()
				}
			case strings.Contains(p, "/v1/channel/"):
				id := strings.Split(strings.SplitAfter(p, "/v1/channel/")[1], "/")[0]
				mu.Lock()
				if _, ok := firstRT[id]; !ok {
					firstRT[id] = time.Now()
				}
				mu.Unlock()
				defer rtAnswer.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, sim.URL, g.CarbonAddr, m, res)

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
				t.Fatalf("timed out after %v waiting for %s\n%s", limit, what, grepLines(stderr.String(), "graphite"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil("every service subscribed to the real-time stand-in", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(firstRT) == len(m.Services)
	})
	mu.Lock()
	var subscribed, firstSub time.Time // the last and the first subscription
	for _, at := range firstRT {
		if at.After(subscribed) {
			subscribed = at
		}
		if firstSub.IsZero() || at.Before(firstSub) {
			firstSub = at
		}
	}
	mu.Unlock()
	rtFrom := subscribed.Add(res - time.Nanosecond).Truncate(res) // the first bucket start after it
	const minBuckets = 4

	// A restart goes in when the time since the last bucket write is in
	// [lo, lo+400ms), with a live connection, no earlier than notBefore.
	at := func(notBefore time.Time, lo time.Duration) func() bool {
		return func() bool {
			now := time.Now()
			ph := sincePass(now, res)
			return !now.Before(notBefore) && ph >= lo && ph < lo+400*time.Millisecond &&
				carbonConns(t, carbonPort) > 0
		}
	}
	// The first restart after the first bucket write.
	notBefore := subscribed.Add(res + rtAggDelay + rtGrace)
	type restart struct {
		at    time.Time
		phase time.Duration
		took  time.Duration
	}
	var restarts []restart
	// Restarts 1 and 3 begin 0.2 s after a bucket write: carbon may drop
	// it. Restart 2 begins 1.5 s before one: the daemon writes while
	// carbon is down (retried, or spooled past the sink's retry window).
	for k, lo := range []time.Duration{200 * time.Millisecond, res - 1500*time.Millisecond, 200 * time.Millisecond} {
		waitUntil(fmt.Sprintf("restart %d's moment (%v after a write, connected)", k+1, lo), 30*time.Second, at(notBefore, lo))
		began := time.Now()
		g.RestartCarbon(t)
		r := restart{at: began, phase: sincePass(began, res), took: time.Since(began)}
		restarts = append(restarts, r)
		t.Logf("carbon restart %d at +%.1fs (%.2fs after a bucket write) took %.1fs",
			k+1, began.Sub(started).Seconds(), r.phase.Seconds(), r.took.Seconds())
		notBefore = began.Add(7 * time.Second)
	}
	// Stop half a bucket after a write, once a bucket was written with
	// carbon back: a self-metric tick came after the last write.
	// At least minBuckets whole buckets in the expected range.
	last := restarts[len(restarts)-1]
	notBefore = last.at.Add(last.took + res)
	if nb := rtFrom.Add(minBuckets*res + rtAggDelay + rtGrace + time.Second); nb.After(notBefore) {
		notBefore = nb
	}
	waitUntil("the stop moment (mid-bucket)", 30*time.Second, func() bool {
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

	// Expected: the catch-up's windows, and every whole bucket from the
	// first one starting after the last subscription to the last one
	// whose end + AggregateDelay + grace (+1 s margin) was before the
	// stop.
	mu.Lock()
	var ws []collectors.Window
	for w := range windows {
		ws = append(ws, collectors.Window{Start: time.Unix(w[0], 0), End: time.Unix(w[1], 0)})
	}
	mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start.Before(ws[j].Start) })
	if len(ws) != 1 {
		t.Errorf("catch-up asked for %d distinct windows %v, want 1", len(ws), ws)
	}
	want, nCatchup := fastlyWant(t, m, ws...)
	rtTo := stopped.Add(-rtAggDelay - rtGrace - time.Second).Truncate(res)
	nRT, buckets := rtWant(t, want, m, rtFrom, rtTo, res)
	n := nCatchup + nRT
	found, missing := g.WaitValues(t, want, 30*time.Second)

	// Buckets at the edges the daemon may or may not have written: from
	// the one holding the first subscription's first second to the one
	// ending at the stop. Found only if written whole and right.
	edge := map[string]map[int64]float64{}
	nHead, _ := rtWant(t, edge, m, firstSub.Add(-rtAggDelay-time.Second).Truncate(res), rtFrom, res)
	nTail, _ := rtWant(t, edge, m, rtTo, stopped, res)
	nEdge := nHead + nTail
	foundEdge, _ := g.WaitValues(t, edge, time.Second)

	// What the daemon says it emitted (collector self-metric, a counter)
	// and the sink's counters, from their last values in Graphite.
	from, until := started.Unix()-10, time.Now().Unix()+10
	self := func(metric string) string {
		v, ok := maxRendered(g, faultPrefix+".cdnmetrics."+metric, from, until)
		if !ok {
			return "?"
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	emittedV, emittedOK := maxRendered(g, faultPrefix+".cdnmetrics.collector.fastly.points", from, until)
	emitted := int(emittedV)

	disc, resent := countLines(logs, "graphite disconnected", "resend_points")
	refused, _ := countLines(logs, "graphite reconnect scheduled", "")
	spoolRuns, _ := countLines(logs, "graphite carbon unavailable: spooling", "")
	replays, replayed := countLines(logs, "graphite spool replayed", "points")
	segs, lines := spoolLines(filepath.Join(dir, "state", "spool"))
	t.Logf("daemon ran %.1fs (subscribed +%.1fs, stopped +%.1fs, exit 0 after %.1fs), %d real-time answers",
		exited.Sub(started).Seconds(), subscribed.Sub(started).Seconds(), stopped.Sub(started).Seconds(),
		exited.Sub(stopped).Seconds(), rtAnswer.Load())
	t.Logf("expected: catch-up %v: %d points; real-time %d buckets of %v × %d services [%s, %s): %d points; total %d",
		ws, nCatchup, buckets, res, len(m.Services), rtFrom.UTC().Format("15:04:05"), rtTo.UTC().Format("15:04:05"), nRT, n)
	t.Logf("found %d, missing %d; edge buckets (the first after subscribing is written only when the subscription began at its start): %d of %d candidate points found",
		found, missing, foundEdge, nEdge)
	t.Logf("daemon emitted (collector self-metric): %s; found in total: %d", self("collector.fastly.points"), found+foundEdge)
	t.Logf("sink logs: %d disconnects noticed (%d points queued for re-send), %d failed connects/writes, %d spooling episodes, %d replays (%d points); spool left: %d segments (~%d lines)",
		disc, resent, refused, spoolRuns, replays, replayed, segs, lines)
	t.Logf("sink self-metrics (last written): sent %s, resent %s, send_errors %s, reconnects %s, spooled %s, replayed %s, spool_dropped %s",
		self("sink.sent_points"), self("sink.resent_points"), self("sink.send_errors"), self("sink.reconnects"),
		self("sink.spooled_points"), self("sink.replayed_points"), self("sink.spool_dropped_points"))
	t.Logf("test took %.1fs in all", time.Since(t0).Seconds())

	if buckets < minBuckets {
		t.Errorf("only %d real-time buckets expected: the run was too short to test anything", buckets)
	}
	if missing != 0 {
		t.Fatalf("points expected %d != points found %d (%d missing); sink log:\n%s",
			n, found, missing, grepLines(logs, "graphite"))
	}
	switch {
	case !emittedOK:
		t.Errorf("the daemon's emitted-points self-metric is not in Graphite")
	case emitted != found+foundEdge:
		t.Errorf("the daemon counted %d points emitted, %d found (%d expected + %d at the edges)", emitted, found+foundEdge, found, foundEdge)
	}
	if disc < 1 {
		t.Errorf("no disconnect noticed by the sink: the restarts tested nothing; sink log:\n%s", grepLines(logs, "graphite"))
	}
	if segs != 0 {
		t.Errorf("the daemon stopped with carbon up but left %d spool segments (~%d lines)", segs, lines)
	}
}
