package gcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows Cloud Monitoring's metric and
// label names and how they become unified fields.

const (
	provider = "gcp"
	step     = 60 // seconds: aggregation.alignmentPeriod
	// resourceType is the monitored resource of the external Application
	// Load Balancer, which Cloud CDN's traffic is reported on.
	resourceType = "https_lb_rule"
	metricPrefix = "loadbalancing.googleapis.com/https/"

	labelURLMap    = "url_map_name"
	labelCache     = "cache_result"
	labelClass     = "response_code_class"
	labelContinent = "proxy_continent"
)

// metric is one of the four metrics read.
type metric int

const (
	mRequests metric = iota
	mEdgeBytes
	mBackendRequests
	mBackendBytes
	numMetrics
)

var metricNames = [numMetrics]string{
	mRequests:        "request_count",
	mEdgeBytes:       "response_bytes_count",
	mBackendRequests: "backend_request_count",
	mBackendBytes:    "backend_response_bytes_count",
}

func (m metric) String() string { return metricNames[m] }

// metricType is the full metric type, as in filters and answers.
func (m metric) metricType() string { return metricPrefix + metricNames[m] }

func metricOf(typ string) (metric, bool) {
	for m := range numMetrics {
		if m.metricType() == typ {
			return m, true
		}
	}
	return 0, false
}

// listQuery returns the query string of one timeSeries.list page for m
// over [start, end): per url map, cache result, response code class and
// proxy continent, the 60-second deltas summed across everything else.
// urlMaps restricts the url maps (none: every one in the project).
func listQuery(m metric, urlMaps []string, start, end time.Time, pageSize int, pageToken string) string {
	filter := fmt.Sprintf("metric.type = %q AND resource.type = %q", m.metricType(), resourceType)
	if len(urlMaps) > 0 {
		quoted := make([]string, len(urlMaps))
		for i, u := range urlMaps {
			quoted[i] = fmt.Sprintf("%q", u)
		}
		filter += fmt.Sprintf(" AND resource.labels.%s = one_of(%s)", labelURLMap, strings.Join(quoted, ", "))
	}
	q := url.Values{}
	q.Set("filter", filter)
	q.Set("interval.startTime", start.UTC().Format(time.RFC3339))
	q.Set("interval.endTime", end.UTC().Format(time.RFC3339))
	q.Set("aggregation.alignmentPeriod", fmt.Sprintf("%ds", step))
	q.Set("aggregation.perSeriesAligner", "ALIGN_DELTA")
	q.Set("aggregation.crossSeriesReducer", "REDUCE_SUM")
	q["aggregation.groupByFields"] = []string{
		"resource.labels." + labelURLMap,
		"metric.labels." + labelCache,
		"metric.labels." + labelClass,
		"metric.labels." + labelContinent,
	}
	q.Set("view", "FULL")
	q.Set("pageSize", fmt.Sprint(pageSize))
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	return q.Encode()
}

// page is one decoded ListTimeSeriesResponse. Series stay raw: each is
// decoded on its own, so one malformed series never loses the others.
type page struct {
	TimeSeries      []json.RawMessage `json:"timeSeries"`
	NextPageToken   string            `json:"nextPageToken"`
	ExecutionErrors []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"executionErrors"`
}

// parsePage decodes one timeSeries.list answer.
func parsePage(body []byte) (page, error) {
	var p page
	if len(bytes.TrimSpace(body)) == 0 {
		return p, errors.New("empty answer")
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("decode answer: %w", err)
	}
	return p, nil
}

// series is one decoded TimeSeries.
type series struct {
	Metric struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"metric"`
	Resource struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	MetricKind string  `json:"metricKind"`
	ValueType  string  `json:"valueType"`
	Points     []point `json:"points"`
}

type point struct {
	Interval struct {
		StartTime string `json:"startTime"`
		EndTime   string `json:"endTime"`
	} `json:"interval"`
	Value map[string]json.RawMessage `json:"value"`
}

// cellKey is one group's point: the sum Monitoring gave for one metric,
// url map, continent, cache result and status class over one minute.
type cellKey struct {
	metric    metric
	urlMap    string
	continent string
	cache     string
	class     string
	start     int64
}

// minuteKey names one metric of one url map over one minute.
type minuteKey struct {
	metric metric
	urlMap string
	start  int64
}

