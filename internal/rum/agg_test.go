package rum

import (
	"io"
	"log/slog"
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func quietCounters() *counters {
	return newCounters(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
}

func f(v float64) *float64 { return &v }

// exact is the q-quantile of sorted as DDSketch defines the one it
// approximates: the element of rank ⌊q·(n−1)⌋.
func exact(sorted []float64, q float64) float64 {
	return sorted[int(math.Floor(q*float64(len(sorted)-1)))]
}

// gaugeMap indexes gauges by location and metric.
func gaugeMap(gs []schema.Gauge, provider, service string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, g := range gs {
		if g.Provider != provider || g.Service != service {
			continue
		}
		if out[g.Location] == nil {
			out[g.Location] = map[string]float64{}
		}
		out[g.Location][g.Metric] = g.Value
	}
	return out
}

func within(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > RelativeAccuracy*math.Abs(want)+1e-9 {
		t.Errorf("%s = %v, want %v within %.0f%%", what, got, want, RelativeAccuracy*100)
	}
}

// The percentiles of a minute match the exact quantiles of the samples
// (sorted here, independently of the sketch) within the sketch's relative
// accuracy, per country and for the merge of the countries at "rum".
func TestPercentilesAgainstExactQuantiles(t *testing.T) {
	a := NewAggregator([]string{"fastly", "akamai"}, []string{"www"}, 300, quietCounters())
	t0 := time.Unix(1700000040, 0) // a minute start
	rng := rand.New(rand.NewSource(21))
	var gb, de, all, tlsAll []float64
	for i := 0; i < 3000; i++ {
		ttfb := math.Round(math.Exp(3+rng.NormFloat64())*10) / 10 // log-normal, ~20 ms median
		tls := float64(5 + rng.Intn(200))
		cc := "gb"
		if i%3 == 0 {
			cc = "de"
		}
		a.Add(Entry{Provider: "fastly", TTFB: f(ttfb), TLS: f(tls), Connect: f(tls + 3)}, cc, t0.Add(time.Duration(i%60)*time.Second))
		if cc == "gb" {
			gb = append(gb, ttfb)
		} else {
			de = append(de, ttfb)
		}
		all = append(all, ttfb)
		tlsAll = append(tlsAll, tls)
	}
	// Nothing is emitted before the minute ends.
	if gs := a.Flush(t0.Add(59*time.Second), false); len(gs) != 0 {
		t.Fatalf("flushed %d gauges inside the minute", len(gs))
	}
	gs := a.Flush(t0.Add(60*time.Second), false)
	m := gaugeMap(gs, "fastly", "www")
	for _, c := range []struct {
		loc  string
		vals []float64
	}{{"rum_gb", gb}, {"rum_de", de}, {"rum", all}} {
		sort.Float64s(c.vals)
		within(t, c.loc+" ttfb_p50_ms", m[c.loc]["ttfb_p50_ms"], exact(c.vals, 0.5))
		within(t, c.loc+" ttfb_p95_ms", m[c.loc]["ttfb_p95_ms"], exact(c.vals, 0.95))
		if m[c.loc]["rum_samples"] != float64(len(c.vals)) {
			t.Errorf("%s rum_samples = %v, want %d", c.loc, m[c.loc]["rum_samples"], len(c.vals))
		}
		if got, ok := m[c.loc]["rum_errors"]; !ok || got != 0 {
			t.Errorf("%s rum_errors = %v (present %v), want 0", c.loc, got, ok)
		}
		if _, ok := m[c.loc]["rum_hit_share"]; ok {
			t.Errorf("%s: hit share without any cache status", c.loc)
		}
	}
	sort.Float64s(tlsAll)
	within(t, "rum tls_p50_ms", m["rum"]["tls_p50_ms"], exact(tlsAll, 0.5))
	within(t, "rum connect_p50_ms", m["rum"]["connect_p50_ms"], exact(tlsAll, 0.5)+3)
	for _, g := range gs {
		if g.Time != t0.Unix() {
			t.Fatalf("gauge %+v not stamped with the minute start %d", g, t0.Unix())
		}
	}
	if gs := a.Flush(t0.Add(time.Hour), true); len(gs) != 0 {
		t.Fatalf("a flushed minute came out again: %d gauges", len(gs))
	}
}

// Throughput, hit share and errors by hand: 125 000 bytes in 100 ms is
// 10 000 kbit/s; 3 hits of 4 known statuses (one unknown) is 0.75.
func TestHandComputedMinute(t *testing.T) {
	a := NewAggregator([]string{"fastly"}, []string{"www", "api"}, 300, quietCounters())
	t0 := time.Unix(1700000100, 0)
	for _, cache := range []string{"HIT", "hit", "HIT", "MISS", ""} {
		a.Add(Entry{Provider: "Fastly", Service: "api", Cache: cache, Download: f(100), Size: f(125000)}, "", t0)
	}
	a.AddError("fastly", "fr", t0.Add(10*time.Second))
	a.AddError("fastly", "", t0.Add(20*time.Second))
	gs := a.Flush(t0.Add(time.Minute), false)
	api := gaugeMap(gs, "fastly", "api")["rum"]
	within(t, "download_kbps_p50", api["download_kbps_p50"], 10000)
	if api["rum_hit_share"] != 0.75 || api["rum_samples"] != 5 || api["rum_errors"] != 0 {
		t.Errorf("api: %v", api)
	}
	if _, ok := api["ttfb_p50_ms"]; ok {
		t.Errorf("TTFB without a TTFB sample: %v", api)
	}
	www := gaugeMap(gs, "fastly", "www") // NEL failures go to the first service
	if www["rum"]["rum_errors"] != 2 || www["rum_fr"]["rum_errors"] != 1 || www["rum"]["rum_samples"] != 0 {
		t.Errorf("www errors: %v", www)
	}
}

// Providers and services outside their allow-lists are "other", POP values
// past the cap are counted, timings out of range are dropped one by one.
func TestAggregatorBounds(t *testing.T) {
	c := quietCounters()
	a := NewAggregator([]string{"fastly"}, []string{"www"}, 3, c)
	t0 := time.Unix(1700000160, 0)
	for i, p := range []string{"lhr", "FRA", "ams-1", "cdg", "lhr", "no pop!", "x23456789012345678"} {
		a.Add(Entry{Provider: "fastly", POP: p, TTFB: f(float64(10 * (i + 1)))}, "", t0)
	}
	a.Add(Entry{Provider: "evil.example", Service: "../../etc", TTFB: f(-1), Connect: f(120001), TLS: f(120000)}, "", t0)
	a.Add(Entry{Service: "www", TTFB: f(5)}, "", t0)
	if got := a.POPs("fastly"); len(got) != 3 || got[0] != "AMS-1" || got[1] != "FRA" || got[2] != "LHR" {
		t.Errorf("POPs kept = %v", got)
	}
	want := map[string]int64{"other_pop": 3, "other_provider": 1, "other_service": 1, "dropped_timing": 2, "dropped_no_provider": 1, "entries": 8}
	for k, v := range want {
		if c.get(k) != v {
			t.Errorf("counter %s = %d, want %d", k, c.get(k), v)
		}
	}
	gs := a.Flush(t0.Add(time.Minute), false)
	for _, g := range gs {
		if g.Provider != "fastly" && g.Provider != Other || g.Service != "www" && g.Service != Other {
			t.Errorf("unbounded dimension in %+v", g)
		}
	}
	other := gaugeMap(gs, Other, Other)["rum"]
	if other["rum_samples"] != 1 {
		t.Errorf("other: %v", other)
	}
	if _, ok := other["ttfb_p50_ms"]; ok {
		t.Errorf("a negative TTFB was kept: %v", other)
	}
	within(t, "other tls", other["tls_p50_ms"], 120000)
}

func TestCountry(t *testing.T) {
	if n := len(countries); n != 249 {
		t.Fatalf("%d ISO 3166-1 alpha-2 codes, want the 249 assigned", n)
	}
	for in, want := range map[string]string{"GB": "gb", "de": "de", "Us": "us", "UK": "", "EU": "", "XX": "", "G": "", "GBR": "", "../": "", "": ""} {
		if got := country(in); got != want {
			t.Errorf("country(%q) = %q, want %q", in, got, want)
		}
	}
}

// Timings are attacker-controlled: any value in [0, MaxTimingMS] is
// taken, 1e-300 ms as well as 100 s. A sketch of values spread over that
// whole range must stay bounded (one cell per provider, service and
// country, each with four sketches), and the percentiles of the ordinary
// values in it stay exact within the relative accuracy.
func TestSketchBoundedUnderSpreadValues(t *testing.T) {
	a := NewAggregator([]string{"fastly"}, []string{"www"}, 300, quietCounters())
	t0 := time.Unix(1700000040, 0)
	const spread = 40000
	for i := 0; i < spread; i++ {
		v := math.Pow(10, -307+float64(i)*312/spread) // 1e-307 … 1e5 ms
		a.Add(Entry{Provider: "fastly", TTFB: f(v), Download: f(1), Size: f(v)}, "", t0)
	}
	// Ordinary values, 41 times as many: p50 = 500 and p95 = 950 (ranks
	// of the 1..1000 ms ramp once the spread values sit below it).
	var all []float64
	for i := 0; i < spread; i++ {
		all = append(all, math.Pow(10, -307+float64(i)*312/spread))
	}
	for r := 0; r < 41; r++ {
		for v := 1; v <= 1000; v++ {
			a.Add(Entry{Provider: "fastly", TTFB: f(float64(v))}, "", t0)
			all = append(all, float64(v))
		}
	}
	sort.Float64s(all)
	c := a.minutes[t0.Unix()][key{"fastly", "www", ""}]
	for name, s := range map[string]interface {
		Encode(*[]byte, bool)
	}{"ttfb": c.ttfb, "kbps": c.kbps} {
		var b []byte
		s.Encode(&b, true)
		if len(b) > 16<<10 {
			t.Errorf("%s sketch encodes to %d bytes after %d spread values: unbounded", name, len(b), spread)
		}
	}
	m := gaugeMap(a.Flush(t0.Add(time.Minute), false), "fastly", "www")["rum"]
	within(t, "ttfb p50", m[schema.RUMTTFBP50], exact(all, 0.5))
	within(t, "ttfb p95", m[schema.RUMTTFBP95], exact(all, 0.95))
}
