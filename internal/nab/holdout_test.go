package nab

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

// fourFiles is four tinyFile copies (100 rows, probation 15, one window
// [40, 49]) named a…d, so the halves are A = {a, c} and B = {b, d}.
func fourFiles() []*File {
	var fs []*File
	for _, n := range []string{"a.csv", "b.csv", "c.csv", "d.csv"} {
		f := tinyFile()
		f.Name = n
		fs = append(fs, f)
	}
	return fs
}

func rows(m map[int]float64) []float64 {
	s := make([]float64, 100)
	for r, v := range m {
		s[r] = v
	}
	return s
}

func TestHalves(t *testing.T) {
	h := Halves(make([]*File, 5))
	if len(h[0]) != 3 || len(h[1]) != 2 || h[0][0] != 0 || h[0][1] != 2 || h[0][2] != 4 || h[1][0] != 1 || h[1][1] != 3 {
		t.Errorf("Halves(5) = %v, want [[0 2 4] [1 3]]", h)
	}
}

func TestCrossHalvesHandComputed(t *testing.T) {
	files := fourFiles()
	// a: edge hit at 0.9. c: mid-window hit at 0.6 (y = −0.5), FP at 0.7.
	// b: edge hit at 0.9, FP at 0.6. d: nothing.
	scores := [][]float64{
		rows(map[int]float64{40: 0.9}),
		rows(map[int]float64{40: 0.9, 20: 0.6}),
		rows(map[int]float64{45: 0.6, 20: 0.7}),
		rows(nil),
	}
	x := NewCrossHalves(files, []Profile{standard})
	if w := x.Windows(); w != [2]int{2, 2} {
		t.Fatalf("windows %v, want [2 2]", w)
	}
	x.Add("only", scores)
	r := x.Results[0]
	// Half A (a, c): θ 1.1 → −2; 0.9 → +1 −1 = 0; 0.7 → 0 − 0.11;
	// 0.6 → 1 − 0.11 + 0.8597937 = 1.7497937: θ_A = 0.6.
	// Normalised with A's own 2 windows (null −2, perfect +2):
	// 100·(1.7497937+2)/4 = 93.744843.
	// Half B (b, d): 1.1 → −2; 0.9 → +1 −1 = 0; 0.6 → −0.11: θ_B = 0.9,
	// in-sample 100·(0+2)/4 = 50.
	// A held out, at θ_B = 0.9: a hit, c missed, c's FP (0.7) under θ: 0 → 50.
	// B held out, at θ_A = 0.6: 0 − 0.11 = −0.11 → 100·1.89/4 = 47.25.
	want := HeldOut{Self: [2]float64{93.744843, 50}, Held: [2]float64{50, 47.25}, Threshold: [2]float64{0.6, 0.9}}
	for h := 0; h < 2; h++ {
		if !near(r.Self[h], want.Self[h], 1e-4) || !near(r.Held[h], want.Held[h], 1e-4) || r.Threshold[h] != want.Threshold[h] {
			t.Errorf("half %d: self %.6f held %.6f θ %v, want %.6f %.6f %v",
				h, r.Self[h], r.Held[h], r.Threshold[h], want.Self[h], want.Held[h], want.Threshold[h])
		}
	}
	// A candidate that scores lower everywhere changes nothing; one that
	// is better only on B (d's window hit at its edge) moves B's choice
	// and A's held-out score, not A's own choice.
	x.Add("worse", [][]float64{rows(nil), rows(nil), rows(nil), rows(nil)})
	better := [][]float64{scores[0], scores[1], scores[2], rows(map[int]float64{40: 0.95})}
	x.Add("better on B", better)
	r = x.Results[0]
	if r.Choice != [2]string{"only", "better on B"} {
		t.Errorf("choices %q, want [only, better on B]", r.Choice)
	}
	// B: θ 0.9 → +1 +1 = 2 → 100. A at θ 0.9 with the same scores: 50.
	if !near(r.Self[1], 100, 1e-9) || !near(r.Held[0], 50, 1e-9) || !near(r.Self[0], want.Self[0], 1e-4) {
		t.Errorf("after better-on-B: self %v held %v", r.Self, r.Held)
	}
	// B held out (A's choice unchanged, but scored with "only"): 47.25.
	if !near(r.Held[1], 47.25, 1e-4) {
		t.Errorf("B held out %v, want 47.25", r.Held[1])
	}
}

func TestMissesAndFalsePositives(t *testing.T) {
	files := fourFiles()
	sc := NewScorer(files)
	sw := sc.Prepare([][]float64{
		rows(map[int]float64{40: 0.9}),
		rows(map[int]float64{42: 0.3, 20: 0.6, 60: 0.7}),
		rows(map[int]float64{45: 0.6, 20: 0.7, 21: 0.8}),
		rows(map[int]float64{10: 0.99}), // probation: not counted anywhere
	})
	m := sw.Misses(0.5)
	if len(m) != 2 || m[0].File.Name != "b.csv" || m[0].Best != 0.3 || m[1].File.Name != "d.csv" || m[1].Best != 0 || m[0].Start != 40 || m[0].End != 49 {
		t.Fatalf("misses %+v", m)
	}
	// c: two FPs before any window, −0.11 each = −0.22. b: one before
	// (−0.11) and one at row 60 after the window: y = 11/9, −0.109512.
	fp := sw.FalsePositives(standard, 0.5)
	if len(fp) != 2 || fp[0].File.Name != "c.csv" || fp[0].FP != 2 || !near(fp[0].Cost, -0.22, 1e-9) ||
		fp[1].File.Name != "b.csv" || fp[1].FP != 2 || !near(fp[1].Cost, -0.11-0.109512, 1e-5) {
		t.Errorf("false positives %+v", fp)
	}
	if math.IsInf(m[1].Best, 0) {
		t.Error("best of a window with scored rows is −Inf")
	}
}

func TestRunCommandHoldoutAndReport(t *testing.T) {
	root := tinyRoot(t)
	var out, errOut bytes.Buffer
	if code := RunCommand(context.Background(), []string{"--holdout", "--report", root}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"held out", "A in-sample", "missed windows", "false positives"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if code := RunCommand(context.Background(), []string{"--grid", root}, &out, &errOut); code != 2 {
		t.Errorf("--grid without --holdout: exit %d, want 2", code)
	}
}
