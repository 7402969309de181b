package steering_test

import (
	"math"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/steering"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParseWeights: any document either fails or gives weights a share can
// be computed from (finite, non-negative, valid path elements).
func FuzzParseWeights(f *testing.F) {
	f.Add([]byte(`{"fastly": 70, "akamai": 30}`))
	f.Add([]byte(`{"fastly": 0, "akamai": 0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := steering.ParseWeights(data)
		if err != nil {
			return
		}
		for p, v := range w {
			if schema.Sanitize(p) != p || schema.IsNamespace(p) || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Fatalf("accepted %q = %v", p, v)
			}
		}
		if sh, ok := w.Shares(); ok {
			var sum float64
			for _, v := range sh {
				sum += v
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("shares sum to %v", sum)
			}
		}
	})
}

// FuzzDecodeState: the state file's reader never panics and never
// accepts a weight ParseWeights would refuse.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"services":{"www":{"fastly":70,"akamai":30}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := steering.DecodeState(data)
		if err != nil {
			return
		}
		for _, w := range st {
			for p, v := range w {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || p == "" {
					t.Fatalf("accepted %q = %v", p, v)
				}
			}
		}
	})
}
