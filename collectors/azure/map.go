package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows Azure Monitor's Front Door metric
// names and dimensions and how they become unified fields.

const (
	provider   = "azure"
	namespace  = "Microsoft.Cdn/profiles"
	apiVersion = "2023-10-01"
	period     = 60 // seconds; interval PT1M
	// top is how many series a split answer may hold. Azure Monitor's
	// default is 10, which would silently drop client regions.
	top = 1000
	// GaugeTotalLatency is the gauge TotalLatency (Average) becomes, in ms.
	GaugeTotalLatency = "total_latency_ms"
	// GaugeOriginLatency is the gauge OriginLatency (Average) becomes, in ms.
	GaugeOriginLatency = "origin_latency_ms"
)

// Metric names in the REST API (Microsoft.Cdn/profiles).
const (
	mRequests       = "RequestCount"
	mResponseSize   = "ResponseSize"
	mOriginRequests = "OriginRequestCount"
	mByteHitRatio   = "ByteHitRatio"
	mTotalLatency   = "TotalLatency"
	mOriginLatency  = "OriginLatency"
)

// Dimensions.
const (
	dimEndpoint    = "Endpoint"
	dimStatusGroup = "HttpStatusGroup"
	dimRegion      = "ClientRegion"
)

// Aggregations.
const (
	aggTotal   = "Total"
	aggAverage = "Average"
)

// query is one metrics call. Azure refuses a $filter on a dimension that
// one of the requested metrics lacks (ByteHitRatio has only Endpoint,
// OriginRequestCount has no ClientRegion), so metrics are grouped by the
// dimensions they share and split on, and by aggregation.
type query struct {
	name        string // names the query in logs and errors
	metrics     []string
	aggregation string
	split       []string // dimensions split with "eq '*'"
}

// queries returns the calls made for one profile per window.
func queries(p Profile) []query {
	qs := []query{
		{name: "counts", metrics: []string{mRequests, mResponseSize, mOriginRequests}, aggregation: aggTotal},
		{name: "averages", metrics: []string{mByteHitRatio, mTotalLatency, mOriginLatency}, aggregation: aggAverage},
		{name: "status", metrics: []string{mRequests}, aggregation: aggTotal, split: []string{dimStatusGroup}},
	}
	if p.ByRegion {
		qs = append(qs,
			query{name: "region", metrics: []string{mRequests, mResponseSize}, aggregation: aggTotal, split: []string{dimRegion}},
			query{name: "region_status", metrics: []string{mRequests}, aggregation: aggTotal, split: []string{dimRegion, dimStatusGroup}})
	}
	return qs
}

// queryNamed holds every query by name (the region ones included).
var queryNamed = func() map[string]query {
	m := map[string]query{}
	for _, q := range queries(Profile{ByRegion: true}) {
		m[q.name] = q
	}
	return m
}()

// canonical returns the metric name as this file spells it: Azure matches
// names without regard to case and may answer in another.
func canonical(name string) string {
	for _, m := range []string{mRequests, mResponseSize, mOriginRequests, mByteHitRatio, mTotalLatency, mOriginLatency} {
		if strings.EqualFold(m, name) {
			return m
		}
	}
	return name
}

// filter is the OData $filter of q for profile p: every split dimension
// with "eq '*'", the configured endpoint with "eq '<host>'" (validated to
// hold no quote).
func (q query) filter(p Profile) string {
	var parts []string
	for _, d := range q.split {
		parts = append(parts, d+" eq '*'")
	}
	if p.Endpoint != "" {
		parts = append(parts, dimEndpoint+" eq '"+p.Endpoint+"'")
	}
	return strings.Join(parts, " and ")
}

