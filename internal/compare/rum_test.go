package compare

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// RUM TTFB replaces the probes' where a provider has it; the window's
// value is the sample-weighted mean of the minutes' percentiles (by hand:
// fastly p50 (20·100 + 30·300)/400 = 27.5, p95 (40·100 + 60·300)/400 = 55);
// the 5 % rule compares real users with real users (akamai p50 29 >
// 27.5·1.05 = 28.875 fails, p95 57.75 = 55·1.05 passes) and probes with
// probes (cloudflare, which has no RUM, against fastly's probes), and the
// report says which it used.
func TestRUMTTFBPreferredOverProbes(t *testing.T) {
	rum, err := DecodeRender([]byte("[" + strings.Join([]string{
		series("fastly.www.ttfb_p50_ms", `[[20, 60], [30, 120], [null, 180]]`),
		series("fastly.www.ttfb_p95_ms", `[[40, 60], [60, 120], [99, 180]]`),
		series("fastly.www.rum_samples", `[[100, 60], [300, 120], [null, 180]]`),
		series("akamai.www.ttfb_p50_ms", `[[29, 60]]`),
		series("akamai.www.ttfb_p95_ms", `[[57.75, 60]]`),
		series("akamai.www.rum_samples", `[[10, 60]]`),
	}, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	probes, err := DecodeRender([]byte("[" + strings.Join([]string{
		series("fastly.www.all", `[[10, 60], [20, 70], [30, 80]]`),
		series("cloudflare.www.all", `[[10, 60], [20, 70], [40, 80]]`),
	}, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Baseline: "fastly", Thresholds: config.Default().Compare}
	computeWithRUM(r, []string{"akamai", "cloudflare", "fastly"}, nil, probes, rum)
	byName := map[string]*Provider{}
	for _, p := range r.Providers {
		byName[p.Name] = p
	}
	fa, ak, cf := byName["fastly"], byName["akamai"], byName["cloudflare"]
	if fa.TTFBSource != "rum" || *fa.TTFBP50 != 27.5 || *fa.TTFBP95 != 55 || fa.TTFBSamples != 400 {
		t.Errorf("fastly: %s %v %v %d", fa.TTFBSource, *fa.TTFBP50, *fa.TTFBP95, fa.TTFBSamples)
	}
	if ak.TTFBSource != "rum" || ak.Verdict != VerdictFail || len(ak.Failures) != 1 ||
		!strings.HasPrefix(ak.Failures[0], "ttfb p50 (rum) 29.0 ms is 5.5% above fastly's 27.5 ms") {
		t.Errorf("akamai: %s %s %q", ak.TTFBSource, ak.Verdict, ak.Failures)
	}
	// cloudflare's probe p95 40 vs fastly's probe p95 30 (nearest rank of
	// 10, 20, 30): +33 %; p50 20 vs 20 passes.
	if cf.TTFBSource != "probe" || cf.Verdict != VerdictFail || len(cf.Failures) != 1 ||
		!strings.HasPrefix(cf.Failures[0], "ttfb p95 (probe) 40.0 ms is 33.3% above fastly's 30.0 ms") {
		t.Errorf("cloudflare: %s %s %q", cf.TTFBSource, cf.Verdict, cf.Failures)
	}
	if !contains(cf.Notes, "TTFB from probes: no real-user TTFB in the window") ||
		!contains(fa.Notes, "TTFB from real users (400 samples, sample-weighted mean of the per-minute percentiles)") {
		t.Errorf("notes: %q / %q", cf.Notes, fa.Notes)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Providers []struct {
			Provider   string `json:"provider"`
			TTFBSource string `json:"ttfb_source"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil || len(out.Providers) != 3 || out.Providers[0].TTFBSource != "rum" || out.Providers[1].TTFBSource != "probe" {
		t.Errorf("json ttfb_source: %v %+v", err, out)
	}
}