// collected is everything read for one window, over every page of the four
// metrics, before it is mapped.
type collected struct {
	cells map[cellKey]int64
	// tainted minutes had a rejected value: the metric is unknown there
	// (for every location), since the other groups no longer add up.
	tainted map[minuteKey]bool
	// bad describes series and points skipped for their shape, rejected
	// the values refused, after the Unix starts at or after the window's
	// end (judged against our clock by the collector).
	bad, rejected []string
	after         []int64
	// before counts points of intervals starting before the window.
	before int
	points int
}

func newCollected() *collected {
	return &collected{cells: map[cellKey]int64{}, tainted: map[minuteKey]bool{}}
}

// add files the series of one page for metric m, read over [start, end).
func (c *collected) add(m metric, p page, start, end time.Time) {
	for i, raw := range p.TimeSeries {
		var s series
		if err := json.Unmarshal(raw, &s); err != nil {
			c.bad = append(c.bad, fmt.Sprintf("%s: series %d: %v", m, i, err))
			continue
		}
		c.addSeries(m, s, start, end)
	}
}

func (c *collected) addSeries(m metric, s series, start, end time.Time) {
	if s.Metric.Type != m.metricType() {
		c.bad = append(c.bad, fmt.Sprintf("%s: series of metric %q, not asked for", m, s.Metric.Type))
		return
	}
	if s.Resource.Type != "" && s.Resource.Type != resourceType {
		c.bad = append(c.bad, fmt.Sprintf("%s: series of resource %q, not asked for", m, s.Resource.Type))
		return
	}
	um := s.Resource.Labels[labelURLMap]
	if um == "" {
		c.bad = append(c.bad, fmt.Sprintf("%s: series without %s", m, labelURLMap))
		return
	}
	base := cellKey{
		metric: m, urlMap: um,
		continent: s.Metric.Labels[labelContinent],
		cache:     s.Metric.Labels[labelCache],
		class:     s.Metric.Labels[labelClass],
	}
	for _, pt := range s.Points {
		c.points++
		t0, err0 := time.Parse(time.RFC3339Nano, pt.Interval.StartTime)
		t1, err1 := time.Parse(time.RFC3339Nano, pt.Interval.EndTime)
		switch {
		case err0 != nil || err1 != nil:
			c.bad = append(c.bad, fmt.Sprintf("%s: point with interval %q..%q", m, pt.Interval.StartTime, pt.Interval.EndTime))
			continue
		case t1.Sub(t0) != step*time.Second:
			c.bad = append(c.bad, fmt.Sprintf("%s: interval %s..%s is not %d s", m, pt.Interval.StartTime, pt.Interval.EndTime, step))
			continue
		case t0.Nanosecond() != 0 || t0.Unix()%step != 0:
			c.bad = append(c.bad, fmt.Sprintf("%s: interval start %s is not the start of a minute", m, pt.Interval.StartTime))
			continue
		case !t0.Before(end):
			c.after = append(c.after, t0.Unix())
			continue
		case t0.Before(start):
			// Monitoring may hand back the interval that ends where the
			// window starts: not wrong, just not asked for.
			c.before++
			continue
		}
		k := base
		k.start = t0.Unix()
		v, err := int64Value(pt.Value)
		if err != nil {
			c.rejected = append(c.rejected, fmt.Sprintf("%s: %s at %s: %v", m, um, pt.Interval.StartTime, err))
			c.tainted[minuteKey{m, um, k.start}] = true
			continue
		}
		// A series cut by a page boundary continues on the next page:
		// the same group and minute is the same value, not more traffic.
		c.cells[k] = v
	}
}

// int64Value reads a point's value: an INT64 in proto3 JSON, a decimal
// string. Anything else (a bare number, a double, a sign, a count beyond
// schema.MaxCount) is refused.
func int64Value(v map[string]json.RawMessage) (int64, error) {
	raw, ok := v["int64Value"]
	if !ok {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return 0, fmt.Errorf("no int64Value (value has %v)", keys)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("int64Value %s is not a JSON string", snip(string(raw)))
	}
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("int64Value %q is not a count", snip(s))
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("int64Value %q is not a count", snip(s))
		}
		n = n*10 + int64(d-'0')
		if n > schema.MaxCount {
			return 0, fmt.Errorf("int64Value %q is over %d", snip(s), int64(schema.MaxCount))
		}
	}
	return n, nil
}

