package cloudflare

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

func TestMapTotalsSample(t *testing.T) {
	a, err := parseAnswer(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.errs) != 0 || !a.hasTotals || a.hasColos {
		t.Fatalf("answer: errs=%v hasTotals=%v hasColos=%v", a.errs, a.hasTotals, a.hasColos)
	}
	recs, bad, _, _ := mapTotals("www", a.totals, collectorstest.MustTime(t, "2019-09-08T20:00:00Z"), collectorstest.MustTime(t, "2019-09-08T20:02:00Z"))
	if len(bad) != 0 {
		t.Fatalf("bad rows: %v", bad)
	}
	// 20:00 (1567972800): requests 15, cachedRequests 12 → misses 15-12 = 3;
	// bytes 312740, cachedBytes 309930 → origin 312740-309930 = 2810;
	// statuses 200×4, 403×11 → 2xx 4, 4xx 11, 3xx/5xx known 0.
	// 20:01: requests 4, cached 1 → misses 3; 283399-280590 = 2809; 200×4.
	want := []string{
		"cloudflare www all 1567972800/60 requests=15 hits=12 misses=3 edge_bytes=312740 origin_bytes=2810 status_2xx=4 status_3xx=0 status_4xx=11 status_5xx=0",
		"cloudflare www all 1567972860/60 requests=4 hits=1 misses=3 edge_bytes=283399 origin_bytes=2809 status_2xx=4 status_3xx=0 status_4xx=0 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), want)
}

func TestMapColosSample(t *testing.T) {
	var f struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(collectorstest.ReadTestdata(t, "graphql-httpRequestsAdaptiveGroups-colo-cache.constructed.json"), &f); err != nil {
		t.Fatal(err)
	}
	a, err := parseAnswer(f.Response)
	if err != nil {
		t.Fatal(err)
	}
	recs, maxSample, bad, _ := mapColos("www", a.colos, collectorstest.MustTime(t, "2025-01-15T10:00:00Z"), collectorstest.MustTime(t, "2025-01-15T10:01:00Z"))
	if len(bad) != 0 {
		t.Fatalf("bad rows: %v", bad)
	}
	if maxSample != 1.5 {
		t.Errorf("max sample interval = %v, want 1.5", maxSample)
	}
	// AMS: hit 1840 (200), miss 212 (200), dynamic 35 (502).
	//   requests 1840+212+35 = 2087; hits 1840; misses 212+35 = 247;
	//   bytes 73600512+9012300+21000 = 82633812; not from cache 9012300+21000 = 9033300;
	//   2xx 1840+212 = 2052; 5xx 35.
	// LHR: hit 990 (200), expired 60 (404): requests 1050, hits 990, misses 60;
	//   bytes 39600000+61440 = 39661440; not from cache 61440; 2xx 990, 4xx 60.
	// Counts are used as given: Cloudflare already extrapolates them.
	want := []string{
		"cloudflare www AMS 1736935200/60 requests=2087 hits=1840 misses=247 edge_bytes=8.2633812e+07 origin_bytes=9.0333e+06 status_2xx=2052 status_3xx=0 status_4xx=0 status_5xx=35",
		"cloudflare www LHR 1736935200/60 requests=1050 hits=990 misses=60 edge_bytes=3.966144e+07 origin_bytes=61440 status_2xx=990 status_3xx=0 status_4xx=60 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), want)
}

// The documentation's adaptive sample has no datetimeMinute dimension: such
// rows cannot be placed in time and are skipped, each named.
func TestMapColosWithoutMinuteSkipped(t *testing.T) {
	b := collectorstest.ReadTestdata(t, "graphql-httpRequestsAdaptiveGroups-colo-response.json")
	// The sample aliases the node as "series"; rename it to ours.
	b = []byte(strings.Replace(string(b), `"series"`, `"`+nodeColo+`"`, 1))
	a, err := parseAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, bad, _ := mapColos("www", a.colos, collectorstest.MustTime(t, "2022-03-24T00:00:00Z"), collectorstest.MustTime(t, "2022-03-25T00:00:00Z"))
	if len(recs) != 0 || len(bad) != 5 {
		t.Fatalf("got %d records, %d bad rows; want 0 and 5", len(recs), len(bad))
	}
	if !strings.Contains(bad[0], "datetimeMinute") {
		t.Errorf("bad row reason %q does not name datetimeMinute", bad[0])
	}
}

func TestParseAnswerErrorIn200(t *testing.T) {
	a, err := parseAnswer(collectorstest.ReadTestdata(t, "graphql-error-in-200.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.errs) != 1 || a.hasTotals || a.hasColos {
		t.Fatalf("answer = %+v", a)
	}
	if got := a.errs[0].where(); got != "viewer.zones.0.firewallEventsAdaptiveGroups" {
		t.Errorf("path = %q", got)
	}
	if a.errs[0].Message != "cannot request data older than 2678400s" {
		t.Errorf("message = %q", a.errs[0].Message)
	}
}

// Rows that cannot be placed are skipped; rows with impossible values are
// kept with those values as they came (misses and origin bytes derived from
// them come out negative), for the pipeline's value check to reject one by
// one; a row after the window is returned apart (the collector tells the
// future ones).
func TestMapTotalsBadRowsSkipped(t *testing.T) {
	start, end := collectorstest.MustTime(t, "2019-09-08T20:00:00Z"), collectorstest.MustTime(t, "2019-09-08T20:10:00Z")
	rows := []string{
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:00:00Z"},"sum":{"requests":"15"}}`,                                                            // wrong type
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:01:00Z"},"sum":{"requests":-1}}`,                                                              // negative
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:02:00Z"},"sum":{"requests":5,"cachedRequests":6}}`,                                            // hits > requests
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:03:00Z"},"sum":{"requests":5,"bytes":10,"cachedBytes":11}}`,                                   // cached bytes > bytes
		`{"dimensions":{"datetimeMinute":"2019-09-08T21:00:00Z"},"sum":{"requests":5}}`,                                                               // outside window
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:04:30Z"},"sum":{"requests":5}}`,                                                               // not a minute
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:05:00Z"},"sum":{}}`,                                                                           // no requests
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:06:00Z"},"sum":{"requests":3,"responseStatusMap":[{"edgeResponseStatus":200,"requests":9}]}}`, // statuses > requests
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:07:00Z"},"sum":{"requests":7,"cachedRequests":2}}`,                                            // good
		`{"dimensions":{"datetimeMinute":"2019-09-08T20:07:00Z"},"sum":{"requests":7}}`,                                                               // duplicate minute
		`[]`, // not an object
	}
	raw := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		raw[i] = json.RawMessage(r)
	}
	recs, bad, after, rejected := mapTotals("www", raw, start, end)
	if len(bad) != 5 { // wrong type, not a minute, no requests, duplicate, not an object
		t.Errorf("bad = %d, want 5: %v", len(bad), bad)
	}
	if len(rejected) != 1 || !strings.Contains(rejected[0], "sums to 9 > requests 3") {
		t.Errorf("rejected = %v, want the 20:06 status map", rejected)
	}
	if len(after) != 1 || after[0] != 1567976400 { // 2019-09-08T21:00:00Z
		t.Errorf("after = %v, want [1567976400]", after)
	}
	// 20:02: misses = 5-6; 20:03: origin bytes = 10-11.
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"cloudflare www all 1567972860/60 requests=-1",
		"cloudflare www all 1567972920/60 requests=5 hits=6 misses=-1",
		"cloudflare www all 1567972980/60 requests=5 edge_bytes=10 origin_bytes=-1",
		"cloudflare www all 1567973160/60 requests=3",
		"cloudflare www all 1567973220/60 requests=7 hits=2 misses=5",
	})
	// What the value check keeps: each row's possible values. 20:07: 7
	// requests, 2 hits, 7-2 = 5 misses; no bytes or status map given, so
	// those stay unknown.
	for i := range recs {
		recs[i].Check()
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"cloudflare www all 1567972860/60 ",
		"cloudflare www all 1567972920/60 requests=5",
		"cloudflare www all 1567972980/60 requests=5 edge_bytes=10",
		"cloudflare www all 1567973160/60 requests=3",
		"cloudflare www all 1567973220/60 requests=7 hits=2 misses=5",
	})
}

