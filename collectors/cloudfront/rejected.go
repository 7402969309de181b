package cloudfront

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// countRejected counts what mapResults left out of one distribution's
// answer into the self-metrics every collector shares: impossible values
// in rejected_values (CloudFront's datapoints are one value each, so the
// rejection is already per value: the minute's other metrics stay), and
// datapoints stamped ahead of our clock in rejected_future; one warning
// each. Datapoints merely after the window (not in the future) are left
// out at debug level: the run that asks for their window reads them.
func (c *Collector) countRejected(dist string, rejected []string, after []int64, w collectors.Window) {
	clock := c.env.Clock
	if len(rejected) > 0 {
		clock.Count(collectors.RejectedValues, len(rejected))
		c.logger.Warn("impossible values from vendor rejected; the minute's other metrics kept", "distribution", dist,
			"endpoint", "GetMetricData", "count", len(rejected), "first", rejected[0])
	}
	if len(after) == 0 {
		return
	}
	f := clock.RejectFuture(after)
	if f.N > 0 {
		c.logger.Warn("vendor datapoints stamped ahead of our clock rejected", append([]any{"distribution", dist}, f.Attrs()...)...)
	}
	if late := len(after) - f.N; late > 0 {
		c.logger.Debug("vendor datapoints after the window left out", "distribution", dist, "count", late,
			"window_end", w.End.UTC().Format(time.RFC3339))
	}
}

// countUnscaled counts the rate datapoints (error rates, hit rate) mapResults
// dropped because their minute had no Requests datapoint to turn the
// percentage into a count: they are vendor values we could not write, so
// they add to rejected_values, with one warning per distribution and run
// (collectDist calls it once per distribution's answer), not one per point.
func (c *Collector) countUnscaled(dist string, dropped int) {
	if dropped == 0 {
		return
	}
	c.env.Clock.Count(collectors.RejectedValues, dropped)
	c.logger.Warn("rates without the minute's Requests datapoint dropped (a percentage of nothing is no count)",
		"distribution", dist, "endpoint", "GetMetricData", "count", dropped)
}
