package schema

import "testing"

// Every namespace is recognised by IsNamespace and nothing else is;
// steering is reserved before its collector lands.
func TestNamespaces(t *testing.T) {
	want := map[string]bool{"cdnmetrics": true, "events": true, "anomaly": true, "beacons": true, "steering": true}
	got := Namespaces()
	if len(got) != len(want) {
		t.Fatalf("Namespaces() = %v, want %d names", got, len(want))
	}
	for _, n := range got {
		if !want[n] || !IsNamespace(n) {
			t.Errorf("namespace %q: in want %v, IsNamespace %v", n, want[n], IsNamespace(n))
		}
	}
	for _, n := range []string{"fastly", "originlog", "Steering", "", "all"} {
		if IsNamespace(n) {
			t.Errorf("IsNamespace(%q) = true", n)
		}
	}
	if _, ok := Tagged("cdn", "cdn.steering.www.all.weight"); ok {
		t.Error("a steering path was tagged as a provider metric")
	}
}

// The ratio formulas, against values worked out by hand; a denominator that
// is not positive gives no ratio.
func TestRatioFormulas(t *testing.T) {
	cases := []struct {
		name   string
		f      func(a, b float64) (float64, bool)
		a, b   float64
		want   float64
		wantOK bool
	}{
		{"hit ratio", HitRatioOf, 3, 1, 0.75, true},
		{"hit ratio no traffic", HitRatioOf, 0, 0, 0, false},
		{"hit ratio negative sum", HitRatioOf, -3, 1, 0, false},
		{"offload", OffloadOf, 1, 4, 0.75, true},
		{"offload origin above edge", OffloadOf, 5, 4, -0.25, true},
		{"offload no edge", OffloadOf, 1, 0, 0, false},
		{"error ratio", ErrorRatioOf, 1, 100, 0.01, true},
		{"error ratio no requests", ErrorRatioOf, 1, 0, 0, false},
	}
	for _, c := range cases {
		got, ok := c.f(c.a, c.b)
		if ok != c.wantOK || (ok && got != c.want) {
			t.Errorf("%s(%v, %v) = %v, %v; want %v, %v", c.name, c.a, c.b, got, ok, c.want, c.wantOK)
		}
	}
}

// The real-user metric names never collide with a vendor count, a derived
// metric or a probe gauge, and their locations with `all` or `origin`.
func TestRUMNamesDoNotCollide(t *testing.T) {
	taken := map[string]bool{ProbeOK: true, ProbeTTFB: true, ProbeTotal: true, ProbeHit: true, OriginRequestsDeltaRatio: true}
	for _, f := range Fields() {
		taken[f.String()] = true
	}
	for _, m := range DerivedMetrics {
		taken[m] = true
	}
	rum := append(append([]string{RUMHitShare}, RUMCounts...), RUMPercentiles...)
	if len(rum) != 8 {
		t.Fatalf("%d RUM metrics, want 8", len(rum))
	}
	for _, m := range rum {
		if taken[m] || Sanitize(m) != m {
			t.Errorf("RUM metric %q collides or is not a plain path element", m)
		}
		taken[m] = true
	}
	for _, loc := range []string{LocationRUM, LocationRUMCountry("gb")} {
		if loc == LocationAll || loc == LocationOrigin || IsNamespace(loc) || Sanitize(loc) != loc {
			t.Errorf("RUM location %q", loc)
		}
	}
	if LocationRUMCountry("gb") != "rum_gb" {
		t.Errorf("LocationRUMCountry(gb) = %q", LocationRUMCountry("gb"))
	}
}
