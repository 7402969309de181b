package akamai

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name: "akamai",
		Decode: func(s collectors.Section) (collectors.Options, error) {
			o := defaults()
			return o, s.Decode(o)
		},
		New: func(o collectors.Options, env collectors.Env) (collectors.Collector, error) {
			return New(o.(*Options), env)
		},
		Timing: func(o collectors.Options) collectors.Timing {
			ao := o.(*Options)
			return collectors.Timing{Step: 5 * time.Minute, Delay: time.Duration(ao.Delay), Overlap: time.Duration(ao.Overlap),
				Lookback: time.Duration(ao.Lookback), MaxWindow: 6 * time.Hour}
		},
		Simulate:  simulate,
		SimConfig: simConfig,
		Expect:    expect,
	})
}
