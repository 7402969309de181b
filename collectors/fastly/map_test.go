package fastly

import (
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// decodeAdd decodes body and folds it into a.
func decodeAdd(t *testing.T, a *aggregator, body []byte) added {
	t.Helper()
	var f rtFrame
	if err := decodeRT(body, &f); err != nil {
		t.Fatal(err)
	}
	return a.add(&f)
}

// The real-time sample (Timestamp 1603401013, AggregateDelay 9) holds the
// seconds 1603400951, 955 and 971 (bucket 1603400940 at 60 s) and
// 1603401000 (bucket 1603401000). Bucket 940 is due at 1000 + 9 + 2 = 1011
// <= 1013; bucket 1000 only at 1060 + 11 = 1071.
func TestRealTimeSampleNormalisation(t *testing.T) {
	const b1, b2 = 1603400940, 1603401000
	agg := newAggregator("www", time.Minute)
	agg.first = b1 - 60 // as if subscribed a minute earlier: bucket 940 is complete
	res := decodeAdd(t, agg, collectorstest.ReadTestdata(t, "rt-channel-ts-response.json"))
	if len(res.skipped) != 0 || len(res.partial) != 0 {
		t.Fatalf("skipped %v partial %v", res.skipped, res.partial)
	}
	for _, r := range res.recs {
		if r.Start != b1 || r.Step != 60 || r.Provider != "fastly" || r.Service != "www" {
			t.Fatalf("emitted %+v; only bucket %d is due", r, b1)
		}
	}
	// all + TYO (951) + BWI (955) + BUR, YUL (971), in the order first seen.
	if got := locations(res.recs); got != "all TYO BWI BUR YUL" {
		t.Fatalf("locations %q", got)
	}
	want(t, find(t, res.recs, "all", b1), map[schema.Field]float64{
		schema.Requests:       3,                     // 1 (951) + 0 (955) + 2 (971)
		schema.Hits:           2,                     // 1 + 0 + 1
		schema.Misses:         0,                     // 0 + 0 + 0
		schema.Passes:         0,                     //
		schema.Errors:         0,                     //
		schema.EdgeBytes:      428 + 10944 + 242 + 0, // = 11614; 971 has no edge body bytes: omitted zero
		schema.OriginRequests: 0 + 1 + 1,             // 955 BWI, 971 YUL
		schema.OriginBytes:    251 + 22094,           // = 22345, 971 only
		schema.Status2xx:      1,                     // 951
		schema.Status3xx:      1,                     // 971
		schema.Status4xx:      0,                     // absent everywhere: a known 0
		schema.Status5xx:      0,                     //
	})
	want(t, find(t, res.recs, "TYO", b1), map[schema.Field]float64{schema.Requests: 1, schema.Hits: 1, schema.EdgeBytes: 428 + 10944, schema.OriginBytes: 0, schema.Status2xx: 1})
	want(t, find(t, res.recs, "BWI", b1), map[schema.Field]float64{schema.Requests: 0, schema.OriginRequests: 1, schema.EdgeBytes: 0})
	want(t, find(t, res.recs, "BUR", b1), map[schema.Field]float64{schema.Requests: 2, schema.Hits: 1, schema.EdgeBytes: 242, schema.Status3xx: 1})
	want(t, find(t, res.recs, "YUL", b1), map[schema.Field]float64{schema.OriginRequests: 1, schema.OriginBytes: 251 + 22094})

	// Derived: all hit ratio = 2 / (2 + 0) = 1; TYO edge bandwidth = 11372 B × 8 / 60 s.
	pts := map[string]float64{}
	for _, p := range schema.Points("cdn", res.recs, nil) {
		pts[p.Path] = p.Value
	}
	if pts["cdn.fastly.www.all.hit_ratio"] != 1 {
		t.Errorf("all hit_ratio = %v, want 1", pts["cdn.fastly.www.all.hit_ratio"])
	}

	// An answer without AggregateDelay keeps the last one (9): at 1070
	// bucket 1000 is not due yet (1060 + 9 + 2 = 1071).
	if res := decodeAdd(t, agg, []byte(`{"Data":[],"Timestamp":1603401070}`)); len(res.recs) != 0 {
		t.Fatalf("bucket emitted before end + AggregateDelay + grace: %s", locations(res.recs))
	}
	// Fastly's clock reaches 1071 with an empty answer: bucket 1000 is due.
	res = decodeAdd(t, agg, []byte(`{"Data":[],"Timestamp":1603401071,"AggregateDelay":9,"Error":"No data available, please retry"}`))
	if got := locations(res.recs); got != "all LGA YUL" {
		t.Fatalf("bucket %d locations %q", b2, got)
	}
	want(t, find(t, res.recs, "all", b2), map[schema.Field]float64{
		schema.Requests: 2, schema.Hits: 0, schema.Misses: 2,
		schema.EdgeBytes:      897 + 9485,  // = 10382 = LGA 448+976 + YUL 449+8509
		schema.OriginRequests: 2,           //
		schema.OriginBytes:    501 + 24151, // = 24652 = LGA 250+2057 + YUL 251+22094
		schema.Status2xx:      2,
	})
	want(t, find(t, res.recs, "LGA", b2), map[schema.Field]float64{schema.Requests: 1, schema.Misses: 1, schema.EdgeBytes: 448 + 976, schema.OriginBytes: 250 + 2057})
	want(t, find(t, res.recs, "YUL", b2), map[schema.Field]float64{schema.EdgeBytes: 449 + 8509, schema.OriginBytes: 251 + 22094})
}

func locations(recs []schema.Record) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Location)
	}
	return strings.Join(s, " ")
}

