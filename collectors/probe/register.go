package probe

import (
	"fmt"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name: Name,
		Decode: func(s collectors.Section) (collectors.Options, error) {
			o := DefaultOptions()
			if err := s.Decode(o); err != nil {
				return nil, err
			}
			return o, nil
		},
		New: func(o collectors.Options, env collectors.Env) (collectors.Collector, error) {
			opts, ok := o.(*Options)
			if !ok {
				return nil, fmt.Errorf("probe: options of type %T", o)
			}
			return New(opts, env), nil
		},
		Timing: func(o collectors.Options) collectors.Timing {
			// Probes measure now; the window is not used.
			step := DefaultOptions().Step
			if opts, ok := o.(*Options); ok && opts.Step > 0 {
				step = opts.Step
			}
			return collectors.Timing{Step: step, Lookback: step}
		},
	})
}
