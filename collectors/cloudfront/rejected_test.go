package cloudfront

import (
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// What mapResults leaves out of an answer is counted where every collector
// counts it: impossible values in rejected_values, datapoints stamped in
// 2100 in rejected_future; a datapoint merely after the window in neither
// (issue 16 items 2, 3, 15).
func TestRejectedDatapointsCounted(t *testing.T) {
	start := time.Unix(1736935200, 0)
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	y2100 := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	all := map[string]*series{
		idRequests: {Timestamps: []time.Time{at(0), at(1), at(2), y2100, at(9)}, Values: []float64{1000, -5, math.NaN(), 7, 8}},
		idHitRate:  {Timestamps: []time.Time{at(0)}, Values: []float64{101}},
		idLatency:  {Timestamps: []time.Time{at(0)}, Values: []float64{-3}},
	}
	_, _, _, _, rejected, after := mapResults("www", all, start, at(5))
	pipe := collectorstest.NewPipe()
	var logs strings.Builder
	c := &Collector{env: collectors.Env{Clock: pipe.Clock("cloudfront")}, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c.countRejected("www", rejected, after, collectors.Window{Start: start, End: at(5)})
	got := pipe.Lines(t)
	// requests -5 and NaN, hit rate 101 %, latency -3.
	if v := got["cdn.cdnmetrics.collector.cloudfront.rejected_values"]; v != 4 {
		t.Errorf("rejected_values = %v, want 4\n%s", v, logs.String())
	}
	if v := got["cdn.cdnmetrics.collector.cloudfront.rejected_future"]; v != 1 {
		t.Errorf("rejected_future = %v, want 1\n%s", v, logs.String())
	}
}
