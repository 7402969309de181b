package cloudflare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows Cloudflare's field names.

const (
	provider  = "cloudflare"
	step      = 60 // seconds: both datasets are read per minute
	nodeTotal = "httpRequests1mGroups"
	nodeColo  = "httpRequestsAdaptiveGroups"
)

// queryText builds the GraphQL query for one zone: the exact minute rollups
// (totals) and/or the sampled per-colo groups (colos). Variables: zoneTag,
// start, end. The limit caps rows per node; see rowLimit.
func queryText(totals, colos bool, limit int) string {
	var b strings.Builder
	b.WriteString("query CdnMetrics($zoneTag: string, $start: Time, $end: Time) { viewer { zones(filter: {zoneTag: $zoneTag}) {")
	if totals {
		fmt.Fprintf(&b, " %s(limit: %d, orderBy: [datetimeMinute_ASC], filter: {datetime_geq: $start, datetime_lt: $end}) {"+
			" dimensions { datetimeMinute }"+
			" sum { requests cachedRequests bytes cachedBytes responseStatusMap { edgeResponseStatus requests } } }", nodeTotal, limit)
	}
	if colos {
		fmt.Fprintf(&b, " %s(limit: %d, orderBy: [datetimeMinute_ASC], filter: {datetime_geq: $start, datetime_lt: $end, requestSource: \"eyeball\"}) {"+
			" count avg { sampleInterval } sum { edgeResponseBytes }"+
			" dimensions { datetimeMinute coloCode cacheStatus edgeResponseStatus } }", nodeColo, limit)
	}
	b.WriteString(" } } }")
	return b.String()
}

// gqlRequest is the POST body.
type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

func queryVars(zoneTag string, start, end time.Time) map[string]any {
	return map[string]any{
		"zoneTag": zoneTag,
		"start":   start.UTC().Format(time.RFC3339),
		"end":     end.UTC().Format(time.RFC3339),
	}
}

// gqlError is one entry of the answer's "errors" array.
type gqlError struct {
	Message string `json:"message"`
	Path    []any  `json:"path"`
}

