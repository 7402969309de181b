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

// retention: CloudWatch keeps 60-second data points for 15 days
// (GetMetricData); older ones exist only at 5 minutes or 1 hour.
const retention = 15 * 24 * time.Hour

// timing: CloudWatch's CloudFront minutes arrive a few minutes late and the
// newest may still be revised, so by default wait 5 minutes and re-read 10 (delay, overlap). Six hours
// per call is 360 points per metric, far below GetMetricData's limits.
func timing(o collectors.Options) collectors.Timing {
	return o.(*Options).ApplyTo(collectors.Timing{
		Step:      time.Minute,
		MaxWindow: 6 * time.Hour,
		Retention: retention,
	})
}
