package cloudfront

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows CloudWatch's CloudFront metric
// names and how they become unified fields.

const (
	provider  = "cloudfront"
	namespace = "AWS/CloudFront"
	period    = 60 // seconds
	// GaugeOriginLatency is the gauge OriginLatency becomes (milliseconds).
	GaugeOriginLatency = "origin_latency_ms"
)

// Query ids (GetMetricData wants them to start with a lower-case letter).
const (
	idRequests = "requests"
	idBytes    = "bytes_down"
	id4xx      = "err4xx"
	id5xx      = "err5xx"
	idHitRate  = "hitrate"
	idLatency  = "origin_latency"
)

type metricSpec struct {
	id, name, stat string
	percent        bool // 0..100
}

// metricSpecs are the metrics read per distribution. CacheHitRate and
// OriginLatency exist only with additional metrics turned on; without
// them CloudWatch answers empty series, not an error.
var metricSpecs = []metricSpec{
	{idRequests, "Requests", "Sum", false},
	{idBytes, "BytesDownloaded", "Sum", false},
	{id4xx, "4xxErrorRate", "Average", true},
	{id5xx, "5xxErrorRate", "Average", true},
	{idHitRate, "CacheHitRate", "Average", true},
	{idLatency, "OriginLatency", "Average", false},
}

func specByID(id string) (metricSpec, bool) {
	for _, m := range metricSpecs {
		if m.id == id {
			return m, true
		}
	}
	return metricSpec{}, false
}

// queries returns the GetMetricData queries for one distribution.
func queries(distributionID string) []types.MetricDataQuery {
	qs := make([]types.MetricDataQuery, 0, len(metricSpecs))
	for _, m := range metricSpecs {
		qs = append(qs, types.MetricDataQuery{
			Id: aws.String(m.id),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{
					Namespace:  aws.String(namespace),
					MetricName: aws.String(m.name),
					Dimensions: []types.Dimension{
						{Name: aws.String("DistributionId"), Value: aws.String(distributionID)},
						{Name: aws.String("Region"), Value: aws.String("Global")},
					},
				},
				Period: aws.Int32(period),
				Stat:   aws.String(m.stat),
			},
			ReturnData: aws.Bool(true),
		})
	}
	return qs
}

// series is one metric's datapoints, merged over result pages.
type series struct {
	Timestamps []time.Time
	Values     []float64
}

// addResult appends one page's result to the series of its id.
func addResult(all map[string]*series, r types.MetricDataResult) {
	id := aws.ToString(r.Id)
	s := all[id]
	if s == nil {
		s = &series{}
		all[id] = s
	}
	s.Timestamps = append(s.Timestamps, r.Timestamps...)
	s.Values = append(s.Values, r.Values...)
}

// mapResults turns one distribution's series into minute records (location
// "all") and origin-latency gauges. Points that cannot be trusted are
// skipped and described in bad; impossible values (NaN, infinite, negative,
// huge, a percentage above 100) are left out one by one and described in
// rejected (the collector counts them in rejected_values); datapoints
// stamped after the window are returned in after (the collector counts
// those ahead of our clock in rejected_future); dropped counts rates that
// had no Requests datapoint to scale by.
func mapResults(service string, all map[string]*series, start, end time.Time) (recs []schema.Record, gauges []schema.Gauge, bad []string, dropped int, rejected []string, after []int64) {
	vals := map[string]map[int64]float64{}
	times := map[int64]bool{}
	for id, s := range all {
		spec, ok := specByID(id)
		if !ok {
			bad = append(bad, fmt.Sprintf("result %q was not asked for", id))
			continue
		}
		if len(s.Timestamps) != len(s.Values) {
			bad = append(bad, fmt.Sprintf("%s: %d timestamps but %d values", spec.name, len(s.Timestamps), len(s.Values)))
			continue
		}
		m := map[int64]float64{}
		for i, ts := range s.Timestamps {
			v := s.Values[i]
			t := ts.Unix()
			switch {
			case !ts.Before(end):
				after = append(after, t)
				continue
			case ts.Before(start):
				bad = append(bad, fmt.Sprintf("%s: timestamp %s outside the window", spec.name, ts.UTC().Format(time.RFC3339)))
				continue
			case t%period != 0 || ts.Nanosecond() != 0:
				bad = append(bad, fmt.Sprintf("%s: timestamp %s is not the start of a minute", spec.name, ts.UTC().Format(time.RFC3339)))
				continue
			case math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > schema.MaxCount:
				rejected = append(rejected, fmt.Sprintf("%s: value %v at %s", spec.name, v, ts.UTC().Format(time.RFC3339)))
				continue
			case spec.percent && v > 100:
				rejected = append(rejected, fmt.Sprintf("%s: %v%% at %s is over 100", spec.name, v, ts.UTC().Format(time.RFC3339)))
				continue
			}
			m[t] = v
			times[t] = true
		}
		vals[id] = m
	}
	order := make([]int64, 0, len(times))
	for t := range times {
		order = append(order, t)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, t := range order {
		rec := schema.Record{Provider: provider, Service: service, Location: schema.LocationAll, Start: t, Step: period}
		req, hasReq := vals[idRequests][t]
		req = math.Round(req)
		if hasReq {
			rec.Set(schema.Requests, req)
		}
		if b, ok := vals[idBytes][t]; ok {
			rec.Set(schema.EdgeBytes, math.Round(b))
		}
		// Rates are percentages of the minute's requests: as counts they
		// add up across minutes and distributions.
		for _, rf := range []struct {
			id string
			f  schema.Field
		}{{id4xx, schema.Status4xx}, {id5xx, schema.Status5xx}, {idHitRate, schema.Hits}} {
			rate, ok := vals[rf.id][t]
			if !ok {
				continue
			}
			if !hasReq {
				dropped++
				continue
			}
			n := math.Round(rate / 100 * req)
			rec.Set(rf.f, n)
			if rf.f == schema.Hits {
				rec.Set(schema.Misses, req-n)
			}
		}
		if !rec.Empty() {
			recs = append(recs, rec)
		}
		if l, ok := vals[idLatency][t]; ok {
			gauges = append(gauges, schema.Gauge{Provider: provider, Service: service, Location: schema.LocationAll, Metric: GaugeOriginLatency, Time: t, Value: l})
		}
	}
	return recs, gauges, bad, dropped, rejected, after
}
