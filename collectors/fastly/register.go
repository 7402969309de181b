package fastly

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:   "fastly",
		Decode: collectors.Decoder(defaults),
		New:    collectors.Builder("fastly", New),
		Timing: func(o collectors.Options) collectors.Timing {
			return o.(*Options).ApplyTo(collectors.Timing{
				Step: time.Minute,
				// 6 h of minutes is 360 rows (~1.5 MB) per request: long
				// backfills are chunked rather than asked for at once.
				MaxWindow: 6 * time.Hour,
				// Fastly: "You cannot retrieve minutely historical
				// statistics data older than 35 days" (Historical Stats
				// API). Real-time seconds are newer than any of it.
				Retention: 35 * 24 * time.Hour,
			})
		},
	})
}
