package anomaly

import "math"

// The shape channel follows the idea behind ARTime (Hampton's adaptive
// resonance detector, best on NAB's standard and low-FN profiles): keep a
// small set of categories of the series' own recent shapes, learnt online by
// fuzzy adaptive resonance, and call a window news when it resonates with
// none of them. The code is ours; only the idea carries over. Our take:
//
//   - every ArtBlock points are averaged into one block value, so the window
//     of artDim blocks sees artDim·ArtBlock points (a fixed downsampling: a
//     stream does not know its length in advance, unlike a NAB file);
//   - the window is scaled by the remembered range of the series (so level
//     and amplitude are part of the shape) and complement-coded;
//   - a category is a fuzzy box [low, high] per element; a window matches a
//     category by |I ∧ w| / |I| (1 inside the box); the best match ≥
//     ArtVigilance resonates and the box grows toward the window at rate
//     ArtRate; otherwise a new category is made, replacing the one unused
//     longest when all artCats are taken;
//   - after ArtWarm windows, a window that makes a new category is news:
//     its raw surprise is at least ArtNovelty·(1 − best match)/(1 −
//     ArtVigilance), capped at 1, and goes through the same likelihood
//     stage as every other surprise.
//
// Memory is fixed: artCats categories of 2·artDim float32 (1 KB) and the
// window.

// artDim is the number of block values in a window.
const artDim = 8

// artCats bounds the number of categories per series.
const artCats = 16

type artChannel struct {
	sum     float64 // of the block being filled
	filled  int32   // points in it
	windows int32   // windows seen, saturating
	pos     int32   // next slot of win
	tick    uint32  // windows seen, for least-recently-used replacement
	ncat    int32
	win     [artDim]float64
	cats    [artCats][2 * artDim]float32 // low, then 1 − high
	used    [artCats]uint32
}

// update adds v; when a block completes and a window is full, it returns
// the raw shape surprise of that window (and ok); lo and hi are the
// remembered range.
func (a *artChannel) update(v, lo, hi float64, p *Params) (surprise float64, ok bool) {
	a.sum += v
	a.filled++
	if int(a.filled) < p.ArtBlock {
		return 0, false
	}
	a.win[a.pos] = a.sum / float64(a.filled)
	a.sum, a.filled = 0, 0
	a.pos = (a.pos + 1) % artDim
	if a.windows < math.MaxInt32 {
		a.windows++
	}
	if a.windows < artDim || hi <= lo {
		return 0, false
	}
	if p.ArtLocal > 0 {
		wl, wh := math.Inf(1), math.Inf(-1)
		for _, x := range a.win {
			wl, wh = math.Min(wl, x), math.Max(wh, x)
		}
		if wh-wl < p.ArtLocal*(hi-lo) {
			c := (wh + wl) / 2
			wl, wh = c-p.ArtLocal*(hi-lo)/2, c+p.ArtLocal*(hi-lo)/2
		}
		lo, hi = wl, wh
	}
	var in [2 * artDim]float32
	for k := 0; k < artDim; k++ {
		x := (a.win[(int(a.pos)+k)%artDim] - lo) / (hi - lo)
		x = math.Min(math.Max(x, 0), 1)
		in[k], in[artDim+k] = float32(x), float32(1-x)
	}
	a.tick++
	best, bi := -1.0, -1
	for j := 0; j < int(a.ncat); j++ {
		m := 0.0
		for k, x := range in {
			m += float64(min(x, a.cats[j][k]))
		}
		m /= artDim
		if m > best {
			best, bi = m, j
		}
	}
	if bi >= 0 && best >= p.ArtVigilance {
		w := &a.cats[bi]
		r := float32(p.ArtRate)
		for k, x := range in {
			w[k] += r * (min(x, w[k]) - w[k])
		}
		a.used[bi] = a.tick
		return 0, true
	}
	// A new category: a free slot, or the one unused longest.
	j := int(a.ncat)
	if j < artCats {
		a.ncat++
	} else {
		j = 0
		for k := 1; k < artCats; k++ {
			if a.used[k] < a.used[j] {
				j = k
			}
		}
	}
	a.cats[j], a.used[j] = in, a.tick
	if int(a.windows) < p.ArtWarm || best < 0 {
		return 0, true
	}
	return math.Min(1, p.ArtNovelty*(1-best)/(1-p.ArtVigilance)), true
}
