package rum

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// A stop within a minute keeps it; a start within the same minute adds to
// it, so the minute's point is of all 200 entries (exact quantiles of both
// halves together), not of the 100 after the restart.
func TestOpenMinuteSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	m := time.Unix(1700000040, 0)
	var all []float64
	a := NewAggregator([]string{"fastly"}, []string{"www"}, 300, quietCounters())
	for i := 0; i < 100; i++ {
		v := float64(10 + i)
		a.Add(Entry{Provider: "fastly", TTFB: f(v), Cache: "HIT"}, "gb", m.Add(10*time.Second))
		all = append(all, v)
	}
	if err := a.saveOpen(dir, m.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	b := NewAggregator([]string{"fastly"}, []string{"www"}, 300, quietCounters())
	if n, err := b.loadOpen(dir, m.Add(40*time.Second)); err != nil || n != 1 {
		t.Fatalf("restored %d cells, err %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, openFile)); !os.IsNotExist(err) {
		t.Errorf("the saved minute is still there after the load: %v", err)
	}
	for i := 0; i < 100; i++ {
		v := float64(500 + 3*i)
		b.Add(Entry{Provider: "fastly", TTFB: f(v), Cache: "MISS"}, "gb", m.Add(50*time.Second))
		all = append(all, v)
	}
	sort.Float64s(all)
	g := gaugeMap(b.Flush(m.Add(time.Minute), false), "fastly", "www")
	for _, loc := range []string{"rum", "rum_gb"} {
		if g[loc]["rum_samples"] != 200 || g[loc]["rum_hit_share"] != 0.5 {
			t.Errorf("%s: %v", loc, g[loc])
		}
		within(t, loc+" p50", g[loc]["ttfb_p50_ms"], exact(all, 0.5))
		within(t, loc+" p95", g[loc]["ttfb_p95_ms"], exact(all, 0.95))
	}

	// A start after the minute ended restores nothing (the stop emitted it).
	if err := a.saveOpen(dir, m.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := NewAggregator([]string{"fastly"}, []string{"www"}, 300, quietCounters())
	if n, err := c.loadOpen(dir, m.Add(61*time.Second)); err != nil || n != 0 {
		t.Errorf("after the minute: restored %d, err %v", n, err)
	}
	// A corrupt file is reported and removed.
	os.WriteFile(filepath.Join(dir, openFile), []byte("{not json"), 0o600)
	if _, err := c.loadOpen(dir, m); err == nil {
		t.Error("a corrupt file loaded without an error")
	}
	if _, err := os.Stat(filepath.Join(dir, openFile)); !os.IsNotExist(err) {
		t.Error("the corrupt file was kept")
	}
}

// Serve on a real loopback listener: a beacon posted over HTTP comes out
// of the emitter as the minute's gauges when the server stops.
func TestServeEmitsAtStop(t *testing.T) {
	cfg := testConfig()
	h, _ := newTestHandler(t, cfg)
	h.now = time.Now
	h.count.now = time.Now
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []schema.Gauge
	e := collectors.EmitterFunc(func(_ context.Context, b collectors.Batch) error {
		mu.Lock()
		got = append(got, b.Gauges...)
		mu.Unlock()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, l, e) }()
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/rum", strings.NewReader(`{"provider":"fastly","ttfb_ms":42}`))
	req.Header.Set("Origin", page)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	g := gaugeMap(got, "fastly", "www")["rum"]
	if g["rum_samples"] != 1 {
		t.Fatalf("gauges at stop: %v", got)
	}
	within(t, "ttfb_p50_ms", g["ttfb_p50_ms"], 42)
}
