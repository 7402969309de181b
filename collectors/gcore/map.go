package gcore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows Gcore's statistics metric names
// and how they become unified fields.

const provider = "gcore"

// Gcore's metric names (GET /cdn/statistics/series, parameter metrics).
const (
	mRequests = "requests"       // requests to edge servers
	mHit      = "responses_hit"  // responses with Cache: HIT
	mMiss     = "responses_miss" // responses with Cache: MISS
	m2xx      = "responses_2xx"
	m3xx      = "responses_3xx"
	m4xx      = "responses_4xx"
	m5xx      = "responses_5xx"
	mSent     = "sent_bytes"     // CDN servers → clients
	mUpstream = "upstream_bytes" // origin → CDN servers (or origin shielding)
	mTotal    = "total_bytes"    // shield_bytes + upstream_bytes + sent_bytes
)

// metrics is what every series request asks for, in this order.
var metrics = []string{mRequests, mHit, mMiss, m2xx, m3xx, m4xx, m5xx, mTotal, mUpstream, mSent}

// fieldOf maps a metric to the unified count it fills. total_bytes fills
// none: it adds origin (and shield) traffic to what clients received, so
// it is only used to check sent_bytes and upstream_bytes (see checkBytes).
var fieldOf = map[string]schema.Field{
	mRequests: schema.Requests,
	mHit:      schema.Hits,
	mMiss:     schema.Misses,
	m2xx:      schema.Status2xx,
	m3xx:      schema.Status3xx,
	m4xx:      schema.Status4xx,
	m5xx:      schema.Status5xx,
	mSent:     schema.EdgeBytes,
	mUpstream: schema.OriginBytes,
}

// seriesAnswer is the body of GET /cdn/statistics/series grouped by
// resource and region: resource.{id}.region.{region}.metrics.{metric} is
// a list of [unix_ts, value] pairs. An answer grouped by resource only
// has resource.{id}.metrics; both are read.
type seriesAnswer struct {
	Resource map[string]resourceNode `json:"resource"`
}

type resourceNode struct {
	Region  map[string]metricsNode     `json:"region"`
	Metrics map[string]json.RawMessage `json:"metrics"`
}

type metricsNode struct {
	Metrics map[string]json.RawMessage `json:"metrics"`
}

// parseSeries decodes the envelope; the pairs are decoded one by one in
// mapSeries, so that one bad pair costs only itself.
func parseSeries(body []byte) (seriesAnswer, error) {
	var a seriesAnswer
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return a, errors.New("answer is not a JSON object")
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("decode statistics series: %w", err)
	}
	return a, nil
}

// mapResult is what mapSeries found besides records.
type mapResult struct {
	points   int      // pairs the vendor returned
	bad      []string // malformed items left out (one per item)
	rejected int      // impossible values left out
	why      string   // the first of those, for the log
	after    []int64  // times at or after the window's end
}

func (r *mapResult) reject(n int, why string) {
	if r.rejected == 0 {
		r.why = why
	}
	r.rejected += n
}

