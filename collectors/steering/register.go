package steering

import "github.com/cdnmetrics/cdnmetrics/collectors"

func init() {
	collectors.Register(collectors.Factory{
		Name:   Name,
		Decode: collectors.Decoder(DefaultOptions),
		New:    collectors.Builder(Name, New),
		Timing: func(collectors.Options) collectors.Timing {
			// Weights are read as they are now; the window is not used
			// and the points carry our own clock: no retention (0).
			return collectors.Timing{Step: step, Lookback: step}
		},
	})
}
