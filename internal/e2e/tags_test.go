package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/compare"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Tagged series ([graphite] tags) against real carbon-cache + graphite-web
// with its tag database: with "both" a provider metric is found by its
// dotted path and by seriesByTag; with "only" there is no dotted provider
// tree, self-metrics stay dotted, and compare and graph read the providers
// through seriesByTag.
func TestTaggedSeriesFoundBySeriesByTag(t *testing.T) {
	g := graphitetest.StartTagged(t)
	now := time.Now().Unix()
	t0 := now - now%60 - 600 // inside the 10 s archive

	// Counts of one 60 s interval per provider and POP. Expected values
	// below are written out by hand from these numbers.
	rec := func(prov, loc string, req, hits, misses float64) schema.Record {
		r := schema.Record{Provider: prov, Service: "www", Location: loc, Start: t0, Step: 60}
		r.Set(schema.Requests, req)
		r.Set(schema.Hits, hits)
		r.Set(schema.Misses, misses)
		return r
	}
	recs := []schema.Record{
		rec("fastly", "lhr", 1000, 900, 100), rec("fastly", "fra", 3000, 2100, 900),
		rec("akamai", "lhr", 2000, 1000, 1000),
	}
	send := func(prefix, mode string) {
		s, err := graphite.New(g.CarbonAddr, graphite.WithTags(prefix, mode))
		if err != nil {
			t.Fatal(err)
		}
		pts := schema.Points(prefix, recs, nil)
		pts = append(pts, graphite.Stats{SentPoints: 7}.SelfPoints(prefix, time.Unix(t0, 0))...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Send(ctx, pts); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send("tb", schema.TagsBoth)
	send("to", schema.TagsOnly)

	// "both": the dotted path and the tagged series, graphite's normalised
	// name (tags sorted), hold the same value.
	g.WaitValue(t, "tb.fastly.www.lhr.requests", t0, 1000, 20*time.Second)
	g.WaitValue(t, "seriesByTag('name=tb.requests','provider=fastly','location=lhr')", t0, 1000, 20*time.Second)
	// Each new series is created (and tagged) on its own: poll until all
	// three are there, with a deadline.
	want := []string{"tb.requests;location=all;provider=fastly;service=www", "tb.requests;location=fra;provider=fastly;service=www",
		"tb.requests;location=lhr;provider=fastly;service=www"}
	var names []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		names = renderNames(t, g, "seriesByTag('name=tb.requests','provider=fastly')", t0)
		if fmt.Sprint(names) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("seriesByTag names %q, want %q", names, want)
	}

	// "only": hit ratio at location all of both providers by tag: fastly
	// (900+2100)/(900+2100+100+900) = 0.75, akamai 1000/2000 = 0.5.
	g.WaitValue(t, "seriesByTag('name=to.hit_ratio','provider=fastly','location=all')", t0, 0.75, 20*time.Second)
	g.WaitValue(t, "seriesByTag('name=to.hit_ratio','provider=akamai','location=all')", t0, 0.5, 20*time.Second)
	// Self-metrics stay dotted; no provider tree, no tagged self-metric.
	g.WaitValue(t, "to.cdnmetrics.sink.sent_points", t0, 7, 20*time.Second)
	if n := renderNames(t, g, "to.*.www.*.*", t0); len(n) != 0 {
		t.Errorf("tags = only wrote dotted provider series: %q", n)
	}
	if n := renderNames(t, g, "seriesByTag('name=to.sent_points')", t0); len(n) != 0 {
		t.Errorf("self-metric written as a tagged series: %q", n)
	}

	// graph's default target in "only" mode: one line per provider and
	// service, named by tag.
	ss, err := g.Render(context.Background(), compare.HitRatioTarget("to", schema.TagsOnly), t0-60, t0+120)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Value != nil && p.Time == t0 {
				got[s.Target] = *p.Value
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]float64{"akamai.www": 0.5, "fastly.www": 0.75}) {
		t.Errorf("graph default target %s: %v", compare.HitRatioTarget("to", schema.TagsOnly), got)
	}

	dir := t.TempDir()
	cfgText := func(tags string) string {
		return writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\nprefix = \"to\"\nweb_url = %q\ntags = %q\n", filepath.Join(dir, "state"), g.WebURL, tags))
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), args, app.IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return code, out.String(), errb.String()
	}
	// Wider than Akamai's 5-minute buckets: compare calls a provider whose
	// buckets are longer than the window not comparable.
	window := []string{"--from", fmt.Sprint(t0 - 240), "--until", fmt.Sprint(t0 + 120)}

	// compare reads the tagged series: requests fastly 4000, akamai 2000;
	// hit ratio from summed counts as above.
	code, out, errs := run(append([]string{"compare", "--config", cfgText(schema.TagsOnly), "--format", "json", "--baseline", "fastly"}, window...)...)
	if code == 2 {
		t.Fatalf("compare (tags = only): exit %d\n%s%s", code, out, errs)
	}
	var rep struct {
		Providers []struct {
			Provider string   `json:"provider"`
			Requests *float64 `json:"requests"`
			HitRatio *float64 `json:"hit_ratio"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("compare json: %v\n%s", err, out)
	}
	wantRep := map[string][2]float64{"akamai": {2000, 0.5}, "fastly": {4000, 0.75}}
	if len(rep.Providers) != len(wantRep) {
		t.Fatalf("compare providers %+v, want %v\n%s", rep.Providers, wantRep, out)
	}
	for _, p := range rep.Providers {
		w, ok := wantRep[p.Provider]
		if !ok || p.Requests == nil || p.HitRatio == nil || *p.Requests != w[0] || math.Abs(*p.HitRatio-w[1]) > 1e-12 {
			t.Errorf("compare %s: requests %v hit ratio %v, want %v", p.Provider, ptr(p.Requests), ptr(p.HitRatio), w)
		}
	}
	// The same config with tags off looks for the dotted tree, which
	// "only" did not write: compare finds no provider.
	if code, out, errs := run(append([]string{"compare", "--config", cfgText(schema.TagsOff), "--format", "json", "--baseline", "fastly"}, window...)...); code != 2 || !strings.Contains(errs, "no provider series") {
		t.Errorf("compare (tags = off) on a tags-only tree: exit %d, want 2 with 'no provider series'\n%s%s", code, out, errs)
	}

	png := filepath.Join(dir, "g.png")
	if code, out, errs := run(append([]string{"graph", "--config", cfgText(schema.TagsOnly), "--out", png, "--events", ""}, window...)...); code != 0 {
		t.Fatalf("graph (tags = only): exit %d\n%s%s", code, out, errs)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("graph wrote no PNG: %v", err)
	}
}

// renderNames returns the sorted series names target renders around ts.
func renderNames(t *testing.T, g *graphitetest.Server, target string, ts int64) []string {
	t.Helper()
	ss, err := g.Render(context.Background(), target, ts-60, ts+120)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.Target)
	}
	sort.Strings(names)
	return names
}

func ptr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
