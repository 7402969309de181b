package schema

import (
	"math"
	"strings"
	"testing"
)

// Check removes exactly the impossible values, one by one, and keeps the
// rest of the record, including what is surprising but real.
func TestCheckRejectsOnlyImpossibleValues(t *testing.T) {
	cases := []struct {
		name   string
		in     map[Field]float64
		gone   []Field // fields Check must make unknown
		reason string  // part of the first rejection's reason
	}{
		{"NaN", map[Field]float64{Requests: 10, EdgeBytes: math.NaN()}, []Field{EdgeBytes}, "finite"},
		{"+Inf", map[Field]float64{Requests: math.Inf(1), Hits: 3}, []Field{Requests}, "finite"},
		{"-Inf", map[Field]float64{Status5xx: math.Inf(-1)}, []Field{Status5xx}, "finite"},
		{"negative", map[Field]float64{Requests: 10, Passes: -1}, []Field{Passes}, "negative"},
		{"1e308", map[Field]float64{EdgeBytes: 1e12, OriginBytes: 1e308}, []Field{OriginBytes}, "2^53"},
		{"2^53+2", map[Field]float64{Errors: 1<<53 + 2}, []Field{Errors}, "2^53"},
		{"hits>requests", map[Field]float64{Requests: 5, Hits: 6, Misses: 1}, []Field{Hits}, "above requests"},
		{"misses>requests", map[Field]float64{Requests: 100, Hits: 60, Misses: 140}, []Field{Misses}, "above requests"},
		// An impossible requests value is dropped first; the subsets then
		// have nothing to exceed and stay.
		{"requests NaN", map[Field]float64{Requests: math.NaN(), Hits: 6}, []Field{Requests}, "finite"},
		// Real: origin above edge (negative origin_offload), origin
		// requests above requests (shielding), exactly 2^53, zeros.
		{"origin bytes > edge bytes", map[Field]float64{EdgeBytes: 1000, OriginBytes: 1500}, nil, ""},
		{"origin requests > requests", map[Field]float64{Requests: 100, OriginRequests: 150}, nil, ""},
		{"2^53", map[Field]float64{EdgeBytes: 1 << 53}, nil, ""},
		{"zeros", map[Field]float64{Requests: 0, Hits: 0, Misses: 0}, nil, ""},
		{"hits = requests", map[Field]float64{Requests: 7, Hits: 7, Misses: 7}, nil, ""},
	}
	for _, tc := range cases {
		var c Counts
		for f, v := range tc.in {
			c.Set(f, v)
		}
		rej := c.Check()
		if len(rej) != len(tc.gone) {
			t.Errorf("%s: rejected %v, want %v", tc.name, rej, tc.gone)
			continue
		}
		if len(rej) > 0 && !strings.Contains(rej[0].Reason, tc.reason) {
			t.Errorf("%s: reason %q, want it to say %q", tc.name, rej[0].Reason, tc.reason)
		}
		gone := map[Field]bool{}
		for i, f := range tc.gone {
			gone[f] = true
			if rej[i].Field != f {
				t.Errorf("%s: rejected %v, want %v", tc.name, rej[i].Field, f)
			}
			if c.Has(f) {
				t.Errorf("%s: %s still known", tc.name, f)
			}
		}
		for f, v := range tc.in {
			if gone[f] {
				continue
			}
			if got, ok := c.Get(f); !ok || got != v {
				t.Errorf("%s: %s = %v %v, want the valid %v kept", tc.name, f, got, ok, v)
			}
		}
	}
}

// After Check, no derived metric of any record can be NaN, infinite or
// beyond what counts up to 2^53 allow.
func TestDerivedAfterCheckStayBounded(t *testing.T) {
	vals := []float64{0, 1, 60, 1 << 53, 1<<53 + 2, 1e308, -1, math.NaN(), math.Inf(1)}
	for _, a := range vals {
		for _, b := range vals {
			r := rec("all", map[Field]float64{Requests: a, Hits: b, Misses: a, EdgeBytes: a, OriginBytes: b, OriginRequests: b, Status5xx: b})
			r.Check()
			for _, p := range Derive("p", &r, nil) {
				if math.IsNaN(p.Value) || math.Abs(p.Value) > MaxCount*8 {
					t.Fatalf("a=%v b=%v: %s = %v", a, b, p.Path, p.Value)
				}
			}
		}
	}
}
