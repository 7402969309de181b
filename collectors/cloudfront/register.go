package cloudfront

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   provider,
		Decode: collectors.Decoder(defaultOptions),
		New:    collectors.Builder(provider, New),
		Timing: timing,
	})
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
		// CloudWatch keeps 60-second data points for 15 days
		// (GetMetricData); older ones exist only at 5 minutes or 1 hour.
		Retention: 15 * 24 * time.Hour,
	}
}
