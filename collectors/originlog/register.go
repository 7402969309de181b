package originlog

import (
	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   Name,
		Decode: collectors.Decoder(DefaultOptions),
		New:    collectors.Builder(Name, New),
		Timing: func(o collectors.Options) collectors.Timing {
			// The log, not the window, says what is new: each run reads
			// what was appended since the last one.
			step := DefaultOptions().Step
			if opts, ok := o.(*Options); ok && opts.Step > 0 {
				step = opts.Step
			}
			// Our own logs: no vendor retention (Retention 0); times
			// ahead of our clock are still rejected.
			return collectors.Timing{Step: step, Lookback: step}
		},
	})
}
