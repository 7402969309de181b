package collectors

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// DefaultClockSkewTolerance is how far ahead of our clock a vendor time may
// be when the config does not say (clock_skew_tolerance).
const DefaultClockSkewTolerance = 5 * time.Minute

// Reasons a vendor time is rejected; they are also the self-metric names
// (<prefix>.cdnmetrics.collector.<name>.<reason>).
const (
	RejectedFuture = "rejected_future"
	RejectedTooOld = "rejected_too_old"
	// RejectedValues is for what a collector must reject itself before a
	// value exists for the pipeline's value check to judge (an origin log
	// line whose byte count is negative or overflows, a line that does not
	// match the configured pattern, a CloudFront rate without the Requests
	// datapoint it is a share of); it adds to the same rejected_values
	// self-metric as that check, and the collector's one warning per batch
	// or file names the reason.
	RejectedValues = "rejected_values"
	// RenamedLocations counts vendor locations (POPs) named like one of
	// our reserved locations (schema.LocationAll, …) and written under
	// another name so as not to land on our own series; each name once.
	RenamedLocations = "renamed_locations"
)

// Clock judges vendor times against our own clock: no vendor time is
// trusted beyond it. A time more than Tolerance ahead of Now is in the
// future (a vendor clock or unit mistake that would otherwise stamp points
// in 2100 and drag checkpoints there); one older than Retention cannot be
// what the vendor keeps. The zero Clock uses time.Now, the default
// tolerance, no retention limit and counts nothing.
type Clock struct {
	// Now is our clock; nil means time.Now.
	Now func() time.Time
	// Tolerance is how far ahead of Now a vendor time may be; 0 means
	// DefaultClockSkewTolerance.
	Tolerance time.Duration
	// Retention is how far back the vendor keeps data (Timing.Retention);
	// 0 means no limit.
	Retention time.Duration
	// Reject counts n vendor times rejected for reason (RejectedFuture or
	// RejectedTooOld); nil counts nothing.
	Reject func(reason string, n int)
}

// Time returns our clock's now.
func (c Clock) Time() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Limit is the latest vendor time trusted at now: now + tolerance.
func (c Clock) Limit(now time.Time) time.Time {
	tol := c.Tolerance
	if tol <= 0 {
		tol = DefaultClockSkewTolerance
	}
	return now.Add(tol)
}

// Judge returns "" when the vendor time t (Unix seconds) is trusted at now,
// else RejectedFuture or RejectedTooOld.
func (c Clock) Judge(t int64, now time.Time) string {
	if t > c.Limit(now).Unix() {
		return RejectedFuture
	}
	if c.Retention > 0 && t < now.Add(-c.Retention).Unix() {
		return RejectedTooOld
	}
	return ""
}

// Count reports n rejections for reason to Reject, if set.
func (c Clock) Count(reason string, n int) {
	if c.Reject != nil && n > 0 {
		c.Reject(reason, n)
	}
}

// Rejections is what Filter left out of a batch: how many items for each
// reason, the newest time ahead of the clock and the oldest past the
// retention (Unix seconds; 0 when none).
type Rejections struct {
	Future, TooOld int
	NewestFuture   int64
	OldestTooOld   int64
}

// Total is the number of items rejected.
func (r Rejections) Total() int { return r.Future + r.TooOld }

func (r *Rejections) add(reason string, t int64) {
	switch reason {
	case RejectedFuture:
		r.Future++
		r.NewestFuture = max(r.NewestFuture, t)
	case RejectedTooOld:
		r.TooOld++
		if r.OldestTooOld == 0 || t < r.OldestTooOld {
			r.OldestTooOld = t
		}
	}
}

// Filter returns b without the records (by interval start), gauges and
// points whose time is not trusted at now, and what it left out. b's
// slices are not modified; a batch with nothing to reject is returned as is.
func (c Clock) Filter(b Batch, now time.Time) (Batch, Rejections) {
	var rej Rejections
	bad := false
	for _, r := range b.Records {
		bad = bad || c.Judge(r.Start, now) != ""
	}
	for _, g := range b.Gauges {
		bad = bad || c.Judge(g.Time, now) != ""
	}
	for _, p := range b.Points {
		bad = bad || c.Judge(p.Time, now) != ""
	}
	if !bad {
		return b, rej
	}
	out := Batch{
		Records: make([]schema.Record, 0, len(b.Records)),
		Gauges:  make([]schema.Gauge, 0, len(b.Gauges)),
		Points:  make([]schema.Point, 0, len(b.Points)),
	}
	for _, r := range b.Records {
		if why := c.Judge(r.Start, now); why != "" {
			rej.add(why, r.Start)
			continue
		}
		out.Records = append(out.Records, r)
	}
	for _, g := range b.Gauges {
		if why := c.Judge(g.Time, now); why != "" {
			rej.add(why, g.Time)
			continue
		}
		out.Gauges = append(out.Gauges, g)
	}
	for _, p := range b.Points {
		if why := c.Judge(p.Time, now); why != "" {
			rej.add(why, p.Time)
			continue
		}
		out.Points = append(out.Points, p)
	}
	return out, rej
}

// Future is what RejectFuture found among some vendor times.
type Future struct {
	N         int   // ahead of our clock beyond the tolerance
	Newest    int64 // the latest of those (Unix seconds)
	now       time.Time
	tolerance time.Duration
}

// RejectFuture counts the times (Unix seconds) stamped ahead of our clock
// beyond clock_skew_tolerance in rejected_future and reports them, so that
// every collector that drops such rows before the pipeline counts them the
// same way; the caller logs one warning with Attrs when N > 0.
func (c Clock) RejectFuture(times []int64) Future {
	now := c.Time()
	f := Future{now: now, tolerance: c.Limit(now).Sub(now)}
	for _, t := range times {
		if c.Judge(t, now) == RejectedFuture {
			f.N++
			f.Newest = max(f.Newest, t)
		}
	}
	c.Count(RejectedFuture, f.N)
	return f
}

// Attrs are the log attributes of f: count, newest, now, tolerance.
func (f Future) Attrs() []any {
	return []any{"count", f.N, "newest", time.Unix(f.Newest, 0).UTC().Format(time.RFC3339),
		"now", f.now.UTC().Format(time.RFC3339), "tolerance", f.tolerance}
}
