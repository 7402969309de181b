package azure

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

// retention: Azure Monitor keeps platform metrics for 93 days.
const retention = 93 * 24 * time.Hour

// timing: Front Door sends its metrics every 60 s and Azure Monitor may take
// up to 3 minutes to publish them, so by default wait 5 minutes and re-read
// 10 (delay, overlap). Six hours per call is 360 points per series, far
// below the metrics API's limits.
func timing(o collectors.Options) collectors.Timing {
	return o.(*Options).ApplyTo(collectors.Timing{
		Step:      time.Minute,
		MaxWindow: 6 * time.Hour,
		Retention: retention,
	})
}
