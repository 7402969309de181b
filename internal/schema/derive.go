package schema

import "sort"

// Derived metric names.
const (
	HitRatio       = "hit_ratio"       // hits / (hits + misses)
	OriginOffload  = "origin_offload"  // 1 - origin_bytes / edge_bytes
	RequestOffload = "request_offload" // 1 - origin_requests / requests
	ErrorRatio     = "error_ratio"     // status_5xx / requests
	BandwidthBps   = "bandwidth_bps"   // edge_bytes * 8 / step
)

// DerivedMetrics lists the derived metric names in emission order.
var DerivedMetrics = []string{HitRatio, OriginOffload, RequestOffload, ErrorRatio, BandwidthBps}

type groupKey struct {
	provider, service string
	start, step       int64
}

// Aggregate returns recs plus, for every (provider, service, interval) that
// has no vendor-given LocationAll record, one computed as the sum of its
// locations. A vendor's own total wins over the sum. The input is not
// modified; output order is deterministic.
func Aggregate(recs []Record) []Record {
	type agg struct {
		sum    Record
		hasAll bool
		n      int
	}
	groups := make(map[groupKey]*agg)
	var order []groupKey
	for i := range recs {
		r := &recs[i]
		k := groupKey{r.Provider, r.Service, r.Start, r.Step}
		g := groups[k]
		if g == nil {
			g = &agg{sum: Record{Provider: r.Provider, Service: r.Service, Location: LocationAll, Start: r.Start, Step: r.Step}}
			groups[k] = g
			order = append(order, k)
		}
		if r.Location == LocationAll {
			g.hasAll = true
			continue
		}
		g.sum.Counts.Merge(&r.Counts)
		g.n++
	}
	out := make([]Record, 0, len(recs)+len(order))
	out = append(out, recs...)
	for _, k := range order {
		if g := groups[k]; !g.hasAll && g.n > 0 {
			out = append(out, g.sum)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Location < b.Location
	})
	return out
}

// Derive turns one record into points: every known count, then every ratio
// whose inputs are known and whose denominator is not 0. It does not add the
// "all" location; call Aggregate first.
func Derive(prefix string, r *Record, dst []Point) []Point {
	base := Path(prefix, r.Provider, r.Service, r.Location)
	emit := func(metric string, v float64) {
		dst = append(dst, Point{Path: base + "." + metric, Value: v, Time: r.Start})
	}
	for f := Field(0); f < NumFields; f++ {
		if v, ok := r.Get(f); ok {
			emit(fieldNames[f], v)
		}
	}
	if v, ok := ratio(r, Hits, Misses, HitRatioOf); ok {
		emit(HitRatio, v)
	}
	if v, ok := ratio(r, OriginBytes, EdgeBytes, OffloadOf); ok {
		emit(OriginOffload, v)
	}
	if v, ok := ratio(r, OriginRequests, Requests, OffloadOf); ok {
		emit(RequestOffload, v)
	}
	if v, ok := ratio(r, Status5xx, Requests, ErrorRatioOf); ok {
		emit(ErrorRatio, v)
	}
	if eb, ok := r.Get(EdgeBytes); ok && r.Step > 0 {
		emit(BandwidthBps, eb*8/float64(r.Step))
	}
	return dst
}

// ratio applies formula to the fields a and b of r; not ok when either is
// unknown or the formula's denominator is not positive.
func ratio(r *Record, a, b Field, formula func(a, b float64) (float64, bool)) (float64, bool) {
	va, ok1 := r.Get(a)
	vb, ok2 := r.Get(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return formula(va, vb)
}

// The ratio formulas, shared by Derive and by whoever recomputes a ratio
// from summed counts (compare), so both mean the same thing. Each is not
// ok when its denominator is not positive (0, or an impossible negative or
// NaN sum).

// HitRatioOf is the HitRatio formula: hits / (hits + misses).
func HitRatioOf(hits, misses float64) (float64, bool) {
	d := hits + misses
	if !(d > 0) {
		return 0, false
	}
	return hits / d, true
}

// OffloadOf is the OriginOffload (bytes) and RequestOffload (requests)
// formula: 1 - origin / edge.
func OffloadOf(origin, edge float64) (float64, bool) {
	if !(edge > 0) {
		return 0, false
	}
	return 1 - origin/edge, true
}

// ErrorRatioOf is the ErrorRatio formula: status_5xx / requests.
func ErrorRatioOf(status5xx, requests float64) (float64, bool) {
	if !(requests > 0) {
		return 0, false
	}
	return status5xx / requests, true
}

// Points aggregates recs and derives every point, then appends the gauges.
func Points(prefix string, recs []Record, gauges []Gauge) []Point {
	all := Aggregate(recs)
	pts := make([]Point, 0, len(all)*(int(NumFields)+len(DerivedMetrics))+len(gauges))
	for i := range all {
		pts = Derive(prefix, &all[i], pts)
	}
	for _, g := range gauges {
		pts = append(pts, Point{Path: Path(prefix, g.Provider, g.Service, g.Location, g.Metric), Value: g.Value, Time: g.Time})
	}
	return pts
}
