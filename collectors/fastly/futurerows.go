package fastly

// rejectFutureRows counts the historical rows of one answer stamped ahead
// of our clock (beyond clock_skew_tolerance) in rejected_future, with one
// warning: a vendor clock or unit mistake, not data. Rows merely after the
// window are left out silently, as before: the run that asks for their
// window reads them.
func (c *Collector) rejectFutureRows(svc, loc string, after []int64) {
	if len(after) == 0 {
		return
	}
	if f := c.env.Clock.RejectFuture(after); f.N > 0 {
		c.logger.Warn("fastly historical rows stamped ahead of our clock rejected", append([]any{"service", svc, "region", loc}, f.Attrs()...)...)
	}
}
