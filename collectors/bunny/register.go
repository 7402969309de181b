package bunny

import (
	"time"

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

// retention: Bunny serves hourly statistics for the last 30 days ("Cannot
// request hourly statistics older than 30 days"); daily ones for a year.
const retention = 30 * 24 * time.Hour

// timing: one-hour buckets (Step), so windows end on whole hours and an
// hour is written only once it has ended; by default it is first read 10
// minutes after its end and re-read for 3 hours (delay, overlap), which
// overwrites the first, possibly partial, value. A day per call is 24
// buckets per chart.
func timing(o collectors.Options) collectors.Timing {
	return o.(*Options).ApplyTo(collectors.Timing{
		Step:      bucket * time.Second,
		MaxWindow: 24 * time.Hour,
		Retention: retention,
	})
}
