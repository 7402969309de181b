package cloudfront

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

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

// Datapoints CloudWatch should never send — stamped off the minute or
// before the window, or for a query we did not ask — are left out one by
// one, warned about once and counted in rejected_values like impossible
// values; the good datapoint of the same answer is kept.
func TestBadDatapointsCounted(t *testing.T) {
	start := time.Unix(1736935200, 0)
	api := &fakeAPI{fn: func(string, *cloudwatch.GetMetricDataInput, int) (*cloudwatch.GetMetricDataOutput, error) {
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			{Id: aws.String(idRequests), StatusCode: types.StatusCodeComplete,
				Timestamps: []time.Time{start, start.Add(90 * time.Second), start.Add(-time.Minute)}, Values: []float64{100, 5, 7}},
			{Id: aws.String("bogus"), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{start}, Values: []float64{1}},
		}}, nil
	}}
	got, logs := collectThroughPipe(t, api, collectors.Window{Start: start, End: start.Add(3 * time.Minute)})
	if v := got["cdn.cloudfront.www.all.requests@1736935200"]; v != 100 {
		t.Errorf("requests@1736935200 = %v, want 100", v)
	}
	if v := got["cdn.cdnmetrics.collector.cloudfront.rejected_values"]; v != 3 {
		t.Errorf("rejected_values = %v, want 3 (off the minute, before the window, not asked for)\n%s", v, logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// A rate (error rate, hit rate) whose minute has no Requests datapoint
// cannot become a count: each is dropped, counted in rejected_values and
// the distribution gets one warning, not one per datapoint. Here Requests
// exists only at minute 0; the hit rate at minute 1, the 5xx rate at
// minute 1 and the 4xx rate at minute 2 have nothing to scale: 3 dropped.
// The hit rate at minute 0 is kept (50 % of 200 = 100 hits).
func TestRatesWithoutRequestsCounted(t *testing.T) {
	start := time.Unix(1736935200, 0)
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	api := &fakeAPI{fn: func(string, *cloudwatch.GetMetricDataInput, int) (*cloudwatch.GetMetricDataOutput, error) {
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			{Id: aws.String(idRequests), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{at(0)}, Values: []float64{200}},
			{Id: aws.String(idHitRate), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{at(0), at(1)}, Values: []float64{50, 40}},
			{Id: aws.String(id5xx), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{at(1)}, Values: []float64{1}},
			{Id: aws.String(id4xx), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{at(2)}, Values: []float64{2}},
		}}, nil
	}}
	got, logs := collectThroughPipe(t, api, collectors.Window{Start: start, End: at(3)})
	if v := got["cdn.cloudfront.www.all.hits@1736935200"]; v != 100 {
		t.Errorf("hits@1736935200 = %v, want 100", v)
	}
	if v := got["cdn.cdnmetrics.collector.cloudfront.rejected_values"]; v != 3 {
		t.Errorf("rejected_values = %v, want 3 (hit rate and 5xx at minute 1, 4xx at minute 2)\n%s", v, logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "count=3") {
		t.Errorf("%d warnings, want 1 with count=3:\n%s", n, logs.String())
	}
}

// collectThroughPipe collects distribution www (E1) from api for w through
// the real pipeline, and returns the lines it wrote and the collector's log.
func collectThroughPipe(t *testing.T, api *fakeAPI, w collectors.Window) (map[string]float64, *bytes.Buffer) {
	t.Helper()
	c, logs := fakeCollector(api, Distribution{ID: "E1", Name: "www"})
	pipe := collectorstest.NewPipe()
	c.env.Clock = pipe.Clock("cloudfront")
	if err := c.Collect(context.Background(), w, pipe.Emitter("cloudfront")); err != nil {
		t.Fatal(err)
	}
	return pipe.Lines(t), logs
}
