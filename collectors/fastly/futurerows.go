package fastly

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// rejectFutureRows counts the historical rows of one answer stamped ahead
// of our clock (beyond clock_skew_tolerance) in rejected_future, with one
// warning: a vendor clock or unit mistake, not data. Rows merely after the
// window are left out silently, as before: the run that asks for their
// window reads them.
func (c *Collector) rejectFutureRows(svc, loc string, after []int64) {
	if len(after) == 0 {
		return
	}
	clock := c.env.Clock
	now := clock.Time()
	future, newest := 0, int64(0)
	for _, t := range after {
		if clock.Judge(t, now) == collectors.RejectedFuture {
			future++
			newest = max(newest, t)
		}
	}
	if future == 0 {
		return
	}
	clock.Count(collectors.RejectedFuture, future)
	c.logger.Warn("fastly historical rows stamped ahead of our clock rejected", "service", svc, "region", loc, "count", future,
		"newest", time.Unix(newest, 0).UTC().Format(time.RFC3339), "now", now.UTC().Format(time.RFC3339), "tolerance", clock.Limit(now).Sub(now))
}
