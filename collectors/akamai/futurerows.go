package akamai

// rejectFutureRows counts the intervals of one report stamped ahead of our
// clock (beyond clock_skew_tolerance) in rejected_future, with one
// warning: a vendor clock or unit mistake, not data. Intervals merely after
// the window are left out silently, as before: the run that asks for their
// window reads them.
func (c *Collector) rejectFutureRows(after []int64) {
	if len(after) == 0 {
		return
	}
	if f := c.env.Clock.RejectFuture(after); f.N > 0 {
		c.logger.Warn("akamai intervals stamped ahead of our clock rejected", f.Attrs()...)
	}
}
