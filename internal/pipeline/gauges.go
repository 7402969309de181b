package pipeline

import (
	"math"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// maxDurationMs is the longest duration gauge accepted: one day. A gauge
// named *_ms is the time of one request (a probe's TTFB or total, bounded
// by its timeout) or an average origin latency (CloudFront); a day of it is
// a unit mistake or garbage, not a slow origin.
const maxDurationMs = 24 * 60 * 60 * 1000

// gaugeProblem says why gauge g's value is impossible, or "". Every gauge
// the collectors emit is a count (origin log requests, bytes, statuses), a
// duration in milliseconds (*_ms) or a 0/1 flag computed here from a bool
// (probe_ok, probe_hit): none can be negative, NaN or infinite, or exceed
// 2^53 (schema.MaxCount, the counts' limit: above it a float64 no longer
// holds every integer); a duration cannot exceed maxDurationMs. What is
// merely surprising (a 30 s TTFB, a rate of 0) stays.
func gaugeProblem(g schema.Gauge) string {
	v := g.Value
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "not a finite number"
	case v < 0:
		return "negative"
	case v > schema.MaxCount:
		return "above 2^53"
	case strings.HasSuffix(g.Metric, "_ms") && v > maxDurationMs:
		return "a duration above one day"
	}
	return ""
}

// firstImpossibleGauge is the index of the first impossible gauge, or -1;
// it lets the common case allocate nothing.
func firstImpossibleGauge(gs []schema.Gauge) int {
	for i := range gs {
		if gaugeProblem(gs[i]) != "" {
			return i
		}
	}
	return -1
}
