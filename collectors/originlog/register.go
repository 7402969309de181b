package originlog

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
				return nil, fmt.Errorf("originlog: options of type %T", o)
			}
			return New(opts, env)
		},
		Timing: func(o collectors.Options) collectors.Timing {
			// The log, not the window, says what is new: each run reads
			// what was appended since the last one.
			step := DefaultOptions().Step
			if opts, ok := o.(*Options); ok && opts.Step > 0 {
				step = opts.Step
			}
			return collectors.Timing{Step: step, Lookback: step}
		},
	})
}
