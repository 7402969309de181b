package nab

import (
	"math"
	"testing"
)

// S(−1) = 2/(1+e^−5) − 1 = 2/1.0067379 − 1 = 0.9866143 and
// S(−0.5) = 2/(1+e^−2.5) − 1 = 2/1.0820850 − 1 = 0.8482836.
const (
	sMinus1    = 0.9866143
	sMinusHalf = 0.8482836
)

var standard = Profile{Name: "standard", TP: 1, FP: 0.11, FN: 1}

// tinyFile is 100 rows (probation ⌊0.15·100⌋ = 15 rows) with one window
// [40, 49], width 10.
func tinyFile() *File {
	f := &File{Category: "cat", Name: "tiny.csv", Times: make([]int64, 100), Values: make([]float64, 100)}
	for i := range f.Times {
		f.Times[i] = 1577836800 + int64(i)*300
	}
	f.Windows = []Window{{40, 49}}
	return f
}

func scoresAt(rows map[int]float64) [][]float64 {
	s := make([]float64, 100)
	for r, v := range rows {
		s[r] = v
	}
	return [][]float64{s}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestScaledSigmoid(t *testing.T) {
	for _, c := range []struct{ y, want float64 }{{-1, sMinus1}, {-0.5, sMinusHalf}, {0, 0}, {1, -sMinus1}, {3.01, -1}} {
		if got := ScaledSigmoid(c.y); !near(got, c.want, 1e-6) {
			t.Errorf("S(%v) = %v, want %v", c.y, got, c.want)
		}
	}
}

func TestProbationLength(t *testing.T) {
	// ⌊0.15·100⌋ = 15; ⌊0.15·4000⌋ = 600; 0.15·10000 = 1500 is capped at 750.
	for n, want := range map[int]int{100: 15, 4000: 600, 10000: 750} {
		if got := ProbationLength(n); got != want {
			t.Errorf("ProbationLength(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestWindowScoring(t *testing.T) {
	sc := NewScorer([]*File{tinyFile()})
	cases := []struct {
		name string
		rows map[int]float64
		want float64
	}{
		// Nothing detected: the window is missed, −A_FN = −1.
		{"missed", nil, -1},
		// Left edge: y = −(49−40+1)/10 = −1, value S(−1)/S(−1) = 1.
		{"early", map[int]float64{40: 1}, 1},
		// Middle: y = −(49−45+1)/10 = −0.5, value 0.8482836/0.9866143 = 0.8597937.
		{"late", map[int]float64{45: 1}, sMinusHalf / sMinus1},
		// Both: only the best (earliest) detection in a window counts.
		{"early and late", map[int]float64{40: 1, 45: 1}, 1},
		// A detection in the probationary period counts for nothing.
		{"probation", map[int]float64{10: 1}, -1},
		// FP before any window: −A_FP = −0.11, plus the missed window.
		{"fp before", map[int]float64{20: 1}, -0.11 - 1},
		// FP after the window: y = (60−49)/(10−1) = 1.2222,
		// S = 2/(1+e^6.1111) − 1 = 2/451.06 − 1 = −0.995566, times 0.11 = −0.109512;
		// with the early hit: 1 − 0.109512 = 0.890488.
		{"fp after", map[int]float64{40: 1, 60: 1}, 0.890488},
		// Far after the window: y = (99−49)/9 = 5.6 > 3, S = −1.
		{"fp far", map[int]float64{40: 1, 99: 1}, 1 - 0.11},
	}
	for _, c := range cases {
		res := sc.Prepare(scoresAt(c.rows)).At(standard, 0.5)
		if !near(res.Raw, c.want, 1e-5) {
			t.Errorf("%s: raw %v, want %v", c.name, res.Raw, c.want)
		}
	}
}

func TestOptimiseAndNormalise(t *testing.T) {
	sc := NewScorer([]*File{tinyFile()})
	// Row 40 (window edge) 0.9, row 20 (FP) 0.8, row 60 (FP after) 0.7.
	// θ = 1.1: −1; θ = 0.9: +1; θ = 0.8: 1 − 0.11 = 0.89; θ = 0.7: 0.89 −
	// 0.1095 = 0.7805; θ = 0 adds 81 more FPs. Best: θ = 0.9, raw 1.
	sw := sc.Prepare(scoresAt(map[int]float64{40: 0.9, 20: 0.8, 60: 0.7}))
	th, raw := sw.Optimise(standard)
	if th != 0.9 || !near(raw, 1, 1e-12) {
		t.Errorf("Optimise = (%v, %v), want (0.9, 1)", th, raw)
	}
	// With A_FN = 0 and A_FP = 0.11, detecting nothing scores 0, and any
	// detection set that includes the FP at row 20 loses; θ = 0.9 still wins.
	th, _ = sw.Optimise(Profile{TP: 1, FP: 0.11, FN: 0})
	if th != 0.9 {
		t.Errorf("threshold %v, want 0.9", th)
	}
	// If only FPs score high, detecting nothing is best.
	th, raw = sc.Prepare(scoresAt(map[int]float64{20: 1})).Optimise(standard)
	if th != NoDetection || raw != -1 {
		t.Errorf("Optimise = (%v, %v), want (%v, -1)", th, raw, NoDetection)
	}
	// Normalised: null −1 → 0, perfect 1 → 100, raw 0.8598 → 100·1.8598/2 = 92.99.
	for raw, want := range map[float64]float64{-1: 0, 1: 100, sMinusHalf / sMinus1: 92.98968} {
		if got := Normalise(standard, raw, 1); !near(got, want, 1e-3) {
			t.Errorf("Normalise(%v) = %v, want %v", raw, got, want)
		}
	}
}
