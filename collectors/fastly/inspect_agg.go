package fastly

import (
	"fmt"
	"sort"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// maxInspectKeys caps the (location, origin or domain) series of one
// bucket: the names come from outside (a Host header's domain, a backend
// name), so their number is bounded whatever Fastly sends.
const maxInspectKeys = 5000

// iKey is one series of a bucket: a location ("all" or a POP code as
// Fastly sends it) and a sanitised origin or domain path node.
type iKey struct{ loc, node string }

// iBucket is one resolution interval of one service's inspector feed.
type iBucket struct {
	bucketState
	keys []iKey
	vals []ivals
	idx  map[iKey]int
}

// inspectAgg turns inspector seconds into resolution buckets with the
// rules of the channel stream's aggregator (rt.go; the shared part is
// rtclock.go): a bucket is written whole once Fastly's clock passes its
// end + AggregateDelay + grace, re-written whole when a late second
// changes it, the bucket a subscription starts inside is never written,
// and no vendor time beyond our clock is trusted. Owned by one subscriber
// goroutine.
type inspectAgg struct {
	rtClock
	prefix, service, feed string
	perPOP                bool
	buckets               []*iBucket
	nodes                 map[string]string // raw name → path node, interned
	pops                  map[string]string // raw POP code → path node, interned
	owner                 map[string]string // path node → first raw name seen (clash check)
	clashed               map[string]bool   // raw names already reported as clashing
}

func newInspectAgg(prefix, service, feed string, res time.Duration, perPOP bool) *inspectAgg {
	return &inspectAgg{rtClock: newRTClock(res), prefix: prefix, service: service, feed: feed, perPOP: perPOP,
		nodes: map[string]string{}, pops: map[string]string{}, owner: map[string]string{}, clashed: map[string]bool{}}
}

// iAddResult is what one response changed.
type iAddResult struct {
	points  []schema.Point // whole buckets to (re-)write
	skipped []string
	partial []int64
	// clashes are raw names whose path node another name already has:
	// their counts are summed into that node (each reported once).
	clashes []string
	// renamed are the POP codes named like a reserved location, written
	// as "pop_<node>" (each reported once, when first interned).
	renamed []string
	// Times ahead of our clock, as in addResult.
	future          int
	newestFuture    int64
	futureTimestamp int64
}

// node returns the path node of a raw name and notes a clash.
func (a *inspectAgg) node(raw []byte, res *iAddResult) string {
	if n, ok := a.nodes[string(raw)]; ok {
		return n
	}
	n := inspectNode(raw)
	if len(a.nodes) < maxNames {
		a.nodes[string(raw)] = n
		if prev, ok := a.owner[n]; !ok {
			a.owner[n] = string(raw)
		} else if prev != string(raw) && !a.clashed[string(raw)] {
			a.clashed[string(raw)] = true
			res.clashes = append(res.clashes, fmt.Sprintf("%q and %q both become %q", prev, raw, n))
		}
	}
	return n
}

// pop returns the path node of a POP code (outside input too: sanitised
// and bounded like names), interned.
func (a *inspectAgg) pop(raw []byte, out *iAddResult) string {
	if n, ok := a.pops[string(raw)]; ok {
		return n
	}
	n, renamed := inspectPOPRenamed(raw)
	if renamed {
		out.renamed = append(out.renamed, string(raw))
	}
	if len(a.pops) < maxNames {
		a.pops[string(raw)] = n
	}
	return n
}

// add folds one decoded response in (see aggregator.add for the rules).
func (a *inspectAgg) add(f *iFrame) iAddResult {
	var out iAddResult
	limit := a.limit()
	for i := range f.records {
		r := &f.records[i]
		switch {
		case r.bad != "":
			out.skipped = append(out.skipped, fmt.Sprintf("record %d: %s", i, r.bad))
			continue
		case !r.hasRecorded:
			out.skipped = append(out.skipped, fmt.Sprintf("record %d has no recorded time", i))
			continue
		}
		if r.recorded > limit {
			out.future++
			out.newestFuture = max(out.newestFuture, r.recorded)
			continue
		}
		start := r.recorded - r.recorded%a.res
		b, why := a.bucket(start)
		if b == nil {
			out.skipped = append(out.skipped, fmt.Sprintf("second %d: %s", r.recorded, why))
			continue
		}
		if a.first == 0 {
			a.first = start
			b.partial = r.recorded != start
		}
		// Location all: Fastly's aggregate; without one, the sum of the
		// POPs is the best there is.
		if r.hasAgg {
			for j := r.aggFirst; j < r.aggEnd; j++ {
				a.fold(b, nil, &f.entries[j], r.recorded, &out)
			}
		}
		for j := r.dcFirst; j < r.dcEnd; j++ {
			e := &f.entries[j]
			if !r.hasAgg {
				a.fold(b, nil, e, r.recorded, &out)
			}
			if a.perPOP {
				a.fold(b, e.pop, e, r.recorded, &out)
			}
		}
		if b.emitted {
			b.dirty = true
		}
	}
	var due int64
	due, out.futureTimestamp = a.advance(f.hasTimestamp, f.timestamp, f.hasDelay, f.aggregateDelay, limit)
	for _, b := range a.buckets {
		switch write, skipped := b.close(due, a.res); {
		case write:
			out.points = a.points(b, out.points)
		case skipped:
			out.partial = append(out.partial, b.start)
		}
	}
	a.prune()
	return out
}

// fold adds one entry into the series (location, its name's node) of b:
// location all when pop is nil, else the POP.
func (a *inspectAgg) fold(b *iBucket, pop []byte, e *iEntry, recorded int64, out *iAddResult) {
	if e.v.bad != "" {
		out.skipped = append(out.skipped, fmt.Sprintf("second %d POP %q %s %q: %s", recorded, e.pop, a.feed, e.name, e.v.bad))
		return
	}
	loc := schema.LocationAll
	if pop != nil {
		loc = a.pop(pop, out)
	}
	k := iKey{loc: loc, node: a.node(e.name, out)}
	i, ok := b.idx[k]
	if !ok {
		if len(b.keys) >= maxInspectKeys {
			out.skipped = append(out.skipped, fmt.Sprintf("second %d: more than %d %s series", recorded, maxInspectKeys, a.feed))
			return
		}
		i = len(b.keys)
		b.idx[k] = i
		b.keys = append(b.keys, k)
		b.vals = append(b.vals, ivals{})
	}
	b.vals[i].add(&e.v)
}

func (a *inspectAgg) bucket(start int64) (*iBucket, string) {
	i := sort.Search(len(a.buckets), func(i int) bool { return a.buckets[i].start >= start })
	if i < len(a.buckets) && a.buckets[i].start == start {
		return a.buckets[i], ""
	}
	open := 0
	for _, b := range a.buckets {
		if !b.emitted {
			open++
		}
	}
	if why := a.refuse(start, open); why != "" {
		return nil, why
	}
	if len(a.buckets) > a.keep && a.full(&a.buckets[0].bucketState, start) {
		a.drop(0)
		i--
	}
	b := &iBucket{bucketState: bucketState{start: start, partial: a.first != 0 && start < a.first}, idx: map[iKey]int{}}
	a.buckets = append(a.buckets, nil)
	copy(a.buckets[i+1:], a.buckets[i:])
	a.buckets[i] = b
	return b, ""
}

func (a *inspectAgg) prune() {
	emitted := 0
	for _, b := range a.buckets {
		if b.emitted {
			emitted++
		}
	}
	for emitted > a.keep {
		i := 0
		for i < len(a.buckets) && !a.buckets[i].emitted {
			i++
		}
		a.drop(i)
		emitted--
	}
	for len(a.buckets) > 0 && a.buckets[0].start < a.floor && !a.buckets[0].emitted {
		a.buckets = a.buckets[1:]
	}
}

// drop forgets the emitted bucket a.buckets[i], as aggregator.drop.
func (a *inspectAgg) drop(i int) {
	a.floor = max(a.floor, a.buckets[i].start+a.res)
	a.buckets = append(a.buckets[:i], a.buckets[i+1:]...)
}

// points appends b's points, series in the order first seen.
func (a *inspectAgg) points(b *iBucket, dst []schema.Point) []schema.Point {
	for i, k := range b.keys {
		dst = inspectPoints(a.prefix, a.service, k.loc, a.feed, k.node, b.start, &b.vals[i], dst)
	}
	return dst
}

// inspectPoints appends the points of one series:
// <prefix>.fastly.<service>.<loc>.<feed>.<node>.<metric>.
func inspectPoints(prefix, service, loc, feed, node string, t int64, v *ivals, dst []schema.Point) []schema.Point {
	base := schema.Path(prefix, "fastly", service, loc, feed, node) + "."
	v.metrics(feed, func(m string, x float64) {
		dst = append(dst, schema.Point{Path: base + m, Value: x, Time: t})
	})
	return dst
}
