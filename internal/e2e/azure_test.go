package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/azure/azuresim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// emptyMinute rewrites an Azure Monitor metrics answer so that minute t is
// an empty bucket as Azure answers one: counts 0, averages (ByteHitRatio,
// latencies) a timestamp-only object.
func emptyMinute(body []byte, t int64) ([]byte, error) {
	var a map[string]any
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	stamp := time.Unix(t, 0).UTC().Format(time.RFC3339)
	values, _ := a["value"].([]any)
	for _, v := range values {
		m, _ := v.(map[string]any)
		series, _ := m["timeseries"].([]any)
		for _, s := range series {
			sm, _ := s.(map[string]any)
			data, _ := sm["data"].([]any)
			for _, d := range data {
				p, _ := d.(map[string]any)
				if p["timeStamp"] != stamp {
					continue
				}
				if _, ok := p["total"]; ok {
					p["total"] = 0.0
				}
				delete(p, "average")
			}
		}
	}
	return json.Marshal(a)
}

// TestAzureThroughGraphite: `collect` reads Azure Front Door's figures from
// the stand-in (token endpoint and metrics API) into real carbon, and
// graphite-web renders exactly what the traffic model says (azuresim.Expect)
// — with one minute turned into an empty bucket: its counts are 0, its
// origin bytes (derived from the empty ByteHitRatio bucket) and latencies
// are absent, not 0.
func TestAzureThroughGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(0) // the profiles azuresim.Config lists
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-15 * time.Minute), End: end}
	idle := w.Start.Add(5 * time.Minute).Unix()
	h, _ := simulate.Handler(simulate.Options{Model: model, Only: []string{"azure"}, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sim := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/providers/Microsoft.Insights/metrics") {
			h.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			b, err := emptyMinute(body, idle)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			body = b
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.Header().Del("Content-Length")
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(body)
	}))
	defer sim.Close()
	dir := t.TempDir()
	section, err := azuresim.Config(sim.URL+"/azure", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"e2eaz\"\n", filepath.Join(dir, "state"), g.CarbonAddr)+section)
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code != 0 {
		t.Fatalf("collect exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("%s", strings.TrimSpace(out.String()))
	if strings.Contains(out.String()+errb.String(), collectors.SimSecret) {
		t.Fatal("the client secret is in the output")
	}
	// What the model served, with the idle minute as Azure answers an
	// empty bucket: every count 0, origin bytes unknown.
	var recs []schema.Record
	for _, r := range azuresim.Expect(model, w) {
		if r.Start == idle {
			z := schema.Record{Provider: r.Provider, Service: r.Service, Location: r.Location, Start: r.Start, Step: r.Step}
			for _, f := range schema.Fields() {
				if r.Has(f) && f != schema.OriginBytes {
					z.Set(f, 0)
				}
			}
			r = z
		}
		recs = append(recs, r)
	}
	want := map[string]map[int64]float64{}
	n := addPoints(t, want, "e2eaz", recs)
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("%d points expected, %d rendered exactly, %d missing", n, found, missing)
	if n == 0 || missing != 0 {
		t.Fatalf("%d of %d points not rendered as served", missing, n)
	}
	for _, target := range []string{"e2eaz.azure.www.all.origin_bytes", "e2eaz.azure.www.all.total_latency_ms", "e2eaz.azure.www.all.origin_offload"} {
		ss, err := g.Render(context.Background(), target, w.Start.Unix(), w.End.Unix())
		if err != nil || len(ss) == 0 {
			t.Fatalf("%s: %v %v", target, ss, err)
		}
		known, atIdle := 0, false
		for _, p := range ss[0].Points {
			if p.Value != nil {
				known++
				atIdle = atIdle || p.Time == idle
			}
		}
		if atIdle || known == 0 {
			t.Fatalf("%s: %d values, one at the empty minute: %v (want values, none there)", target, known, atIdle)
		}
	}
}
