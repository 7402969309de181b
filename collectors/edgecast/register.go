package edgecast

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      provider,
		Decode:    collectors.Decoder(defaults),
		New:       collectors.Builder(provider, New),
		Timing:    timing,
		Simulate:  Simulate,
		SimConfig: SimConfig,
		// Expect is left nil on purpose: a real-time API has no history,
		// so Collect over a past window (what the end-to-end test asks)
		// rightly emits nothing. The package's Expect is exact for a live
		// window and is checked by TestSimulateCollectEqualsExpect.
		Expect: nil,
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
