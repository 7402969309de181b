package cloudflare

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

// retention: in GraphQL Analytics how far back a dataset reads depends on
// the dataset and the plan (settings node notOlderThan; 2678400 s = 31 days
// in Cloudflare's own examples). The plan is not known here, so the bound
// is generous: no plan's real rows are rejected, a row stamped months back
// (or in 1970) is.
const retention = 92 * 24 * time.Hour

// timing: by default (delay, overlap), minute data that settles within a few minutes; re-read the last
// ten minutes for late rows. An hour per call keeps the minute rollups far
// below the 10,000-row limit and inside every plan's query range.
func timing(o collectors.Options) collectors.Timing {
	return o.(*Options).ApplyTo(collectors.Timing{
		Step:      time.Minute,
		MaxWindow: time.Hour,
		Retention: retention,
	})
}
