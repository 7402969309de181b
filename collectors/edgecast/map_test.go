package edgecast

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func wantCounts(t *testing.T, c *schema.Counts, want map[schema.Field]float64) {
	t.Helper()
	for f, v := range want {
		if got, ok := c.Get(f); !ok || got != v {
			t.Errorf("%s = %v (known %v), want %v", f, got, ok, v)
		}
	}
}

// The three constructed samples, read as one snapshot over a 60 s minute.
func TestSampleNormalisation(t *testing.T) {
	var c schema.Counts
	bps, err := parseBandwidth(collectorstest.ReadTestdata(t, "realtimestats-bandwidth.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mapBandwidth(bps, 60, &c); err != nil {
		t.Fatal(err)
	}
	cache, err := parseCacheStatus(collectorstest.ReadTestdata(t, "realtimestats-cachestatus.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mapCacheStatus(cache, 60, &c); err != nil {
		t.Fatal(err)
	}
	status, err := parseStatusCode(collectorstest.ReadTestdata(t, "realtimestats-statuscode.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mapStatusCode(status, 60, &c); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, &c, map[schema.Field]float64{
		schema.EdgeBytes: 318.75, // 42.5 bit/s × 60 s / 8
		// cache statuses per second: 6740+1+235+0+123+42+12+4 = 7157
		schema.Requests:  429420, // 7157 × 60
		schema.Hits:      404460, // (TCP_HIT 6740 + TCP_EXPIRED_HIT 1) × 60
		schema.Misses:    21480,  // (TCP_MISS 235 + TCP_EXPIRED_MISS 0 + TCP_CLIENT_REFRESH_MISS 123) × 60
		schema.Passes:    960,    // (CONFIG_NOCACHE 12 + UNCACHEABLE 4) × 60; NONE 42 only in requests
		schema.Status2xx: 400260, // 6671 × 60
		schema.Status3xx: 7860,   // (304: 131 + 3xx: 0) × 60
		schema.Status4xx: 5940,   // (403: 88 + 404: 2 + 4xx: 9) × 60
		schema.Status5xx: 0,      // 503, 504, 5xx all 0; "other" dropped
	})
	for _, f := range []schema.Field{schema.OriginRequests, schema.OriginBytes, schema.Errors} {
		if c.Has(f) {
			t.Errorf("%s set; the real-time API has no such figure", f)
		}
	}
	// Derived: hit_ratio = 404460 / (404460 + 21480) = 0.94957…,
	// bandwidth_bps = 318.75 × 8 / 60 = 42.5 (the vendor's figure back).
	rec := schema.Record{Provider: "edgecast", Service: "http_large", Location: "all", Start: 1736935200, Step: 60, Counts: c}
	got := map[string]float64{}
	for _, p := range schema.Points("cdn", []schema.Record{rec}, nil) {
		got[strings.TrimPrefix(p.Path, "cdn.edgecast.http_large.all.")] = p.Value
	}
	if v := got["hit_ratio"]; v < 0.94956 || v > 0.94958 {
		t.Errorf("hit_ratio = %v, want 404460/425940 ≈ 0.949570", v)
	}
	if got["bandwidth_bps"] != 42.5 {
		t.Errorf("bandwidth_bps = %v, want 42.5", got["bandwidth_bps"])
	}
	if _, ok := got["origin_offload"]; ok {
		t.Error("origin_offload derived without origin bytes")
	}
}

func TestStatusClass(t *testing.T) {
	for label, want := range map[string]schema.Field{"2xx": schema.Status2xx, "304": schema.Status3xx, "4XX": schema.Status4xx, "404": schema.Status4xx, " 503 ": schema.Status5xx} {
		if f, ok := statusClass(label); !ok || f != want {
			t.Errorf("%q → %v %v, want %v", label, f, ok, want)
		}
	}
	for _, label := range []string{"other", "1xx", "600", "6xx", "2x", "20x", "", "2xxx", "abc"} {
		if f, ok := statusClass(label); ok {
			t.Errorf("%q → %v, want no class", label, f)
		}
	}
}

// Answers that are not what was asked for are errors; impossible values
// inside a good answer are not (see TestImpossibleRatesPerValue).
func TestBadAnswersAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		parse            func([]byte) error
	}{
		{"empty", "", "empty body", bw},
		{"html", "<html><body>Service Unavailable</body></html>", "body starts", bw},
		{"no result", `{"Message":"x"}`, `"Result" is missing`, bw},
		{"null result", `{"Result":null}`, "not a number", bw},
		{"string garbage", `{"Result":"fast"}`, "not a number", bw},
		{"object not array", `{"CacheStatus":"TCP_HIT"}`, "decode", cs},
		{"wrong type", `[{"Connections":true,"StatusCode":"2xx"}]`, "decode", sc},
	} {
		err := tc.parse([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	// Numbers as strings are accepted (tolerant decoding, as elsewhere).
	var c schema.Counts
	rows, err := parseCacheStatus([]byte(`[{"CacheStatus":"TCP_HIT","Connections":"2.5"}]`))
	if err != nil || mapCacheStatus(rows, 60, &c) != nil {
		t.Fatal(err)
	}
	wantCounts(t, &c, map[schema.Field]float64{schema.Hits: 150, schema.Requests: 150}) // 2.5 × 60
}

func bw(b []byte) error {
	v, err := parseBandwidth(b)
	if err != nil {
		return err
	}
	var c schema.Counts
	return mapBandwidth(v, 60, &c)
}

func cs(b []byte) error {
	rows, err := parseCacheStatus(b)
	if err != nil {
		return err
	}
	var c schema.Counts
	return mapCacheStatus(rows, 60, &c)
}

func sc(b []byte) error {
	rows, err := parseStatusCode(b)
	if err != nil {
		return err
	}
	var c schema.Counts
	return mapStatusCode(rows, 60, &c)
}
