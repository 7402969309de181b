package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

// chromium returns Debian's chromium (scripts/install-deps installs it);
// without it the test skips, or fails under CDNMETRICS_REQUIRE_GRAPHITE=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(graphitetest.RequireEnv) == "1" {
		t.Fatalf("chromium not installed (scripts/install-deps installs it) and %s=1", graphitetest.RequireEnv)
	}
	t.Skip("chromium not installed (scripts/install-deps installs it)")
	return ""
}

// renderSum is the sum of target's non-null values over [from, until].
func renderSum(t *testing.T, g *graphitetest.Server, target string, from, until int64) (float64, int) {
	t.Helper()
	ss, err := g.Render(context.Background(), target, from, until)
	if err != nil {
		t.Fatalf("render %s: %v", target, err)
	}
	sum, n := 0.0, 0
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Value != nil {
				sum += *p.Value
				n++
			}
		}
	}
	return sum, n
}

// A real browser loads a page whose document and images carry the
// Server-Timing headers of two pretend CDNs (Fastly-style cdn/cdn-cache/
// cdn-pop names and CloudFront's cdn-cache-hit/cdn-pop/cdn-rid), with
// /rum.js from the daemon; the beacons it sends become the per-provider
// RUM series in real Graphite.
func TestRUMBrowserBeaconsToGraphite(t *testing.T) {
	browser := chromium(t)
	g := graphitetest.Start(t)
	dir := t.TempDir()
	rumAddr := freePort(t)

	// The page: the document and two images from "fastly" (one miss, two
	// hits), one image from "cloudfront" (a hit) answered after 150 ms.
	var pageURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Server-Timing", `cdn;desc="fastly", cdn-cache;desc="MISS", cdn-pop;desc="LHR"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>rum</title>
<img src="/f1.gif"><img src="/f2.gif"><img src="/cf.gif">
<script src="http://%s/rum.js" data-service="www" async></script>`, rumAddr)
	})
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	img := func(serverTiming string, delay time.Duration) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(delay)
			w.Header().Set("Server-Timing", serverTiming)
			w.Header().Set("Timing-Allow-Origin", "*")
			w.Header().Set("Content-Type", "image/gif")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(gif)
		}
	}
	mux.HandleFunc("/f1.gif", img(`cdn;desc=fastly, cdn-cache;desc=HIT, cdn-pop;desc=LHR`, 0))
	mux.HandleFunc("/f2.gif", img(`cdn;desc=fastly, cdn-cache;desc=HIT, cdn-pop;desc=AMS`, 0))
	mux.HandleFunc("/cf.gif", img(`cdn-upstream-layer;desc="EDGE",cdn-upstream-dns;dur=0,cdn-cache-hit,cdn-pop;desc="PHX50-C2",cdn-rid;desc="yNPsyYn7skvTzwWkq3Wcc8Nj_foxUjQUe9H1ifslzWhb0w7aLbFvGg==",cdn-downstream-fbl;dur=436`, 150*time.Millisecond))
	pages := httptest.NewServer(mux) // loopback: a secure context for Server-Timing
	defer pages.Close()
	pageURL = pages.URL + "/"

	cfgPath := writeConfig(t, dir, fmt.Sprintf(`state_dir = %q
[graphite]
address = %q
prefix = "e2e"
web_url = %q
self_metrics_interval = "1s"
[rum]
listen = %q
allowed_origins = [%q]
providers = ["fastly", "cloudfront"]
services = ["www"]
`, filepath.Join(dir, "state"), g.CarbonAddr, g.WebURL, rumAddr, pages.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var dout, derr bytes.Buffer
	go func() {
		done <- app.Main(ctx, []string{"run", "--config", cfgPath}, app.IO{Stdout: &dout, Stderr: &derr, Getenv: func(string) string { return "" }})
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + rumAddr + "/rum.js")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rum endpoint never listened: %v\n%s", err, derr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	start := time.Now()
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), pageURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers are stopped with it
	var bout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bout, &bout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopBrowser := func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			cmd.Process = nil
		}
	}
	defer stopBrowser()

	// The daemon's self-metric of accepted entries reaches 4 (document, three
	// images) once the beacon is in.
	from := start.Add(-2 * time.Minute).Unix()
	for deadline := time.Now().Add(15 * time.Second); ; {
		ss, err := g.Render(ctx, "e2e.cdnmetrics.rum.entries", from, time.Now().Add(time.Minute).Unix())
		last := 0.0
		if err == nil {
			for _, s := range ss {
				for _, p := range s.Points {
					if p.Value != nil {
						last = *p.Value
					}
				}
			}
		}
		if last >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser beacons never counted (entries %v, err %v)\nbrowser: %s\ndaemon: %s", last, err, rumTail(bout.String()), rumTail(derr.String()))
		}
		time.Sleep(250 * time.Millisecond)
	}
	stopBrowser()
	// The stop emits the minute in progress.
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("daemon exit %d: %s", c, derr.String())
	}
	until := time.Now().Add(time.Minute).Unix()
	want := map[string]float64{
		"e2e.fastly.www.rum.rum_samples":       3,
		"e2e.fastly.www.rum.rum_hit_share":     2.0 / 3,
		"e2e.cloudfront.www.rum.rum_samples":   1,
		"e2e.cloudfront.www.rum.rum_hit_share": 1,
		"e2e.fastly.www.rum.rum_errors":        0,
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		missing := ""
		for target, v := range want {
			got, n := renderSum(t, g, target, from, until)
			if n == 0 || math.Abs(got-v) > 1e-9 {
				missing += fmt.Sprintf(" %s=%v(%d points, want %v)", target, got, n, v)
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RUM series in graphite:%s\ndaemon: %s", missing, rumTail(derr.String()))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The CloudFront image was answered after 150 ms: its TTFB as the
	// browser measured it is at least that (less 1% sketch accuracy), and
	// far below the 120 s cap; the one sample is both p50 and p95.
	p50, n := renderSum(t, g, "e2e.cloudfront.www.rum.ttfb_p50_ms", from, until)
	p95, _ := renderSum(t, g, "e2e.cloudfront.www.rum.ttfb_p95_ms", from, until)
	if n != 1 || p50 < 150*0.99 || p50 > 10000 || p50 != p95 {
		t.Errorf("cloudfront ttfb p50 %v p95 %v (%d points), want one value ≥ 148.5 ms", p50, p95, n)
	}
	if _, n := renderSum(t, g, "e2e.fastly.www.rum.ttfb_p50_ms", from, until); n != 1 {
		t.Errorf("fastly ttfb_p50_ms: %d points, want 1", n)
	}
	if _, n := renderSum(t, g, "e2e.other.www.rum.rum_samples", from, until); n != 0 {
		t.Errorf("series for provider other: the page named only fastly and cloudfront")
	}
	// compare reads the same series back and says its TTFB is the real
	// users'.
	var cout, cerr bytes.Buffer
	code := app.Main(context.Background(), []string{"compare", "--config", cfgPath, "--format", "json", "--baseline", "fastly",
		"--from", fmt.Sprint(from), "--until", fmt.Sprint(until)}, app.IO{Stdout: &cout, Stderr: &cerr, Getenv: func(string) string { return "" }})
	var rep struct {
		Providers []struct {
			Provider   string   `json:"provider"`
			TTFBP50    *float64 `json:"ttfb_p50_ms"`
			TTFBSource string   `json:"ttfb_source"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(cout.Bytes(), &rep); (code != 0 && code != 1) || err != nil {
		t.Fatalf("compare exit %d: %v\n%s\n%s", code, err, cout.String(), cerr.String())
	}
	for _, p := range rep.Providers {
		if p.Provider == "cloudfront" && (p.TTFBSource != "rum" || p.TTFBP50 == nil || math.Abs(*p.TTFBP50-p50) > 1e-6) {
			t.Errorf("compare cloudfront: source %q p50 %v, want rum %v", p.TTFBSource, p.TTFBP50, p50)
		}
	}
	t.Logf("browser → graphite in %s", time.Since(start).Round(time.Millisecond))
}

func rumTail(s string) string {
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return strings.TrimSpace(s)
}
