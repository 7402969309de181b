package compare

import (
	"fmt"
	"math"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// rumMetrics are the real-user series compare reads at location rum.
var rumMetrics = []string{schema.RUMTTFBP50, schema.RUMTTFBP95, schema.RUMSamples}

// ttfbSet is one source's TTFB of a provider.
type ttfbSet struct {
	p50, p95 *float64
	samples  int
}

// rumTTFB pools one provider's per-minute RUM percentiles into the
// window's: the mean of the minutes' percentiles weighted by their sample
// counts (graphite keeps percentiles, not the sketches, so the exact
// window percentile cannot be had; the weighted mean of per-minute
// percentiles is its usual stand-in). Minutes without a sample count are
// left out.
type rumTTFB struct {
	p50, p95, samples map[string]map[int64]float64 // service → minute → value
}

func useRUMSeries(rum []Series) map[string]*rumTTFB {
	out := map[string]*rumTTFB{}
	for _, s := range rum {
		parts := strings.Split(s.Target, ".")
		if len(parts) != 3 {
			continue
		}
		d := out[parts[0]]
		if d == nil {
			d = &rumTTFB{p50: map[string]map[int64]float64{}, p95: map[string]map[int64]float64{}, samples: map[string]map[int64]float64{}}
			out[parts[0]] = d
		}
		var m map[string]map[int64]float64
		switch parts[2] {
		case schema.RUMTTFBP50:
			m = d.p50
		case schema.RUMTTFBP95:
			m = d.p95
		case schema.RUMSamples:
			m = d.samples
		default:
			continue
		}
		if m[parts[1]] == nil {
			m[parts[1]] = map[int64]float64{}
		}
		for _, pt := range s.Points {
			if !pt.Null && !math.IsInf(pt.Value, 0) && !math.IsNaN(pt.Value) && pt.Value >= 0 {
				m[parts[1]][pt.Time] = pt.Value
			}
		}
	}
	return out
}

// weighted is the sample-weighted mean of pct over the minutes with both
// a percentile and a positive sample count.
func (d *rumTTFB) weighted(pct map[string]map[int64]float64) (*float64, int) {
	sum, n := 0.0, 0.0
	for svc, pts := range pct {
		for ts, v := range pts {
			if w := d.samples[svc][ts]; w > 0 {
				sum += v * w
				n += w
			}
		}
	}
	if n == 0 || math.IsInf(sum, 0) || n > math.MaxInt32 {
		return nil, 0
	}
	return ptr(sum / n), int(n)
}

// useRUM makes the RUM TTFB the shown TTFB of every provider that has it
// (keeping the probes' for a baseline without RUM), and says per provider
// where its TTFB comes from when any provider has RUM.
func useRUM(r *Report, rum []Series) {
	byProv := useRUMSeries(rum)
	for _, p := range r.Providers {
		if p.TTFBP50 != nil {
			p.TTFBSource = "probe"
		}
		d := byProv[p.Name]
		if d == nil {
			continue
		}
		p50, n := d.weighted(d.p50)
		p95, _ := d.weighted(d.p95)
		if p50 == nil && p95 == nil {
			continue
		}
		r.rumSeen = true
		if p.TTFBP50 != nil || p.TTFBP95 != nil {
			p.probeTTFB = &ttfbSet{p50: p.TTFBP50, p95: p.TTFBP95, samples: p.TTFBSamples}
		}
		p.TTFBP50, p.TTFBP95, p.TTFBSamples, p.TTFBSource = p50, p95, n, "rum"
	}
	if !r.rumSeen {
		return
	}
	for _, p := range r.Providers {
		switch p.TTFBSource {
		case "rum":
			p.Notes = append(p.Notes, fmt.Sprintf("TTFB from real users (%s, sample-weighted mean of the per-minute percentiles)", plural(p.TTFBSamples, "sample", "samples")))
		case "probe":
			p.Notes = append(p.Notes, "TTFB from probes: no real-user TTFB in the window")
		}
	}
}

// ttfbPair picks the TTFB p and base are judged on: real users when both
// have it, else probes when both have them (a provider's probe TTFB kept
// under RUM included), so a real-user TTFB is never judged against a
// probe's. src is "rum" or "probe" ("" when they share no source).
func ttfbPair(p, base *Provider) (pt, bt ttfbSet, src string) {
	cur := func(x *Provider) ttfbSet { return ttfbSet{x.TTFBP50, x.TTFBP95, x.TTFBSamples} }
	probe := func(x *Provider) ttfbSet {
		switch {
		case x.TTFBSource == "probe":
			return cur(x)
		case x.probeTTFB != nil:
			return *x.probeTTFB
		}
		return ttfbSet{}
	}
	switch {
	case p.TTFBSource == "rum" && base.TTFBSource == "rum":
		return cur(p), cur(base), "rum"
	case p.TTFBSource == "" && base.TTFBSource == "":
		return ttfbSet{}, ttfbSet{}, ""
	}
	pt, bt = probe(p), probe(base)
	if pt.p50 == nil && bt.p50 == nil && pt.p95 == nil && bt.p95 == nil {
		// Nothing in common: show what there is, so "missing" notes name it.
		if p.TTFBSource == "rum" {
			return ttfbSet{}, probe(base), "probe"
		}
		return probe(p), ttfbSet{}, "probe"
	}
	return pt, bt, "probe"
}
