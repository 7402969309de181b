package bunny

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

// This file is the only place that knows Bunny's statistics and pull zone
// field names and how they become unified fields.

const (
	provider = "bunny"
	// bucket is the length of Bunny's finest statistics bucket (hourly=true).
	bucket = 3600 // seconds
)

// chartFields are the charts read and the unified field each fills. The
// Total* summaries are left alone: they do not always add up to the charts.
var chartFields = []struct {
	chart string
	field schema.Field
}{
	{"RequestsServedChart", schema.Requests},
	{"PullRequestsPulledChart", schema.OriginRequests},
	{"BandwidthUsedChart", schema.EdgeBytes},
	{"OriginTrafficChart", schema.OriginBytes},
	{"Error3xxChart", schema.Status3xx},
	{"Error4xxChart", schema.Status4xx},
	{"Error5xxChart", schema.Status5xx},
}

// statsQuery holds the query parameters of GET /statistics besides the
// pull zone and the dates: hourly buckets and every chart mapped above
// (newer API versions leave a chart out unless its load flag is set).
var statsQuery = [][2]string{
	{"hourly", "true"},
	{"loadErrors", "true"},
	{"loadOriginTraffic", "true"},
	{"loadRequestsServed", "true"},
	{"loadBandwidthUsed", "true"},
}

// timeLayout is how dates are sent to Bunny.
const timeLayout = "2006-01-02T15:04:05Z"

// point is one chart value: the bucket start (Unix seconds) and the value.
type point struct {
	t int64
	v float64
}

// stats is one parsed /statistics answer: the mapped charts' points by
// field, and what had to be left out.
type stats struct {
	points map[schema.Field][]point
	// bad describes keys that are not a time and values that are not a
	// number; rejected describes numbers no count can be (negative, huge).
	bad, rejected []string
}

// parseTimeKey reads a chart key: RFC 3339 with a zone ("…Z", "+02:00"),
// or without one ("2019-05-01T00:37:25", as Bunny writes some charts'
// keys), which is read as UTC, the zone of Bunny's statistics. Fractions of
// seconds are accepted.
func parseTimeKey(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("chart key %q is not a time", clip(s))
	}
	return t, nil
}

// parseStats decodes a /statistics answer. A body that is not a JSON
// object is an error; a chart that is not an object of numbers is
// described in bad and left out, and so is each key or value that cannot
// be read, one by one.
func parseStats(body []byte) (stats, error) {
	st := stats{points: map[schema.Field][]point{}}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return st, fmt.Errorf("statistics answer is not a JSON object: %w", err)
	}
	if top == nil {
		return st, errors.New("statistics answer is null")
	}
	for _, cf := range chartFields {
		raw, ok := top[cf.chart]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue // not asked for or not given: unknown, not zero
		}
		var chart map[string]json.RawMessage
		if err := json.Unmarshal(raw, &chart); err != nil {
			st.bad = append(st.bad, fmt.Sprintf("%s is not an object keyed by time", cf.chart))
			continue
		}
		pts := make([]point, 0, len(chart))
		for k, rv := range chart {
			t, err := parseTimeKey(k)
			if err != nil {
				st.bad = append(st.bad, cf.chart+": "+err.Error())
				continue
			}
			v, err := parseNumber(rv)
			if err != nil {
				st.bad = append(st.bad, fmt.Sprintf("%s at %s: %v", cf.chart, k, err))
				continue
			}
			if v < 0 || v > schema.MaxCount {
				st.rejected = append(st.rejected, fmt.Sprintf("%s at %s: %v", cf.chart, k, v))
				continue
			}
			pts = append(pts, point{t: t.Unix(), v: v})
		}
		// Go maps (and Bunny's objects) have no order.
		sort.Slice(pts, func(i, j int) bool { return pts[i].t < pts[j].t })
		st.points[cf.field] = pts
	}
	return st, nil
}

// daily reports whether the requests chart holds two or more buckets that
// are all a whole day apart: the answer of a request without hourly=true.
func (st stats) daily() bool {
	pts := st.points[schema.Requests]
	if len(pts) < 2 {
		return false
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].t-pts[i-1].t != 86400 {
			return false
		}
	}
	return true
}

