package cloudfront

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
		return nil, fmt.Errorf("cloudfront: options of type %T", o)
	}
	return New(opts, env)
}

// timing: CloudWatch's CloudFront minutes arrive a few minutes late and the
// newest may still be revised, so wait 5 minutes and re-read 10. Six hours
// per call is 360 points per metric, far below GetMetricData's limits.
func timing(collectors.Options) collectors.Timing {
	return collectors.Timing{
		Step:      time.Minute,
		Delay:     5 * time.Minute,
		Overlap:   10 * time.Minute,
		Lookback:  time.Hour,
		MaxWindow: 6 * time.Hour,
	}
}
