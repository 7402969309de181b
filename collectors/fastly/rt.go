package fastly

import (
	"fmt"
	"sort"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Real-time aggregation limits. They bound memory whatever the responses
// hold: the open buckets, a few emitted ones, and their POPs.
const (
	// grace is added to AggregateDelay before a bucket closes, for seconds
	// Fastly publishes a little after its own delay.
	grace = 2
	// keepFor is how long after its end a bucket absorbs late seconds, as
	// a duration; the count of emitted buckets kept is clamped to
	// [minKeep, maxKeep]. minKeep was 3, which kept 60 s buckets for 3
	// minutes (and ~11 s more: see rtClock.full), one bucket per service
	// more than keepFor asked for (~12 MB at 1 000 services of 100 POPs).
	keepFor = 2 * time.Minute
	minKeep = 2
	maxKeep = 30
	// maxOpen caps the not-yet-emitted buckets (normally one or two).
	maxOpen = 64
	// maxDelay caps the AggregateDelay honoured (Fastly's is ~9 s).
	maxDelay = 300
	// maxPOPs caps the POPs of one bucket (Fastly has ~100).
	maxPOPs = 2000
	// maxNames caps the interned POP names.
	maxNames = 4096
)

// popCounts is one POP's running counts in a bucket.
type popCounts struct {
	name string
	c    schema.Counts
}

// bucket is one resolution interval of one service.
type bucket struct {
	bucketState
	all  schema.Counts
	pops []popCounts
	// at finds a POP of the aggregator's name table in pops: at[id] is its
	// index + 1, 0 while the bucket has not seen it. A map per bucket cost
	// ~3.3 kB for 100 POPs, a quarter of the bucket (README "Benchmarks").
	at []int32
	// other finds the POPs beyond the name table (maxNames distinct names:
	// only a hostile or broken feed); nil until there is one.
	other map[string]int
}

// aggregator turns real-time seconds into resolution buckets. It is owned
// by one subscriber goroutine.
type aggregator struct {
	rtClock
	service string
	buckets []*bucket // sorted by start
	// names interns the POP codes seen (at most maxNames locations): their
	// index in popNames is the POP's id in every bucket's at. It also maps
	// each location's path node to its id, so that codes written under one
	// node share it (see pop).
	names    map[string]int32
	popNames []popName
	// popsHint sizes a new bucket's POPs: the most the service's buckets
	// held, plus a little. Grown by append, 100 POPs took room for 136.
	popsHint int
}

// popName is an interned POP code and the location it is written under:
// the code itself, or "pop_<node>" when it is named like a reserved
// location (see reservedLocation).
type popName struct{ code, loc string }

func newAggregator(service string, res time.Duration) *aggregator {
	return &aggregator{rtClock: newRTClock(res), service: service, names: map[string]int32{}}
}

// addResult is what one response changed.
type addResult struct {
	// write are the buckets to (re-)emit whole, in order; fold leaves
	// their records to be built by records when they are emitted.
	write   []*bucket
	skipped []string // seconds or POP entries left out, with the reason
	partial []int64  // closed partial buckets not emitted (starts)
	// future counts the seconds recorded ahead of our clock (+ tolerance),
	// left out; newestFuture is the latest of them.
	future       int
	newestFuture int64
	// futureTimestamp is the response Timestamp when it was ahead of our
	// clock and therefore ignored (0 otherwise).
	futureTimestamp int64
	// renamed are the POP codes first seen in this response that are
	// named like a reserved location, written as "pop_<node>" instead.
	renamed []string
}

// fold folds one decoded response in. A bucket is due once Fastly's clock
// (the response Timestamp, which is Fastly's "now") has passed its end +
// AggregateDelay + grace; a due bucket is emitted whole, and emitted again
// whole whenever a late second changes it, so the sink overwrites with the
// corrected total and never sees a partial sum.
//
// No vendor time is trusted beyond our clock: a second recorded more than
// the tolerance ahead of it is left out (it would open a bucket that never
// closes, or make every later bucket look older than the subscription's
// first), and such a Timestamp does not move Fastly's clock (it would make
// every bucket due at once).
//
// fold does not build the records of the buckets to write: the subscriber
// builds them only once it may emit (see rtEmitters). Every service's
// minute closes in the same second, and a thousand batches of ~100
// records (168 bytes each) built at once and waiting for an emit slot
// would hold ~20 MB, and leave as much garbage from growing them, at each
// minute's close. The buckets are the aggregator's own and only this
// subscriber's next fold changes them.
func (a *aggregator) fold(f *rtFrame) addResult {
	var out addResult
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
		case r.hasAgg && r.agg.bad != "":
			out.skipped = append(out.skipped, fmt.Sprintf("second %d: aggregated %s", r.recorded, r.agg.bad))
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
			// ts/0 starts at the newest second: the seconds of this bucket
			// before it were never seen.
			b.partial = r.recorded != start
		}
		var sum stats
		for j := r.first; j < r.end; j++ {
			e := &f.entries[j]
			if e.st.bad != "" {
				// The aggregate is fine; one POP's nonsense costs only that POP.
				out.skipped = append(out.skipped, fmt.Sprintf("second %d POP %q: %s", r.recorded, e.pop, e.st.bad))
				continue
			}
			pc := a.pop(b, e.pop, &out)
			if pc == nil {
				out.skipped = append(out.skipped, fmt.Sprintf("second %d POP %q: more than %d POPs", r.recorded, e.pop, maxPOPs))
				continue
			}
			e.st.addRT(&pc.c)
			if !r.hasAgg {
				for k := range sum.v {
					sum.v[k] += e.st.v[k]
				}
			}
		}
		if r.hasAgg {
			r.agg.addRT(&b.all)
		} else {
			// No vendor total for this second: the sum of its POPs is the
			// best there is.
			sum.addRT(&b.all)
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
			out.write = append(out.write, b)
		case skipped:
			out.partial = append(out.partial, b.start)
		}
	}
	a.prune()
	return out
}

