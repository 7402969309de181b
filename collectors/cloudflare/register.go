package cloudflare

import (
	"fmt"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      provider,
		Decode:    decode,
		New:       newCollector,
		Timing:    timing,
		Simulate:  Simulate,
		SimConfig: SimConfig,
		Expect:    Expect,
	})
}

func decode(s collectors.Section) (collectors.Options, error) {
	o := defaultOptions()
	if err := s.Decode(o); err != nil {
		return nil, err
	}
	return o, nil
}

func newCollector(o collectors.Options, env collectors.Env) (collectors.Collector, error) {
	opts, ok := o.(*Options)
	if !ok {
		return nil, fmt.Errorf("cloudflare: options of type %T", o)
	}
	return New(opts, env)
}

// timing: minute data that settles within a few minutes; re-read the last
// ten minutes for late rows. An hour per call keeps the minute rollups far
// below the 10,000-row limit and inside every plan's query range.
func timing(collectors.Options) collectors.Timing {
	return collectors.Timing{
		Step:      time.Minute,
		Delay:     5 * time.Minute,
		Overlap:   10 * time.Minute,
		Lookback:  time.Hour,
		MaxWindow: time.Hour,
	}
}
