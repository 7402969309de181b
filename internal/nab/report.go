package nab

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"
)

// Miss is a label window without a detection at some threshold.
type Miss struct {
	File       *File
	Start, End int     // rows, inclusive
	Best       float64 // highest score on a scored row inside the window
}

// Misses lists the scored windows (those NAB counts) in which no scored row
// reaches threshold, in corpus order.
func (sw *Sweep) Misses(threshold float64) []Miss {
	s := sw.s
	best := make([]float64, len(s.winFile))
	hit := make([]bool, len(s.winFile))
	for w := range best {
		best[w] = math.Inf(-1)
	}
	for r, w := range s.window {
		if w < 0 || !s.scored[r] {
			continue
		}
		best[w] = math.Max(best[w], sw.scores[r])
		if sw.scores[r] >= threshold {
			hit[w] = true
		}
	}
	var out []Miss
	w := 0
	for fi, f := range s.files {
		for _, win := range f.Windows {
			if s.live[w] && !hit[w] {
				out = append(out, Miss{File: s.files[fi], Start: win.Start, End: win.End, Best: best[w]})
			}
			w++
		}
	}
	return out
}

// FPCost is what one file's false positives cost at a threshold.
type FPCost struct {
	File *File
	FP   int     // scored detections outside windows
	Cost float64 // their summed (negative) contribution to the raw score
}

// FalsePositives returns the files with false positives under p at
// threshold, costliest first (ties by key).
func (sw *Sweep) FalsePositives(p Profile, threshold float64) []FPCost {
	s := sw.s
	var out []FPCost
	for fi, f := range s.files {
		c := FPCost{File: f}
		for r := s.offset[fi]; r < s.offset[fi]+len(f.Times); r++ {
			if s.scored[r] && s.window[r] < 0 && sw.scores[r] >= threshold {
				c.FP++
				c.Cost += p.FP * s.unit[r]
			}
		}
		if c.FP > 0 {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cost < out[j].Cost })
	return out
}

// writeReport prints the missed windows and the costliest false positives
// of res (one profile at its threshold).
func writeReport(w io.Writer, sw *Sweep, res Result, top int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ts := func(f *File, row int) string { return time.Unix(f.Times[row], 0).UTC().Format(timeLayout) }
	misses := sw.Misses(res.Threshold)
	fmt.Fprintf(w, "\nmissed windows (%s, threshold %.4f): %d\n", res.Profile.Name, res.Threshold, len(misses))
	fmt.Fprintln(tw, "file\tstart\tend\trows\tbest score inside\t")
	for _, m := range misses {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.4f\t\n", m.File.Key(), ts(m.File, m.Start), ts(m.File, m.End), m.End-m.Start+1, m.Best)
	}
	tw.Flush()
	fps := sw.FalsePositives(res.Profile, res.Threshold)
	n, total := 0, 0.0
	for _, c := range fps {
		n += c.FP
		total += c.Cost
	}
	fmt.Fprintf(w, "\nfiles costing most in false positives (%s, threshold %.4f; %d FP in %d files, raw cost %.3f; top %d):\n",
		res.Profile.Name, res.Threshold, n, len(fps), total, top)
	fmt.Fprintln(tw, "file\tFP\traw cost\t")
	for k, c := range fps {
		if k == top {
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t\n", c.File.Key(), c.FP, c.Cost)
	}
	return tw.Flush()
}