// mapSeries turns one resource's series (its id as Gcore keys it) into one
// record per region and bucket inside [start, end). Buckets are stamped
// with the time Gcore gives, which is the bucket's start, and must lie on
// the step's grid. Impossible values (negative, non-finite, above 2^53)
// are left out one by one, as are byte counts that contradict total_bytes.
func mapSeries(service, id string, a seriesAnswer, step, start, end int64) ([]schema.Record, mapResult) {
	var res mapResult
	for key := range a.Resource {
		if key != id {
			res.bad = append(res.bad, fmt.Sprintf("resource %q was not asked for", key))
		}
	}
	node, ok := a.Resource[id]
	if !ok {
		return nil, res
	}
	type bucket struct {
		loc string
		t   int64
	}
	vals := map[bucket]map[string]float64{}
	read := func(loc string, ms map[string]json.RawMessage) {
		for metric, raw := range ms {
			if _, wanted := fieldOf[metric]; !wanted && metric != mTotal {
				continue // a metric not asked for (Gcore may add some)
			}
			pairs, err := decodePairs(raw)
			if err != nil {
				res.bad = append(res.bad, fmt.Sprintf("%s/%s: %v", loc, metric, err))
				continue
			}
			for _, p := range pairs {
				res.points++
				t, v, why := p.t, p.v, p.why
				switch {
				case why != "":
					res.bad = append(res.bad, fmt.Sprintf("%s/%s: %s", loc, metric, why))
					continue
				case t >= end:
					res.after = append(res.after, t)
					continue
				case t < start:
					res.bad = append(res.bad, fmt.Sprintf("%s/%s: time %s before the window", loc, metric, stamp(t)))
					continue
				case t%step != 0:
					res.bad = append(res.bad, fmt.Sprintf("%s/%s: time %s is not the start of a %ds bucket", loc, metric, stamp(t), step))
					continue
				case math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > schema.MaxCount:
					res.reject(1, fmt.Sprintf("%s/%s: value %v at %s", loc, metric, v, stamp(t)))
					continue
				}
				k := bucket{loc, t}
				if vals[k] == nil {
					vals[k] = map[string]float64{}
				}
				vals[k][metric] = v
			}
		}
	}
	regions := make([]string, 0, len(node.Region))
	for r := range node.Region {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		loc := location(r)
		if loc == "" {
			res.bad = append(res.bad, fmt.Sprintf("region %q is not a region name", r))
			continue
		}
		read(loc, node.Region[r].Metrics)
	}
	if len(node.Region) == 0 {
		read(schema.LocationAll, node.Metrics) // not grouped by region: Gcore's own total
	}
	keys := make([]bucket, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].t != keys[j].t {
			return keys[i].t < keys[j].t
		}
		return keys[i].loc < keys[j].loc
	})
	var recs []schema.Record
	for _, k := range keys {
		v := vals[k]
		if why := checkBytes(v); why != "" {
			res.reject(2, fmt.Sprintf("%s: %s at %s", k.loc, why, stamp(k.t))) // both byte counts
			delete(v, mSent)
			delete(v, mUpstream)
		}
		if n, why := checkStatuses(v); n > 0 {
			res.reject(n, fmt.Sprintf("%s: %s at %s", k.loc, why, stamp(k.t))) // every status class
			for _, m := range statusMetrics {
				delete(v, m)
			}
		}
		rec := schema.Record{Provider: provider, Service: service, Location: k.loc, Start: k.t, Step: step}
		for metric, f := range fieldOf {
			if x, ok := v[metric]; ok {
				rec.Set(f, x)
			}
		}
		if !rec.Empty() {
			recs = append(recs, rec)
		}
	}
	return recs, res
}

// statusMetrics are the status classes, each a subset of requests.
var statusMetrics = []string{m2xx, m3xx, m4xx, m5xx}

// checkStatuses: every response is counted in requests, so status classes
// adding up to more than requests cannot all be right, and none is kept.
// (Gcore's documented example adds up exactly: 21095299 + 278225 + 202026
// + 81 = 21575631 requests.) It returns how many classes it rejects.
func checkStatuses(v map[string]float64) (int, string) {
	req, ok := v[mRequests]
	if !ok {
		return 0, ""
	}
	sum, n := 0.0, 0
	for _, m := range statusMetrics {
		if x, ok := v[m]; ok {
			sum += x
			n++
		}
	}
	if sum <= req {
		return 0, ""
	}
	return n, fmt.Sprintf("status classes adding up to %v, above requests %v", sum, req)
}

// checkBytes: total_bytes is documented as shield_bytes + upstream_bytes +
// sent_bytes, so sent_bytes + upstream_bytes above it means one of the
// three is wrong, and neither byte count can be trusted.
func checkBytes(v map[string]float64) string {
	total, ok1 := v[mTotal]
	sent, ok2 := v[mSent]
	up, ok3 := v[mUpstream]
	if ok1 && ok2 && ok3 && sent+up > total {
		return fmt.Sprintf("sent_bytes %v + upstream_bytes %v above total_bytes %v", sent, up, total)
	}
	return ""
}

// pair is one [unix_ts, value] item as read; why says what is wrong with
// it ("" when nothing is).
type pair struct {
	t   int64
	v   float64
	why string
}

