package probe

import (
	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   Name,
		Decode: collectors.Decoder(DefaultOptions),
		New:    collectors.Builder(Name, func(o *Options, env collectors.Env) (*Collector, error) { return New(o, env), nil }),
		Timing: func(o collectors.Options) collectors.Timing {
			// Probes measure now; the window is not used.
			step := DefaultOptions().Step
			if opts, ok := o.(*Options); ok && opts.Step > 0 {
				step = opts.Step
			}
			// Probes stamp with our own clock: no retention (0).
			return collectors.Timing{Step: step, Lookback: step}
		},
	})
}
