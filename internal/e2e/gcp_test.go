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
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestGCPPagesAndPartialBucketsThroughRealGraphite runs `collect` against
// the Google Cloud CDN stand-in (service-account key file, token endpoint
// verifying the signed assertion, timeSeries.list paged with
// nextPageToken) into a real carbon-cache. The answers are edited on the
// way: one minute has no points at all (an empty bucket: absent in
// graphite, not 0) and one has no backend points (a partial bucket: its
// origin counts absent, everything else rendered). Every other value must
// render exactly as gcpsim.Expect computes it from the model.
func TestGCPPagesAndPartialBucketsThroughRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(0)
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-12 * time.Minute), End: end}
	empty := w.Start.Add(3 * time.Minute).UTC().Format(time.RFC3339)
	partial := w.Start.Add(7 * time.Minute).UTC().Format(time.RFC3339)

	h, _ := simulate.Handler(simulate.Options{Model: model, Only: []string{"gcp"}, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var pages, cut atomic.Int64
	sim := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/timeSeries") {
			h.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			pages.Add(1)
			backend := strings.Contains(r.URL.Query().Get("filter"), "backend_")
			body = dropPoints(t, body, func(start string) bool { return start == empty || backend && start == partial }, &cut)
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(body)
	}))
	defer sim.Close()

	dir := t.TempDir()
	section, err := gcpsim.Config(sim.URL+"/gcp", filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"e2egcp\"\n", filepath.Join(dir, "state"), g.CarbonAddr)+section)
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code != 0 {
		t.Fatalf("collect exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	// Four metrics; more answers than that means nextPageToken was followed.
	if pages.Load() <= 4 || cut.Load() == 0 {
		t.Fatalf("%d timeSeries.list pages, %d series points cut: no page boundary or no edit", pages.Load(), cut.Load())
	}
	emptyT, partialT := w.Start.Add(3*time.Minute).Unix(), w.Start.Add(7*time.Minute).Unix()
	var recs []schema.Record
	for _, r := range gcpsim.Expect(model, w) {
		switch r.Start {
		case emptyT:
			continue
		case partialT:
			var p schema.Record
			p.Provider, p.Service, p.Location, p.Start, p.Step = r.Provider, r.Service, r.Location, r.Start, r.Step
			for _, f := range schema.Fields() {
				if v, ok := r.Get(f); ok && f != schema.OriginRequests && f != schema.OriginBytes {
					p.Set(f, v)
				}
			}
			r = p
		}
		recs = append(recs, r)
	}
	want := map[string]map[int64]float64{}
	n := addPoints(t, want, "e2egcp", recs)
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("gcp: %d pages; %d points expected, %d rendered exactly, %d missing", pages.Load(), n, found, missing)
	if missing != 0 {
		t.Fatalf("%d of %d points not rendered as served", missing, n)
	}
	for _, c := range []struct {
		path string
		at   int64
	}{{"e2egcp.gcp.www.all.requests", emptyT}, {"e2egcp.gcp.www.europe.edge_bytes", emptyT}, {"e2egcp.gcp.www.all.origin_requests", partialT}, {"e2egcp.gcp.api.america.origin_bytes", partialT}} {
		ss, err := g.Render(context.Background(), c.path, w.Start.Unix(), w.End.Unix())
		if err != nil || len(ss) == 0 {
			t.Fatalf("render %s: %v %v", c.path, ss, err)
		}
		for _, p := range ss[0].Points {
			if p.Time == c.at && p.Value != nil {
				t.Errorf("%s at %d = %v, want no value (the vendor had none)", c.path, c.at, *p.Value)
			}
		}
	}
	if strings.Contains(out.String()+errb.String(), "PRIVATE KEY") {
		t.Fatal("the key is in the output")
	}
}

// dropPoints removes from a timeSeries.list answer the points whose
// interval starts at a time drop picks, counting them in cut.
func dropPoints(t *testing.T, body []byte, drop func(start string) bool, cut *atomic.Int64) []byte {
	var page map[string]any
	if err := json.Unmarshal(body, &page); err != nil {
		t.Errorf("stand-in answer: %v", err)
		return body
	}
	series, _ := page["timeSeries"].([]any)
	for _, s := range series {
		sm := s.(map[string]any)
		var kept []any
		for _, p := range sm["points"].([]any) {
			start := p.(map[string]any)["interval"].(map[string]any)["startTime"].(string)
			if drop(start) {
				cut.Add(1)
				continue
			}
			kept = append(kept, p)
		}
		sm["points"] = kept
	}
	b, err := json.Marshal(page)
	if err != nil {
		t.Error(err)
		return body
	}
	return b
}
