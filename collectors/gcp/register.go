package gcp

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

// retention: Cloud Monitoring keeps the points of Google Cloud metrics
// such as these at full (60 s) resolution for six weeks; older ones are
// not asked for.
const retention = 42 * 24 * time.Hour

// timing: load balancer metrics are sampled every 60 s and visible up to a
// few minutes later, so by default wait 5 minutes and re-read 10 (delay,
// overlap). Six hours per call is 360 points per group, a few pages.
func timing(o collectors.Options) collectors.Timing {
	return o.(*Options).ApplyTo(collectors.Timing{
		Step:      time.Minute,
		MaxWindow: 6 * time.Hour,
		Retention: retention,
	})
}
