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
			return o.(*Options).ApplyTo(collectors.Timing{Step: 5 * time.Minute, MaxWindow: 6 * time.Hour, Retention: retention})
		},
	})
}

// retention: Reporting API v2 delivery/traffic/current: "Data available
// for: 92 days".
const retention = 92 * 24 * time.Hour
