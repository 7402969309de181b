package edgecast

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   provider,
		Decode: collectors.Decoder(defaults),
		New:    collectors.Builder(provider, New),
		Timing: timing,
	})
}

// timing: one snapshot a minute, no lag to wait for, nothing to re-read
// (the API cannot answer for the past), and the first run reads only the
// current minute.
func timing(collectors.Options) collectors.Timing {
	// A real-time API has no history: nothing it answers can be older than
	// the collector asks for (stale); an hour leaves room for slow runs.
	return collectors.Timing{Step: step, Delay: 0, Overlap: 0, Lookback: step, MaxWindow: 0, Retention: time.Hour}
}
