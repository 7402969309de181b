package gcore

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

func unix(t testing.TB, s string) int64 {
	t.Helper()
	return collectorstest.MustTime(t, s).Unix()
}

// Gcore's documented example: resource 1, regions asia and cis, one daily
// bucket at 2018-12-01T00:00:00Z. edge_bytes is sent_bytes and
// origin_bytes upstream_bytes, copied from the sample; total_bytes and
// backblaze_bytes fill nothing. (By hand: 17329220573 + 55397416 =
// 17384617989 = asia's total_bytes, and 234582406061 + 95576787 =
// 234677982848 = cis's: the sample agrees with total = sent + upstream.)
func TestMapDocExample(t *testing.T) {
	a, err := parseSeries(collectorstest.ReadTestdata(t, "statistics-series.doc-example.excerpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	day := unix(t, "2018-12-01T00:00:00Z")
	recs, res := mapSeries("img", "1", a, 86400, day, day+86400)
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"gcore img asia 1543622400/86400 edge_bytes=1.7329220573e+10 origin_bytes=5.5397416e+07",
		"gcore img cis 1543622400/86400 edge_bytes=2.34582406061e+11 origin_bytes=9.5576787e+07",
	})
	// 4 metrics × 2 regions, one pair each; backblaze_bytes is not read.
	if res.points != 6 || len(res.bad) != 0 || res.rejected != 0 || len(res.after) != 0 {
		t.Errorf("result %+v, want 6 points and nothing left out", res)
	}
	// The same answer asked about another resource holds nothing for it,
	// and says the resource it does hold was not asked for.
	recs, res = mapSeries("x", "2", a, 86400, day, day+86400)
	if len(recs) != 0 || len(res.bad) != 1 || !strings.Contains(res.bad[0], `resource "1" was not asked for`) {
		t.Errorf("other resource: %v %+v", collectorstest.Flatten(recs), res)
	}
}

// The constructed sample has no region level (grouped by resource only):
// its buckets are Gcore's own total, location all. It has total_bytes but
// no sent_bytes, so edge_bytes stays unknown: total_bytes is not edge
// traffic.
func TestMapWithoutRegions(t *testing.T) {
	a, err := parseSeries(collectorstest.ReadTestdata(t, "statistics-series-response.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	from := unix(t, "2025-01-15T10:00:00Z")
	recs, res := mapSeries("www", "123456", a, 3600, from, from+2*3600)
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"gcore www all 1736935200/3600 requests=1.531523e+06 hits=1.5234e+06 misses=8123 origin_bytes=2.12345678e+08",
		"gcore www all 1736938800/3600 requests=1.506165e+06 hits=1.498211e+06 misses=7954 origin_bytes=1.98765432e+08",
	})
	if res.points != 10 || len(res.bad)+res.rejected != 0 {
		t.Errorf("result %+v", res)
	}
	// A window ending at 11:00 leaves the 11:00 bucket to the next run.
	recs, res = mapSeries("www", "123456", a, 3600, from, from+3600)
	if len(recs) != 1 || len(res.after) != 5 || res.after[0] != from+3600 {
		t.Errorf("window of one hour: %v, after %v", collectorstest.Flatten(recs), res.after)
	}
}

// Every impossible value or malformed item costs only itself; the
// bucket's other counts stay. Hand-made answer, 5-minute buckets from
// 2025-01-15T10:00:00Z (1736935200).
func TestMapRejectsPerItem(t *testing.T) {
	body := `{"resource":{"7":{"region":{
	  "eu":{"metrics":{
	    "requests":[[1736935200,100],[1736935500,-3],[1736935800,1e400]],
	    "responses_hit":[[1736935200,90],[1736935500,"12"],[1736935260,1]],
	    "responses_2xx":[[1736935200,95],[1736935200],[1736934900,5]],
	    "responses_3xx":[[1736935200,null]],
	    "sent_bytes":[[1736935200,5000],[1736935500,700]],
	    "upstream_bytes":[[1736935200,800],[1736935500,400]],
	    "total_bytes":[[1736935200,5800],[1736935500,1000]]}},
	  "na":{"metrics":{"requests":"lots","responses_miss":[[1736935200,20000000000000000]],"responses_5xx":[[1736935200,2]]}},
	  "":{"metrics":{"requests":[[1736935200,1]]}}
	}}}}`
	a, err := parseSeries([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	start := int64(1736935200)
	recs, res := mapSeries("shop", "7", a, 300, start, start+900)
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		// 10:00: everything as given; 5000 + 800 ≤ 5800.
		"gcore shop eu 1736935200/300 requests=100 hits=90 edge_bytes=5000 origin_bytes=800 status_2xx=95",
		// na: requests is not a list, responses_miss (2·10^16) is above 2^53.
		"gcore shop na 1736935200/300 status_5xx=2",
	})
	// 10:05: requests −3 rejected, hits "12" malformed, and 700 + 400 >
	// 1000 rejects both byte counts: no field left, no record. 10:10:
	// requests 1e400 (infinite) rejected.
	// Rejected values: −3, 1e400, 2·10^16, sent and upstream at 10:05 = 5.
	if res.rejected != 5 {
		t.Errorf("rejected %d values (%s), want 5", res.rejected, res.why)
	}
	// Malformed: "12", 10:01 off the grid, a one-item pair, 09:55 before
	// the window, a null 3xx (unknown, not 0), na's requests not a list,
	// the empty region = 7.
	if len(res.bad) != 7 {
		t.Errorf("bad = %d %q, want 7", len(res.bad), res.bad)
	}
	for _, want := range []string{"is not a number", "not the start of a 300s bucket", "not a [time, value] pair", "before the window", "not a list", `region "" is not a region name`} {
		found := false
		for _, b := range res.bad {
			found = found || strings.Contains(b, want)
		}
		if !found {
			t.Errorf("no bad item says %q: %q", want, res.bad)
		}
	}
}

