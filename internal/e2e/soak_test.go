package e2e

// The soak test of issue 16: `cdnmetrics run` follows the Fastly stand-in
// for minutes while faults are injected at random (seeded) — carbon-cache
// restarts, a carbon outage long enough to spool with one byte of the spool
// flipped, vendor 429 with Retry-After, 500, garbage and slow answers, one
// real-time answer stamped in the year 2100 — and then checks that the
// points found in graphite-web are the points the daemon says it emitted,
// minus exactly what its self-metrics say was lost, and that the traffic
// model's points are all there.
//
// Opt-in (`make soak`, or CDNMETRICS_SOAK=1): it runs for SOAK_DURATION
// (default 5m, 2m to 10m). The seed (printed; SOAK_SEED replays it) draws
// the fault schedule (kinds, counts, times) and the traffic model; the
// daemon's own timing still varies from run to run. SOAK_FUTURE=0 and
// SOAK_SPOOL_FLIP=0 leave out the future-stamped answer and the flipped
// byte (to tell their effects from the rest).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

const (
	soakEnv             = "CDNMETRICS_SOAK"
	soakDefaultDuration = 5 * time.Minute
	soakMinDuration     = 2 * time.Minute
	soakMaxDuration     = 10 * time.Minute
	// soakClockTolerance is how far past the test's end a point or the
	// checkpoint may be stamped (issue 16's default clock_skew_tolerance).
	soakClockTolerance = 5 * time.Minute
	// The fault window opens soakLead after the daemon starts (catch-up
	// and subscriptions first) and closes soakTail before the stop, so
	// the last buckets are written with nothing going wrong.
	soakLead = 20 * time.Second
	soakTail = 30 * time.Second
)

// soakSettings are the run's knobs, from the environment.
type soakSettings struct {
	seed     int64
	duration time.Duration
	future   bool // serve one real-time answer stamped in 2100
	flip     bool // flip one byte of a spooled record during the outage
}

func soakSettingsFromEnv(t *testing.T) soakSettings {
	t.Helper()
	s := soakSettings{seed: time.Now().UnixNano() % 1_000_000_000, duration: soakDefaultDuration,
		future: os.Getenv("SOAK_FUTURE") != "0", flip: os.Getenv("SOAK_SPOOL_FLIP") != "0"}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", v, err)
		}
		s.seed = n
	}
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < soakMinDuration || d > soakMaxDuration {
			t.Fatalf("SOAK_DURATION=%q: want a duration from %v to %v", v, soakMinDuration, soakMaxDuration)
		}
		s.duration = d
	}
	return s
}

// carbonEvent is a carbon-cache restart (outage 0) or a stop of outage
// length, at offset at into the fault window.
type carbonEvent struct {
	at     time.Duration
	outage time.Duration
}

// rtEvent arms faults for the next real-time requests at offset at.
type rtEvent struct {
	at     time.Duration
	faults []vendorFault
}