// escape encodes a query value with %20 for spaces: ARM reads OData
// filters, where '+' is not a space.
func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// rawQuery is the query string of q for p over [start, end).
func (q query) rawQuery(p Profile, start, end time.Time) string {
	const layout = "2006-01-02T15:04:05Z"
	params := [][2]string{
		{"api-version", apiVersion},
		{"metricnamespace", namespace},
		{"metricnames", strings.Join(q.metrics, ",")},
		{"timespan", start.UTC().Format(layout) + "/" + end.UTC().Format(layout)},
		{"interval", "PT1M"},
		{"aggregation", q.aggregation},
	}
	if f := q.filter(p); f != "" {
		params = append(params, [2]string{"$filter", f}, [2]string{"top", fmt.Sprint(top)})
	}
	parts := make([]string, len(params))
	for i, kv := range params {
		parts[i] = kv[0] + "=" + escape(kv[1])
	}
	return strings.Join(parts, "&")
}

// Answer is a metrics answer as the collector reads it.
type Answer struct {
	Interval string
	Series   []Series
	// Problems are metrics the answer reports as failed (errorCode other
	// than Success, an error inside an HTTP 200).
	Problems []string
}

// Series is one metric's time series for one combination of dimension
// values.
type Series struct {
	Metric string
	Unit   string
	// Dims maps lower-case dimension names to values.
	Dims   map[string]string
	Points []Point
}

// Point is one bucket. Has is false for a bucket without the aggregation
// asked for: Azure answers an empty bucket of an average (a ratio, a
// latency) with a timestamp-only object, which is missing, not 0.
type Point struct {
	Time  string
	Value float64
	Has   bool
}

type wireAnswer struct {
	Interval string       `json:"interval"`
	Value    []wireMetric `json:"value"`
}

type wireName struct {
	Value string `json:"value"`
}

type wireMetric struct {
	Name         wireName `json:"name"`
	Unit         string   `json:"unit"`
	ErrorCode    string   `json:"errorCode"`
	ErrorMessage string   `json:"errorMessage"`
	Timeseries   []struct {
		Metadatavalues []struct {
			Name  wireName `json:"name"`
			Value string   `json:"value"`
		} `json:"metadatavalues"`
		Data []map[string]json.RawMessage `json:"data"`
	} `json:"timeseries"`
}

// ParseAnswer reads a metrics answer, taking from each bucket the value of
// aggregation ("Total" or "Average"; the JSON key is its lower case).
func ParseAnswer(body []byte, aggregation string) (Answer, error) {
	var w wireAnswer
	if err := json.Unmarshal(body, &w); err != nil {
		return Answer{}, fmt.Errorf("answer is not a metrics response: %v", err)
	}
	if w.Value == nil {
		return Answer{}, errors.New("answer has no \"value\" list")
	}
	key := strings.ToLower(aggregation)
	a := Answer{Interval: w.Interval}
	for _, m := range w.Value {
		if m.ErrorCode != "" && !strings.EqualFold(m.ErrorCode, "Success") {
			msg := m.Name.Value + ": " + m.ErrorCode
			if m.ErrorMessage != "" {
				msg += ": " + m.ErrorMessage
			}
			a.Problems = append(a.Problems, msg)
			continue
		}
		for _, ts := range m.Timeseries {
			s := Series{Metric: canonical(m.Name.Value), Unit: m.Unit, Dims: map[string]string{}}
			for _, md := range ts.Metadatavalues {
				s.Dims[strings.ToLower(md.Name.Value)] = md.Value
			}
			for _, d := range ts.Data {
				var p Point
				if raw, ok := d["timeStamp"]; ok {
					_ = json.Unmarshal(raw, &p.Time)
				}
				if raw, ok := d[key]; ok && string(raw) != "null" {
					if err := json.Unmarshal(raw, &p.Value); err == nil {
						p.Has = true
					} else {
						// A value that is not a number is no value; the
						// bucket stays, so that the point is reported.
						p.Value, p.Has = math.NaN(), true
					}
				}
				s.Points = append(s.Points, p)
			}
			a.Series = append(a.Series, s)
		}
	}
	return a, nil
}

// statusField maps an HttpStatusGroup value ("2XX") to its count field.
func statusField(group string) (schema.Field, bool) {
	switch strings.ToLower(strings.TrimSpace(group)) {
	case "2xx":
		return schema.Status2xx, true
	case "3xx":
		return schema.Status3xx, true
	case "4xx":
		return schema.Status4xx, true
	case "5xx":
		return schema.Status5xx, true
	}
	return 0, false
}

