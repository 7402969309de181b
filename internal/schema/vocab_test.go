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
