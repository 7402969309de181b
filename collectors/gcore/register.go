package gcore

import (
	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   provider,
		Decode: collectors.Decoder(defaultOptions),
		New:    collectors.Builder(provider, New),
		Timing: timing,
	})
}

// bucketsPerCall bounds one series request: 288 buckets (a day of 5-minute
// buckets) per metric and region keeps an answer for one resource near
// 300 KB whatever the granularity.
const bucketsPerCall = 288

// timing: the step is the configured granularity. Gcore does not document
// when a bucket stops changing, so by default each run waits 10 minutes
// and re-reads the last 30 (delay, overlap); retention is 365 days, 30 for
// 1-minute buckets.
func timing(o collectors.Options) collectors.Timing {
	opts := o.(*Options)
	step := opts.step()
	return opts.ApplyTo(collectors.Timing{
		Step:      step,
		MaxWindow: bucketsPerCall * step,
		Retention: retentionFor(opts.Granularity),
	})
}
