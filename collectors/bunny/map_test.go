package bunny

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// 2025-01-15T10:00:00Z, the first hour of the constructed hourly answer.
const t10 = 1736935200

// The hourly answer's charts, by hand: 10:00 and 11:00 UTC.
func TestMapHourlySample(t *testing.T) {
	st, err := parseStats(collectorstest.ReadTestdata(t, "statistics-hourly-response.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.bad) != 0 || len(st.rejected) != 0 || st.daily() {
		t.Fatalf("bad=%v rejected=%v daily=%v", st.bad, st.rejected, st.daily())
	}
	start := time.Unix(t10, 0)
	recs, bad, after, _, partial := mapStats("img", st, start, start.Add(2*time.Hour), start.Add(2*time.Hour))
	if len(bad) != 0 || len(after) != 0 || partial != 0 {
		t.Fatalf("bad=%v after=%v partial=%d", bad, after, partial)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"bunny img all 1736935200/3600 requests=24611 edge_bytes=7.90112e+08 origin_requests=1592 origin_bytes=5.1112e+07 status_3xx=12 status_4xx=210 status_5xx=3",
		"bunny img all 1736938800/3600 requests=23600 edge_bytes=7.42795711e+08 origin_requests=1585 origin_bytes=5.37456e+07 status_3xx=9 status_4xx=187 status_5xx=0",
	})
	// request_offload = 1 − 1592/24611 = 0.935314…, Bunny's own
	// CacheHitRateChart value 93.53 for that hour.
	r := recs[0]
	req, _ := r.Get(schema.Requests)
	pulls, _ := r.Get(schema.OriginRequests)
	if off := 100 * (1 - pulls/req); off < 93.525 || off >= 93.535 {
		t.Errorf("request offload %v%%, Bunny says 93.53", off)
	}
	if r.Has(schema.Hits) || r.Has(schema.Misses) || r.Has(schema.Status2xx) {
		t.Errorf("fields Bunny cannot give are set: %+v", r)
	}
}

