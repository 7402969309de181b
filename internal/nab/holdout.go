package nab

// Held-out scoring: NAB picks a detector's threshold (and every entry its
// parameters) on the very corpus it then scores, so its numbers are
// in-sample. Holdout splits the corpus in two, chooses on one half and scores
// the other, in both directions, so the gap between the two numbers shows
// how much of a score is tuning.

// Halves splits files, which LoadCorpus returns sorted by category/name, by
// position: half 0 holds the 1st, 3rd, 5th … file, half 1 the 2nd, 4th, ….
// It returns the indices into files.
func Halves(files []*File) [2][]int {
	var h [2][]int
	for i := range files {
		h[i%2] = append(h[i%2], i)
	}
	return h
}

// half is one half of the corpus with its own scorer, so its windows, null
// and perfect scores are its own.
type half struct {
	idx []int
	sc  *Scorer
}

func (h *half) sweep(scores [][]float64) *Sweep {
	sub := make([][]float64, len(h.idx))
	for k, i := range h.idx {
		sub[k] = scores[i]
	}
	return h.sc.Prepare(sub)
}

// normalise maps raw onto NAB's 0–100 scale with this half's own null (every
// window of the half missed) and perfect (every window hit at its left edge)
// scores.
func (h *half) normalise(p Profile, raw float64) float64 {
	return Normalise(p, raw, h.sc.Windows())
}

// HeldOut is one profile's cross-half result.
type HeldOut struct {
	Profile Profile
	// Self[h] is half h scored with the candidate and threshold chosen on
	// half h itself (in-sample, like NAB's full-corpus number).
	Self [2]float64
	// Held[h] is half h scored with the candidate and threshold chosen on
	// the other half: the held-out score.
	Held [2]float64
	// Threshold[h] and Choice[h] are what was chosen on half h.
	Threshold [2]float64
	Choice    [2]string
	rawSelf   [2]float64 // best in-sample raw on half h so far
	set       [2]bool
}

// CrossHalves chooses, for each half and profile, the best of any number of
// candidate detectors (one parameter set each) and its threshold on that
// half, and scores the other half with the same choice. Candidates are added
// one at a time, so only one candidate's scores need to be in memory.
type CrossHalves struct {
	halves  [2]half
	Results []HeldOut
}

// NewCrossHalves prepares the two halves of files (see Halves) for profiles.
func NewCrossHalves(files []*File, profiles []Profile) *CrossHalves {
	x := &CrossHalves{}
	for h, idx := range Halves(files) {
		sub := make([]*File, len(idx))
		for k, i := range idx {
			sub[k] = files[i]
		}
		x.halves[h] = half{idx: idx, sc: NewScorer(sub)}
	}
	for _, p := range profiles {
		x.Results = append(x.Results, HeldOut{Profile: p})
	}
	return x
}

// Windows returns the number of label windows of each half.
func (x *CrossHalves) Windows() [2]int {
	return [2]int{x.halves[0].sc.Windows(), x.halves[1].sc.Windows()}
}

// Add offers a candidate: name and its scores for every corpus file (in the
// order given to NewCrossHalves). A candidate replaces the chosen one of a
// half and profile only if it scores strictly higher there, so among equals
// the first added wins.
func (x *CrossHalves) Add(name string, scores [][]float64) {
	sw := [2]*Sweep{x.halves[0].sweep(scores), x.halves[1].sweep(scores)}
	for k := range x.Results {
		r := &x.Results[k]
		for h := 0; h < 2; h++ {
			th, raw := sw[h].Optimise(r.Profile)
			if r.set[h] && raw <= r.rawSelf[h] {
				continue
			}
			o := 1 - h
			r.set[h], r.rawSelf[h] = true, raw
			r.Threshold[h], r.Choice[h] = th, name
			r.Self[h] = x.halves[h].normalise(r.Profile, raw)
			r.Held[o] = x.halves[o].normalise(r.Profile, sw[o].At(r.Profile, th).Raw)
		}
	}
}
