package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestCollectEveryVendorThroughRealGraphite runs `cdnmetrics collect
// --from --to` for every vendor that has a stand-in, against the simulator,
// into a real carbon-cache, and checks that graphite-web renders exactly
// the values the simulator served (the vendor's Expect, per location and
// the derived `all`).
func TestCollectEveryVendorThroughRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(7)
	dir := t.TempDir()
	srv, text := startSim(t, simulate.Options{Model: model}, dir, simulate.Core{GraphiteAddr: g.CarbonAddr, Prefix: "e2e"})
	cfgPath := writeConfig(t, dir, text)
	// A window two hours back: past every vendor's lag, inside whisper's
	// first archive (10 s for a day), aligned to every vendor's step.
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-30 * time.Minute), End: end}
	getenv := simGetenv
	vendors := srv.Vendors()
	if len(vendors) == 0 {
		t.Fatal("no vendor stand-ins registered")
	}
	for _, name := range vendors {
		f, _ := simulate.Lookup(name)
		if f.Expect == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			w := w
			// A vendor with buckets longer than the window (Bunny's hours)
			// gets one bucket, ending at the same aligned end.
			if step := defaultStep(name); step > w.End.Sub(w.Start) {
				w.Start = w.End.Add(-step)
			}
			var out, errb bytes.Buffer
			code := app.Main(context.Background(), []string{"collect", "--config", cfgPath, "--collector", name,
				"--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
				app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
			if code != 0 {
				t.Fatalf("collect exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
			}
			want := map[string]map[int64]float64{}
			n := addPoints(t, want, "e2e", f.Expect(model, w))
			if n == 0 {
				t.Fatalf("%s: Expect gave no points for %v", name, w)
			}
			found, missing := g.WaitValues(t, want, 20*time.Second)
			t.Logf("%s: %d points expected, %d rendered exactly, %d missing or different", name, n, found, missing)
			if missing != 0 {
				t.Fatalf("%s: %d of %d points not rendered as served", name, missing, n)
			}
			if !strings.Contains(out.String(), name+" ok") {
				t.Fatalf("summary does not say %s ok: %s", name, out.String())
			}
		})
	}
}

// defaultStep is the Timing.Step of the registered collector name with its
// defaults (0 when it has none).
func defaultStep(name string) time.Duration {
	f, ok := collectors.Lookup(name)
	if !ok || f.Decode == nil || f.Timing == nil {
		return 0
	}
	o, err := f.Decode(collectors.Section{Name: name})
	if err != nil {
		return 0
	}
	return f.Timing(o).Step
}