func TestMapColosBadRowsSkipped(t *testing.T) {
	start, end := collectorstest.MustTime(t, "2025-01-15T10:00:00Z"), collectorstest.MustTime(t, "2025-01-15T10:05:00Z")
	rows := []string{
		`{"count":-3,"sum":{"edgeResponseBytes":1},"dimensions":{"datetimeMinute":"2025-01-15T10:00:00Z","coloCode":"AMS","cacheStatus":"hit","edgeResponseStatus":200}}`,
		`{"count":3,"sum":{},"dimensions":{"datetimeMinute":"2025-01-15T10:00:00Z","coloCode":"AMS","cacheStatus":"hit","edgeResponseStatus":200}}`,
		`{"count":3,"sum":{"edgeResponseBytes":1},"dimensions":{"datetimeMinute":"2025-01-15T10:00:00Z","coloCode":"","cacheStatus":"hit","edgeResponseStatus":200}}`,
		`{"count":"3","sum":{"edgeResponseBytes":1},"dimensions":{"datetimeMinute":"2025-01-15T10:00:00Z","coloCode":"AMS"}}`,
		`{"count":4,"avg":{"sampleInterval":1},"sum":{"edgeResponseBytes":100},"dimensions":{"datetimeMinute":"2025-01-15T10:01:00Z","coloCode":"SJC","cacheStatus":"bypass","edgeResponseStatus":301}}`,
		`{"count":6,"avg":{"sampleInterval":1},"sum":{"edgeResponseBytes":50},"dimensions":{"datetimeMinute":"2025-01-15T10:01:00Z","coloCode":"SJC","cacheStatus":"UPDATING","edgeResponseStatus":0}}`,
	}
	raw := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		raw[i] = json.RawMessage(r)
	}
	recs, _, bad, _ := mapColos("www", raw, start, end)
	if len(bad) != 3 { // no bytes, no colo, count of the wrong type
		t.Errorf("bad = %d, want 3: %v", len(bad), bad)
	}
	// AMS 10:00's only row has a count of -3: the sums it goes into
	// (requests, hits, 2xx) are unknown (NaN, for the value check to reject);
	// its bytes and the classes it does not touch are known.
	collectorstest.DiffLines(t, collectorstest.Flatten(recs)[:1], []string{
		"cloudflare www AMS 1736935200/60 requests=NaN hits=NaN misses=0 edge_bytes=1 origin_bytes=0 status_2xx=NaN status_3xx=0 status_4xx=0 status_5xx=0",
	})
	recs = recs[1:]
	// SJC 10:01: requests 4+6 = 10; updating (any case) is served from
	// cache → hits 6; bypass → misses 4, origin bytes 100; bytes 150;
	// status 301 → 3xx 4; status 0 has no class.
	collectorstest.DiffLines(t, collectorstest.Flatten(recs), []string{
		"cloudflare www SJC 1736935260/60 requests=10 hits=6 misses=4 edge_bytes=150 origin_bytes=100 status_2xx=0 status_3xx=4 status_4xx=0 status_5xx=0",
	})
}