// soakPlan draws the fault schedule for a fault window of length window:
// per kind 1 to per faults (per grows with the window, at most 3), carbon
// events spaced so they never overlap, the future-stamped answer in the
// first half (so its effect has time to show), and up to 4 retryable
// faults for the catch-up's historical requests.
func soakPlan(rng *rand.Rand, window time.Duration, st soakSettings) ([]carbonEvent, []rtEvent, []vendorFault) {
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	per := min(max(int(window/time.Minute), 1), 3)

	// Carbon: restarts and one outage, each given time to finish
	// (busy); the free time is spread at random between them.
	const restartBusy, outageExtra = 10 * time.Second, 10 * time.Second
	carbon := []carbonEvent{{outage: between(20*time.Second, 30*time.Second)}}
	for i := 1 + rng.IntN(per); i > 0; i-- {
		carbon = append(carbon, carbonEvent{})
	}
	rng.Shuffle(len(carbon), func(i, j int) { carbon[i], carbon[j] = carbon[j], carbon[i] })
	busy := func(e carbonEvent) time.Duration {
		if e.outage == 0 {
			return restartBusy
		}
		return e.outage + outageExtra
	}
	var total time.Duration
	for _, e := range carbon {
		total += busy(e)
	}
	free := max(window-total, 0)
	offs := make([]time.Duration, len(carbon))
	for i := range offs {
		offs[i] = between(0, free)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	var used time.Duration
	for i := range carbon {
		carbon[i].at = offs[i] + used
		used += busy(carbon[i])
	}

	// Vendor, real-time channel.
	var rt []rtEvent
	for _, kind := range []string{"429", "500", "garbage", "slow"} {
		for i := 1 + rng.IntN(per); i > 0; i-- {
			e := rtEvent{at: between(0, window)}
			switch kind {
			case "429":
				e.faults = []vendorFault{{kind: kind, delay: between(1, 2) * time.Second}}
			case "500":
				// A burst of 1 to 4 for one service: httpx retries a
				// real-time request once, so from 2 on the stream itself
				// fails and backs off, and asks again from the same ts.
				e.faults = []vendorFault{{kind: kind, burst: 1 + rng.IntN(4)}}
			case "garbage":
				e.faults = []vendorFault{{kind: kind}}
			case "slow":
				e.faults = []vendorFault{{kind: kind, delay: between(2*time.Second, 6*time.Second)}}
			}
			rt = append(rt, e)
		}
	}
	if st.future {
		rt = append(rt, rtEvent{at: between(0, window/2), faults: []vendorFault{{kind: "future"}}})
	}
	sort.Slice(rt, func(i, j int) bool { return rt[i].at < rt[j].at })

	// Vendor, historical (the catch-up): only faults a retry heals, so
	// the catch-up's expected points stay exactly the model's.
	var hist []vendorFault
	for i := 1 + rng.IntN(4); i > 0; i-- {
		switch rng.IntN(3) {
		case 0:
			hist = append(hist, vendorFault{kind: "429", delay: time.Second})
		case 1:
			hist = append(hist, vendorFault{kind: "500"})
		default:
			hist = append(hist, vendorFault{kind: "slow", delay: 1500 * time.Millisecond})
		}
	}
	return carbon, rt, hist
}

// soakTimeline is the log of what the test did, with times since start.
type soakTimeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

func (l *soakTimeline) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("+%6.1fs ", time.Since(l.start).Seconds())+fmt.Sprintf(format, args...))
}

func (l *soakTimeline) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// damage is what the flipped byte hit: one record of a spool segment.
type damage struct {
	file        string
	fileBytes   int64
	offset      int64 // of the flipped byte
	records     int   // records in the segment
	index       int   // of the damaged one
	lines       int   // in the damaged record
	selfLines   int   // of them, self-metrics (not counted as emitted)
	data        map[string]map[int64]float64
	dataLines   int
	linesBehind int // in the segment's records after the damaged one
}

// damageSpool flips one byte in a spooled record holding data points:
// in the segment with the most data lines, the record nearest the
// segment's middle (not its last record when there is another). ok is
// false when no spooled record holds data yet.
func damageSpool(t *testing.T, dir string) (d damage, ok bool) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var best []spoolRecord
	bestData := 0
	for _, s := range segs {
		recs, err := spoolRecords(s)
		if err != nil {
			t.Fatalf("reading spool segment: %v", err)
		}
		n := 0
		for _, r := range recs {
			for _, l := range r.lines() {
				if strings.HasPrefix(l.path, faultPrefix+".fastly.") {
					n++
				}
			}
		}
		if n > bestData {
			best, bestData = recs, n
		}
	}
	if bestData == 0 {
		return d, false
	}
	st, err := os.Stat(best[0].file)
	if err != nil {
		t.Fatal(err)
	}
	mid := st.Size() / 2
	pick := -1
	for i, r := range best {
		if i == len(best)-1 && pick >= 0 {
			break
		}
		hasData := false
		for _, l := range r.lines() {
			hasData = hasData || strings.HasPrefix(l.path, faultPrefix+".fastly.")
		}
		if !hasData {
			continue
		}
		dist := func(r spoolRecord) int64 {
			c := r.off + int64(len(r.payload))/2
			return max(c-mid, mid-c)
		}
		if pick < 0 || dist(r) < dist(best[pick]) {
			pick = i
		}
	}
	r := best[pick]
	off, err := flipDigit(r)
	if err != nil {
		t.Fatalf("flipping a byte of %s: %v", r.file, err)
	}
	d = damage{file: r.file, fileBytes: st.Size(), offset: off, records: len(best), index: pick,
		data: map[string]map[int64]float64{}}
	for _, l := range r.lines() {
		d.lines++
		if !strings.HasPrefix(l.path, faultPrefix+".fastly.") {
			d.selfLines++
			continue
		}
		if d.data[l.path] == nil {
			d.data[l.path] = map[int64]float64{}
		}
		d.data[l.path][l.ts] = l.v
		d.dataLines++
	}
	for _, b := range best[pick+1:] {
		d.linesBehind += len(b.lines())
	}
	return d, true
}

