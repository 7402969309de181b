package anomaly

import "math"

// Params is the one parameter set of the detector. The same values serve
// every series; DefaultParams holds the set the NAB evaluation reports.
type Params struct {
	// Warmup is the number of points a series must have before it can score
	// above zero; until then the detector only learns.
	Warmup int
	// Rates are the EWMA rates (per point) of the mean/variance trackers
	// whose z-scores make up the raw surprise; several rates see several
	// time scales at once.
	Rates []float64
	// ZScale squashes a z-score into [0,1): raw = 1 − exp(−z/ZScale).
	ZScale float64
	// ShortN is the length of the moving average of raw surprise that the
	// likelihood stage judges (a burst of surprise beats a lone blip).
	ShortN int
	// LongRate is the EWMA rate of the long-term mean/variance of that
	// average: the detector's idea of a normal amount of surprise.
	LongRate float64
	// SpatialTolerance widens the ever-seen value range, as a fraction of
	// it; a value outside the widened range scores 1.
	SpatialTolerance float64
	// Quiet is the number of points after a score ≥ QuietLevel during which
	// scores are damped by QuietFactor: one event is reported once.
	Quiet       int
	QuietLevel  float64
	QuietFactor float64
	// Bins is the number of levels the ever-seen value range is cut into for
	// the contextual novelty component (0 turns it off); Context is how many
	// consecutive levels make a context; Novelty is the raw surprise of a
	// context never seen before.
	Bins    int
	Context int
	Novelty float64
	// RangeDecay shrinks the remembered range toward the slowest mean by
	// this fraction per point, so an old outlier does not blind the
	// out-of-range test forever (0 keeps the range for good).
	RangeDecay float64
}

// DefaultParams returns the parameter set used everywhere. The values were
// picked by hand from a few dozen whole-corpus NAB runs (one set for all 58
// files, never per file, never looking at labels inside the detector): the
// same global tuning every NAB entry does, and the reason its NAB score is an
// optimistic estimate for CDN data.
func DefaultParams() Params {
	return Params{
		Warmup:           150,
		Rates:            []float64{0.1, 0.01, 0.001},
		ZScale:           3,
		ShortN:           10,
		LongRate:         0.005,
		SpatialTolerance: 0.02,
		Quiet:            300,
		QuietLevel:       0.5,
		QuietFactor:      0.5,
		Bins:             32,
		Context:          3,
		Novelty:          1,
		RangeDecay:       3e-5,
	}
}

// maxRates bounds len(Params.Rates) so a Detector has a fixed size.
const maxRates = 4

// maxShort bounds Params.ShortN for the same reason.
const maxShort = 16

// ewm is an exponentially weighted mean and variance.
type ewm struct {
	mean, vari float64
}

func (e *ewm) update(x, a float64) {
	d := x - e.mean
	e.mean += a * d
	e.vari = (1 - a) * (e.vari + a*d*d)
}

// Detector scores one series, point by point, in constant time and memory.
// It is not safe for concurrent use.
type Detector struct {
	p        Params
	n        int
	min, max float64
	last     float64
	levels   [maxRates]ewm
	diffs    [maxRates]ewm
	short    [maxShort]float64
	shortSum float64
	long     ewm
	quiet    int
	ctx      uint64 // last Context levels, 6 bits each
	seen     [seenWords]uint64
}

// seenWords sizes the bitset of contexts seen so far (a one-hash Bloom
// filter): 64·64 = 4096 bits, 512 bytes per series.
const seenWords = 64

// New returns a detector for one series.
func New(p Params) *Detector {
	if len(p.Rates) > maxRates {
		p.Rates = p.Rates[:maxRates]
	}
	if p.ShortN < 1 {
		p.ShortN = 1
	}
	if p.ShortN > maxShort {
		p.ShortN = maxShort
	}
	return &Detector{p: p}
}

// Update takes the next point of the series and returns its anomaly score in
// [0, 1]. Points must come in time order; t is only used for ordering by the
// caller and is kept for API symmetry with multi-series use.
func (d *Detector) Update(t int64, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := &d.p
	if d.n == 0 {
		d.min, d.max, d.last = v, v, v
		for i := range p.Rates {
			d.levels[i].mean = v
		}
	}
	// Raw surprise: the largest z-score of the value and of its first
	// difference against several time scales.
	diff := v - d.last
	z := 0.0
	span := d.max - d.min
	floor := 1e-3*span + 1e-12
	for i, a := range p.Rates {
		l, df := &d.levels[i], &d.diffs[i]
		if d.n > 0 {
			z = math.Max(z, math.Abs(v-l.mean)/math.Sqrt(l.vari+floor*floor))
			z = math.Max(z, math.Abs(diff-df.mean)/math.Sqrt(df.vari+floor*floor))
		}
		l.update(v, a)
		df.update(diff, a)
	}
	raw := 1 - math.Exp(-z/p.ZScale)
	if p.Bins > 0 && span > 0 {
		lvl := uint64(float64(p.Bins) * (v - d.min) / span)
		lvl = min(lvl, uint64(p.Bins)) & 63
		d.ctx = (d.ctx<<6 | lvl) & (1<<(6*uint(p.Context)) - 1)
		h := d.ctx * 0x9E3779B97F4A7C15 >> 52 // 12 bits
		w, b := h>>6, uint64(1)<<(h&63)
		if d.seen[w]&b == 0 {
			raw = math.Max(raw, p.Novelty)
			d.seen[w] |= b
		}
	}

	// Likelihood: is the recent average of surprise unusual for this series?
	slot := d.n % p.ShortN
	old := d.short[slot]
	d.short[slot] = raw
	if slot == 0 {
		// Re-add from scratch once per cycle so rounding cannot accumulate.
		d.shortSum = 0
		for _, r := range d.short[:p.ShortN] {
			d.shortSum += r
		}
	} else {
		d.shortSum += raw - old
	}
	avg := d.shortSum / float64(min(d.n+1, p.ShortN))
	score := 0.0
	if d.n >= p.Warmup {
		sd := math.Sqrt(d.long.vari) + 1e-6
		q := 0.5 * math.Erfc((avg-d.long.mean)/sd/math.Sqrt2)
		score = math.Log(q+1e-10) / math.Log(1e-10)
		if tol := p.SpatialTolerance * span; v > d.max+tol || v < d.min-tol {
			score = 1
		}
	}
	if d.n == 0 {
		d.long.mean = avg
	}
	d.long.update(avg, math.Max(p.LongRate, 1/float64(d.n+1)))

	if d.quiet > 0 {
		d.quiet--
		score *= p.QuietFactor
	} else if score >= p.QuietLevel {
		d.quiet = p.Quiet
	}
	d.min, d.max, d.last = math.Min(d.min, v), math.Max(d.max, v), v
	if k := len(p.Rates); p.RangeDecay > 0 && k > 0 {
		c := d.levels[k-1].mean
		d.max -= p.RangeDecay * (d.max - math.Max(c, v))
		d.min += p.RangeDecay * (math.Min(c, v) - d.min)
	}
	d.n++
	return math.Min(math.Max(score, 0), 1)
}
