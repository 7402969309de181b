package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// noisy returns n points of a level-100 series with ±1 uniform noise.
func noisy(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = 100 + 2*r.Float64() - 1
	}
	return out
}

func TestWarmupScoresZero(t *testing.T) {
	p := DefaultParams()
	d := New(p)
	for i, v := range noisy(p.Warmup, 1) {
		// Even a wild value scores 0 while the detector learns.
		if i == p.Warmup-1 {
			v = 1e6
		}
		if s := d.Update(int64(i), v); s != 0 {
			t.Fatalf("point %d scored %v during warm-up", i, s)
		}
	}
}

func TestSpikeScoresHighAndQuietSeriesLow(t *testing.T) {
	d := New(DefaultParams())
	vals := noisy(2000, 2)
	maxQuiet := 0.0
	for i, v := range vals {
		s := d.Update(int64(i), v)
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("score %v out of [0,1]", s)
		}
		if i > 500 {
			maxQuiet = math.Max(maxQuiet, s)
		}
	}
	if maxQuiet >= DefaultThreshold {
		t.Errorf("plain noise reached score %v ≥ threshold %v", maxQuiet, DefaultThreshold)
	}
	// 130 is far outside the seen range [99, 101] widened by 5 % of its
	// width (0.1): a spatial anomaly, which scores exactly 1.
	if s := d.Update(2000, 130); s != 1 {
		t.Errorf("spike scored %v, want 1", s)
	}
}

func TestLevelShiftInsideRangeIsDetected(t *testing.T) {
	// A series alternating between two regimes learns the range [0, 10];
	// a run of 5s (inside the range, never seen) is a contextual anomaly.
	d := New(DefaultParams())
	r := rand.New(rand.NewPCG(3, 3))
	i := 0
	for ; i < 3000; i++ {
		v := 0.0
		if (i/50)%2 == 1 {
			v = 10
		}
		d.Update(int64(i), v+0.01*r.Float64())
	}
	best := 0.0
	for k := 0; k < 20; k++ {
		best = math.Max(best, d.Update(int64(i+k), 5+0.01*r.Float64()))
	}
	if best < DefaultThreshold {
		t.Errorf("level shift to an unseen level scored at most %v", best)
	}
}

func TestBadValuesIgnored(t *testing.T) {
	d := New(DefaultParams())
	for i, v := range noisy(400, 4) {
		d.Update(int64(i), v)
	}
	before := *d
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if s := d.Update(401, v); s != 0 {
			t.Errorf("Update(%v) = %v, want 0", v, s)
		}
	}
	if d.n != before.n || d.max != before.max {
		t.Error("a non-finite value changed the detector state")
	}
}

func TestDetectorSizeIsBounded(t *testing.T) {
	// The state is a fixed-size struct: no slices grow with the series.
	if sz := unsafe.Sizeof(Detector{}); sz > 1024 {
		t.Errorf("Detector is %d bytes, want ≤ 1024", sz)
	}
}

func BenchmarkUpdate(b *testing.B) {
	vals := noisy(4096, 5)
	d := New(DefaultParams())
	b.ReportAllocs()
	b.ReportMetric(float64(unsafe.Sizeof(Detector{})), "bytes/series")
	for i := 0; b.Loop(); i++ {
		d.Update(int64(i), vals[i&4095])
	}
}
