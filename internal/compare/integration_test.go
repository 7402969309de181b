package compare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

// send writes plaintext lines to carbon, every line ending in "\n" (carbon
// drops a last line without one).
func send(t *testing.T, addr string, lines []string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

// series returns lines for path at t0 + 10 s × k; a nil entry is a gap
// (nothing written for that interval), a string is written as is ("inf").
func series(path string, t0 int64, vals ...any) []string {
	var out []string
	for k, v := range vals {
		if v == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s %v %d", path, v, t0+int64(k)*10))
	}
	return out
}

func rep(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func compareJSON(t *testing.T, cfgPath string, from, until int64) (int, map[string]map[string]any, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"compare", "--config", cfgPath, "--format", "json",
		"--from", fmt.Sprint(from), "--until", fmt.Sprint(until)}, app.IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code >= 2 {
		return code, nil, errb.String()
	}
	var r struct{ Providers []map[string]any }
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("compare output not JSON: %v\n%s\n%s", err, out.String(), errb.String())
	}
	m := map[string]map[string]any{}
	for _, p := range r.Providers {
		m[p["provider"].(string)] = p
	}
	return code, m, out.String()
}

func num(p map[string]any, k string) (float64, bool) {
	v, ok := p[k].(float64)
	return v, ok
}

// TestCompareRealGraphite writes three providers' counts to a real carbon
// and checks what `cdnmetrics compare` prints against hand-computed values.
func TestCompareRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nweb_url = %q\n", dir, g.CarbonAddr, g.WebURL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	now := time.Now().Unix()
	t0 := now - now%60 - 600 // aligned, 10 min back: inside the 10 s archive
	from, until := t0-60, t0+120

	var lines []string
	add := func(path string, vals ...any) { lines = append(lines, series(path, t0, vals...)...) }
	// fastly (baseline), two services summed.
	add("cdn.fastly.www.all.requests", rep(1000, 4)...)
	add("cdn.fastly.www.all.hits", 900, 900, nil, 900) // gap at k=2
	add("cdn.fastly.www.all.misses", rep(100, 4)...)
	add("cdn.fastly.www.all.edge_bytes", rep(10000, 4)...)
	add("cdn.fastly.www.all.origin_bytes", rep(1000, 4)...)
	add("cdn.fastly.www.all.origin_requests", rep(100, 4)...)
	add("cdn.fastly.www.all.status_5xx", rep(10, 4)...)
	add("cdn.fastly.api.all.requests", rep(500, 4)...)
	add("cdn.fastly.api.all.hits", 450, 450, 450, 450, "inf") // inf at k=4 → 1e9999
	add("cdn.fastly.api.all.misses", rep(50, 5)...)
	add("cdn.fastly.api.all.edge_bytes", rep(5000, 4)...)
	add("cdn.fastly.api.all.origin_bytes", rep(500, 4)...)
	add("cdn.fastly.api.all.origin_requests", rep(50, 4)...)
	add("cdn.fastly.api.all.status_5xx", rep(0, 4)...)
	add("cdn.fastly.www.lhr.probe_ttfb_ms", 10, 20, 30, 40)
	add("cdn.fastly.www.all.probe_ttfb_ms", 50)
	// cloudflare: no origin_requests; edge_bytes gap at k=3.
	add("cdn.cloudflare.www.all.requests", rep(1500, 4)...)
	add("cdn.cloudflare.www.all.hits", rep(1350, 4)...)
	add("cdn.cloudflare.www.all.misses", rep(150, 4)...)
	add("cdn.cloudflare.www.all.edge_bytes", 20000, 20000, 20000, nil)
	add("cdn.cloudflare.www.all.origin_bytes", rep(1600, 4)...)
	add("cdn.cloudflare.www.all.status_5xx", rep(6, 4)...)
	add("cdn.cloudflare.www.all.probe_ttfb_ms", 30, 31, 52)
	// akamai: no hits/misses, no probes.
	add("cdn.akamai.www.all.requests", rep(3000, 4)...)
	add("cdn.akamai.www.all.edge_bytes", rep(30000, 4)...)
	add("cdn.akamai.www.all.origin_bytes", rep(2400, 4)...)
	add("cdn.akamai.www.all.origin_requests", rep(300, 4)...)
	add("cdn.akamai.www.all.status_5xx", rep(22, 4)...)
	// Outside the window: must not count.
	add("cdn.fastly.www.all.requests", append(rep(nil, 30), 99999)...) // t0+300
	// Not providers.
	lines = append(lines, fmt.Sprintf("cdn.cdnmetrics.up 1 %d", t0), fmt.Sprintf("cdn.events.deploy.count 1 %d", t0))
	send(t, g.CarbonAddr, lines)

	// fastly: requests 4×1000 + 4×500 = 6000; edge 4×10000 + 4×5000 = 60000.
	// hits/misses paired per (service, interval): www k=0,1,3: 2700/300,
	// api k=0..3: 1800/200 → 4500 / 5000 = 0.9. Left out: www k=2 (hits
	// gap), api k=4 (hits inf). Misses total 400 + 200 + 50 = 650.
	// origin offload 1 − (4000+2000)/60000 = 0.9; request offload
	// 1 − (400+200)/6000 = 0.9; error ratio 40/6000.
	// TTFB samples 10,20,30,40,50: p50 = 3rd = 30, p95 = 5th = 50.
	// cloudflare: requests 6000, hit ratio 5400/6000 = 0.9 (= fastly),
	// origin offload paired k=0..2: 1 − 4800/60000 = 0.92, edge 60000,
	// error 24/6000 = 0.004, no request offload.
	// TTFB 30,31,52: p50 31 ≤ 30×1.05 = 31.5, p95 52 ≤ 50×1.05 = 52.5: pass.
	// akamai: requests 12000, edge 120000, offload 1 − 9600/120000 = 0.92,
	// request offload 1 − 1200/12000 = 0.9, error 88/12000 = 0.00733…
	// (+0.067 pp ≤ 0.1 pp): pass; no hit ratio, no TTFB.
	// Shares: requests 6000 : 6000 : 12000 of 24000; edge 60k : 60k : 120k.
	want := map[string]map[string]any{
		"fastly": {"requests": 6000.0, "edge_bytes": 60000.0, "hits": 4500.0, "misses": 650.0, "request_share": 0.25, "bytes_share": 0.25,
			"hit_ratio": 0.9, "origin_offload": 0.9, "request_offload": 0.9, "error_ratio": 40.0 / 6000,
			"ttfb_p50_ms": 30.0, "ttfb_p95_ms": 50.0, "verdict": "baseline"},
		"cloudflare": {"requests": 6000.0, "edge_bytes": 60000.0, "request_share": 0.25, "bytes_share": 0.25,
			"hit_ratio": 0.9, "origin_offload": 0.92, "request_offload": nil, "error_ratio": 0.004,
			"ttfb_p50_ms": 31.0, "ttfb_p95_ms": 52.0, "verdict": "pass"},
		"akamai": {"requests": 12000.0, "edge_bytes": 120000.0, "request_share": 0.5, "bytes_share": 0.5,
			"hit_ratio": nil, "origin_offload": 0.92, "request_offload": 0.9, "error_ratio": 88.0 / 12000,
			"ttfb_p50_ms": nil, "ttfb_p95_ms": nil, "verdict": "pass"},
	}
	// diff lists where ps differs from want (nothing: they agree).
	diff := func(ps map[string]map[string]any, want map[string]map[string]any) []string {
		var bad []string
		for prov, keys := range want {
			for k, w := range keys {
				got := ps[prov][k]
				switch w := w.(type) {
				case nil:
					if got != nil {
						bad = append(bad, fmt.Sprintf("%s %s = %v, want null", prov, k, got))
					}
				case float64:
					g, ok := got.(float64)
					if !ok || math.Abs(g-w) > 1e-12 {
						bad = append(bad, fmt.Sprintf("%s %s = %v, want %v", prov, k, got, w))
					}
				default:
					if got != w {
						bad = append(bad, fmt.Sprintf("%s %s = %v, want %v", prov, k, got, w))
					}
				}
			}
		}
		return bad
	}
	check := func(ps map[string]map[string]any, want map[string]map[string]any) {
		t.Helper()
		for _, m := range diff(ps, want) {
			t.Error(m)
		}
	}

	// Poll until every expected value is readable (new metrics take about
	// 1 s, and carbon creates them in no particular order); if some never
	// are, check below names them.
	var (
		code int
		ps   map[string]map[string]any
		out  string
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, ps, out = compareJSON(t, cfgPath, from, until)
		if code < 2 && len(ps) == 3 && len(diff(ps, want)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if code >= 2 || len(ps) != 3 {
				t.Fatalf("data not readable within 30 s; last exit %d:\n%s", code, out)
			}
			break
		}
		time.Sleep(200 * time.Millisecond) // poll interval, bounded by the deadline
	}

	check(ps, want)
	if code != 0 {
		t.Errorf("exit %d, want 0 (all pass):\n%s", code, out)
	}
	reasons := fmt.Sprint(ps["fastly"]["reasons"], ps["akamai"]["reasons"])
	for _, r := range []string{"hit ratio: 2 intervals where only one of hits/misses is known left out",
		"hits: skipped 1 infinite value (1e9999)", "no hits/misses series: hit ratio left empty"} {
		if !strings.Contains(reasons, r) {
			t.Errorf("reasons lack %q: %s", r, reasons)
		}
	}

	// The table prints the same figures.
	var tbl, errb bytes.Buffer
	app.Main(context.Background(), []string{"compare", "--config", cfgPath, "--from", fmt.Sprint(from), "--until", fmt.Sprint(until)},
		app.IO{Stdout: &tbl, Stderr: &errb, Getenv: func(string) string { return "" }})
	t.Logf("compare table:\n%s", tbl.String())
	for _, row := range []string{
		"akamai         12000     50.00%   120.00 kB       50.00%          -          92.00%       90.00%       0.733%         -         -  pass",
		"cloudflare      6000     25.00%    60.00 kB       25.00%     90.00%          92.00%            -       0.400%   31.0 ms   52.0 ms  pass",
		"fastly          6000     25.00%    60.00 kB       25.00%     90.00%          90.00%       90.00%       0.667%   30.0 ms   50.0 ms  baseline",
	} {
		if !strings.Contains(tbl.String(), row+"\n") {
			t.Errorf("table lacks\n%s\n%s", row, tbl.String())
		}
	}

	// Make cloudflare worse: 1340/160 → 5360/6000 = 0.89333…, 0.67 pp
	// below fastly's 0.9 (limit 0.5 pp) → fail, exit 1. Overwriting the same
	// timestamps: the last write wins in whisper.
	var worse []string
	worse = append(worse, series("cdn.cloudflare.www.all.hits", t0, rep(1340, 4)...)...)
	worse = append(worse, series("cdn.cloudflare.www.all.misses", t0, rep(160, 4)...)...)
	send(t, g.CarbonAddr, worse)
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, ps, out = compareJSON(t, cfgPath, from, until)
		if h, _ := num(ps["cloudflare"], "hits"); h == 5360 {
			if m, _ := num(ps["cloudflare"], "misses"); m == 640 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("overwrite not readable within 30 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want["cloudflare"]["hit_ratio"] = 5360.0 / 6000
	want["cloudflare"]["verdict"] = "fail"
	check(ps, want)
	if code != 1 {
		t.Errorf("exit %d, want 1 (cloudflare fails):\n%s", code, out)
	}
	if !strings.Contains(fmt.Sprint(ps["cloudflare"]["reasons"]), "hit ratio 89.33% is 0.67 pp below fastly's 90.00% (limit 0.5 pp)") {
		t.Errorf("cloudflare reasons %v", ps["cloudflare"]["reasons"])
	}

	// --png: an image through graphite-web.
	png := filepath.Join(dir, "cmp.png")
	var pout, perr bytes.Buffer
	pcode := app.Main(context.Background(), []string{"compare", "--config", cfgPath, "--from", fmt.Sprint(from), "--until", fmt.Sprint(until), "--png", png},
		app.IO{Stdout: &pout, Stderr: &perr, Getenv: func(string) string { return "" }})
	img, err := os.ReadFile(png)
	if pcode != 1 || err != nil || !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Errorf("--png: exit %d, %v, %d bytes; stderr %s", pcode, err, len(img), perr.String())
	}
}

// The window is [from, until): a point stamped at from counts, one stamped
// at until does not. Whisper answers (from, until], which for an hourly
// provider (bunny) would count the hour after the window instead of the
// one inside it, with nothing said.
func TestCompareWindowEdgesRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nweb_url = %q\n", dir, g.CarbonAddr, g.WebURL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	h := now - now%3600 - 2*3600 // a whole hour, inside the 10 s archive
	var lines []string
	for k := int64(0); k <= 60; k++ { // fastly: 1 a minute, 10:00 … 11:00 inclusive
		lines = append(lines, fmt.Sprintf("cdn.fastly.www.all.requests 1 %d", h+60*k))
	}
	lines = append(lines, fmt.Sprintf("cdn.bunny.img.all.requests 100 %d", h), fmt.Sprintf("cdn.bunny.img.all.requests 7 %d", h+3600))
	send(t, g.CarbonAddr, lines)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, m, out := compareJSON(t, cfgPath, h, h+3600)
		// fastly: the 60 minutes h … h+59 min; bunny: the hour at h.
		fr, _ := num(m["fastly"], "requests")
		br, _ := num(m["bunny"], "requests")
		if fr == 60 && br == 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fastly requests %v (want 60), bunny %v (want 100)\n%s", fr, br, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