// renderAll returns every non-null value graphite-web has for target over
// [from, until], by series name; it retries a failed render twice.
func renderAll(t *testing.T, g *graphitetest.Server, target string, from, until int64) map[string]map[int64]float64 {
	t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var ss []graphitetest.Series
		ss, err = g.Render(ctx, target, from, until)
		cancel()
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		out := map[string]map[int64]float64{}
		for _, s := range ss {
			for _, p := range s.Points {
				if p.Value == nil {
					continue
				}
				if out[s.Target] == nil {
					out[s.Target] = map[int64]float64{}
				}
				out[s.Target][p.Time] = *p.Value
			}
		}
		return out
	}
	t.Fatalf("render %s: %v", target, err)
	return nil
}

// lastValue is the value of series at its newest time (counters: the
// total); ok is false when it has none.
func lastValue(vs map[int64]float64) (v float64, ok bool) {
	newest := int64(math.MinInt64)
	for ts, x := range vs {
		if ts > newest {
			newest, v, ok = ts, x, true
		}
	}
	return v, ok
}

func closeTo(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// TestSoak: see the top of the file. The figures are printed as a table
// (test log and stdout). What must hold:
//   - found in graphite-web == emitted (the daemon's own counter) minus the
//     points the self-metrics say were lost to spool corruption
//     (series with "corrupt" in their name), and that loss is exactly the
//     damaged record's lines;
//   - every point the traffic model says the daemon had to write is there
//     with the model's value, except the damaged record's;
//   - the future-stamped answer is counted in a self-metric with
//     "rejected" or "future" in its name, and no point in Graphite and no
//     checkpoint is stamped past the end of the test (+5 min);
//   - the daemon stayed up, exited 0, collected through the last minute
//     and left the spool empty.
func TestSoak(t *testing.T) {
	if os.Getenv(soakEnv) != "1" {
		t.Skipf("soak test is opt-in: `make soak` (or %s=1; SOAK_DURATION, default %v, at most %v)", soakEnv, soakDefaultDuration, soakMaxDuration)
	}
	st := soakSettingsFromEnv(t)
	rng := rand.New(rand.NewPCG(uint64(st.seed), 16))
	window := st.duration - soakLead - soakTail
	carbonPlan, rtPlan, histPlan := soakPlan(rng, window, st)
	t.Logf("soak: seed %d (replay: SOAK_SEED=%d), duration %v, future-stamped answer %v, spool byte flip %v",
		st.seed, st.seed, st.duration, st.future, st.flip)

	g := graphitetest.Start(t)
	const res = 10 * time.Second
	m := faultModel(st.seed, 3)
	vendor := newSoakVendor(histPlan)
	sim := faultSim(t, m, vendor.wrap)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "state", "spool")
	cfg := daemonConfig(t, dir, sim.URL, g.CarbonAddr, m, res)

	var stdout, stderr collectorstest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	tl := &soakTimeline{start: started}
	exit := make(chan int, 1)
	go func() {
		exit <- app.Main(ctx, []string{"run", "--config", cfg}, app.IO{Stdout: &stdout, Stderr: &stderr, Getenv: simGetenv})
	}()
	tl.add("daemon started; catch-up faults planned: %v", histPlan)
	// alive fails the test if the daemon exited on its own.
	alive := func(what string) {
		t.Helper()
		select {
		case code := <-exit:
			t.Fatalf("daemon exited (%d) %s\ntimeline:\n%s\n%s", code, what, tl, stderr.String())
		default:
		}
	}
	sleepUntil := func(what string, at time.Time) {
		t.Helper()
		for time.Now().Before(at) {
			alive(what)
			time.Sleep(min(100*time.Millisecond, time.Until(at)))
		}
		alive(what)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		vendor.mu.Lock()
		n := len(vendor.firstRT)
		vendor.mu.Unlock()
		if n == len(m.Services) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d services subscribed to the real-time stand-in after 60s\n%s", n, len(m.Services), stderr.String())
		}
		sleepUntil("before subscribing", time.Now().Add(20*time.Millisecond))
	}
	vendor.mu.Lock()
	var subscribed time.Time // the last subscription
	for _, at := range vendor.firstRT {
		if at.After(subscribed) {
			subscribed = at
		}
	}
	vendor.mu.Unlock()
	tl.add("all %d services subscribed", len(m.Services))

	opened := started.Add(soakLead)
	if o := subscribed.Add(5 * time.Second); o.After(opened) {
		opened = o
	}
	var timers []*time.Timer
	for _, e := range rtPlan {
		timers = append(timers, time.AfterFunc(time.Until(opened.Add(e.at)), func() {
			vendor.arm(e.faults...)
			tl.add("vendor real-time faults armed: %v", e.faults)
		}))
	}
	defer func() {
		for _, tm := range timers {
			tm.Stop()
		}
	}()

	var (
		restarts, outages int
		flipped           bool
		dmg               damage
	)
	for _, e := range carbonPlan {
		sleepUntil("waiting for the next carbon fault", opened.Add(e.at))
		if e.outage == 0 {
			t0 := time.Now()
			g.RestartCarbon(t)
			restarts++
			tl.add("carbon restarted (took %.1fs)", time.Since(t0).Seconds())
			continue
		}
		g.StopCarbon(t)
		outages++
		down := time.Now()
		tl.add("carbon stopped for %v", e.outage)
		sleepUntil("while carbon was down", down.Add(e.outage))
		if st.flip {
			// The spool must hold a data record: a bucket written at
			// least the sink's retry window (2 s) after carbon went away.
			for limit := time.Now().Add(30 * time.Second); ; {
				if dmg, flipped = damageSpool(t, spoolDir); flipped || time.Now().After(limit) {
					break
				}
				sleepUntil("while carbon was down", time.Now().Add(time.Second))
			}
			if !flipped {
				segs, lines := spoolLines(spoolDir)
				t.Fatalf("carbon down for %v but no data record found in the spool %s (%d segments, ~%d lines; if the segment format changed, teach spoolRecords in soakdisk_test.go)\n%s",
					time.Since(down).Round(time.Second), spoolDir, segs, lines, grepLines(stderr.String(), "graphite"))
			}
			tl.add("flipped the byte at offset %d of %s (%d bytes): record %d of %d, %d lines (%d data, %d self-metrics), %d lines in the records behind it",
				dmg.offset, filepath.Base(dmg.file), dmg.fileBytes, dmg.index+1, dmg.records, dmg.lines, dmg.dataLines, dmg.selfLines, dmg.linesBehind)
		}
		g.StartCarbon(t)
		tl.add("carbon started again after %.1fs", time.Since(down).Seconds())
	}

	// Stop mid-bucket (a self-metric tick follows the last write), after
	// the planned duration.
	sleepUntil("until the end of the soak", started.Add(st.duration))
	for limit := time.Now().Add(30 * time.Second); ; {
		ph := sincePass(time.Now(), res)
		if ph >= res/2-150*time.Millisecond && ph < res/2+150*time.Millisecond {
			break
		}
		if time.Now().After(limit) {
			t.Fatal("no mid-bucket moment to stop at within 30s")
		}
		sleepUntil("until the stop moment", time.Now().Add(10*time.Millisecond))
	}
	stopped := time.Now()
	cancel()
	var code int
	select {
	case code = <-exit:
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon did not exit within 60s of the stop\n%s", stderr.String())
	}
	tl.add("daemon stopped, exit %d after %.1fs", code, time.Since(stopped).Seconds())
	logs := stderr.String()

	// Expected from the model: the catch-up's windows, and every whole
	// real-time bucket from the first after the last subscription to the
	// last one due before the stop.
	vendor.mu.Lock()
	var ws []collectors.Window
	for w := range vendor.windows {
		ws = append(ws, collectors.Window{Start: time.Unix(w[0], 0), End: time.Unix(w[1], 0)})
	}
	future := append([]string(nil), vendor.future...)
	rtAnswers := vendor.rtAnswers
	vendor.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start.Before(ws[j].Start) })
	want, nCatchup := fastlyWant(t, m, ws...)
	rtFrom := subscribed.Add(res - time.Nanosecond).Truncate(res)
	rtTo := stopped.Add(-rtAggDelay - rtGrace - time.Second).Truncate(res)
	nRT, buckets := rtWant(t, want, m, rtFrom, rtTo, res)
	// The damaged record's points may be missing: set them aside.
	lostWant := map[string]map[int64]float64{}
	nLostWant := 0
	for p, vs := range dmg.data {
		for ts, v := range vs {
			if w, ok := want[p][ts]; ok && closeTo(w, v) {
				delete(want[p], ts)
				if lostWant[p] == nil {
					lostWant[p] = map[int64]float64{}
				}
				lostWant[p][ts] = v
				nLostWant++
			}
		}
		if len(want[p]) == 0 {
			delete(want, p)
		}
	}
	nWant := nCatchup + nRT - nLostWant
	g.WaitValues(t, want, 60*time.Second) // carbon may still be writing; the count is below

	// Everything graphite-web has, and the self-metrics.
	from := started.Add(-30 * time.Minute).Unix()
	until := time.Now().Add(time.Minute).Unix()
	rendered := map[string]map[int64]float64{}
	for _, s := range m.Services {
		for p, vs := range renderAll(t, g, faultPrefix+".fastly."+s.Name+".**", from, until) {
			rendered[p] = vs
		}
	}
	found, newest := 0, int64(0)
	for _, vs := range rendered {
		for ts := range vs {
			found++
			newest = max(newest, ts)
		}
	}
	missing, wrong := 0, 0
	var examples []string
	missingAt := map[int64]int{}
	for p, vs := range want {
		for ts, v := range vs {
			got, ok := rendered[p][ts]
			switch {
			case !ok:
				missing++
				missingAt[ts]++
			case !closeTo(got, v):
				wrong++
			default:
				continue
			}
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("%s@%d want %v got %v (present %v)", p, ts, v, got, ok))
			}
		}
	}
	lostFound := 0
	for p, vs := range lostWant {
		for ts := range vs {
			if _, ok := rendered[p][ts]; ok {
				lostFound++
			}
		}
	}
	// The last minute of buckets, every service's "all" series.
	lastMinute, lastMinuteFound := 0, 0
	for p, vs := range want {
		if !strings.Contains(p, ".all.") {
			continue
		}
		for ts := range vs {
			if ts >= rtTo.Add(-time.Minute).Unix() && ts < rtTo.Unix() {
				lastMinute++
				if _, ok := rendered[p][ts]; ok {
					lastMinuteFound++
				}
			}
		}
	}

	self := renderAll(t, g, faultPrefix+".cdnmetrics.**", from, until)
	// sum adds the last values of the self-metric series whose name has
	// one of words in it; when some of them also say "point", only
	// those (a count of records or bytes beside a count of points is not
	// added to it).
	sum := func(words ...string) (total float64, names []string) {
		var match, points []string
		for name := range self {
			lower := strings.ToLower(name)
			for _, w := range words {
				if strings.Contains(lower, w) {
					match = append(match, name)
					if strings.Contains(lower, "point") {
						points = append(points, name)
					}
					break
				}
			}
		}
		if len(points) > 0 {
			match = points
		}
		for _, name := range match {
			if v, ok := lastValue(self[name]); ok {
				total += v
				names = append(names, fmt.Sprintf("%s=%v", name, v))
			}
		}
		sort.Strings(names)
		return total, names
	}
	emittedV, emittedOK := lastValue(self[faultPrefix+".cdnmetrics.collector.fastly.points"])
	emitted := int(emittedV)
	rejectedV, rejectedNames := sum("rejected", "future")
	corruptV, corruptNames := sum("corrupt")
	corrupt := int(corruptV)
	sinkV := func(name string) string {
		v, ok := lastValue(self[faultPrefix+".cdnmetrics.sink."+name])
		if !ok {
			return "?"
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}

	var cp state.Checkpoint
	var cpOK bool
	if store, err := state.Open(filepath.Join(dir, "state")); err == nil {
		cp, cpOK, _ = store.Get("fastly")
	}
	segs, spoolLeft := spoolLines(spoolDir)
	// Whisper files hold what graphite-web will not render (points
	// stamped in the future): stop carbon so it writes its cache out, and
	// read them.
	g.StopCarbon(t)
	wspNewest, wspFile, wspFiles, wspErr := whisperNewest(filepath.Join(g.Dir, "storage"), faultPrefix)
	limit := stopped.Add(soakClockTolerance).Unix()

	served := vendor.servedCounts()
	corruptData := corrupt - dmg.selfLines // the self-metric counts every line; emitted counts data only
	if !flipped {
		corruptData = corrupt
	}
	disc, _ := countLines(logs, "graphite disconnected", "")
	spoolRuns, _ := countLines(logs, "graphite carbon unavailable: spooling", "")
	_, replayed := countLines(logs, "graphite spool replayed", "points")
	rtFailed, _ := countLines(logs, "fastly real-time request failed", "")
	rtBad, _ := countLines(logs, "bad fastly real-time response skipped", "")
	retries, _ := countLines(logs, "retrying vendor request", "")
	flipWord := "no"
	if flipped {
		flipWord = fmt.Sprintf("yes: record %d of %d, %d lines (%d data, %d self-metrics); %d lines behind it in the segment",
			dmg.index+1, dmg.records, dmg.lines, dmg.dataLines, dmg.selfLines, dmg.linesBehind)
	}
	table := []string{
		fmt.Sprintf("soak figures (seed %d, SOAK_DURATION %v)", st.seed, st.duration),
		fmt.Sprintf("  duration of the run          %.0fs (daemon up %s to %s UTC, %d real-time answers)", stopped.Sub(started).Seconds(),
			started.UTC().Format("15:04:05"), stopped.UTC().Format("15:04:05"), rtAnswers),
		fmt.Sprintf("  carbon restarts / outages    %d / %d (spool byte flipped: %s)", restarts, outages, flipWord),
		fmt.Sprintf("  vendor faults, real-time     429 %d, 500 %d, garbage %d, slow %d, future-stamped %d (armed, not served: %d)",
			served["rt 429"], served["rt 500"], served["rt garbage"], served["rt slow"], served["rt future"], vendor.pending()),
		fmt.Sprintf("  vendor faults, catch-up      429 %d, 500 %d, slow %d", served["hist 429"], served["hist 500"], served["hist slow"]),
		fmt.Sprintf("  points emitted (self-metric) %d", emitted),
		fmt.Sprintf("  points found in graphite-web %d", found),
		fmt.Sprintf("  rejected (self-metrics)      %v %v", rejectedV, rejectedNames),
		fmt.Sprintf("  corrupt-lost (self-metrics)  %d %v", corrupt, corruptNames),
		fmt.Sprintf("  emitted - found              %d (want corrupt-lost data points: %d)", emitted-found, corruptData),
		fmt.Sprintf("  expected from the model      %d (catch-up %v: %d; real-time %d buckets × %d services; %d set aside in the damaged record, %d of them found)",
			nWant, ws, nCatchup, buckets, len(m.Services), nLostWant, lostFound),
		fmt.Sprintf("  missing / wrong value        %d / %d", missing, wrong),
		fmt.Sprintf("  last minute (all series)     %d of %d found", lastMinuteFound, lastMinute),
		fmt.Sprintf("  newest point: rendered %s, whisper %s (%d files); checkpoint %s; limit %s",
			fmtUnix(newest), fmtUnix(wspNewest), wspFiles, fmtTime(cp.End, cpOK), fmtUnix(limit)),
		fmt.Sprintf("  sink: sent %s resent %s spooled %s replayed %s spool_dropped %s dropped_invalid %s lost %s; logs: %d disconnects, %d spooling episodes, %d points replayed",
			sinkV("sent_points"), sinkV("resent_points"), sinkV("spooled_points"), sinkV("replayed_points"),
			sinkV("spool_dropped_points"), sinkV("dropped_invalid_points"), sinkV("lost_points"), disc, spoolRuns, replayed),
		fmt.Sprintf("  vendor logs: %d httpx retries, %d real-time failures backed off, %d bad real-time answers skipped", retries, rtFailed, rtBad),
		fmt.Sprintf("  test took %.0fs", time.Since(started).Seconds()),
	}
	t.Logf("timeline:\n%s", tl)
	for _, l := range table {
		t.Log(l)
	}
	fmt.Println(strings.Join(table, "\n"))
	if len(future) > 0 {
		t.Logf("future-stamped answers served: %v", future)
	}

	// The checks.
	if code != 0 {
		t.Errorf("daemon exit %d after the stop, want 0", code)
	}
	if !emittedOK {
		t.Fatalf("the daemon's emitted-points self-metric %s.cdnmetrics.collector.fastly.points is not in Graphite", faultPrefix)
	}
	if found != emitted-corruptData {
		t.Errorf("points found %d != emitted %d - corrupt-lost %d (data points of %d counted): %d unaccounted for "+
			"(found counts %s.fastly.**; a self-metric sent through a collector's emitter would count as emitted but not found)",
			found, emitted, corruptData, corrupt, emitted-corruptData-found, faultPrefix)
	}
	if flipped && corrupt != dmg.lines {
		t.Errorf("the self-metrics count %d points lost to spool corruption %v; the damaged record held %d (the %d lines behind it were intact)",
			corrupt, corruptNames, dmg.lines, dmg.linesBehind)
	}
	if !flipped && corrupt != 0 {
		t.Errorf("no byte was flipped, yet the self-metrics count %d corrupt points %v", corrupt, corruptNames)
	}
	if missing != 0 || wrong != 0 {
		var at []string
		for ts, n := range missingAt {
			at = append(at, fmt.Sprintf("%s:%d", time.Unix(ts, 0).UTC().Format("15:04:05"), n))
		}
		sort.Strings(at)
		if len(at) > 12 {
			at = append(at[:12], "…")
		}
		t.Errorf("%d of the model's points missing and %d with a wrong value (besides the damaged record's), e.g. %s; missing per time: %s",
			missing, wrong, strings.Join(examples, "; "), strings.Join(at, " "))
	}
	if lastMinute == 0 || lastMinuteFound != lastMinute {
		t.Errorf("collection did not continue to the end: %d of %d points of the last minute's buckets found", lastMinuteFound, lastMinute)
	}
	// The future-stamped answer is counted: by a series that says
	// "future" when there is one (rejected_values and the like count
	// other things), else by any that says "rejected".
	futureV, futureNames := sum("future")
	if len(futureNames) == 0 {
		futureV, futureNames = rejectedV, rejectedNames
	}
	if served["rt future"] > 0 && futureV < 1 {
		t.Errorf("a real-time answer stamped in 2100 was served, but no self-metric with \"rejected\" or \"future\" in its name counts it (%v; self-metrics: %v)", futureNames, sortedKeys(self))
	}
	if st.future && served["rt future"] == 0 {
		t.Errorf("the future-stamped answer was armed but never served")
	}
	if newest > limit {
		t.Errorf("graphite-web renders a point stamped %s, past the end of the test + %v", fmtUnix(newest), soakClockTolerance)
	}
	switch {
	case wspErr != nil:
		t.Errorf("reading whisper files: %v", wspErr)
	case wspNewest > limit:
		t.Errorf("whisper file %s holds a point stamped %s, past the end of the test + %v", wspFile, fmtUnix(wspNewest), soakClockTolerance)
	}
	if cpOK && cp.End.Unix() > limit {
		t.Errorf("the fastly checkpoint is %s, past the end of the test + %v", cp.End.UTC().Format(time.RFC3339), soakClockTolerance)
	}
	if segs != 0 {
		t.Errorf("the daemon stopped with carbon up but left %d spool segments (~%d lines)", segs, spoolLeft)
	}
	if t.Failed() {
		t.Logf("sink and stream log lines:\n%s%s", grepLines(logs, "graphite spool"), grepLines(logs, "fastly real-time"))
	}
}

func fmtUnix(ts int64) string {
	if ts <= 0 {
		return "none"
	}
	return time.Unix(ts, 0).UTC().Format("2006-01-02T15:04:05Z")
}

func fmtTime(t time.Time, ok bool) string {
	if !ok {
		return "none"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func sortedKeys(m map[string]map[int64]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
