package fastly

import (
	"fmt"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// rtClock is the time state of a real-time aggregator. The channel
// stream's (rt.go) and the inspector's (inspect_agg.go) embed it, so both
// close, keep and drop buckets by the same rules; each keeps its own
// bucket type and its own per-second work, which is the hot path.
type rtClock struct {
	res   int64            // bucket length, seconds
	keep  int              // emitted buckets kept to absorb late seconds
	clock int64            // newest vendor Timestamp: Fastly's clock, not ours
	ours  collectors.Clock // our clock: vendor times beyond it are rejected
	delay int64            // last AggregateDelay Fastly gave, clamped
	first int64            // start of the first bucket of this subscription; 0 before
	floor int64            // seconds before floor belong to buckets already dropped
}

func newRTClock(res time.Duration) rtClock {
	r := max(int64(res/time.Second), 1)
	return rtClock{res: r, keep: min(max(int(int64(keepFor/time.Second)/r), minKeep), maxKeep)}
}

// limit is the latest recorded second trusted now: our clock + tolerance.
func (c *rtClock) limit() int64 { return c.ours.Limit(c.ours.Time()).Unix() }

// advance takes a response's Timestamp (Fastly's "now") and
// AggregateDelay, and returns the time buckets must have ended by, plus
// AggregateDelay and grace, to be due. A Timestamp beyond limit does not
// move the clock (it would make every bucket due at once): it is returned
// as future, for the caller to report; future is 0 otherwise.
func (c *rtClock) advance(hasTimestamp bool, timestamp int64, hasDelay bool, delay, limit int64) (due, future int64) {
	if hasTimestamp && timestamp > limit {
		future = timestamp
	} else if hasTimestamp && timestamp > c.clock {
		c.clock = timestamp
	}
	if hasDelay {
		c.delay = min(max(delay, 0), maxDelay)
	}
	return c.clock - c.delay - grace, future
}

// refuse says why no bucket may be opened at start ("" when one may),
// given the number of open (not yet emitted) buckets.
func (c *rtClock) refuse(start int64, open int) string {
	if start < c.floor {
		return "arrived after its bucket was emitted and dropped"
	}
	if open >= maxOpen {
		return fmt.Sprintf("more than %d open buckets", maxOpen)
	}
	return ""
}

// full says whether a bucket opening at start must first drop the oldest
// bucket held, when the aggregator already holds more than keep. At 60 s
// one bucket is normally open, so an aggregator holds at most keep+1: the
// keep emitted ones and the open one. When a new interval begins, the
// previous one stays open for AggregateDelay and grace (~11 s) before it
// closes and prune drops the oldest emitted bucket; dropping that one
// when the new interval opens instead means a thousand services do not
// each hold one more bucket over every close (~12 MB at 100 POPs, at the
// moment the closed minute is emitted: README "Benchmarks"). A bucket
// then absorbs late seconds for keep intervals after its end (keepFor, 2
// minutes, from 4 s to 60 s; maxKeep and minKeep bound it outside), not
// ~11 s more. Only an emitted bucket with nothing new goes: a dirty one
// holds a late second of this very answer, and must be re-emitted first
// (the close loop does, then prune drops it). A bucket older than the
// oldest (a gap filled late) drops nothing, nor does an oldest still open.
func (c *rtClock) full(oldest *bucketState, start int64) bool {
	return oldest.emitted && !oldest.dirty && oldest.start < start
}

// bucketState is where one bucket is in its life, alike in both
// aggregators.
type bucketState struct {
	start   int64
	emitted bool // handed to the emitter at least once
	dirty   bool // changed since it was emitted: re-emit whole
	partial bool // holds only part of its seconds (subscription started inside it): never emitted
}

// close is called on every bucket after advance: once the bucket is due
// (its end is at or before due) it reports write when it is to be written
// whole, now for the first time or again because a late second changed
// it, or skipped the first time a partial bucket closes unwritten; and
// marks it emitted.
func (s *bucketState) close(due, res int64) (write, skipped bool) {
	if s.start+res > due || (s.emitted && !s.dirty) {
		return false, false
	}
	write, skipped = !s.partial, s.partial && !s.emitted
	s.emitted, s.dirty = true, false
	return write, skipped
}