// bucket finds or makes the bucket starting at start; nil with a reason
// when that bucket is gone or the open-bucket cap is reached.
func (a *aggregator) bucket(start int64) (*bucket, string) {
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
	// A new bucket each interval rather than a recycled one: one
	// allocation a minute per service costs nothing, and a recycled bucket
	// waiting for the next interval was one more bucket held per service.
	b := &bucket{pops: make([]popCounts, 0, a.popsHint), at: make([]int32, len(a.popNames))}
	b.start = start
	// A bucket older than the subscription's first one only ever sees late
	// seconds: it is incomplete.
	b.partial = a.first != 0 && start < a.first
	a.buckets = append(a.buckets, nil)
	copy(a.buckets[i+1:], a.buckets[i:])
	a.buckets[i] = b
	return b, ""
}

// pop returns the counts of POP name in b, adding it if new. A POP named
// like a reserved location ("ALL" would be written over our aggregate) is
// renamed when first seen, and reported in out.renamed then; the check
// costs nothing once the name is interned.
func (a *aggregator) pop(b *bucket, name []byte, out *addResult) *popCounts {
	id, interned := a.names[string(name)]
	if interned {
		if int(id) < len(b.at) && b.at[id] != 0 {
			return &b.pops[b.at[id]-1]
		}
	} else if i, ok := b.other[string(name)]; ok {
		return &b.pops[i]
	}
	if !interned {
		pn := popName{code: string(name)}
		pn.loc = pn.code
		// node is the Graphite path node the POP is written under, bounded
		// as in the inspectors (inspectNode): a directory name past 255
		// bytes cannot be created by carbon, and the points would be lost
		// where we cannot see it.
		node := inspectNode(name)
		if len(pn.code) > maxNodeLen {
			pn.loc = node
		}
		if reservedLocation(node) {
			pn.loc = "pop_" + node
			node = pn.loc
			// Beyond maxNames a name is not interned and would be reported
			// again; maxNames distinct POPs are an outage of their own.
			out.renamed = append(out.renamed, pn.code)
		}
		// Codes written under one node ("LAX" and "lax"; "ALL" and
		// "pop_all") are one location, summed, as in the inspectors: two
		// records of one series would overwrite each other in Graphite.
		// names holds every interned POP's node too, mapped to its id; a
		// node is never reserved and sanitizes to itself, so as a code it
		// would be written under that same node.
		switch nid, ok := a.names[node]; {
		case ok:
			id = nid
			if len(a.names) < 2*maxNames {
				a.names[pn.code] = id
			}
		case len(a.popNames) >= maxNames:
			if i, ok := b.other[node]; ok {
				return &b.pops[i]
			}
			if len(b.pops) >= maxPOPs {
				return nil
			}
			if b.other == nil {
				b.other = map[string]int{}
			}
			b.other[node] = len(b.pops)
			b.pops = append(b.pops, popCounts{name: pn.loc})
			return &b.pops[len(b.pops)-1]
		default:
			id = int32(len(a.popNames))
			a.names[pn.code] = id
			a.names[node] = id
			a.popNames = append(a.popNames, pn)
		}
		if int(id) < len(b.at) && b.at[id] != 0 {
			return &b.pops[b.at[id]-1]
		}
	}
	if len(b.pops) >= maxPOPs {
		return nil
	}
	for int(id) >= len(b.at) {
		b.at = append(b.at, 0)
	}
	b.pops = append(b.pops, popCounts{name: a.popNames[id].loc})
	b.at[id] = int32(len(b.pops))
	return &b.pops[len(b.pops)-1]
}

