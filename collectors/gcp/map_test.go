package gcp

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

func byName(u string) string { return map[string]string{"web-map": "www"}[u] }

// The constructed sample: request_count for url map web-map, no continent
// label, three minutes newest first, MISS missing at 10:01.
func TestMapRequestCountSample(t *testing.T) {
	p, err := parsePage(collectorstest.ReadTestdata(t, "monitoring-timeseries-list-response.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.NextPageToken == "" || len(p.TimeSeries) != 3 {
		t.Fatalf("page: %d series, next %q", len(p.TimeSeries), p.NextPageToken)
	}
	col := newCollected()
	col.add(mRequests, p, collectorstest.MustTime(t, "2025-01-15T10:00:00Z"), collectorstest.MustTime(t, "2025-01-15T10:03:00Z"))
	if len(col.bad)+len(col.rejected)+len(col.after) != 0 || col.points != 6 {
		t.Fatalf("bad %v rejected %v after %v points %d", col.bad, col.rejected, col.after, col.points)
	}
	// 10:00 (1736935200): HIT/200 49003 + MISS/200 2987 = 51990 requests.
	// 10:01: HIT/200 47650 + DISABLED/500 17 = 47667; no MISS series point → 0 misses.
	// 10:02: HIT/200 48211 + MISS/200 3120 = 51331.
	// Only request_count was read: bytes and origin counts stay unknown.
	want := []string{
		"gcp www all 1736935200/60 requests=51990 hits=49003 misses=2987 passes=0 status_2xx=51990 status_3xx=0 status_4xx=0 status_5xx=0",
		"gcp www all 1736935260/60 requests=47667 hits=47650 misses=0 passes=17 status_2xx=47650 status_3xx=0 status_4xx=0 status_5xx=17",
		"gcp www all 1736935320/60 requests=51331 hits=48211 misses=3120 passes=0 status_2xx=51331 status_3xx=0 status_4xx=0 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), want)
	// A url map that is not collected gives nothing.
	if recs := mapCells(col, func(string) string { return "" }); len(recs) != 0 {
		t.Errorf("uncollected url map gave %d records", len(recs))
	}
}

// The Grafana fixture is a real answer's envelope for a GCE metric: its
// series is not one asked for and is skipped, logged as bad.
func TestRealEnvelopeOtherMetricSkipped(t *testing.T) {
	p, err := parsePage(collectorstest.ReadTestdata(t, "monitoring-timeseries-list.fixture.trimmed.json"))
	if err != nil {
		t.Fatal(err)
	}
	col := newCollected()
	col.add(mRequests, p, collectorstest.MustTime(t, "2018-09-11T12:28:00Z"), collectorstest.MustTime(t, "2018-09-11T12:31:00Z"))
	if len(col.bad) != 1 || !strings.Contains(col.bad[0], "compute.googleapis.com/instance/cpu/usage_time") || len(col.cells) != 0 {
		t.Fatalf("bad %v cells %v", col.bad, col.cells)
	}
}

func pt(start, end, value string) string {
	return `{"interval":{"startTime":"` + start + `","endTime":"` + end + `"},"value":` + value + `}`
}

func ts(metricName, urlMap, cache, class, continent string, points ...string) string {
	labels := `"cache_result":"` + cache + `","response_code_class":"` + class + `"`
	if continent != "" {
		labels += `,"proxy_continent":"` + continent + `"`
	}
	return `{"metric":{"type":"loadbalancing.googleapis.com/https/` + metricName + `","labels":{` + labels + `}},` +
		`"resource":{"type":"https_lb_rule","labels":{"project_id":"p","url_map_name":"` + urlMap + `"}},` +
		`"metricKind":"DELTA","valueType":"INT64","points":[` + strings.Join(points, ",") + `]}`
}

func pageOf(series ...string) []byte {
	return []byte(`{"timeSeries":[` + strings.Join(series, ",") + `],"unit":"1"}`)
}

const (
	t0 = "2025-01-15T10:00:00Z"
	t1 = "2025-01-15T10:01:00Z"
	t2 = "2025-01-15T10:02:00Z"
)

func collectPages(t *testing.T, pages map[metric][]byte) *collected {
	t.Helper()
	col := newCollected()
	for m, body := range pages {
		p, err := parsePage(body)
		if err != nil {
			t.Fatal(err)
		}
		col.add(m, p, collectorstest.MustTime(t, t0), collectorstest.MustTime(t, t2))
	}
	return col
}

// Every metric, two continents, PARTIAL_HIT and UNKNOWN, backend hits:
// the documented meanings by hand.
func TestMapAllMetricsByContinent(t *testing.T) {
	col := collectPages(t, map[metric][]byte{
		mRequests: pageOf(
			ts("request_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"100"}`)),
			ts("request_count", "web-map", "PARTIAL_HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"5"}`)),
			ts("request_count", "web-map", "MISS", "400", "Europe", pt(t0, t1, `{"int64Value":"7"}`)),
			ts("request_count", "web-map", "DISABLED", "500", "America", pt(t0, t1, `{"int64Value":"3"}`)),
			ts("request_count", "web-map", "UNKNOWN", "0", "America", pt(t0, t1, `{"int64Value":"2"}`)),
			ts("request_count", "web-map", "HIT", "300", "America", pt(t0, t1, `{"int64Value":"20"}`)),
		),
		mEdgeBytes: pageOf(
			ts("response_bytes_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"100000"}`)),
			ts("response_bytes_count", "web-map", "MISS", "400", "Europe", pt(t0, t1, `{"int64Value":"700"}`)),
			ts("response_bytes_count", "web-map", "HIT", "300", "America", pt(t0, t1, `{"int64Value":"4000"}`)),
		),
		mBackendRequests: pageOf(
			ts("backend_request_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"100"}`)),
			ts("backend_request_count", "web-map", "PARTIAL_HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"5"}`)),
			ts("backend_request_count", "web-map", "MISS", "400", "Europe", pt(t0, t1, `{"int64Value":"7"}`)),
			ts("backend_request_count", "web-map", "DISABLED", "500", "America", pt(t0, t1, `{"int64Value":"3"}`)),
			ts("backend_request_count", "web-map", "HIT", "300", "America", pt(t0, t1, `{"int64Value":"20"}`)),
		),
		// No backend bytes for America at 10:00: unknown there, not 0.
		mBackendBytes: pageOf(
			ts("backend_response_bytes_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"90000"}`)),
			ts("backend_response_bytes_count", "web-map", "MISS", "400", "Europe", pt(t0, t1, `{"int64Value":"650"}`)),
		),
	})
	// Europe: requests 100+5+7 = 112; hits HIT+PARTIAL_HIT = 105; misses 7;
	//   2xx 105, 4xx 7; edge 100700; origin requests: not HIT = 5+7 = 12;
	//   origin bytes: not HIT = 650.
	// America: 3+2+20 = 25; hits 20, misses 0, passes 3 (UNKNOWN in
	//   requests only); 3xx 20, 5xx 3 (class 0 in requests only); edge
	//   4000; origin requests 3; origin bytes unknown.
	// all: 137 requests, 125 hits, 7 misses, 3 passes, 2xx 105, 3xx 20,
	//   4xx 7, 5xx 3; edge 104700; origin 15 requests, 650 bytes.
	want := []string{
		"gcp www all 1736935200/60 requests=137 hits=125 misses=7 passes=3 edge_bytes=104700 origin_requests=15 origin_bytes=650 status_2xx=105 status_3xx=20 status_4xx=7 status_5xx=3",
		"gcp www america 1736935200/60 requests=25 hits=20 misses=0 passes=3 edge_bytes=4000 origin_requests=3 status_2xx=0 status_3xx=20 status_4xx=0 status_5xx=3",
		"gcp www europe 1736935200/60 requests=112 hits=105 misses=7 passes=0 edge_bytes=100700 origin_requests=12 origin_bytes=650 status_2xx=105 status_3xx=0 status_4xx=7 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), want)
}

// A series cut by a page boundary continues on the next page; a point
// answered twice is one value, not twice the traffic.
func TestPageBoundaryMergesSeries(t *testing.T) {
	col := newCollected()
	start, end := collectorstest.MustTime(t, t0), collectorstest.MustTime(t, t2)
	for _, body := range [][]byte{
		pageOf(ts("request_count", "web-map", "HIT", "200", "", pt(t1, t2, `{"int64Value":"40"}`))),
		pageOf(ts("request_count", "web-map", "HIT", "200", "", pt(t0, t1, `{"int64Value":"30"}`), pt(t1, t2, `{"int64Value":"40"}`))),
	} {
		p, err := parsePage(body)
		if err != nil {
			t.Fatal(err)
		}
		col.add(mRequests, p, start, end)
	}
	want := []string{
		"gcp www all 1736935200/60 requests=30 hits=30 misses=0 passes=0 status_2xx=30 status_3xx=0 status_4xx=0 status_5xx=0",
		"gcp www all 1736935260/60 requests=40 hits=40 misses=0 passes=0 status_2xx=40 status_3xx=0 status_4xx=0 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), want)
}

// int64Value is a decimal string: anything else is rejected, and the
// metric's minute for that url map is left out (its groups would no
// longer add up); other minutes and metrics stay.
func TestRejectedValues(t *testing.T) {
	for _, bad := range []string{`{"int64Value":"-5"}`, `{"int64Value":"+5"}`, `{"int64Value":5}`, `{"int64Value":"5.0"}`,
		`{"int64Value":"9007199254740993"}`, `{"int64Value":"99999999999999999999"}`, `{"doubleValue":5}`, `{"int64Value":""}`, `{"int64Value":null}`} {
		col := collectPages(t, map[metric][]byte{
			mRequests: pageOf(
				ts("request_count", "web-map", "HIT", "200", "", pt(t0, t1, `{"int64Value":"30"}`), pt(t1, t2, `{"int64Value":"40"}`)),
				ts("request_count", "web-map", "MISS", "200", "", pt(t1, t2, bad)),
			),
			mEdgeBytes: pageOf(ts("response_bytes_count", "web-map", "HIT", "200", "", pt(t1, t2, `{"int64Value":"4000"}`))),
		})
		if len(col.rejected) != 1 {
			t.Errorf("%s: rejected %v", bad, col.rejected)
			continue
		}
		want := []string{
			"gcp www all 1736935200/60 requests=30 hits=30 misses=0 passes=0 status_2xx=30 status_3xx=0 status_4xx=0 status_5xx=0",
			"gcp www all 1736935260/60 edge_bytes=4000",
		}
		collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), want)
	}
}

// Points of the wrong shape are skipped and described; points at or after
// the window's end are handed back for the clock to judge.
func TestBadPointsAndAfterWindow(t *testing.T) {
	col := collectPages(t, map[metric][]byte{
		mRequests: pageOf(
			ts("request_count", "web-map", "HIT", "200", "",
				pt(t0, t2, `{"int64Value":"1"}`),                                         // 120 s
				pt("2025-01-15T10:00:30Z", "2025-01-15T10:01:30Z", `{"int64Value":"1"}`), // not a minute start
				pt("yesterday", t1, `{"int64Value":"1"}`),
				pt("2025-01-15T09:59:00Z", t0, `{"int64Value":"1"}`), // before the window
				pt(t2, "2025-01-15T10:03:00Z", `{"int64Value":"1"}`), // after it
				pt(t0, t1, `{"int64Value":"9"}`),
			),
			`{"metric":{"type":"loadbalancing.googleapis.com/https/request_count"},"resource":{"type":"https_lb_rule","labels":{}},"points":[]}`,
			`[1,2]`,
		),
	})
	if len(col.bad) != 5 || col.before != 1 || len(col.after) != 1 || col.after[0] != collectorstest.MustTime(t, t2).Unix() {
		t.Fatalf("bad %d %v; after %v", len(col.bad), col.bad, col.after)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), []string{
		"gcp www all 1736935200/60 requests=9 hits=9 misses=0 passes=0 status_2xx=9 status_3xx=0 status_4xx=0 status_5xx=0",
	})
}

func TestListQuery(t *testing.T) {
	q := listQuery(mBackendRequests, []string{"web-map", "api-map"}, collectorstest.MustTime(t, t0), collectorstest.MustTime(t, t2), 500, "tok")
	for _, s := range []string{
		"filter=metric.type+%3D+%22loadbalancing.googleapis.com%2Fhttps%2Fbackend_request_count%22+AND+resource.type+%3D+%22https_lb_rule%22+AND+resource.labels.url_map_name+%3D+one_of%28%22web-map%22%2C+%22api-map%22%29",
		"interval.startTime=2025-01-15T10%3A00%3A00Z", "interval.endTime=2025-01-15T10%3A02%3A00Z",
		"aggregation.alignmentPeriod=60s", "aggregation.perSeriesAligner=ALIGN_DELTA", "aggregation.crossSeriesReducer=REDUCE_SUM",
		"aggregation.groupByFields=resource.labels.url_map_name", "aggregation.groupByFields=metric.labels.cache_result",
		"aggregation.groupByFields=metric.labels.response_code_class", "aggregation.groupByFields=metric.labels.proxy_continent",
		"pageSize=500", "pageToken=tok", "view=FULL",
	} {
		if !strings.Contains(q, s) {
			t.Errorf("query lacks %s:\n%s", s, q)
		}
	}
}

// What the mapping leaves out is counted in the self-metrics every
// collector shares, with one warning each: impossible values in
// rejected_values, points ahead of our clock in rejected_future.
func TestReportCountsRejections(t *testing.T) {
	col := collectPages(t, map[metric][]byte{
		mRequests: pageOf(ts("request_count", "web-map", "HIT", "200", "",
			pt(t0, t1, `{"int64Value":"-1"}`), pt("2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z", `{"int64Value":"5"}`))),
	})
	counts := map[string]int{}
	logs := &collectorstest.SyncBuffer{}
	c := &Collector{logger: slog.New(slog.NewTextHandler(logs, nil)), env: collectors.Env{Clock: collectors.Clock{
		Now:    func() time.Time { return collectorstest.MustTime(t, t2) },
		Reject: func(reason string, n int) { counts[reason] += n },
	}}}
	c.report(col, collectors.Window{Start: collectorstest.MustTime(t, t0), End: collectorstest.MustTime(t, t2)})
	if counts[collectors.RejectedValues] != 1 || counts[collectors.RejectedFuture] != 1 {
		t.Fatalf("counts %v", counts)
	}
	for _, s := range []string{"impossible values from vendor rejected", "stamped ahead of our clock"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("logs lack %q:\n%s", s, logs.String())
		}
	}
}

// proxy_continent is the vendor's text: one named like a reserved location
// ("ALL", "origin") must neither add itself a second time into the "all"
// sum nor overwrite it; it keeps a location of its own.
func TestContinentNamedLikeReservedLocation(t *testing.T) {
	col := collectPages(t, map[metric][]byte{
		mRequests: pageOf(
			ts("request_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"100"}`)),
			ts("request_count", "web-map", "HIT", "200", "ALL", pt(t0, t1, `{"int64Value":"5"}`)),
			ts("request_count", "web-map", "HIT", "200", "Origin", pt(t0, t1, `{"int64Value":"3"}`)),
		),
	})
	// all: 100 + 5 + 3 = 108, counted once each.
	want := []string{
		"gcp www all 1736935200/60 requests=108 hits=108 misses=0 passes=0 status_2xx=108 status_3xx=0 status_4xx=0 status_5xx=0",
		"gcp www continent_all 1736935200/60 requests=5 hits=5 misses=0 passes=0 status_2xx=5 status_3xx=0 status_4xx=0 status_5xx=0",
		"gcp www continent_origin 1736935200/60 requests=3 hits=3 misses=0 passes=0 status_2xx=3 status_3xx=0 status_4xx=0 status_5xx=0",
		"gcp www europe 1736935200/60 requests=100 hits=100 misses=0 passes=0 status_2xx=100 status_3xx=0 status_4xx=0 status_5xx=0",
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(mapCells(col, byName)), want)
}
