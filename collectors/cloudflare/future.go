package cloudflare

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// afterWindow deals with the rows of one answer stamped at or after the
// window's end (minutes, Unix seconds). Those ahead of our clock (beyond
// the clock_skew_tolerance) are a vendor clock or unit mistake: counted in
// rejected_future like every vendor time the pipeline's clock guard
// rejects, with one warning. The others are merely later than asked for
// (a vendor rounding the range): left out at debug level, the run that
// asks for their window collects them.
func (c *Collector) afterWindow(zone, node string, after []int64, w collectors.Window) {
	if len(after) == 0 {
		return
	}
	f := c.env.Clock.RejectFuture(after)
	if f.N > 0 {
		c.logger.Warn("vendor rows stamped ahead of our clock rejected", append([]any{"zone", zone, "node", node}, f.Attrs()...)...)
	}
	if late := len(after) - f.N; late > 0 {
		c.logger.Debug("vendor rows after the window left out", "zone", zone, "node", node, "count", late,
			"window_end", w.End.UTC().Format(time.RFC3339))
	}
}

// statusRejected counts the status classes made unknown in rows whose
// responseStatusMap exceeded their requests (four values a row) in
// rejected_values, with one warning.
func (c *Collector) statusRejected(zone string, rejected []string) {
	if len(rejected) == 0 {
		return
	}
	n := len(rejected) * len(statusFields)
	c.env.Clock.Count(collectors.RejectedValues, n)
	c.logger.Warn("status classes adding up to more than requests rejected; the rows' other counts kept", "zone", zone,
		"node", nodeTotal, "rows", len(rejected), "values", n, "first", rejected[0])
}