// regionLocation is the location of a ClientRegion value. A region named
// like a reserved location would overwrite it, and an empty value has no
// name: both get one.
func regionLocation(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return "unknown"
	}
	s := schema.Sanitize(v)
	if s == schema.LocationAll || s == schema.LocationOrigin || s == schema.LocationRUM || strings.HasPrefix(s, schema.LocationRUM+"_") {
		return "region_" + s
	}
	return s
}

// Mapped is what mapAnswers made of one profile's answers.
type Mapped struct {
	Records []schema.Record
	Gauges  []schema.Gauge
	// Bad describes points that cannot be trusted (skipped).
	Bad []string
	// Rejected describes impossible values (negative, a percentage
	// above 100), left out one by one.
	Rejected []string
	// After holds the times of points stamped at or after the window end.
	After []int64
	// Pending counts minutes left out as not yet published: empty in
	// every metric and younger than Azure's publication delay.
	Pending int
	// Unmapped counts status groups without a field (1XX, Others).
	Unmapped int
}

type locKey struct {
	loc string
	t   int64
}

// mapAnswers turns one profile's answers (by query name) into minute
// records and gauges. Minutes starting at or after young that hold no
// request and no average are left out as not yet published (Azure Monitor
// answers 0 for count minutes it has not processed).
func mapAnswers(service string, answers map[string]Answer, start, end time.Time, young int64) Mapped {
	var out Mapped
	recs := map[locKey]*schema.Record{}
	statusSet := map[locKey]bool{}
	rec := func(loc string, t int64) *schema.Record {
		k := locKey{loc, t}
		r := recs[k]
		if r == nil {
			r = &schema.Record{Provider: provider, Service: service, Location: loc, Start: t, Step: period}
			recs[k] = r
		}
		return r
	}
	bhr := map[int64]float64{}
	averages := map[string]map[int64]float64{}
	seenAvg := map[int64]bool{}
	names := make([]string, 0, len(answers))
	for n := range answers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, qn := range names {
		a := answers[qn]
		for _, s := range a.Series {
			average := queryNamed[qn].aggregation == aggAverage
			if average && len(seriesOf(a, s.Metric)) > 1 {
				out.Bad = append(out.Bad, fmt.Sprintf("%s: %d series where one was asked for", s.Metric, len(seriesOf(a, s.Metric))))
				continue
			}
			// What a series stands for comes from the query's split, not
			// from the dimensions it happens to carry: a series of a split
			// query without its dimension would count its minutes twice.
			q := queryNamed[qn]
			missing := ""
			for _, d := range q.split {
				if _, ok := s.Dims[strings.ToLower(d)]; !ok {
					missing = d
				}
			}
			if missing != "" {
				out.Bad = append(out.Bad, fmt.Sprintf("%s: a series of query %s without dimension %s", s.Metric, qn, missing))
				continue
			}
			loc, statusSplit := schema.LocationAll, false
			status, hasStatus := schema.Field(0), false
			for _, d := range q.split {
				switch d {
				case dimRegion:
					loc = regionLocation(s.Dims[strings.ToLower(dimRegion)])
				case dimStatusGroup:
					statusSplit = true
					if status, hasStatus = statusField(s.Dims[strings.ToLower(dimStatusGroup)]); !hasStatus {
						out.Unmapped++
					}
				}
			}
			for _, p := range s.Points {
				ts, err := time.Parse(time.RFC3339, p.Time)
				t := ts.Unix()
				switch {
				case err != nil:
					out.Bad = append(out.Bad, fmt.Sprintf("%s: timestamp %q is not RFC 3339", s.Metric, p.Time))
					continue
				case !ts.Before(end):
					out.After = append(out.After, t)
					continue
				case ts.Before(start):
					out.Bad = append(out.Bad, fmt.Sprintf("%s: timestamp %s outside the window", s.Metric, p.Time))
					continue
				case t%period != 0 || ts.Nanosecond() != 0:
					out.Bad = append(out.Bad, fmt.Sprintf("%s: timestamp %s is not the start of a minute", s.Metric, p.Time))
					continue
				case !p.Has:
					continue // an empty bucket: missing, not 0
				case math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Value < 0 || p.Value > schema.MaxCount:
					out.Rejected = append(out.Rejected, fmt.Sprintf("%s: value %v at %s", s.Metric, p.Value, p.Time))
					continue
				case s.Metric == mByteHitRatio && p.Value > 100:
					out.Rejected = append(out.Rejected, fmt.Sprintf("%s: %v%% at %s is over 100", s.Metric, p.Value, p.Time))
					continue
				}
				if average {
					if averages[s.Metric] == nil {
						averages[s.Metric] = map[int64]float64{}
					}
					averages[s.Metric][t] = p.Value
					seenAvg[t] = true
					if s.Metric == mByteHitRatio {
						bhr[t] = p.Value
					}
					continue
				}
				r := rec(loc, t)
				v := math.Round(p.Value)
				switch {
				case statusSplit:
					k := locKey{loc, t}
					if !statusSet[k] {
						// The split is RequestCount's whole breakdown of
						// the minute: a class it does not list had none.
						for _, f := range []schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx} {
							r.Add(f, 0)
						}
						statusSet[k] = true
					}
					if hasStatus {
						r.Add(status, v)
					}
				case s.Metric == mRequests:
					r.Add(schema.Requests, v)
				case s.Metric == mResponseSize:
					r.Add(schema.EdgeBytes, v)
				case s.Metric == mOriginRequests && loc == schema.LocationAll:
					r.Add(schema.OriginRequests, v)
				default:
					out.Bad = append(out.Bad, fmt.Sprintf("%s: metric not asked for in query %s", s.Metric, qn))
				}
			}
		}
	}
	// Origin bytes: Microsoft defines Byte Hit Ratio as (egress from edge −
	// egress from origin) / egress from edge, so origin egress = edge
	// egress × (1 − ratio). It is the only origin byte figure Azure
	// Monitor gives, and only for the profile (or endpoint) as a whole.
	for t, ratio := range bhr {
		r := recs[locKey{schema.LocationAll, t}]
		if r == nil {
			continue
		}
		if eb, ok := r.Get(schema.EdgeBytes); ok {
			r.Set(schema.OriginBytes, math.Round(eb*(100-ratio)/100))
		}
	}
	// Minutes Azure has not processed yet look like idle ones; while they
	// are younger than its publication delay, leave them for the next run.
	pending := map[int64]bool{}
	for k, r := range recs {
		if k.loc != schema.LocationAll || k.t < young || seenAvg[k.t] {
			continue
		}
		if n, ok := r.Get(schema.Requests); !ok || n == 0 {
			pending[k.t] = true
		}
	}
	out.Pending = len(pending)
	keys := make([]locKey, 0, len(recs))
	for k := range recs {
		if !pending[k.t] && !recs[k].Empty() {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].t != keys[j].t {
			return keys[i].t < keys[j].t
		}
		return keys[i].loc < keys[j].loc
	})
	for _, k := range keys {
		out.Records = append(out.Records, *recs[k])
	}
	for _, g := range []struct{ metric, gauge string }{{mTotalLatency, GaugeTotalLatency}, {mOriginLatency, GaugeOriginLatency}} {
		ts := make([]int64, 0, len(averages[g.metric]))
		for t := range averages[g.metric] {
			if !pending[t] {
				ts = append(ts, t)
			}
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		for _, t := range ts {
			out.Gauges = append(out.Gauges, schema.Gauge{Provider: provider, Service: service, Location: schema.LocationAll,
				Metric: g.gauge, Time: t, Value: averages[g.metric][t]})
		}
	}
	return out
}

// seriesOf returns the series of metric in a.
func seriesOf(a Answer, metric string) []Series {
	var out []Series
	for _, s := range a.Series {
		if s.Metric == metric {
			out = append(out, s)
		}
	}
	return out
}
