package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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

// shiftedDay feeds d ten days of a noisy daily sine (one point per 5
// minutes, 288 a day, between 0 and 10), then a day of the same sine half a
// day out of phase (switched where the sine crosses its mean, so no value
// jumps), and returns the highest score of that day.
func shiftedDay(d *Detector) float64 {
	r := rand.New(rand.NewPCG(6, 6))
	const day = 288
	i := 0
	for ; i < 10*day; i++ {
		v := 5 + 5*math.Sin(2*math.Pi*float64(i)/day) + 0.1*r.Float64()
		d.Update(int64(i)*300, v)
	}
	best := 0.0
	for k := 0; k < day; k++ {
		v := 5 - 5*math.Sin(2*math.Pi*float64(k)/day) + 0.1*r.Float64()
		best = math.Max(best, d.Update(int64(i+k)*300, v))
	}
	return best
}

func TestSeasonalChannelCatchesShiftedDay(t *testing.T) {
	// Every value of the shifted day lies inside the range, and its level
	// and difference sequences are those of any other day; only the hour of
	// day says it is wrong. Quiet is off: the switch
	// itself may nudge the other channels and start a quiet period that
	// would halve the seasonal score.
	p := DefaultParams()
	p.Quiet = 0
	with := shiftedDay(New(p))
	p.SeasonRate = 0
	without := shiftedDay(New(p))
	// The switch alone nudges the other channels to about 0.55; the
	// seasonal channel (weight 0.8) must clearly add to that (0.73 here).
	if with < 0.7 || with-without < 0.15 {
		t.Errorf("shifted day scored %v with the seasonal channel, %v without; want ≥ 0.7 and 0.15 more", with, without)
	}
}

func TestRecurringExtremeIsNotNews(t *testing.T) {
	// A CPU series idles near 50 and saturates at 100 now and then. The
	// first saturations are news; once the series has been there Recur
	// times, it is a level the series lives at, however far the remembered
	// range has shrunk back toward the mean since.
	p := DefaultParams()
	at := []int{2000, 6000, 10000, 29000}
	d := New(p)
	scores := make([]float64, len(at))
	for i, v := range noisy(30000, 7) {
		v -= 50
		k := slices.Index(at, i)
		if k >= 0 {
			v = 100
		}
		if s := d.Update(int64(i)*300, v); k >= 0 {
			scores[k] = s
		}
	}
	for k := range min(p.Recur, len(at)-1) {
		if scores[k] != 1 {
			t.Errorf("saturation %d of %d scored %v, want 1 (out of the remembered range, not yet recurring)", k+1, len(at), scores[k])
		}
	}
	if last := scores[len(at)-1]; last >= DefaultThreshold {
		t.Errorf("saturation after %d earlier ones scored %v ≥ threshold %v", p.Recur, last, DefaultThreshold)
	}
}

func TestRepeatIncidentStillAlarms(t *testing.T) {
	// A hit ratio of 0.9 drops to 0.6 for 30 minutes three times, days
	// apart: every incident is news, not only the first.
	d := New(DefaultParams())
	at := []int{2000, 8000, 29000}
	best := make([]float64, len(at))
	for i, v := range noisy(30000, 9) {
		hr, k := 0.9, -1
		for j, a := range at {
			if i >= a && i < a+30 {
				hr, k = 0.6, j
			}
		}
		s := d.Update(int64(i)*60, hr+(v-100)*0.005)
		if k >= 0 {
			best[k] = math.Max(best[k], s)
		}
	}
	for k, b := range best {
		if b != 1 {
			t.Errorf("incident %d of %d scored at most %v, want 1", k+1, len(at), b)
		}
	}
}

func TestDriftOutOfRangeIsReportedOnce(t *testing.T) {
	// After a day and a half of noise in [99, 101] the series climbs 0.1
	// per point for 100 points: every point is a new extreme, but it is
	// one event.
	d := New(DefaultParams())
	vals := noisy(2000, 8)
	i := 0
	for ; i < len(vals); i++ {
		d.Update(int64(i)*60, vals[i])
	}
	alarms, best := 0, 0.0
	for k := 1; k <= 100; k++ {
		s := d.Update(int64(i+k)*60, 101+0.1*float64(k))
		best = math.Max(best, s)
		if s >= DefaultThreshold {
			alarms++
		}
	}
	if best != 1 || alarms != 1 {
		t.Errorf("drift out of range: %d points at or above the threshold (highest score %v), want exactly 1 scoring 1", alarms, best)
	}
}

func TestSeasonBucket(t *testing.T) {
	for _, c := range []struct {
		when string
		want int
	}{
		{"2026-11-23T00:00:00Z", 0},       // Monday, first hour
		{"2026-11-20T23:59:59Z", 23},      // Friday, last hour
		{"2026-11-21T13:30:00Z", 24 + 13}, // Saturday
		{"2026-11-22T23:59:59Z", 24 + 23}, // Sunday, last second
		{"1969-12-28T05:00:00Z", 24 + 5},  // a Sunday before the epoch
		{"1969-12-31T00:00:00Z", 0},       // Wednesday before the epoch
	} {
		tm, err := time.Parse(time.RFC3339, c.when)
		if err != nil {
			t.Fatal(err)
		}
		if got := seasonBucket(tm.Unix()); got != c.want {
			t.Errorf("seasonBucket(%s) = %d, want %d", c.when, got, c.want)
		}
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
	// About 2 KB: 2160 bytes with the likelihood floors, the alarm counter
	// of the quiet time, the all-time extremes with their visits and the
	// stuck-value run (2128 before it); 2192 with the baseline and the
	// stuck flags a Set's confirmation reads.
	if sz := unsafe.Sizeof(Detector{}); sz > 2200 {
		t.Errorf("Detector is %d bytes, want ≤ 2200", sz)
	}
}

func BenchmarkUpdate(b *testing.B) {
	vals := noisy(4096, 5)
	d := New(DefaultParams())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// 300 s apart, so the seasonal channel walks its buckets.
		d.Update(int64(i)*300, vals[i&4095])
	}
	// Reported after the loop: b.Loop resets extra metrics set before it.
	b.ReportMetric(float64(unsafe.Sizeof(Detector{})), "bytes/series")
}

// A value that stays exactly the same for longer than the series ever has
// (and at least RunMin points) scores 1 once; the same length again is the
// record, not news.
func TestStuckValueIsNewsOnce(t *testing.T) {
	p := DefaultParams()
	vals := noisy(2000, 11)
	// Plateaus of 8 equal values (runs of 7 unchanged points) every 100
	// points: the series' usual.
	for s := 50; s < 2000; s += 100 {
		for i := s + 1; i < s+8; i++ {
			vals[i] = vals[s]
		}
	}
	// Stuck for 30 points from 1000 (run 10 is reached at 1010), and again
	// from 1600.
	for _, s := range []int{1000, 1600} {
		for i := s + 1; i < s+31; i++ {
			vals[i] = vals[s]
		}
	}
	d := New(p)
	var ones []int
	for i, v := range vals {
		if d.Update(int64(i)*300, v) == 1 {
			ones = append(ones, i)
		}
	}
	if len(ones) != 1 || ones[0] != 1000+p.RunMin {
		t.Errorf("points scoring 1: %v, want [%d]", ones, 1000+p.RunMin)
	}
	p.RunFactor = 0
	d = New(p)
	for i, v := range vals {
		if s := d.Update(int64(i)*300, v); s >= DefaultThreshold && i >= 1000 && i <= 1030 {
			t.Errorf("without the stuck signal, point %d scores %v: the test would prove nothing", i, s)
		}
	}
}
