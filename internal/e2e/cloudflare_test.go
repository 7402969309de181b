package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudflare/cloudflaresim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestCloudflareErrorIn200KeepsOtherZones: Cloudflare's GraphQL API
// reports errors inside HTTP 200 answers. The stand-in answers every query
// for one zone with the recorded error sample; `collect` must say which
// zone failed and why (exit 1), and the other zones' values must still
// reach graphite-web exactly as served.
func TestCloudflareErrorIn200KeepsOtherZones(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(0) // the zones cloudflaresim.Config lists
	errBody, err := os.ReadFile("../../collectors/cloudflare/testdata/graphql-error-in-200.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := model.Services[1] // "api"
	h, _ := simulate.Handler(simulate.Options{Model: model, Only: []string{"cloudflare"}, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/graphql") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(bad.ID)) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(errBody) // HTTP 200 with "errors"
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer sim.Close()
	dir := t.TempDir()
	section, err := cloudflaresim.Config(sim.URL+"/cloudflare", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"e2ecf\"\n", filepath.Join(dir, "state"), g.CarbonAddr)+section)
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-20 * time.Minute), End: end}
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code != 1 {
		t.Fatalf("collect exit %d, want 1 (one zone failed)\n%s\n%s", code, out.String(), errb.String())
	}
	all := out.String() + errb.String()
	t.Logf("%s", strings.TrimSpace(out.String()))
	for _, s := range []string{"zone " + bad.Name + " (" + bad.ID + ")", "cannot request data older than"} {
		if !strings.Contains(all, s) {
			t.Errorf("output does not say %q:\n%s", s, all)
		}
	}
	if strings.Contains(all, collectors.SimSecret) {
		t.Fatal("the API token is in the output")
	}
	want := map[string]map[int64]float64{}
	var good []schema.Record
	for _, r := range cloudflaresim.Expect(model, w) {
		if r.Service != bad.Name {
			good = append(good, r)
		}
	}
	n := addPoints(t, want, "e2ecf", good)
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("zone %s failed in a 200 answer; other zones: %d points expected, %d rendered exactly, %d missing", bad.Name, n, found, missing)
	if n == 0 || missing != 0 {
		t.Fatalf("%d of %d points of the good zones not rendered as served", missing, n)
	}
	if ss, err := g.Render(context.Background(), "e2ecf.cloudflare."+bad.Name+".all.requests", w.Start.Unix(), w.End.Unix()); err == nil && len(ss) > 0 {
		t.Fatalf("the failing zone has series: %v", ss)
	}
}
