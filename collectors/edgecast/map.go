package edgecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows EdgeCast's field names. Every
// real-time value is a rate at the moment of the call (bits per second for
// bandwidth, per-second counts for cache and status codes); a snapshot
// stands for the whole interval, so counts are rate × interval seconds.

// result is the bandwidth and connections answer: {"Result": 42.5}.
type result struct {
	Result *number `json:"Result"`
}

// cacheRow is one element of the cachestatus answer.
type cacheRow struct {
	CacheStatus string `json:"CacheStatus"`
	Connections number `json:"Connections"`
}

// statusRow is one element of the statuscode answer.
type statusRow struct {
	Connections number `json:"Connections"`
	StatusCode  string `json:"StatusCode"`
}

// number decodes a JSON number or a numeric string; null stays NaN so the
// mapping reports it instead of taking it for 0.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*n = number(math.NaN())
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40q", s)
	}
	*n = number(v)
	return nil
}

// decode parses body into v, naming the shape that was expected.
func decode(body []byte, v any, what string) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return fmt.Errorf("empty body, want %s", what)
	}
	if err := json.Unmarshal(b, v); err != nil {
		head := b[:min(len(b), 60)]
		return fmt.Errorf("decode %s: %v (body starts %q)", what, err, head)
	}
	return nil
}

// rate is one per-second value: as read when possible, else NaN (null,
// negative, infinite). It is not judged here: rates are summed into counts,
// NaN stays NaN through the sums, and the pipeline's value check rejects
// the one count it reaches (warned about and counted in rejected_values)
// while the answer's other counts stay. A negative rate added to real ones
// would be a plausible, wrong total.
func rate(v number) float64 {
	f := float64(v)
	if !(f >= 0) || math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

// perInterval turns a per-second rate into a count over step seconds.
func perInterval(perSecond float64, step int64) float64 { return perSecond * float64(step) }

// parseBandwidth decodes {"Result": bits per second}.
func parseBandwidth(body []byte) (float64, error) {
	var r result
	if err := decode(body, &r, `{"Result": bits per second}`); err != nil {
		return 0, err
	}
	if r.Result == nil {
		return 0, fmt.Errorf(`"Result" is missing or null, not a number`)
	}
	return float64(*r.Result), nil
}

// mapBandwidth sets edge_bytes: bits per second × step / 8. An impossible
// rate (negative, overflowing) gives an impossible count, left for the
// pipeline's value check to reject and count.
func mapBandwidth(bps float64, step int64, c *schema.Counts) error {
	c.Set(schema.EdgeBytes, perInterval(bps, step)/8)
	return nil
}

// cacheField sorts EdgeCast cache statuses into the unified fields. NONE
// (no cache lookup, e.g. a request denied at the edge) and unknown
// statuses count only as requests.
var cacheField = map[string]schema.Field{
	"TCP_HIT":                 schema.Hits,
	"TCP_EXPIRED_HIT":         schema.Hits,
	"TCP_PARTIAL_HIT":         schema.Hits,
	"TCP_MISS":                schema.Misses,
	"TCP_EXPIRED_MISS":        schema.Misses,
	"TCP_CLIENT_REFRESH_MISS": schema.Misses,
	"CONFIG_NOCACHE":          schema.Passes,
	"UNCACHEABLE":             schema.Passes,
}

// parseCacheStatus decodes the cachestatus array.
func parseCacheStatus(body []byte) ([]cacheRow, error) {
	var rows []cacheRow
	if err := decode(body, &rows, `[{"CacheStatus","Connections"}]`); err != nil {
		return nil, err
	}
	return rows, nil
}

// mapCacheStatus sets requests (every status), hits, misses and passes.
// A row with an impossible rate makes requests and its own field unknown
// (NaN, see rate), never a partial sum that would understate requests and
// skew the ratios; the other fields stay.
func mapCacheStatus(rows []cacheRow, step int64, c *schema.Counts) error {
	var sum, hits, misses, passes float64
	for _, r := range rows {
		v := rate(r.Connections)
		sum += v
		switch cacheField[strings.ToUpper(strings.TrimSpace(r.CacheStatus))] {
		case schema.Hits:
			hits += v
		case schema.Misses:
			misses += v
		case schema.Passes:
			passes += v
		}
	}
	// An overflow (+Inf) is left for the value check too.
	counts := [...]float64{perInterval(sum, step), perInterval(hits, step), perInterval(misses, step), perInterval(passes, step)}
	c.Set(schema.Requests, counts[0])
	c.Set(schema.Hits, counts[1])
	c.Set(schema.Misses, counts[2])
	c.Set(schema.Passes, counts[3])
	return nil
}

// parseStatusCode decodes the statuscode array.
func parseStatusCode(body []byte) ([]statusRow, error) {
	var rows []statusRow
	if err := decode(body, &rows, `[{"Connections","StatusCode"}]`); err != nil {
		return nil, err
	}
	return rows, nil
}

// statusClass returns the class field of a StatusCode label: "4xx" and
// exact codes such as "404" alike. EdgeCast lists some exact codes beside
// their class bucket; the buckets are taken as disjoint (the class row
// holds the codes not listed on their own), so they are added up.
func statusClass(label string) (schema.Field, bool) {
	l := strings.ToLower(strings.TrimSpace(label))
	if len(l) != 3 || l[0] < '2' || l[0] > '5' {
		return 0, false // "other", 1xx, garbage
	}
	if l[1:] != "xx" && (l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9') {
		return 0, false
	}
	return schema.Status2xx + schema.Field(l[0]-'2'), true
}

// mapStatusCode sets status_2xx..5xx; "other" has no unified field.
func mapStatusCode(rows []statusRow, step int64, c *schema.Counts) error {
	var classes [4]float64
	for _, r := range rows {
		if f, ok := statusClass(r.StatusCode); ok {
			// An impossible rate (NaN, see rate) makes only its class
			// unknown; an overflow (+Inf) is left for the value check.
			classes[f-schema.Status2xx] += rate(r.Connections)
		}
	}
	for i, v := range classes {
		c.Set(schema.Status2xx+schema.Field(i), perInterval(v, step))
	}
	return nil
}