// Status classes are subsets of requests: when they add up to more, all
// of them are rejected (counted one by one), and requests stays.
func TestMapRejectsStatusesAboveRequests(t *testing.T) {
	body := `{"resource":{"7":{"region":{"eu":{"metrics":{
	  "requests":[[1736935200,100],[1736935500,100]],
	  "responses_2xx":[[1736935200,90],[1736935500,95]],
	  "responses_4xx":[[1736935200,10],[1736935500,6]],
	  "responses_5xx":[[1736935200,0],[1736935500,1]]}}}}}}`
	a, err := parseSeries([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	recs, res := mapSeries("shop", "7", a, 300, 1736935200, 1736935800)
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		// 90 + 10 + 0 = 100 ≤ 100: kept.
		"gcore shop eu 1736935200/300 requests=100 status_2xx=90 status_4xx=10 status_5xx=0",
		// 95 + 6 + 1 = 102 > 100: the three classes go.
		"gcore shop eu 1736935500/300 requests=100",
	})
	if res.rejected != 3 || !strings.Contains(res.why, "status classes adding up to 102, above requests 100") {
		t.Errorf("rejected %d (%s), want 3", res.rejected, res.why)
	}
}

func TestParseSeriesRefusesNonObjects(t *testing.T) {
	for _, body := range []string{``, `[]`, `null`, `"x"`, `{"resource":[1]}`, `<html>`} {
		if _, err := parseSeries([]byte(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

// The documented resource list: resource 220 is collected under its
// cname; 222 is deleted and left out.
func TestParseResourcesDocExample(t *testing.T) {
	rs, err := parseResources(collectorstest.ReadTestdata(t, "cdn-resources-list.doc-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != 220 || rs[0].Name != "cdn.site.com" {
		t.Fatalf("resources = %+v", rs)
	}
	// A page object with results is read the same way.
	rs, err = parseResources([]byte(`{"count":2,"results":[{"id":5,"cname":"a.example"},{"id":3,"name":"b"}]}`))
	if err != nil || len(rs) != 2 || rs[0].ID != 3 || rs[0].Name != "b" || rs[1].Name != "a.example" {
		t.Fatalf("page: %+v %v", rs, err)
	}
	for _, body := range []string{`{"detail":"x"}`, `nope`, `[{"id":"x"}]`} {
		if _, err := parseResources([]byte(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

// A region is Gcore's text: one named like a reserved location ("origin",
// where originlog writes <provider>.<service>.origin.*; "rum") must not
// write into it; it keeps a location of its own.
func TestRegionNamedLikeReservedLocation(t *testing.T) {
	body := []byte(`{"resource":{"7":{"region":{
		"origin":{"metrics":{"requests":[[1736935200,5]]}},
		"RUM":{"metrics":{"requests":[[1736935200,3]]}},
		"eu":{"metrics":{"requests":[[1736935200,100]]}}}}}}`)
	a, err := parseSeries(body)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := mapSeries("shop", "7", a, 300, 1736935200, 1736935500)
	want := []string{
		"gcore shop eu 1736935200/300 requests=100",
		"gcore shop region_origin 1736935200/300 requests=5",
		"gcore shop region_rum 1736935200/300 requests=3",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), want)
}
