package cloudfront

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// sampleResults reads a GetMetricData sample (the JSON form of the same
// members the CBOR protocol carries) into SDK result values.
func sampleResults(t testing.TB, name string) (results []types.MetricDataResult, nextToken string) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	rs, next, err := decodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	return rs, next
}

func decodeSample(b []byte) ([]types.MetricDataResult, string, error) {
	var doc struct {
		MetricDataResults []struct {
			Id, Label, StatusCode string
			Timestamps            []float64
			Values                []float64
		}
		NextToken string
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, "", err
	}
	var rs []types.MetricDataResult
	for _, r := range doc.MetricDataResults {
		res := types.MetricDataResult{Id: aws.String(r.Id), Label: aws.String(r.Label), StatusCode: types.StatusCode(r.StatusCode), Values: r.Values}
		for _, ts := range r.Timestamps {
			if math.IsNaN(ts) || math.IsInf(ts, 0) || math.Abs(ts) > 1e12 {
				ts = 0
			}
			res.Timestamps = append(res.Timestamps, time.Unix(int64(ts), 0))
		}
		rs = append(rs, res)
	}
	return rs, doc.NextToken, nil
}

func TestMapSampleResponse(t *testing.T) {
	rs, _ := sampleResults(t, "cloudwatch-getmetricdata-response.constructed.json")
	all := map[string]*series{}
	for _, r := range rs {
		addResult(all, r)
	}
	start := time.Unix(1736935200, 0)
	recs, gauges, bad, dropped, _, _ := mapResults("www", all, start, start.Add(3*time.Minute))
	if len(bad) != 0 || dropped != 0 || len(gauges) != 0 {
		t.Fatalf("bad=%v dropped=%d gauges=%v", bad, dropped, gauges)
	}
	// 1736935200: requests 125341; bytes 5.3721458e9;
	//   4xx round(0.8312/100 × 125341 = 1041.83) = 1042; 5xx round(0.0213/100 × 125341 = 26.70) = 27.
	// 1736935260: requests 119872; 4xx round(953.46) = 953; 5xx round(22.42) = 22.
	// 1736935320: requests 121004; 4xx round(980.25) = 980; no 5xx point → unknown.
	// CacheHitRate is empty (additional metrics off) → hits/misses unknown.
	want := []string{
		"cloudfront www all 1736935200/60 requests=125341 edge_bytes=5.3721458e+09 status_4xx=1042 status_5xx=27",
		"cloudfront www all 1736935260/60 requests=119872 edge_bytes=5.1030977e+09 status_4xx=953 status_5xx=22",
		"cloudfront www all 1736935320/60 requests=121004 edge_bytes=5.2441203e+09 status_4xx=980",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), want)
}

func TestMapHitRateLatencyAndBadPoints(t *testing.T) {
	start := time.Unix(1736935200, 0)
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	all := map[string]*series{
		idRequests: {Timestamps: []time.Time{at(0), at(1), at(2), at(9), at(3)}, Values: []float64{1000, 200, -5, 7, math.NaN()}},
		idHitRate:  {Timestamps: []time.Time{at(0), at(1), at(4)}, Values: []float64{93.35, 101, 50}},
		idLatency:  {Timestamps: []time.Time{at(0)}, Values: []float64{42.5}},
		id4xx:      {Timestamps: []time.Time{at(0).Add(time.Second)}, Values: []float64{1}},
		id5xx:      {Timestamps: []time.Time{at(0)}, Values: []float64{1, 2}},
		"unknown":  {},
	}
	recs, gauges, bad, dropped, rejected, after := mapResults("www", all, start, at(5))
	// Bad: 4xx not on a minute, 5xx with 1 timestamp and 2 values, the
	// unknown id: 3. Rejected values: requests -5, requests NaN, hit rate
	// 101 %: 3. After the window: requests at minute 9.
	if len(bad) != 3 {
		t.Errorf("bad = %d: %v", len(bad), bad)
	}
	if len(rejected) != 3 {
		t.Errorf("rejected = %d: %v", len(rejected), rejected)
	}
	if len(after) != 1 || after[0] != at(9).Unix() {
		t.Errorf("after = %v", after)
	}
	// The hit rate at minute 4 has no requests to scale: dropped.
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	// Minute 0: hits round(93.35/100 × 1000 = 933.5) = 934, misses 1000-934 = 66.
	// Minute 1: requests 200 only (its hit rate was bad).
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"cloudfront www all 1736935200/60 requests=1000 hits=934 misses=66",
		"cloudfront www all 1736935260/60 requests=200",
	})
	if len(gauges) != 1 || gauges[0].Metric != GaugeOriginLatency || gauges[0].Value != 42.5 || gauges[0].Time != 1736935200 || gauges[0].Location != "all" {
		t.Errorf("gauges = %+v", gauges)
	}
}

func TestQueriesShape(t *testing.T) {
	qs := queries("E1ABCDEF2GHIJK")
	if len(qs) != len(metricSpecs) {
		t.Fatalf("%d queries", len(qs))
	}
	for _, q := range qs {
		ms := q.MetricStat
		if aws.ToString(ms.Metric.Namespace) != "AWS/CloudFront" || aws.ToInt32(ms.Period) != 60 || !aws.ToBool(q.ReturnData) {
			t.Errorf("query %s: %+v", aws.ToString(q.Id), ms)
		}
		if len(ms.Metric.Dimensions) != 2 || aws.ToString(ms.Metric.Dimensions[0].Value) != "E1ABCDEF2GHIJK" || aws.ToString(ms.Metric.Dimensions[1].Value) != "Global" {
			t.Errorf("dimensions of %s: %+v", aws.ToString(q.Id), ms.Metric.Dimensions)
		}
		want := "Average"
		if n := aws.ToString(ms.Metric.MetricName); n == "Requests" || n == "BytesDownloaded" {
			want = "Sum"
		}
		if aws.ToString(ms.Stat) != want {
			t.Errorf("%s: stat %s, want %s", aws.ToString(ms.Metric.MetricName), aws.ToString(ms.Stat), want)
		}
	}
}
