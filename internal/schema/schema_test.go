package schema

import (
	"math"
	"testing"
)

func TestSanitize(t *testing.T) {
	cases := map[string]string{
		"www":             "www",
		"WWW.Example.com": "www_example_com",
		"my svc/1":        "my_svc_1",
		"":                "_",
		"a-b_c9":          "a-b_c9",
		"ünï":             "__n__", // each byte of a multi-byte rune becomes one _
	}
	for in, want := range cases {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MetricPath("ops.cdn", "fastly", "W W", "LHR", "hits"); got != "ops.cdn.fastly.w_w.lhr.hits" {
		t.Errorf("MetricPath = %q", got)
	}
}

func rec(loc string, kv map[Field]float64) Record {
	r := Record{Provider: "fastly", Service: "www", Location: loc, Start: 1700000000, Step: 60}
	for f, v := range kv {
		r.Set(f, v)
	}
	return r
}

func pointMap(pts []Point) map[string]float64 {
	m := map[string]float64{}
	for _, p := range pts {
		m[p.Path] = p.Value
	}
	return m
}

// Two POPs: LHR 90 hits / 10 misses, SJC 30 hits / 70 misses. The "all"
// hit ratio is (90+30)/(100+100) = 0.6 from summed counts; averaging the
// POP ratios (0.9 and 0.3) would also give 0.6 here, so the POPs differ in
// volume: SJC has 300 requests (30 hits, 270 misses) → all = 120/400 = 0.3,
// not (0.9+0.1)/2 = 0.5.
func TestAllIsSummedNeverAveraged(t *testing.T) {
	recs := []Record{
		rec("lhr", map[Field]float64{Requests: 100, Hits: 90, Misses: 10, EdgeBytes: 1000, OriginBytes: 100}),
		rec("sjc", map[Field]float64{Requests: 300, Hits: 30, Misses: 270, EdgeBytes: 3000, OriginBytes: 2700}),
	}
	m := pointMap(Points("cdn", recs, nil))
	want := map[string]float64{
		"cdn.fastly.www.all.requests":       400,
		"cdn.fastly.www.all.hits":           120,
		"cdn.fastly.www.all.hit_ratio":      0.3,             // 120/400
		"cdn.fastly.www.lhr.hit_ratio":      0.9,             // 90/100
		"cdn.fastly.www.all.origin_offload": 1 - 2800.0/4000, // 0.3
		"cdn.fastly.www.all.bandwidth_bps":  4000 * 8 / 60.0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || math.Abs(got-v) > 1e-12 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func TestVendorTotalWinsOverSum(t *testing.T) {
	recs := []Record{
		rec("lhr", map[Field]float64{Requests: 100}),
		rec("all", map[Field]float64{Requests: 105}), // vendor's own total
	}
	m := pointMap(Points("cdn", recs, nil))
	if m["cdn.fastly.www.all.requests"] != 105 {
		t.Fatalf("all.requests = %v, want the vendor's 105", m["cdn.fastly.www.all.requests"])
	}
}

func TestUnknownIsNotZeroAndZeroDenominatorsEmitNothing(t *testing.T) {
	// Hits known, misses unknown: no hit ratio. Requests 0: no error ratio,
	// no request offload. Status_5xx unknown: no error ratio anyway.
	recs := []Record{rec("all", map[Field]float64{Hits: 5, Requests: 0, OriginRequests: 0})}
	m := pointMap(Points("cdn", recs, nil))
	for _, k := range []string{"hit_ratio", "error_ratio", "request_offload", "misses", "origin_offload", "bandwidth_bps"} {
		if _, ok := m["cdn.fastly.www.all."+k]; ok {
			t.Errorf("%s emitted, want nothing", k)
		}
	}
	if v, ok := m["cdn.fastly.www.all.requests"]; !ok || v != 0 {
		t.Errorf("requests = %v %v, want a known 0", v, ok)
	}
	// Hits 0 and misses 0: denominator 0 → no ratio, never NaN.
	recs = []Record{rec("all", map[Field]float64{Hits: 0, Misses: 0})}
	for _, p := range Points("cdn", recs, nil) {
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			t.Fatalf("%s = %v", p.Path, p.Value)
		}
		if p.Path == "cdn.fastly.www.all.hit_ratio" {
			t.Fatalf("hit_ratio emitted with a zero denominator")
		}
	}
}

func TestDerivedFormulas(t *testing.T) {
	r := rec("all", map[Field]float64{Requests: 200, Status5xx: 3, OriginRequests: 50, EdgeBytes: 600, OriginBytes: 150})
	m := pointMap(Derive("p", &r, nil))
	checks := map[string]float64{
		"p.fastly.www.all.error_ratio":     3.0 / 200,
		"p.fastly.www.all.request_offload": 1 - 50.0/200,
		"p.fastly.www.all.origin_offload":  1 - 150.0/600,
		"p.fastly.www.all.bandwidth_bps":   600 * 8 / 60.0,
	}
	for k, v := range checks {
		if math.Abs(m[k]-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for _, p := range Derive("p", &r, nil) {
		if p.Time != 1700000000 {
			t.Fatalf("%s stamped %d, want the interval start", p.Path, p.Time)
		}
	}
}

func TestGaugesPassThrough(t *testing.T) {
	pts := Points("cdn", nil, []Gauge{{Provider: "probe", Service: "www", Location: "LHR", Metric: "probe_ttfb_ms", Time: 60, Value: 12.5}})
	if len(pts) != 1 || pts[0].Path != "cdn.probe.www.lhr.probe_ttfb_ms" || pts[0].Value != 12.5 {
		t.Fatalf("pts = %+v", pts)
	}
}

// BenchmarkNormalise measures turning a real-time-sized batch (100 POPs,
// every field known) into points: the per-interval work of every vendor.
func BenchmarkNormalise(b *testing.B) {
	recs := make([]Record, 100)
	for i := range recs {
		recs[i] = rec("pop"+string(rune('a'+i%26))+string(rune('a'+i/26)), nil)
		for f := Field(0); f < NumFields; f++ {
			recs[i].Set(f, float64(i*10+int(f)+1))
		}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(Points("cdn", recs, nil))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
