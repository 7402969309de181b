package simulate_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The simulator as the program runs it (simulate.Start with the demo
// model, the config it writes, parsed by the config package): the Fastly
// collector reads both inspector feeds, and the points it writes are
// exactly fastlysim.ExpectInspectors, which sums the model's seconds
// without the collector's mapping.
func TestSimulatedFastlyInspectorsEqualExpect(t *testing.T) {
	day := int64(1767225600) // 2026-01-01T00:00:00Z
	w := collectors.Window{Start: time.Unix(day+3600, 0), End: time.Unix(day+3600+20*60, 0)}
	now := w.End.Add(time.Hour)
	model := traffic.Demo(1)
	srv, err := simulate.Start(simulate.Options{Model: model, Now: func() time.Time { return now }, Only: []string{"fastly"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	text, err := srv.Config(simulate.Core{StateDir: dir, GraphiteAddr: "127.0.0.1:2003"}, filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == collectors.SimSecretEnv {
			return collectors.SimSecret
		}
		return ""
	}
	cfg, probs := config.Parse("sim.toml", []byte(text), getenv)
	if len(probs.Errors()) != 0 || len(cfg.Collectors) != 1 || cfg.Collectors[0].Name != "fastly" {
		t.Fatalf("config: %v, collectors %v\n%s", probs, cfg.Collectors, text)
	}
	if !strings.Contains(text, "origin_inspector = true") || !strings.Contains(text, "domain_inspector = true") {
		t.Fatalf("the simulator's config does not turn the inspectors on:\n%s", text)
	}
	c, err := cfg.Collectors[0].Factory.New(cfg.Collectors[0].Options, collectors.Env{Getenv: getenv, Prefix: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Collect(ctx, w, rec); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, p := range rec.points {
		got[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
	}
	want := map[string]float64{}
	for _, p := range fastlysim.ExpectInspectors(model, "sim", w) {
		want[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
	}
	// 3 services × 20 minutes × (2 origins × 20 + 2 domains × 5 metrics),
	// less the minutes an origin had no fetch.
	if len(want) < 3*20*50*9/10 {
		t.Fatalf("ExpectInspectors gave %d points", len(want))
	}
	var diffs []string
	for k, v := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-v) > 1e-9*math.Max(1, math.Abs(v)) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v (written %v), want %v", k, g, ok, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "unexpected "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d of %d points differ:\n%s", len(diffs), len(want), strings.Join(diffs[:min(10, len(diffs))], "\n"))
	}
	// The demo's fastly character reached the inspectors too: the plain
	// model gives other numbers.
	plain := fastlysim.ExpectInspectors(traffic.Default(1), "sim", w)
	if len(plain) > 0 && pointsEqual(plain, fastlysim.ExpectInspectors(model, "sim", w)) {
		t.Fatal("the demo model's inspector points equal the plain model's")
	}
	t.Logf("%d inspector points as the model says", len(want))
}

func pointsEqual(a, b []schema.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