// midnightOnly reports whether the requests chart has points only at
// 00:00 UTC although [start, end) holds an hour start that is not
// midnight: Bunny's charts are zero-filled, so an hourly answer would have
// that hour; a daily answer over a single day has one key, at midnight,
// which daily cannot tell from an hour.
func (st stats) midnightOnly(start, end time.Time) bool {
	pts := st.points[schema.Requests]
	if len(pts) == 0 {
		return false
	}
	for _, p := range pts {
		if p.t%86400 != 0 {
			return false
		}
	}
	h := (start.Unix() + bucket - 1) / bucket * bucket // first hour start
	for ; h < end.Unix(); h += bucket {
		if h%86400 != 0 {
			return true
		}
	}
	return false
}

// parseNumber reads a JSON number (Bunny's charts are doubles). A quoted
// number is accepted too; null and anything else are not numbers.
func parseNumber(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(u)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %s is not a number", clip(string(raw)))
	}
	return v, nil
}

// mapStats turns one pull zone's charts into hourly records (location
// "all"). Buckets are kept when they start in [start, end) and have ended
// by complete (the current hour is partial: it is left out, and a later
// run reads it whole). A bucket that does not start on a whole hour is
// described in bad; bucket starts at or after end are returned in after
// (the collector counts those ahead of our clock in rejected_future);
// before counts the chart values stamped before start, partial the
// buckets left out as not yet complete.
func mapStats(service string, st stats, start, end, complete time.Time) (recs []schema.Record, bad []string, after []int64, before, partial int) {
	byStart := map[int64]*schema.Record{}
	s, e, c := start.Unix(), end.Unix(), complete.Unix()
	seenAfter := map[int64]bool{}
	for _, cf := range chartFields {
		for _, p := range st.points[cf.field] {
			switch {
			case p.t%bucket != 0:
				bad = append(bad, fmt.Sprintf("%s: bucket %s does not start on a whole hour", cf.chart, time.Unix(p.t, 0).UTC().Format(time.RFC3339)))
				continue
			case p.t >= e:
				if !seenAfter[p.t] {
					seenAfter[p.t] = true
					after = append(after, p.t)
				}
				continue
			case p.t < s:
				before++ // the run asking for its window reads it
				continue
			case p.t+bucket > c:
				if cf.field == schema.Requests {
					partial++
				}
				continue
			}
			r := byStart[p.t]
			if r == nil {
				r = &schema.Record{Provider: provider, Service: service, Location: schema.LocationAll, Start: p.t, Step: bucket}
				byStart[p.t] = r
			}
			r.Set(cf.field, p.v)
		}
	}
	for _, r := range byStart {
		recs = append(recs, *r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Start < recs[j].Start })
	sort.Slice(after, func(i, j int) bool { return after[i] < after[j] })
	return recs, bad, after, before, partial
}

// zoneItem is the part of a pull zone object that is read. Pull zone
// objects also hold keys and certificates: nothing else is decoded, and
// the body is never logged.
type zoneItem struct {
	ID   *int64 `json:"Id"`
	Name string `json:"Name"`
}

// parseZoneList decodes GET /pullzone: either a bare array of pull zones
// or a page {"Items": [...], "HasMoreItems": bool}. Items without an id
// are described in bad.
func parseZoneList(body []byte) (zones []PullZone, more bool, bad []string, err error) {
	body = bytes.TrimSpace(body)
	var items []zoneItem
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, false, nil, fmt.Errorf("pull zone list: %w", err)
		}
	default:
		var page struct {
			Items        []zoneItem `json:"Items"`
			HasMoreItems bool       `json:"HasMoreItems"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, false, nil, fmt.Errorf("pull zone list is neither an array nor a page: %w", err)
		}
		items, more = page.Items, page.HasMoreItems
	}
	for i, it := range items {
		if it.ID == nil || *it.ID <= 0 {
			bad = append(bad, fmt.Sprintf("pull zone #%d (%q) has no valid Id", i, clip(it.Name)))
			continue
		}
		zones = append(zones, PullZone{ID: *it.ID, Name: strings.TrimSpace(it.Name)})
	}
	return zones, more, bad, nil
}

// clip shortens vendor text quoted in messages.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
