package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/bunny/bunnysim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestBunnyHourlyThroughRealGraphite: `collect` reads Bunny's hourly
// buckets (pull zones discovered through GET /pullzone) into real carbon,
// graphite-web renders exactly what the model served; a window reaching
// into the current hour writes no point for it (it is partial). `compare`
// then reports Bunny as not comparable in a 40-minute window (cloudfront,
// per minute, is judged as usual) and compares it over whole hours.
func TestBunnyHourlyThroughRealGraphite(t *testing.T) {
	t0 := time.Now()
	g := graphitetest.Start(t)
	t.Logf("graphite up in %v", time.Since(t0).Round(time.Millisecond))
	model := traffic.Default(3)
	dir := t.TempDir()
	_, text := startSim(t, simulate.Options{Model: model, Only: []string{"bunny", "cloudfront"}}, dir,
		simulate.Core{GraphiteAddr: g.CarbonAddr, GraphiteWebURL: g.WebURL, Prefix: "e2ebn"})
	cfg := writeConfig(t, dir, text+"\n[compare]\nbaseline = \"cloudfront\"\n")
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), append(args, "--config", cfg), app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
		all := out.String() + errb.String()
		if strings.Contains(all, collectors.SimSecret) {
			t.Fatalf("the API key is in the output:\n%s", all)
		}
		return code, all
	}
	now := time.Now()
	end := now.Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-3 * time.Hour), End: end}
	// Bunny up to now: the current hour is asked for but partial.
	if code, out := run("collect", "--collector", "bunny", "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(now.Unix())); code != 0 {
		t.Fatalf("collect bunny: exit %d\n%s", code, out)
	}
	if code, out := run("collect", "--collector", "cloudfront", "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())); code != 0 {
		t.Fatalf("collect cloudfront: exit %d\n%s", code, out)
	}
	t.Logf("collected at %v", time.Since(t0).Round(time.Millisecond))
	want := map[string]map[int64]float64{}
	n := addPoints(t, want, "e2ebn", bunnysim.Expect(model, w))
	found, missing := g.WaitValues(t, want, 15*time.Second)
	t.Logf("bunny: %d points expected (3 pull zones × 3 hours × 11), %d rendered exactly, %d missing", n, found, missing)
	if n != 3*3*11 || missing != 0 {
		t.Fatalf("%d of %d points not rendered as served", missing, n)
	}
	ss, err := g.Render(context.Background(), "e2ebn.bunny.www.all.requests", end.Unix(), now.Add(time.Minute).Unix())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Value != nil {
				t.Fatalf("the partial current hour was written: %v at %d", *p.Value, p.Time)
			}
		}
	}

	type report struct {
		Providers []struct {
			Provider string   `json:"provider"`
			Requests *float64 `json:"requests"`
			ErrRatio *float64 `json:"error_ratio"`
			Verdict  string   `json:"verdict"`
			Reasons  []string `json:"reasons"`
		} `json:"providers"`
	}
	compareOver := func(from, until time.Time) report {
		t.Helper()
		code, out := run("compare", "--format", "json", "--from", fmt.Sprint(from.Unix()), "--until", fmt.Sprint(until.Unix()))
		if code > 1 {
			t.Fatalf("compare: exit %d\n%s", code, out)
		}
		var r report
		if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &r); err != nil {
			t.Fatalf("compare json: %v\n%s", err, out)
		}
		return r
	}
	t.Logf("rendered at %v", time.Since(t0).Round(time.Millisecond))
	// 40 minutes inside an hour: Bunny's bucket cannot be cut to it.
	r := compareOver(w.Start.Add(70*time.Minute), w.Start.Add(110*time.Minute))
	got := map[string]string{}
	for _, p := range r.Providers {
		got[p.Provider] = p.Verdict
		if p.Provider == "bunny" && (p.Requests != nil || len(p.Reasons) != 1 || !strings.Contains(p.Reasons[0], "not comparable in this window: bunny reports in 1h0m0s buckets")) {
			t.Errorf("bunny in 40 minutes: requests %v, reasons %q", p.Requests, p.Reasons)
		}
	}
	if got["bunny"] != "not comparable" || got["cloudfront"] != "baseline" {
		t.Fatalf("verdicts over 40 minutes: %v", got)
	}
	t.Logf("compared 40 min at %v", time.Since(t0).Round(time.Millisecond))
	// Three whole hours: Bunny is compared, with the model's requests.
	// graphite-web reads (from, until]: a second earlier takes in the
	// first bucket and leaves out the one stamped at the end.
	var wantReq float64
	for _, rec := range bunnysim.Expect(model, w) {
		v, _ := rec.Get(0) // schema.Requests
		wantReq += v
	}
	r = compareOver(w.Start.Add(-time.Second), w.End.Add(-time.Second))
	for _, p := range r.Providers {
		if p.Provider == "bunny" {
			if p.Verdict == "not comparable" || p.Requests == nil || *p.Requests != wantReq || p.ErrRatio == nil {
				t.Errorf("bunny over 3 hours: verdict %s requests %v (want %v) reasons %q", p.Verdict, deref(p.Requests), wantReq, p.Reasons)
			}
		}
	}
	t.Logf("compared 3 h at %v", time.Since(t0).Round(time.Millisecond))
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
