package akamai

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   "akamai",
		Decode: collectors.Decoder(defaults),
		New:    collectors.Builder("akamai", New),
		Timing: func(o collectors.Options) collectors.Timing {
			ao := o.(*Options)
			return collectors.Timing{Step: 5 * time.Minute, Delay: time.Duration(ao.Delay), Overlap: time.Duration(ao.Overlap),
				Lookback: time.Duration(ao.Lookback), MaxWindow: 6 * time.Hour,
				// Reporting API v2 delivery/traffic/current: "Data
				// available for: 92 days".
				Retention: 92 * 24 * time.Hour}
		},
	})
}