// where renders the error's path ("viewer.zones.0.httpRequests1mGroups").
func (e gqlError) where() string {
	parts := make([]string, 0, len(e.Path))
	for _, p := range e.Path {
		switch v := p.(type) {
		case string:
			parts = append(parts, v)
		case float64:
			parts = append(parts, fmt.Sprintf("%d", int64(v)))
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, ".")
}

// node returns which dataset the error is about, or "" for the whole query.
func (e gqlError) node() string {
	for _, p := range e.Path {
		if s, ok := p.(string); ok && (s == nodeTotal || s == nodeColo) {
			return s
		}
	}
	return ""
}

// answer is one zone's decoded GraphQL answer.
type answer struct {
	totals, colos       []json.RawMessage
	hasTotals, hasColos bool // the node was in the answer and not null
	errs                []gqlError
}

// parseAnswer decodes a GraphQL answer for a one-zone query. Row contents
// are decoded later, row by row, so one bad row never loses the others.
func parseAnswer(body []byte) (answer, error) {
	var a answer
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return a, fmt.Errorf("decode answer: %w", err)
	}
	a.errs = env.Errors
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		if len(a.errs) == 0 {
			return a, errors.New("answer has neither data nor errors")
		}
		return a, nil
	}
	var data struct {
		Viewer *struct {
			Zones []map[string]json.RawMessage `json:"zones"`
		} `json:"viewer"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return a, fmt.Errorf("decode data: %w", err)
	}
	if data.Viewer == nil {
		if len(a.errs) == 0 {
			return a, errors.New("answer has no data.viewer")
		}
		return a, nil
	}
	switch n := len(data.Viewer.Zones); {
	case n == 0:
		if len(a.errs) == 0 {
			return a, errors.New("answer lists no zone (unknown zone id, or the token may not read it)")
		}
		return a, nil
	case n > 1:
		return a, fmt.Errorf("answer lists %d zones for a one-zone query", n)
	}
	z := data.Viewer.Zones[0]
	var err error
	if a.totals, a.hasTotals, err = rows(z, nodeTotal); err != nil {
		return a, err
	}
	if a.colos, a.hasColos, err = rows(z, nodeColo); err != nil {
		return a, err
	}
	return a, nil
}

func rows(z map[string]json.RawMessage, node string) ([]json.RawMessage, bool, error) {
	raw, ok := z[node]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return nil, false, nil
	}
	var rs []json.RawMessage
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, false, fmt.Errorf("decode %s: %w", node, err)
	}
	return rs, true, nil
}

type totalsRow struct {
	Dimensions struct {
		DatetimeMinute string `json:"datetimeMinute"`
	} `json:"dimensions"`
	Sum struct {
		Requests          *float64       `json:"requests"`
		CachedRequests    *float64       `json:"cachedRequests"`
		Bytes             *float64       `json:"bytes"`
		CachedBytes       *float64       `json:"cachedBytes"`
		ResponseStatusMap *[]statusEntry `json:"responseStatusMap"`
	} `json:"sum"`
}

type statusEntry struct {
	EdgeResponseStatus float64 `json:"edgeResponseStatus"`
	Requests           float64 `json:"requests"`
}

type coloRow struct {
	Count *float64 `json:"count"`
	Avg   struct {
		SampleInterval *float64 `json:"sampleInterval"`
	} `json:"avg"`
	Sum struct {
		EdgeResponseBytes *float64 `json:"edgeResponseBytes"`
	} `json:"sum"`
	Dimensions struct {
		DatetimeMinute     string   `json:"datetimeMinute"`
		ColoCode           string   `json:"coloCode"`
		CacheStatus        string   `json:"cacheStatus"`
		EdgeResponseStatus *float64 `json:"edgeResponseStatus"`
	} `json:"dimensions"`
}

// servedFromCache lists the cacheStatus values of responses Cloudflare
// served from its cache (hit, stale copies, copies served while updating or
// after a 304 revalidation). Every other value (miss, expired, bypass,
// dynamic, none, ...) is "not served from cache".
var servedFromCache = map[string]bool{"hit": true, "stale": true, "updating": true, "revalidated": true}

// statusField maps an HTTP status to its class field.
func statusField(code float64) (schema.Field, bool) {
	switch c := int(code); {
	case c >= 200 && c < 300:
		return schema.Status2xx, true
	case c >= 300 && c < 400:
		return schema.Status3xx, true
	case c >= 400 && c < 500:
		return schema.Status4xx, true
	case c >= 500 && c < 600:
		return schema.Status5xx, true
	}
	return 0, false
}

// impossible reports a vendor value no count can have (the limit is the
// pipeline's: schema.MaxCount). Such a value is not judged here: it goes to
// the pipeline's value check as it came, which makes only that field
// unknown, warns and counts it in rejected_values, and keeps the rest of
// the row. It is never added to or subtracted from another value: a -7
// plus a real 100 would be a plausible, wrong 93.
func impossible(v float64) bool { return !(v >= 0) || v > schema.MaxCount }

// afterWindow is a row stamped at or after the window's end: not the
// minute asked for. The collector tells those ahead of our clock
// (rejected_future) from those merely late (debug).
type afterWindow struct{ t int64 }

func (e *afterWindow) Error() string {
	return fmt.Sprintf("datetimeMinute %s is after the window", time.Unix(e.t, 0).UTC().Format(time.RFC3339))
}

// minute parses a datetimeMinute and checks it is a minute inside [start,
// end); one at or after end is an *afterWindow.
func minute(s string, start, end time.Time) (int64, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("datetimeMinute %q: %v", s, err)
	}
	if t.Unix()%step != 0 || t.Nanosecond() != 0 {
		return 0, fmt.Errorf("datetimeMinute %q is not the start of a minute", s)
	}
	if !t.Before(end) {
		return 0, &afterWindow{t.Unix()}
	}
	if t.Before(start) {
		return 0, fmt.Errorf("datetimeMinute %q is outside the window %s/%s", s, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	}
	return t.Unix(), nil
}

// mapTotals turns httpRequests1mGroups rows into the zone's "all" records.
// A row that cannot be placed is skipped and described in bad, or, when
// stamped after the window, its minute is returned in after. Impossible
// values stay in their record for the pipeline's value check. A row whose
// status classes add up to more than its requests keeps its other counts;
// its four classes are made unknown and described in rejected (the
// collector counts them in rejected_values: the value check cannot see
// responseStatusMap).
func mapTotals(service string, rs []json.RawMessage, start, end time.Time) (recs []schema.Record, bad []string, after []int64, rejected []string) {
	seen := map[int64]bool{}
	for i, raw := range rs {
		var r totalsRow
		if err := json.Unmarshal(raw, &r); err != nil {
			bad = append(bad, fmt.Sprintf("%s[%d]: %v", nodeTotal, i, err))
			continue
		}
		rec, err := totalsRecord(service, &r, start, end)
		if err == nil && seen[rec.Start] {
			err = fmt.Errorf("second row for minute %s", r.Dimensions.DatetimeMinute)
		}
		var aw *afterWindow
		if errors.As(err, &aw) {
			after = append(after, aw.t)
			continue
		}
		var sx *statusExcess
		if errors.As(err, &sx) {
			for _, f := range statusFields {
				rec.Unset(f)
			}
			rejected = append(rejected, fmt.Sprintf("%s[%d]: %v", nodeTotal, i, err))
			err = nil
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s[%d]: %v", nodeTotal, i, err))
			continue
		}
		seen[rec.Start] = true
		recs = append(recs, rec)
	}
	return recs, bad, after, rejected
}

var statusFields = [...]schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx}

// statusExcess is a responseStatusMap that adds up to more than the
// minute's requests: the classes cannot all be right.
type statusExcess struct{ sum, requests float64 }

func (e *statusExcess) Error() string {
	return fmt.Sprintf("responseStatusMap sums to %v > requests %v", e.sum, e.requests)
}

// totalsRecord maps one row. Vendor values are set as they came; what is
// derived from them (misses, origin bytes) only from possible ones, and a
// derived value that comes out negative (cachedRequests above requests) is
// left for the value check to reject too. A status class with an
// impossible count gets that count, not a sum with it.
func totalsRecord(service string, r *totalsRow, start, end time.Time) (schema.Record, error) {
	rec := schema.Record{Provider: provider, Service: service, Location: schema.LocationAll, Step: step}
	t, err := minute(r.Dimensions.DatetimeMinute, start, end)
	if err != nil {
		return rec, err
	}
	rec.Start = t
	s := &r.Sum
	if s.Requests == nil {
		return rec, errors.New("sum.requests is missing")
	}
	req := *s.Requests
	rec.Set(schema.Requests, req)
	if s.CachedRequests != nil {
		c := *s.CachedRequests
		rec.Set(schema.Hits, c)
		if !impossible(c) && !impossible(req) {
			rec.Set(schema.Misses, req-c)
		}
	}
	if s.Bytes != nil {
		b := *s.Bytes
		rec.Set(schema.EdgeBytes, b)
		if s.CachedBytes != nil {
			cb := *s.CachedBytes
			switch {
			case impossible(cb):
				// cachedBytes has no field of its own: what it is
				// impossible for is origin bytes.
				rec.Set(schema.OriginBytes, cb)
			case !impossible(b):
				rec.Set(schema.OriginBytes, b-cb)
			}
		}
	}
	if s.ResponseStatusMap != nil {
		// The map lists every status seen in the minute, so a class
		// missing from it is a known zero.
		for _, f := range []schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx} {
			rec.Add(f, 0)
		}
		var sum float64
		badClass := map[schema.Field]float64{}
		for _, e := range *s.ResponseStatusMap {
			f, ok := statusField(e.EdgeResponseStatus)
			if impossible(e.Requests) {
				if ok {
					badClass[f] = e.Requests
				}
				continue
			}
			sum += e.Requests
			if ok {
				rec.Add(f, e.Requests)
			}
		}
		for f, v := range badClass {
			rec.Set(f, v)
		}
		if !impossible(req) && sum > req {
			return rec, &statusExcess{sum, req}
		}
	}
	return rec, nil
}

type coloKey struct {
	start int64
	colo  string
}

// mapColos turns httpRequestsAdaptiveGroups rows (one per minute, colo,
// cache status and response status) into one record per minute and colo.
// maxSample is the largest avg.sampleInterval seen (1 = unsampled). Rows
// stamped after the window are left out, their minutes returned in after.
func mapColos(service string, rs []json.RawMessage, start, end time.Time) (recs []schema.Record, maxSample float64, bad []string, after []int64) {
	acc := map[coloKey]*schema.Record{}
	for i, raw := range rs {
		var r coloRow
		if err := json.Unmarshal(raw, &r); err != nil {
			bad = append(bad, fmt.Sprintf("%s[%d]: %v", nodeColo, i, err))
			continue
		}
		err := addColoRow(service, acc, &r, start, end)
		var aw *afterWindow
		if errors.As(err, &aw) {
			after = append(after, aw.t)
			continue
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s[%d]: %v", nodeColo, i, err))
			continue
		}
		if si := r.Avg.SampleInterval; si != nil && *si > maxSample {
			maxSample = *si
		}
	}
	recs = make([]schema.Record, 0, len(acc))
	for _, r := range acc {
		recs = append(recs, *r)
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Start != recs[j].Start {
			return recs[i].Start < recs[j].Start
		}
		return recs[i].Location < recs[j].Location
	})
	return recs, maxSample, bad, after
}

func addColoRow(service string, acc map[coloKey]*schema.Record, r *coloRow, start, end time.Time) error {
	d := &r.Dimensions
	t, err := minute(d.DatetimeMinute, start, end)
	if err != nil {
		return err
	}
	if strings.TrimSpace(d.ColoCode) == "" {
		return errors.New("dimensions.coloCode is empty")
	}
	if r.Count == nil {
		return errors.New("count is missing")
	}
	// A colo's minute is the sum of its rows: an impossible count or byte
	// total makes the sums it goes into NaN (unknown, rejected and counted
	// by the pipeline's value check) rather than a plausible wrong total.
	n := *r.Count
	if impossible(n) {
		n = math.NaN()
	}
	if r.Sum.EdgeResponseBytes == nil {
		return errors.New("sum.edgeResponseBytes is missing")
	}
	b := *r.Sum.EdgeResponseBytes
	if impossible(b) {
		b = math.NaN()
	}
	if si := r.Avg.SampleInterval; si != nil && (*si < 0 || math.IsNaN(*si)) {
		return fmt.Errorf("avg.sampleInterval = %v", *si)
	}
	k := coloKey{t, d.ColoCode}
	rec := acc[k]
	if rec == nil {
		rec = &schema.Record{Provider: provider, Service: service, Location: d.ColoCode, Start: t, Step: step}
		// The groups enumerate every request of the minute at this colo,
		// so these are known (possibly zero) once the colo appears.
		for _, f := range []schema.Field{schema.Requests, schema.Hits, schema.Misses, schema.EdgeBytes, schema.OriginBytes,
			schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx} {
			rec.Add(f, 0)
		}
		acc[k] = rec
	}
	rec.Add(schema.Requests, n)
	rec.Add(schema.EdgeBytes, b)
	if servedFromCache[strings.ToLower(d.CacheStatus)] {
		rec.Add(schema.Hits, n)
	} else {
		rec.Add(schema.Misses, n)
		rec.Add(schema.OriginBytes, b)
	}
	if d.EdgeResponseStatus != nil {
		if f, ok := statusField(*d.EdgeResponseStatus); ok {
			rec.Add(f, n)
		}
	}
	return nil
}

// zoneList is one page of GET /client/v4/zones.
type zoneList struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"result"`
	ResultInfo struct {
		Page       int `json:"page"`
		PerPage    int `json:"per_page"`
		TotalPages int `json:"total_pages"`
		Count      int `json:"count"`
		TotalCount int `json:"total_count"`
	} `json:"result_info"`
}

// parseZoneList decodes one page of the zone list into zones and the total
// page count.
func parseZoneList(body []byte) ([]Zone, int, error) {
	var zl zoneList
	if err := json.Unmarshal(body, &zl); err != nil {
		return nil, 0, fmt.Errorf("decode zone list: %w", err)
	}
	if !zl.Success {
		msgs := make([]string, 0, len(zl.Errors))
		for _, e := range zl.Errors {
			msgs = append(msgs, fmt.Sprintf("%d %s", e.Code, e.Message))
		}
		return nil, 0, fmt.Errorf("zone list not successful: %s", strings.Join(msgs, "; "))
	}
	zs := make([]Zone, 0, len(zl.Result))
	for _, r := range zl.Result {
		if r.ID == "" {
			continue
		}
		zs = append(zs, Zone{ID: r.ID, Name: r.Name})
	}
	return zs, zl.ResultInfo.TotalPages, nil
}