// prune drops emitted buckets beyond the newest keep.
func (a *aggregator) prune() {
	emitted := 0
	for _, b := range a.buckets {
		if b.emitted {
			emitted++
		}
	}
	for emitted > a.keep {
		// The oldest emitted bucket; buckets are sorted, and older open
		// ones cannot exist (they close first).
		i := 0
		for i < len(a.buckets) && !a.buckets[i].emitted {
			i++
		}
		a.drop(i)
		emitted--
	}
	// A bucket that can no longer be re-emitted must not linger open either
	// (only possible with absurd timestamps): drop what is below the floor.
	for len(a.buckets) > 0 && a.buckets[0].start < a.floor && !a.buckets[0].emitted {
		a.buckets = a.buckets[1:]
	}
}

// drop forgets the emitted bucket a.buckets[i]: seconds of it that
// arrive later are refused (below the floor).
func (a *aggregator) drop(i int) {
	b := a.buckets[i]
	a.floor = max(a.floor, b.start+a.res)
	a.buckets = append(a.buckets[:i], a.buckets[i+1:]...)
	// The next buckets are sized to what this whole one held (+1/16 for a
	// POP added), not grown by append: at 1 000 services the slack of
	// append's growth was ~4 kB a bucket, 20 MB in all.
	a.popsHint = min(len(b.pops)+len(b.pops)/16+1, maxPOPs)
}

// records are the records of the buckets bs, in one slice of exactly
// their number: for each bucket the vendor total first, then each POP in
// the order first seen.
func (a *aggregator) records(bs ...*bucket) []schema.Record {
	n := 0
	for _, b := range bs {
		n += 1 + len(b.pops)
	}
	if n == 0 {
		return nil
	}
	dst := make([]schema.Record, 0, n)
	for _, b := range bs {
		dst = append(dst, schema.Record{Provider: "fastly", Service: a.service, Location: schema.LocationAll, Start: b.start, Step: a.res, Counts: b.all})
		for i := range b.pops {
			dst = append(dst, schema.Record{Provider: "fastly", Service: a.service, Location: b.pops[i].name, Start: b.start, Step: a.res, Counts: b.pops[i].c})
		}
	}
	return dst
}