func snip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// sums are one location's counts over one minute of one url map; has says
// which metrics had a point there.
type sums struct {
	has                       [numMetrics]bool
	req, hits, misses, passes int64
	status                    [4]int64 // 2xx, 3xx, 4xx, 5xx
	edgeBytes                 int64
	originReq, originBytes    int64
}

var statusClasses = map[string]int{"200": 0, "300": 1, "400": 2, "500": 3}

var statusFields = [4]schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx}

func (s *sums) add(k cellKey, v int64) {
	s.has[k.metric] = true
	switch k.metric {
	case mRequests:
		s.req += v
		switch k.cache {
		case "HIT", "PARTIAL_HIT":
			s.hits += v
		case "MISS":
			s.misses += v
		case "DISABLED":
			s.passes += v
		}
		if i, ok := statusClasses[k.class]; ok {
			s.status[i] += v
		}
	case mEdgeBytes:
		s.edgeBytes += v
	case mBackendRequests:
		// Cache hits appear as backend requests labelled HIT: the cache
		// answered them, no origin did.
		if k.cache != "HIT" {
			s.originReq += v
		}
	case mBackendBytes:
		if k.cache != "HIT" {
			s.originBytes += v
		}
	}
}

// location is the location a proxy continent gets ("Europe" → "europe").
// The label is the vendor's text: one named like a reserved location
// ("ALL" would otherwise be added into the "all" sum a second time)
// gets a prefix.
func location(continent string) string {
	s := schema.Sanitize(continent)
	switch {
	case s == schema.LocationAll, s == schema.LocationOrigin, s == schema.LocationRUM, strings.HasPrefix(s, schema.LocationRUM+"_"):
		return "continent_" + s
	}
	return s
}

// mapCells turns the cells into records: per url map and minute, "all" and
// one per proxy continent. name gives the service name of a url map ("" =
// not collected). Records are sorted by service, location and time.
func mapCells(c *collected, name func(urlMap string) string) []schema.Record {
	type recKey struct {
		service, loc string
		start        int64
	}
	agg := map[recKey]*sums{}
	for k, v := range c.cells {
		if c.tainted[minuteKey{k.metric, k.urlMap, k.start}] {
			continue
		}
		svc := name(k.urlMap)
		if svc == "" {
			continue
		}
		locs := []string{schema.LocationAll}
		if k.continent != "" {
			locs = append(locs, location(k.continent))
		}
		for _, l := range locs {
			rk := recKey{svc, l, k.start}
			s := agg[rk]
			if s == nil {
				s = &sums{}
				agg[rk] = s
			}
			s.add(k, v)
		}
	}
	keys := make([]recKey, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.service != b.service {
			return a.service < b.service
		}
		if a.loc != b.loc {
			return a.loc < b.loc
		}
		return a.start < b.start
	})
	recs := make([]schema.Record, 0, len(keys))
	for _, k := range keys {
		s := agg[k]
		r := schema.Record{Provider: provider, Service: k.service, Location: k.loc, Start: k.start, Step: step}
		if s.has[mRequests] {
			r.Set(schema.Requests, float64(s.req))
			r.Set(schema.Hits, float64(s.hits))
			r.Set(schema.Misses, float64(s.misses))
			r.Set(schema.Passes, float64(s.passes))
			for i, f := range statusFields {
				r.Set(f, float64(s.status[i]))
			}
		}
		if s.has[mEdgeBytes] {
			r.Set(schema.EdgeBytes, float64(s.edgeBytes))
		}
		if s.has[mBackendRequests] {
			r.Set(schema.OriginRequests, float64(s.originReq))
		}
		if s.has[mBackendBytes] {
			r.Set(schema.OriginBytes, float64(s.originBytes))
		}
		if !r.Empty() {
			recs = append(recs, r)
		}
	}
	return recs
}

// urlMaps returns the url maps the cells name, sorted.
func (c *collected) urlMaps() []string {
	seen := map[string]bool{}
	for k := range c.cells {
		seen[k.urlMap] = true
	}
	for k := range c.tainted {
		seen[k.urlMap] = true
	}
	out := make([]string, 0, len(seen))
	for u := range seen {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}