// The current hour is partial: with our clock at 11:40 only 10:00 is
// written; 11:00 is left for a later run.
func TestMapLeavesPartialHour(t *testing.T) {
	st, err := parseStats(collectorstest.ReadTestdata(t, "statistics-hourly-response.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(t10, 0)
	complete := time.Unix(t10+100*60, 0).Truncate(time.Hour) // 11:40 → 11:00
	recs, _, _, _, partial := mapStats("img", st, start, start.Add(2*time.Hour), complete)
	if len(recs) != 1 || recs[0].Start != t10 || partial != 1 {
		t.Fatalf("recs=%v partial=%d", collectorstest.Flatten(recs), partial)
	}
	// A window of the second hour only: the first is left to its own run,
	// and a window ending at 11:00 puts the 11:00 bucket after it.
	recs, _, after, _, _ := mapStats("img", st, start.Add(time.Hour), start.Add(2*time.Hour), start.Add(2*time.Hour))
	if len(recs) != 1 || recs[0].Start != t10+3600 || len(after) != 0 {
		t.Fatalf("recs=%v after=%v", collectorstest.Flatten(recs), after)
	}
	_, _, after, _, _ = mapStats("img", st, start, start.Add(time.Hour), start.Add(2*time.Hour))
	if len(after) != 1 || after[0] != t10+3600 {
		t.Fatalf("after=%v", after)
	}
}

// The recorded answer (verbatim) has daily buckets: the collector asks
// hourly=true and refuses daily ones. It also shows what Bunny's
// CacheHitRate is: 100 × (1 − 166/3832) = 95.66805845511482, the summary
// printed in the same answer — a request offload, not a cache hit ratio.
func TestRecordedAnswer(t *testing.T) {
	st, err := parseStats(collectorstest.ReadTestdata(t, "statistics-3day-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.daily() {
		t.Error("daily buckets not recognised")
	}
	if _, ok := st.points[schema.OriginBytes]; ok {
		t.Error("OriginTrafficChart is not in the answer: origin bytes must stay unknown")
	}
	sum := func(f schema.Field) (s float64) {
		for _, p := range st.points[f] {
			s += p.v
		}
		return s
	}
	if sum(schema.Requests) != 1596+1442+794 || sum(schema.OriginRequests) != 166 {
		t.Fatalf("requests %v pulls %v", sum(schema.Requests), sum(schema.OriginRequests))
	}
	if got := 100 * (1 - sum(schema.OriginRequests)/sum(schema.Requests)); fmt.Sprintf("%.10f", got) != "95.6680584551" {
		t.Errorf("1 − pulls/requests = %v%%, the answer's CacheHitRate is 95.66805845511482", got)
	}
	if got := st.points[schema.Status4xx]; len(got) != 3 || got[0] != (point{1556668800, 155}) {
		t.Errorf("Error4xxChart = %v", got)
	}
}

func TestParseTimeKey(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2019-05-01T00:00:00Z", 1556668800, true},
		{"2019-05-01T00:37:25", 1556668800 + 37*60 + 25, true}, // no zone: UTC
		{"2019-05-01T02:00:00+02:00", 1556668800, true},
		{"2019-05-01T00:00:00.000Z", 1556668800, true},
		{"2019-05-01T00:00:00.5", 1556668800, true},
		{"2019-05-01", 0, false},
		{"1556668800", 0, false},
		{"", 0, false},
		{"2019-13-01T00:00:00Z", 0, false},
	} {
		got, err := parseTimeKey(c.in)
		if (err == nil) != c.ok || (c.ok && got.Unix() != c.want) {
			t.Errorf("parseTimeKey(%q) = %v, %v", c.in, got, err)
		}
	}
}

// Keys and values are judged one by one: the rest of the chart is kept.
func TestParseBadEntries(t *testing.T) {
	body := `{"RequestsServedChart": {"2025-01-15T10:00:00Z": 10, "yesterday": 5, "2025-01-15T11:00:00Z": "12",
		"2025-01-15T12:00:00Z": -1, "2025-01-15T13:00:00Z": 1e300, "2025-01-15T14:00:00Z": null, "2025-01-15T10:30:00Z": 1},
		"Error5xxChart": [1, 2], "OriginTrafficChart": null, "TotalRequestsServed": 999999}`
	st, err := parseStats([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.points[schema.Requests]; len(got) != 3 || got[0] != (point{t10, 10}) || got[1] != (point{t10 + 1800, 1}) || got[2] != (point{t10 + 3600, 12}) {
		t.Errorf("points = %v", got)
	}
	if len(st.bad) != 3 || len(st.rejected) != 2 {
		t.Errorf("bad = %q, rejected = %q", st.bad, st.rejected)
	}
	if _, ok := st.points[schema.OriginBytes]; ok {
		t.Error("a null chart is unknown, not empty")
	}
	start := time.Unix(t10, 0)
	recs, bad, _, _, _ := mapStats("img", st, start, start.Add(3*time.Hour), start.Add(3*time.Hour))
	if len(bad) != 1 || !strings.Contains(bad[0], "whole hour") {
		t.Errorf("bad = %q", bad)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{"bunny img all 1736935200/3600 requests=10", "bunny img all 1736938800/3600 requests=12"})
	for _, b := range []string{``, `[]`, `null`, `"x"`, `{"RequestsServedChart": {"2025-01-15T10:00:00Z": 1}`} {
		if _, err := parseStats([]byte(b)); err == nil {
			t.Errorf("parseStats(%q) accepted", b)
		}
	}
}

func TestParseZoneList(t *testing.T) {
	zs, more, bad, err := parseZoneList([]byte(`[{"Id": 65109, "Name": "img", "ZoneSecurityKey": "k"}, {"Name": "noid"}, {"Id": 7, "Name": " www "}]`))
	if err != nil || more || len(bad) != 1 || len(zs) != 2 || zs[0] != (PullZone{ID: 65109, Name: "img"}) || zs[1].Name != "www" {
		t.Fatalf("zs=%v more=%v bad=%v err=%v", zs, more, bad, err)
	}
	zs, more, _, err = parseZoneList([]byte(`{"Items": [{"Id": 1, "Name": "a"}], "CurrentPage": 1, "TotalItems": 2, "HasMoreItems": true}`))
	if err != nil || !more || len(zs) != 1 {
		t.Fatalf("zs=%v more=%v err=%v", zs, more, err)
	}
	if _, _, _, err := parseZoneList([]byte(`"nope"`)); err == nil {
		t.Error("a string accepted as a pull zone list")
	}
}