// decodePairs reads a metric's list of [unix_ts, value] pairs. A list of
// plain numbers (every real answer) is decoded in one go; anything else
// (strings, null, objects, numbers beyond float64) item by item, so that a
// bad item costs only itself and null never becomes 0.
func decodePairs(raw json.RawMessage) ([]pair, error) {
	if !bytes.ContainsAny(raw, `nft"{`) {
		var fast [][]float64
		if json.Unmarshal(raw, &fast) == nil {
			out := make([]pair, len(fast))
			for i, p := range fast {
				out[i] = numberPair(p)
			}
			return out, nil
		}
	}
	return decodePairsItemwise(raw)
}

// decodePairsItemwise is decodePairs' path for lists that are not plain
// numbers: every item on its own.
func decodePairsItemwise(raw json.RawMessage) ([]pair, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("not a list of [time, value] pairs")
	}
	out := make([]pair, 0, len(items))
	for _, it := range items {
		var p []json.RawMessage
		if err := json.Unmarshal(it, &p); err != nil {
			p = nil // reported below as not a pair
		}
		out = append(out, readPair(p))
	}
	return out, nil
}

// numberPair checks a pair decoded as numbers.
func numberPair(p []float64) pair {
	if len(p) != 2 {
		return pair{why: fmt.Sprintf("not a [time, value] pair (%d items)", len(p))}
	}
	if ts := p[0]; ts != math.Trunc(ts) || ts < 0 || ts > 1<<40 {
		return pair{why: fmt.Sprintf("time %v is not a Unix time in seconds", ts)}
	}
	return pair{t: int64(p[0]), v: p[1]}
}

// readPair reads one pair item by item.
func readPair(p []json.RawMessage) pair {
	if len(p) != 2 {
		return pair{why: fmt.Sprintf("not a [time, value] pair (%d items)", len(p))}
	}
	ts, err := strconv.ParseFloat(string(p[0]), 64)
	if err != nil || ts != math.Trunc(ts) || ts < 0 || ts > 1<<40 {
		return pair{why: fmt.Sprintf("time %.40s is not a Unix time in seconds", p[0])}
	}
	raw := string(p[1])
	if strings.HasPrefix(raw, `"`) || raw == "null" || raw == "true" || raw == "false" || strings.HasPrefix(raw, "[") || strings.HasPrefix(raw, "{") {
		return pair{why: fmt.Sprintf("value %.40s at %s is not a number", raw, stamp(int64(ts)))}
	}
	// A number too large for a float64 parses as ±Inf with an error: it
	// is an impossible value, rejected with the others.
	v, _ := strconv.ParseFloat(raw, 64)
	return pair{t: int64(ts), v: v}
}

// location returns the path node of a Gcore region code (na, eu, cis,
// asia, au, latam, me, africa, sa; new ones are taken as they come), or
// "" for a name that cannot be one.
func location(region string) string {
	r := strings.ToLower(strings.TrimSpace(region))
	if r == "" || r == schema.LocationAll || len(r) > 32 {
		return ""
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return ""
		}
	}
	// Reserved locations of other writers (originlog's "origin", the
	// real-user "rum" and "rum_<cc>") are not a region's to overwrite.
	if r == schema.LocationOrigin || r == schema.LocationRUM || strings.HasPrefix(r, schema.LocationRUM+"_") {
		return "region_" + r
	}
	return r
}

func stamp(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

// resourceItem is one entry of GET /cdn/resources.
type resourceItem struct {
	ID      int64  `json:"id"`
	Cname   string `json:"cname"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	Status  string `json:"status"`
}

// parseResources decodes the resource list: a bare array (Gcore's
// documented answer), or a page object with results when paging is asked
// for. Deleted resources are left out; a discovered resource is named by
// its cname (unique in the account, the hostname users know; its name is
// an optional free-text label).
func parseResources(body []byte) ([]Resource, error) {
	body = bytes.TrimSpace(body)
	var items []resourceItem
	if len(body) > 0 && body[0] == '{' {
		var page struct {
			Results *[]resourceItem `json:"results"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.Results == nil {
			return nil, errors.New("resource list is neither a list nor a page with results")
		}
		items = *page.Results
	} else if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	var out []Resource
	seen := map[int64]bool{}
	for _, it := range items {
		if it.ID <= 0 || it.Deleted || it.Status == "deleted" || seen[it.ID] {
			continue
		}
		seen[it.ID] = true
		name := strings.TrimSpace(it.Cname)
		if name == "" {
			name = strings.TrimSpace(it.Name)
		}
		out = append(out, Resource{ID: it.ID, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
