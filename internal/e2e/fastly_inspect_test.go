package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestFastlyInspectorsCollect: `collect` with origin_inspector and
// domain_inspector reads Fastly's historical Origin and Domain Inspector
// feeds (the constructed fixtures, moved to a recent window), follows
// meta.next_cursor, and graphite-web renders the per-origin and per-domain
// series at the fixed paths with the values worked out by hand; the
// latency percentiles come from the bucket counts. A service whose account
// lacks Domain Inspector (second run) never has that feed asked for.
func TestFastlyInspectorsCollect(t *testing.T) {
	g := graphitetest.Start(t)
	fixture := func(name string) []byte {
		b, err := os.ReadFile("../../collectors/fastly/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The fixtures' minutes 1700000040, +60, +120, moved to T, T+60, T+120.
	T := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).Unix()
	move := func(b []byte) []byte {
		for _, d := range []int64{0, 60, 120} {
			b = bytes.ReplaceAll(b, []byte(fmt.Sprint(1700000040+d)), []byte(fmt.Sprint(T+d)))
		}
		return b
	}
	var (
		mu       sync.Mutex
		seen     []string
		domainOK = true
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		dok := domainOK
		mu.Unlock()
		if r.Header.Get("Fastly-Key") != collectors.SimSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/entitled-products/origin_inspector":
			fmt.Fprint(w, `{"has_access":true,"product":{"id":"origin_inspector"}}`)
		case p == "/entitled-products/domain_inspector":
			fmt.Fprintf(w, `{"has_access":%v,"product":{"id":"domain_inspector"}}`, dok)
		case p == "/metrics/origins/services/SVCINSPECT" && r.URL.Query().Get("cursor") == "":
			w.Write(move(fixture("metrics-origins-minute-page1.constructed.json")))
		case p == "/metrics/origins/services/SVCINSPECT":
			w.Write(move(fixture("metrics-origins-minute-page2.constructed.json")))
		case p == "/metrics/domains/services/SVCINSPECT":
			w.Write(move(fixture("metrics-domains-minute.constructed.json")))
		case strings.HasPrefix(p, "/stats/service/"):
			fmt.Fprint(w, `{"data":[],"meta":{"by":"minute"},"status":"success","msg":null}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`state_dir = %q
[graphite]
address = %q
prefix = "e2efi"
[fastly]
api_url = %q
rt_url = %q
token_env = %q
regions = []
origin_inspector = true
domain_inspector = true
[[fastly.service]]
id = "SVCINSPECT"
name = "shop"
`, filepath.Join(dir, "state"), g.CarbonAddr, srv.URL, srv.URL, collectors.SimSecretEnv))
	collect := func() string {
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(T), "--to", fmt.Sprint(T + 120)},
			app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
		all := out.String() + errb.String()
		if code != 0 {
			t.Fatalf("collect exit %d\n%s", code, all)
		}
		if strings.Contains(all, collectors.SimSecret) {
			t.Fatal("the API token is in the output")
		}
		return all
	}
	collect()
	o := "e2efi.fastly.shop.all.origins.origin_example_com."
	ip := "e2efi.fastly.shop.all.origins.10_0_0_7_8443."
	d := "e2efi.fastly.shop.all.domains.www_example_com."
	want := map[string]map[int64]float64{
		o + "responses":            {T: 30, T + 60: 20},
		o + "origin_bytes":         {T: 3000 + 150000, T + 60: 1000},
		o + "status_5xx":           {T: 2},
		o + "latency_5_to_10ms":    {T: 10},
		o + "latency_p50_ms":       {T: 5 + 5*(15.0-10)/10, T + 60: 100 + 150*10.0/19},
		o + "latency_p95_ms":       {T: 10 + 40*(28.5-20)/10, T + 60: 250},
		ip + "responses":           {T: 5},
		ip + "latency_p95_ms":      {T: 250 + 250*4.75/5},
		d + "requests":             {T: 6000},
		d + "edge_bytes":           {T: 1200000 + 58800000},
		d + "hits":                 {T: 5400},
		d + "misses":               {T: 500},
		d + "hit_ratio":            {T: 5400.0 / 5900},
		o + "latency_60000ms":      {T + 60: 1},
		o + "latency_100_to_250ms": {T + 60: 19},
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("inspector points: %d rendered exactly, %d missing", found, missing)
	if missing != 0 {
		t.Fatalf("%d inspector points not rendered as computed by hand", missing)
	}
	// The minute at the window's end is not written.
	if ss, err := g.Render(context.Background(), o+"responses", T+120, T+180); err == nil {
		for _, s := range ss {
			for _, p := range s.Points {
				if p.Value != nil && p.Time == T+120 {
					t.Errorf("minute at the window's end written: %v", *p.Value)
				}
			}
		}
	}
	// Without Domain Inspector, the domain feed is never asked for.
	mu.Lock()
	domainOK, seen = false, nil
	mu.Unlock()
	// A fresh process asks the entitlement API again.
	logs := collect()
	mu.Lock()
	defer mu.Unlock()
	for _, p := range seen {
		if strings.HasPrefix(p, "/metrics/domains/") {
			t.Errorf("domain feed asked for without the product: %s", p)
		}
	}
	if !strings.Contains(logs, "Domain Inspector not available") {
		t.Errorf("no log line says the product is missing:\n%s", logs)
	}
}

// TestFastlyOriginInspectorRun: the daemon follows the Origin Inspector
// real-time feed beside the channel (the stand-in serves 60 seconds of
// one origin, 2 responses a second, all in the 10–50 ms bucket, as fast
// as they are asked for) and writes 10 s buckets per POP and for all;
// graphite-web renders the counts and the percentiles worked out by hand.
// The Domain Inspector feed, which the account lacks, is never asked for.
func TestFastlyOriginInspectorRun(t *testing.T) {
	g := graphitetest.Start(t)
	S := time.Now().Add(-2*time.Minute).Unix() / 10 * 10 // first second served, on a bucket start
	const n = 60                                         // seconds served: S … S+59
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Fastly-Key") != collectors.SimSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/entitled-products/origin_inspector":
			fmt.Fprint(w, `{"has_access":true,"product":{"id":"origin_inspector"}}`)
		case p == "/entitled-products/domain_inspector":
			fmt.Fprint(w, `{"has_access":false,"product":{"id":"domain_inspector"}}`)
		case strings.HasPrefix(p, "/v1/origins/SVCRUN/ts/"):
			ts, _ := strconv.ParseInt(strings.TrimPrefix(p, "/v1/origins/SVCRUN/ts/"), 10, 64)
			if ts == 0 {
				ts = S
			}
			if ts >= S+n {
				// Caught up: no data, and a clock past the last bucket's
				// end + AggregateDelay 0 + grace 2.
				fmt.Fprintf(w, `{"Data":[],"Timestamp":%d,"AggregateDelay":0,"Error":"No data available, please retry"}`, S+n+3)
				return
			}
			fmt.Fprintf(w, `{"Data":[{"recorded":%d,"aggregated":{"api.example.com":{"responses":2,"status_2xx":2,"latency_10_to_50ms":2}},
				"datacenter":{"LHR":{"api.example.com":{"responses":2,"status_2xx":2,"latency_10_to_50ms":2}}}}],"Timestamp":%d,"AggregateDelay":0}`, ts, ts+1)
		case strings.HasPrefix(p, "/v1/channel/"):
			fmt.Fprintf(w, `{"Data":[],"Timestamp":%d,"AggregateDelay":0}`, S)
		case strings.HasPrefix(p, "/metrics/"):
			fmt.Fprint(w, `{"status":"success","msg":null,"meta":{"next_cursor":""},"data":[]}`)
		case strings.HasPrefix(p, "/stats/service/"):
			fmt.Fprint(w, `{"data":[],"meta":{"by":"minute"},"status":"success","msg":null}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`state_dir = %q
[graphite]
address = %q
prefix = "e2efr"
[fastly]
api_url = %q
rt_url = %q
token_env = %q
regions = []
lookback = "5m"
resolution = "10s"
origin_inspector = true
domain_inspector = true
inspectors_per_pop = true
[[fastly.service]]
id = "SVCRUN"
name = "api"
`, filepath.Join(dir, "state"), g.CarbonAddr, srv.URL, srv.URL, collectors.SimSecretEnv))
	var stdout, stderr collectorstest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- app.Main(ctx, []string{"run", "--config", cfg}, app.IO{Stdout: &stdout, Stderr: &stderr, Getenv: simGetenv})
	}()
	want := map[string]map[int64]float64{}
	for b := S; b < S+n; b += 10 {
		for _, loc := range []string{"all", "lhr"} {
			base := "e2efr.fastly.api." + loc + ".origins.api_example_com."
			for m, v := range map[string]float64{
				"responses": 20, "status_2xx": 20, "status_5xx": 0, "latency_10_to_50ms": 20, "latency_50_to_100ms": 0,
				// 20 responses in 10–50 ms: rank 10 and 19 of 20.
				"latency_p50_ms": 10 + 40*10.0/20, "latency_p95_ms": 10 + 40*19.0/20,
			} {
				if want[base+m] == nil {
					want[base+m] = map[int64]float64{}
				}
				want[base+m][b] = v
			}
		}
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("daemon exit %d\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("daemon did not stop")
	}
	t.Logf("origin inspector buckets: %d points rendered exactly, %d missing", found, missing)
	if missing != 0 {
		t.Fatalf("%d points not rendered as computed by hand\n%s", missing, grepLines(stderr.String(), "fastly"))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range seen {
		if strings.HasPrefix(p, "/v1/domains/") || strings.HasPrefix(p, "/metrics/domains/") {
			t.Errorf("domain feed asked for without the product: %s", p)
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), collectors.SimSecret) {
		t.Fatal("the API token is in the output")
	}
}

// TestFastlyInspectorsFromSimulator: `collect` against the built-in
// simulator (its config turns both inspectors on, as `make demo` runs it)
// writes every origin's and domain's series of every service, and
// graphite-web renders exactly fastlysim.ExpectInspectors — the model's
// seconds summed without the collector's mapping.
func TestFastlyInspectorsFromSimulator(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(7)
	dir := t.TempDir()
	_, text := startSim(t, simulate.Options{Model: model, Only: []string{"fastly"}}, dir, simulate.Core{GraphiteAddr: g.CarbonAddr, Prefix: "e2esi"})
	cfg := writeConfig(t, dir, text)
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-5 * time.Minute), End: end}
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--collector", "fastly",
		"--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code != 0 {
		t.Fatalf("collect exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	want := map[string]map[int64]float64{}
	n := 0
	for _, p := range fastlysim.ExpectInspectors(model, "e2esi", w) {
		if want[p.Path] == nil {
			want[p.Path] = map[int64]float64{}
		}
		want[p.Path][p.Time] = p.Value
		n++
	}
	// 3 services × 5 minutes × (2 origins × 20 + 2 domains × 5 metrics),
	// less minutes an origin had no fetch.
	if n < 3*5*50*9/10 {
		t.Fatalf("ExpectInspectors gave %d points", n)
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("inspector points from the simulator: %d expected, %d rendered exactly, %d missing", n, found, missing)
	if missing != 0 {
		t.Fatalf("%d of %d inspector points not rendered as the model says", missing, n)
	}
}