func TestParseAnswerGarbage(t *testing.T) {
	for name, body := range map[string]string{
		"empty":       ``,
		"html":        `<html><body>502 Bad Gateway</body></html>`,
		"null data":   `{"data":null,"errors":null}`,
		"no viewer":   `{"data":{}}`,
		"no zones":    `{"data":{"viewer":{"zones":[]}}}`,
		"two zones":   `{"data":{"viewer":{"zones":[{},{}]}}}`,
		"wrong node":  `{"data":{"viewer":{"zones":[{"httpRequests1mGroups":{"a":1}}]}}}`,
		"wrong zones": `{"data":{"viewer":{"zones":"x"}}}`,
	} {
		if _, err := parseAnswer([]byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestQueryTextNames(t *testing.T) {
	q := queryText(true, true, 10000)
	for _, s := range []string{"httpRequests1mGroups(limit: 10000", "httpRequestsAdaptiveGroups(limit: 10000", "cachedBytes", "responseStatusMap { edgeResponseStatus requests }", "coloCode cacheStatus edgeResponseStatus", `requestSource: "eyeball"`, "avg { sampleInterval }"} {
		if !strings.Contains(q, s) {
			t.Errorf("query lacks %q: %s", s, q)
		}
	}
	if strings.Contains(queryText(false, true, 5), nodeTotal) {
		t.Error("colo-only query asks for totals")
	}
}