// The constructed per-service sample: two copies of the real aggregate row
// (start_time 1710258360 and 1710258420): requests 234, hits 233, miss 1,
// pass 0, errors 0; edge bytes 80301 + 3042 = 83343 (edge_resp_*; the
// resp_* fields happen to be equal here); origin bytes 167 + 13 = 180
// (origin_fetch_resp_*, not the 406 request header bytes of
// origin_fetch_header_bytes); origin_fetches 1; status_2xx 234.
func TestHistoricalSampleNormalisation(t *testing.T) {
	w := collectors.Window{Start: time.Unix(1710258360, 0), End: time.Unix(1710258480, 0)}
	recs, n, skipped, err := parseHistorical(collectorstest.ReadTestdata(t, "stats-service-minute-response.constructed.json"), "www", "europe", w)
	if err != nil || len(skipped) != 0 || len(recs) != 2 || n != 2 {
		t.Fatalf("recs=%d rows=%d skipped=%v err=%v", len(recs), n, skipped, err)
	}
	fields := map[schema.Field]float64{
		schema.Requests: 234, schema.Hits: 233, schema.Misses: 1, schema.Passes: 0, schema.Errors: 0,
		schema.EdgeBytes: 80301 + 3042, schema.OriginRequests: 1, schema.OriginBytes: 167 + 13,
		schema.Status2xx: 234, schema.Status3xx: 0, schema.Status4xx: 0, schema.Status5xx: 0,
	}
	for i, start := range []int64{1710258360, 1710258420} {
		if recs[i].Start != start || recs[i].Step != 60 || recs[i].Location != "europe" || recs[i].Service != "www" {
			t.Errorf("rec %d = %+v", i, recs[i])
		}
		want(t, recs[i], fields)
	}
	// Only the first minute inside the window.
	recs, n, _, _ = parseHistorical(collectorstest.ReadTestdata(t, "stats-service-minute-response.constructed.json"), "www", "all", collectors.Window{Start: time.Unix(1710258360, 0), End: time.Unix(1710258420, 0)})
	if len(recs) != 1 || n != 1 {
		t.Fatalf("window of one minute: %d records, %d rows", len(recs), n)
	}
	// The verbatim aggregate sample (region usa): same row, same numbers.
	recs, _, skipped, err = parseHistorical(collectorstest.ReadTestdata(t, "stats-aggregate-minute.json"), "www", "usa", collectors.Window{Start: time.Unix(1710258360, 0), End: time.Unix(1710258420, 0)})
	if err != nil || len(skipped) != 0 || len(recs) != 1 {
		t.Fatalf("aggregate sample: %d recs, skipped %v, err %v", len(recs), skipped, err)
	}
	want(t, recs[0], fields)
	// Empty data with status success: nothing, no error.
	if recs, n, _, err := parseHistorical(collectorstest.ReadTestdata(t, "stats-service-minute-empty.json"), "www", "all", w); err != nil || len(recs) != 0 || n != 0 {
		t.Fatalf("empty: %v %d %v", recs, n, err)
	}
}

// Historical rows normally carry every field: one that is missing is
// unknown, not zero, and a byte sum needs both halves.
func TestHistoricalMissingFieldsAreUnknown(t *testing.T) {
	body := `{"status":"success","msg":null,"data":[{"start_time":60,"requests":10,"hits":4,"miss":null,"hit_ratio":null,"edge_resp_body_bytes":500}]}`
	recs, _, skipped, err := parseHistorical([]byte(body), "www", "all", collectors.Window{Start: time.Unix(0, 0), End: time.Unix(120, 0)})
	if err != nil || len(skipped) != 0 || len(recs) != 1 {
		t.Fatalf("recs=%v skipped=%v err=%v", recs, skipped, err)
	}
	want(t, recs[0], map[schema.Field]float64{schema.Requests: 10, schema.Hits: 4})
	for _, f := range []schema.Field{schema.Misses, schema.EdgeBytes, schema.OriginBytes, schema.Status2xx} {
		if recs[0].Has(f) {
			t.Errorf("%s known; it was missing (or half missing)", f)
		}
	}
}

// Real-time omits zeros: an entry with nothing but requests still makes
// every unified field a known value.
func TestRealTimeAbsentFieldsAreKnownZeros(t *testing.T) {
	var c schema.Counts
	var st stats
	st.set(int(vRequests), 7)
	st.addRT(&c)
	for _, f := range schema.Fields() {
		v, ok := c.Get(f)
		wantV := 0.0
		if f == schema.Requests {
			wantV = 7
		}
		if !ok || v != wantV {
			t.Errorf("%s = %v (known %v), want known %v", f, v, ok, wantV)
		}
	}
}

// vendorNames and lookupField must agree, or a field would be served by
// the stand-in and never read.
func TestFieldTableConsistent(t *testing.T) {
	for i, n := range vendorNames {
		if lookupField([]byte(n)) != i {
			t.Errorf("%q maps to %d, want %d", n, lookupField([]byte(n)), i)
		}
	}
	for _, n := range []string{"resp_body_bytes", "origin_fetch_body_bytes", "origin_fetch_header_bytes", "hit_ratio", "Requests"} {
		if lookupField([]byte(n)) >= 0 {
			t.Errorf("%q should not be mapped", n)
		}
	}
}
