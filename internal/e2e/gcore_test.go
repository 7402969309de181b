package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcore/gcoresim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestGcoreFailingResourceKeepsOthersAndHidesKey: the Gcore stand-in
// answers one resource's statistics with a 401 that echoes the request's
// Authorization header (as a misconfigured proxy might). `collect` must
// name that resource and fail (exit 1) without the API key appearing
// anywhere in its output, and the other resources' regions, their summed
// `all` and the ratios derived from it must reach graphite-web exactly as
// served.
func TestGcoreFailingResourceKeepsOthersAndHidesKey(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(0) // the resources gcoresim.Config lists
	bad := model.Services[2]    // "static"
	badID := strconv.FormatInt(gcoresim.ResourceID(2), 10)
	h, _ := simulate.Handler(simulate.Options{Model: model, Only: []string{"gcore"}, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, gcoresim.SeriesPath) && r.URL.Query().Get("resource") == badID {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"message":"token expired","request_headers":{"Authorization":%q}}`, r.Header.Get("Authorization"))
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer sim.Close()
	dir := t.TempDir()
	section, err := gcoresim.Config(sim.URL+"/gcore", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"e2egc\"\n", filepath.Join(dir, "state"), g.CarbonAddr)+section)
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-20 * time.Minute), End: end}
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code != 1 {
		t.Fatalf("collect exit %d, want 1 (one resource failed)\n%s\n%s", code, out.String(), errb.String())
	}
	all := out.String() + errb.String()
	t.Logf("%s", strings.TrimSpace(out.String()))
	for _, s := range []string{"resource " + bad.Name + " (" + badID + ")", "HTTP 401"} {
		if !strings.Contains(all, s) {
			t.Errorf("output does not say %q:\n%s", s, all)
		}
	}
	if strings.Contains(all, collectors.SimSecret) {
		t.Fatalf("the API key is in the output:\n%s", all)
	}
	want := map[string]map[int64]float64{}
	var good []schema.Record
	for _, r := range gcoresim.Expect(model, w) {
		if r.Service != bad.Name {
			good = append(good, r)
		}
	}
	n := addPoints(t, want, "e2egc", good)
	// 2 resources × 4 buckets × (4 regions + all): origin_offload of all
	// is 1 − Σupstream/Σsent over the regions, never an average.
	if len(want["e2egc.gcore.www.all.origin_offload"]) != 4 || len(want["e2egc.gcore.www.eu.requests"]) != 4 {
		t.Fatalf("expected points lack www's all or eu series")
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("resource %s failed with a 401; other resources: %d points expected, %d rendered exactly, %d missing", bad.Name, n, found, missing)
	if n == 0 || missing != 0 {
		t.Fatalf("%d of %d points of the good resources not rendered as served", missing, n)
	}
	if ss, err := g.Render(context.Background(), "e2egc.gcore."+bad.Name+".*.requests", w.Start.Unix(), w.End.Unix()); err == nil && len(ss) > 0 {
		t.Fatalf("the failing resource has series: %v", ss)
	}
}
