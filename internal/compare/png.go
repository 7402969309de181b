package compare

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// palette gives each provider one colour; its hit ratio is drawn solid and
// its origin offload dashed in that colour.
var palette = []string{"1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "17becf", "bcbd22", "7f7f7f"}

// PNGTargets returns the render targets of the comparison image: per
// provider, the hit ratio and the origin offload in percent, each computed
// at every interval from summed counts (asPercent of sumSeries), plus the
// deploy events as vertical lines. Providers whose report row lacks a
// ratio get no line for it (graphite-web's asPercent rejects an empty
// total).
func PNGTargets(o Options, r *Report) []string {
	svc := "*"
	if o.Service != "" {
		svc = o.Service
	}
	nm := newNaming(o.Prefix, o.Tags)
	var ts []string
	for i, p := range r.Providers {
		path := func(m ...string) string {
			return "sumSeries(" + nm.series([]string{p.Name}, svc, schema.LocationAll, m) + ")"
		}
		col := palette[i%len(palette)]
		if p.HitRatio != nil {
			ts = append(ts, fmt.Sprintf("alias(color(asPercent(%s,%s),'%s'),'%s hit ratio %%')",
				path(mHits), path(mHits, mMisses), col, p.Name))
		}
		if p.OriginOffload != nil {
			// 100 − origin/edge %: offset(scale(x,-1),100) keeps a gap a gap,
			// where diffSeries would treat a missing origin as 0.
			ts = append(ts, fmt.Sprintf("alias(dashed(color(offset(scale(asPercent(%s,%s),-1),100),'%s')),'%s origin offload %%')",
				path(mOriginBytes), path(mEdgeBytes), col, p.Name))
		}
	}
	return ts
}

// PNG renders the comparison image through graphite-web.
func PNG(ctx context.Context, o Options, r *Report) ([]byte, error) {
	ts := PNGTargets(o, r)
	if len(ts) == 0 {
		return nil, fmt.Errorf("no provider has the counts for a hit ratio or an origin offload: nothing to draw")
	}
	ts = append(ts, "alias(color(drawAsInfinite(events('deploy')),'999999'),'deploy')")
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	title := "hit ratio (solid) and origin offload (dashed), % from summed counts"
	if o.Service != "" {
		title += ", service " + o.Service
	}
	// hideLegend=false: graphite-web drops the legend on its own above
	// 10 series, and an image of providers without names says nothing.
	extra := url.Values{
		"width": {"1000"}, "height": {"450"}, "lineMode": {"connected"},
		"title": {title}, "vtitle": {"%"}, "tz": {"UTC"}, "hideLegend": {"false"},
	}
	return c.png(ctx, ts, pngFrom(r), r.Until, extra)
}

// pngFrom is where the image starts: where the data starts when that is
// later than the window's start (a window reaching back before the first
// collected interval would otherwise draw an empty left part, squeezing
// the data into a corner).
func pngFrom(r *Report) time.Time {
	if r.dataFrom.After(r.From) && r.dataFrom.Before(r.Until) {
		return r.dataFrom
	}
	return r.From
}
