package nab

import (
	"math"
	"sort"
)

// NoDetection is the threshold NAB reports when the best choice is to detect
// nothing: it lies above every valid anomaly score.
const NoDetection = 1.1

// probationPercent and probationCap give NAB's probationary period:
// min(⌊0.15·n⌋, 0.15·5000) rows at the start of each file are not scored.
const (
	probationPercent = 0.15
	probationCap     = 0.15 * 5000
)

// ProbationLength is the number of leading rows of an n-row file that NAB
// does not score.
func ProbationLength(n int) int {
	return int(math.Min(math.Floor(probationPercent*float64(n)), probationCap))
}

// ScaledSigmoid is NAB's S(y) = 2·σ(−5y) − 1 for y ≤ 3, and −1 beyond.
func ScaledSigmoid(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*y)) - 1
}

// Scorer holds the per-row scoring weights of a corpus, independent of any
// detector. It is built once and used for any number of detectors and
// profiles.
type Scorer struct {
	files   []*File
	offset  []int     // first flat row of each file
	unit    []float64 // per flat row: S(y)/S(−1) inside a window, S(y) outside
	window  []int32   // per flat row: global window index, or −1 outside windows
	scored  []bool    // per flat row: past the probationary period
	winFile []int     // per global window: its file index
	live    []bool    // per global window: has a scored row (NAB drops others)
}

// NewScorer prepares files for scoring.
func NewScorer(files []*File) *Scorer {
	s := &Scorer{files: files}
	maxTP := ScaledSigmoid(-1)
	for fi, f := range files {
		s.offset = append(s.offset, len(s.unit))
		n := len(f.Times)
		prob := ProbationLength(n)
		inside := make([]int32, n)
		for i := range inside {
			inside[i] = -1
		}
		first := len(s.winFile)
		for wi, w := range f.Windows {
			s.winFile = append(s.winFile, fi)
			s.live = append(s.live, w.End >= prob)
			for i := w.Start; i <= w.End; i++ {
				inside[i] = int32(first + wi)
			}
		}
		// prevEnd/prevWidth follow the latest window that ended before row i,
		// the reference NAB uses to discount a false positive.
		prevEnd, prevWidth := -1, 0
		for i := 0; i < n; i++ {
			var u float64
			if g := inside[i]; g >= 0 {
				w := f.Windows[int(g)-first]
				width := float64(w.End - w.Start + 1)
				u = ScaledSigmoid(-float64(w.End-i+1)/width) / maxTP
				if i == w.End {
					prevEnd, prevWidth = w.End, w.End-w.Start+1
				}
			} else if prevEnd < 0 {
				u = -1
			} else {
				// A one-row window would divide by zero here in NAB too; no
				// NAB window is that short, and +Inf gives S = −1.
				u = ScaledSigmoid(float64(i-prevEnd) / float64(prevWidth-1))
			}
			s.unit = append(s.unit, u)
			s.window = append(s.window, inside[i])
			s.scored = append(s.scored, i >= prob)
		}
	}
	return s
}

// Windows is the number of label windows in the corpus.
func (s *Scorer) Windows() int { return len(s.winFile) }

// Sweep is one detector's output over the corpus, ready for threshold
// sweeps: scores[i] holds the anomaly scores of file i.
type Sweep struct {
	s      *Scorer
	scores []float64 // flat
	order  []int32   // scored flat rows, highest score first
}

// Prepare flattens a detector's scores (one slice per file, in scoring order,
// each as long as its file) and sorts them once for all profiles.
func (s *Scorer) Prepare(scores [][]float64) *Sweep {
	sw := &Sweep{s: s, scores: make([]float64, 0, len(s.unit))}
	for _, fs := range scores {
		sw.scores = append(sw.scores, fs...)
	}
	for i, ok := range s.scored {
		if ok {
			sw.order = append(sw.order, int32(i))
		}
	}
	sort.SliceStable(sw.order, func(a, b int) bool {
		return sw.scores[sw.order[a]] > sw.scores[sw.order[b]]
	})
	return sw
}

// Optimise returns the threshold that maximises the corpus raw score for p
// and that score. Like NAB's optimiser it tries "detect nothing" and every
// distinct score value, keeping the highest threshold among equal scores.
func (sw *Sweep) Optimise(p Profile) (threshold, raw float64) {
	s := sw.s
	part := make([]float64, len(s.winFile))
	total := 0.0
	for w := range part {
		if s.live[w] {
			part[w] = -p.FN
			total += part[w]
		}
	}
	best, bestT := total, NoDetection
	for k := 0; k < len(sw.order); {
		level := sw.scores[sw.order[k]]
		for ; k < len(sw.order) && sw.scores[sw.order[k]] == level; k++ {
			r := sw.order[k]
			if w := s.window[r]; w >= 0 {
				if v := p.TP * s.unit[r]; v > part[w] {
					total += v - part[w]
					part[w] = v
				}
			} else {
				total += p.FP * s.unit[r]
			}
		}
		if total > best {
			best, bestT = total, level
		}
	}
	// The running sum drifts by rounding; report the exact score.
	return bestT, sw.At(p, bestT).Raw
}

// FileResult is one file's score at a threshold.
type FileResult struct {
	File     *File
	Raw      float64 // NAB raw score of the file
	Detected int     // windows with a detection
	Missed   int     // windows without one
	FP       int     // scored detections outside windows
}

// Result is a corpus score at one threshold for one profile.
type Result struct {
	Profile   Profile
	Threshold float64
	Raw       float64
	Files     []FileResult
}

// At scores the corpus with detections where the anomaly score ≥ threshold.
func (sw *Sweep) At(p Profile, threshold float64) Result {
	s := sw.s
	res := Result{Profile: p, Threshold: threshold}
	part := make([]float64, len(s.winFile))
	hit := make([]bool, len(s.winFile))
	for fi, f := range s.files {
		fr := FileResult{File: f}
		lo, hi := s.offset[fi], s.offset[fi]+len(f.Times)
		for r := lo; r < hi; r++ {
			if !s.scored[r] || sw.scores[r] < threshold {
				continue
			}
			if w := s.window[r]; w >= 0 {
				v := p.TP * s.unit[r]
				if !hit[w] || v > part[w] {
					part[w] = v
				}
				hit[w] = true
			} else {
				fr.Raw += p.FP * s.unit[r]
				fr.FP++
			}
		}
		for w, wf := range s.winFile {
			if wf != fi || !s.live[w] {
				continue
			}
			if hit[w] {
				fr.Raw += part[w]
				fr.Detected++
			} else {
				fr.Raw -= p.FN
				fr.Missed++
			}
		}
		res.Raw += fr.Raw
		res.Files = append(res.Files, fr)
	}
	return res
}

// Normalise maps a raw score onto NAB's scale, where the null detector (every
// one of windows missed) scores 0 and the perfect detector (every window hit
// at its left edge, nothing else) scores 100.
func Normalise(p Profile, raw float64, windows int) float64 {
	null := -p.FN * float64(windows)
	perfect := p.TP * float64(windows)
	if perfect == null {
		return math.NaN()
	}
	return 100 * (raw - null) / (perfect - null)
}
