package fastly

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// recordedPoints returns the points rec holds, by "path@time".
func recordedPoints(t *testing.T, rec *recorder) map[string]float64 {
	t.Helper()
	var pts []schema.Point
	for _, b := range rec.Batches() {
		pts = append(pts, b.Points...)
	}
	return pointMap(t, pts)
}

// samePoints fails unless got and want hold the same keys with the same
// values (to 1e-9 relative: the percentiles are interpolated twice, by
// two pieces of code).
func samePoints(t *testing.T, got, want map[string]float64) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %s (want %v)", k, w))
		case math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)):
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s = %v", k, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d of %d points differ from the model, e.g.:\n%s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 10)], "\n"))
	}
}

func pointsByKey(pts []schema.Point) map[string]float64 {
	m := map[string]float64{}
	for _, p := range pts {
		m[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
	}
	return m
}

// fastlysim's inspector feeds + Config + Collect write exactly
// fastlysim.ExpectInspectors: every origin and domain of every service,
// read through the entitlement API and meta.next_cursor (one series a
// page), and, with inspectors_per_pop, every POP too.
func TestSimulatorInspectorsCollectEqualsExpect(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	var logs syncBuffer
	c, m := newSim(t, func() time.Time { return now }, &logs, nil)
	if !c.o.OriginInspector || !c.o.DomainInspector {
		t.Fatal("the simulator's config does not turn the inspectors on")
	}
	w := collectors.Window{Start: now.Add(-20 * time.Minute).Truncate(time.Minute), End: now.Add(-5 * time.Minute).Truncate(time.Minute)}
	var rec recorder
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	want := pointsByKey(fastlysim.ExpectInspectors(m, c.env.Prefix, w))
	got := recordedPoints(t, &rec)
	samePoints(t, got, want)
	// Both origins (the second on the second page) and both domains of
	// every service, in (almost) every minute: 15 minutes × 3 services ×
	// (2 origins × 20 + 2 domains × 5) metrics at most.
	if max := 15 * len(m.Services) * (2*20 + 2*5); len(want) < max*9/10 {
		t.Fatalf("expect gave %d points, want nearly %d", len(want), max)
	}
	for _, node := range []string{"origins.origin_www_example_com.latency_p95_ms", "origins.s3_bucket_www.responses", "domains.api_example_org.hit_ratio"} {
		if !strings.Contains(fmt.Sprint(keys(got)), node) {
			t.Errorf("no %s written", node)
		}
	}
	if strings.Contains(logs.String(), "skipped") {
		t.Errorf("the collector skipped some of the stand-in's values:\n%s", logs.String())
	}

	// Per POP: location all as before, and one location per POP, each
	// the model's sums at that POP.
	c.o.InspectorsPerPOP = true
	c.o.Regions = nil // fewer requests: the client paces them at 10/s
	var recPOP recorder
	if err := c.Collect(context.Background(), w, &recPOP); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	mf := m.For("fastly")
	for p, pop := range mf.POPs {
		from := w.Start.Unix()
		for st := from; st+60 <= w.End.Unix(); st += 60 {
			for svc := range mf.Services {
				for _, pt := range fastlysim.AppendInspectorPoints(nil, mf, c.env.Prefix, svc, strings.ToLower(pop.Code), func(i int) bool { return i == p }, st, st+60) {
					want[fmt.Sprintf("%s@%d", pt.Path, pt.Time)] = pt.Value
				}
			}
		}
	}
	samePoints(t, recordedPoints(t, &recPOP), want)
}

func keys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The inspector streams against the stand-in (its clock 20× faster than
// ours): every bucket written equals the model's sums for its seconds,
// every origin and domain of the bucket is there, and the percentiles
// come from the summed buckets.
func TestInspectorStreamsAgainstSimulatorAddUpToTheModel(t *testing.T) {
	start := time.Date(2026, 11, 22, 12, 0, 5, 0, time.UTC)
	clock := fastClock(start, 20)
	var logs syncBuffer
	c, m := newSim(t, clock, &logs, nil)
	c.o.Service = c.o.Service[:1]
	c.idle = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rec recorder
	done := make(chan error, 1)
	go func() { done <- c.Stream(ctx, &rec) }()
	// buckets returns the bucket starts written per feed.
	buckets := func() map[string]map[int64]bool {
		b := map[string]map[int64]bool{"origins": {}, "domains": {}}
		for _, batch := range rec.Batches() {
			for _, p := range batch.Points {
				for feed := range b {
					if strings.Contains(p.Path, "."+feed+".") {
						b[feed][p.Time] = true
					}
				}
			}
		}
		return b
	}
	waitFor(t, 15*time.Second, "3 buckets of each feed", func() bool {
		b := buckets()
		return len(b["origins"]) >= 3 && len(b["domains"]) >= 3
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Stream returned %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Stream did not return promptly after cancel")
	}
	got := recordedPoints(t, &rec)
	want := map[string]float64{}
	for feed, starts := range buckets() {
		for b := range starts {
			for _, p := range fastlysim.ExpectInspectorsRT(m, c.env.Prefix, 0, b, 10*time.Second) {
				if strings.Contains(p.Path, "."+feed+".") {
					want[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
				}
			}
		}
	}
	samePoints(t, got, want)
	t.Logf("%d inspector points in %d + %d buckets", len(got), len(buckets()["origins"]), len(buckets()["domains"]))
}
