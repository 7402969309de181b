package azure

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The samples cover 2025-01-15 10:00–10:03 for one endpoint.
var (
	sampleStart = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	sampleEnd   = sampleStart.Add(3 * time.Minute)
	t0, t1, t2  = sampleStart.Unix(), sampleStart.Unix() + 60, sampleStart.Unix() + 120
	longAgo     = sampleEnd.Add(time.Hour).Unix() // every sample minute is settled
)

func readAnswer(t testing.TB, name, aggregation string) Answer {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAnswer(b, aggregation)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return a
}

// sampleAnswers are the answers of the four queries of a by_region profile
// as the samples give them.
func sampleAnswers(t testing.TB) map[string]Answer {
	counts := readAnswer(t, "monitor-metrics-frontdoor-response.constructed.json", aggTotal)
	size := readAnswer(t, "monitor-metrics-responsesize.constructed.json", aggTotal)
	counts.Series = append(counts.Series, size.Series...)
	averages := readAnswer(t, "monitor-metrics-frontdoor-response.constructed.json", aggAverage)
	lat := readAnswer(t, "monitor-metrics-latency.constructed.json", aggAverage)
	averages.Series = append(averages.Series, lat.Series...)
	return map[string]Answer{
		"counts":   counts,
		"averages": averages,
		"status":   readAnswer(t, "monitor-metrics-status-split.constructed.json", aggTotal),
		"region":   readAnswer(t, "monitor-metrics-region-split.constructed.json", aggTotal),
	}
}

func field(t *testing.T, r schema.Record, f schema.Field) (float64, bool) {
	t.Helper()
	return r.Get(f)
}

func TestParseSampleKeepsEmptyRatioBucketsMissing(t *testing.T) {
	a := readAnswer(t, "monitor-metrics-frontdoor-response.constructed.json", aggAverage)
	var bhr *Series
	for i := range a.Series {
		if a.Series[i].Metric == mByteHitRatio {
			bhr = &a.Series[i]
		}
	}
	if a.Interval != "PT1M" || bhr == nil || len(bhr.Points) != 3 {
		t.Fatalf("parsed %+v", a)
	}
	if !bhr.Points[0].Has || bhr.Points[0].Value != 91.37 || bhr.Points[2].Has {
		t.Fatalf("ByteHitRatio points %+v: want 91.37 first and the 10:02 bucket without a value", bhr.Points)
	}
	if bhr.Dims["endpoint"] != "www-contoso-abcdefgh.z01.azurefd.net" {
		t.Fatalf("dims %v", bhr.Dims)
	}
	// Asked for totals, the same answer's counts have 0 at 10:02: a
	// count bucket Azure answered.
	c := readAnswer(t, "monitor-metrics-frontdoor-response.constructed.json", aggTotal)
	if p := c.Series[0].Points[2]; c.Series[0].Metric != mRequests || !p.Has || p.Value != 0 {
		t.Fatalf("RequestCount at 10:02: %+v", c.Series[0])
	}
}

// Values computed by hand from the sample files.
func TestMapSamples(t *testing.T) {
	m := mapAnswers("www", sampleAnswers(t), sampleStart, sampleEnd, longAgo)
	if len(m.Bad) > 0 || len(m.Rejected) > 0 || len(m.After) > 0 || m.Pending != 0 {
		t.Fatalf("bad %v rejected %v after %v pending %d", m.Bad, m.Rejected, m.After, m.Pending)
	}
	type row struct {
		loc string
		t   int64
		f   map[schema.Field]float64
	}
	status := func(a, b, c, d float64) map[schema.Field]float64 {
		return map[schema.Field]float64{schema.Status2xx: a, schema.Status3xx: b, schema.Status4xx: c, schema.Status5xx: d}
	}
	merge := func(ms ...map[schema.Field]float64) map[schema.Field]float64 {
		out := map[schema.Field]float64{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	want := []row{
		// origin_bytes = ResponseSize × (100 − ByteHitRatio) / 100:
		// 331,900,000 × 8.63 % = 28,642,970; 327,000,000 × 9.16 % = 29,953,200.
		{"all", t0, merge(map[schema.Field]float64{schema.Requests: 18234, schema.EdgeBytes: 331900000, schema.OriginRequests: 1402, schema.OriginBytes: 28642970}, status(17900, 250, 77, 7))},
		{"europe", t0, map[schema.Field]float64{schema.Requests: 10000, schema.EdgeBytes: 180000000}},
		{"north_america", t0, map[schema.Field]float64{schema.Requests: 8234, schema.EdgeBytes: 151900000}},
		{"all", t1, merge(map[schema.Field]float64{schema.Requests: 17980, schema.EdgeBytes: 327000000, schema.OriginRequests: 1377, schema.OriginBytes: 29953200}, status(17700, 200, 80, 0))},
		{"europe", t1, map[schema.Field]float64{schema.Requests: 9000, schema.EdgeBytes: 160000000}},
		{"north_america", t1, map[schema.Field]float64{schema.Requests: 8980, schema.EdgeBytes: 167000000}},
		// The empty minute: Azure's count buckets say 0; the ratio bucket
		// is empty, so origin bytes are unknown, not 0.
		{"all", t2, merge(map[schema.Field]float64{schema.Requests: 0, schema.EdgeBytes: 0, schema.OriginRequests: 0}, status(0, 0, 0, 0))},
		{"europe", t2, map[schema.Field]float64{schema.Requests: 0, schema.EdgeBytes: 0}},
		{"north_america", t2, map[schema.Field]float64{schema.Requests: 0, schema.EdgeBytes: 0}},
	}
	if len(m.Records) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(m.Records), len(want), m.Records)
	}
	for i, w := range want {
		r := m.Records[i]
		if r.Location != w.loc || r.Start != w.t || r.Step != 60 || r.Provider != "azure" || r.Service != "www" {
			t.Fatalf("record %d: %s %d, want %s %d", i, r.Location, r.Start, w.loc, w.t)
		}
		for _, f := range schema.Fields() {
			got, ok := field(t, r, f)
			exp, want := w.f[f]
			if ok != want || got != exp {
				t.Errorf("%s %d %v = %v (known %v), want %v (known %v)", w.loc, w.t, f, got, ok, exp, want)
			}
		}
	}
	// Gauges: TotalLatency at 10:00 and 10:01, OriginLatency at 10:00
	// only; the empty buckets give none.
	wantG := []schema.Gauge{
		{Provider: "azure", Service: "www", Location: "all", Metric: GaugeTotalLatency, Time: t0, Value: 41.5},
		{Provider: "azure", Service: "www", Location: "all", Metric: GaugeTotalLatency, Time: t1, Value: 44.25},
		{Provider: "azure", Service: "www", Location: "all", Metric: GaugeOriginLatency, Time: t0, Value: 120},
	}
	if len(m.Gauges) != len(wantG) {
		t.Fatalf("gauges %+v, want %+v", m.Gauges, wantG)
	}
	for i := range wantG {
		if m.Gauges[i] != wantG[i] {
			t.Errorf("gauge %d = %+v, want %+v", i, m.Gauges[i], wantG[i])
		}
	}
}

// An empty minute younger than Azure's publication delay may be one Azure
// has not processed: it is left out, not written as 0; one with traffic
// is kept.
func TestYoungEmptyMinuteIsPending(t *testing.T) {
	m := mapAnswers("www", sampleAnswers(t), sampleStart, sampleEnd, t1)
	if m.Pending != 1 {
		t.Fatalf("pending %d, want 1 (10:02)", m.Pending)
	}
	for _, r := range m.Records {
		if r.Start == t2 {
			t.Fatalf("the young empty minute was emitted: %+v", r)
		}
	}
	if len(m.Records) != 6 {
		t.Fatalf("%d records, want 6 (10:00 and 10:01, three locations each)", len(m.Records))
	}
}

func TestMapRejectsAndSkips(t *testing.T) {
	body := `{"interval":"PT1M","value":[
	 {"name":{"value":"requestcount"},"unit":"Count","errorCode":"Success","timeseries":[{"metadatavalues":[],"data":[
	   {"timeStamp":"2025-01-15T10:00:00Z","total":-5},
	   {"timeStamp":"2025-01-15T10:00:30Z","total":5},
	   {"timeStamp":"2025-01-15T09:59:00Z","total":5},
	   {"timeStamp":"2025-01-15T10:03:00Z","total":5},
	   {"timeStamp":"yesterday","total":5},
	   {"timeStamp":"2025-01-15T10:01:00Z","total":"many"},
	   {"timeStamp":"2025-01-15T10:02:00Z","total":12.0}]}]},
	 {"name":{"value":"ResponseSize"},"unit":"Bytes","errorCode":"Throttled","errorMessage":"too many","timeseries":[]}]}`
	a, err := ParseAnswer([]byte(body), aggTotal)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Problems) != 1 || !strings.Contains(a.Problems[0], "ResponseSize: Throttled: too many") {
		t.Fatalf("problems %v", a.Problems)
	}
	m := mapAnswers("www", map[string]Answer{"counts": a}, sampleStart, sampleEnd, longAgo)
	if len(m.Rejected) != 2 || len(m.Bad) != 3 || len(m.After) != 1 {
		t.Fatalf("rejected %v, bad %v, after %v", m.Rejected, m.Bad, m.After)
	}
	// The metric name's case does not matter.
	if len(m.Records) != 1 || m.Records[0].Start != t2 {
		t.Fatalf("records %+v", m.Records)
	}
	if v, _ := m.Records[0].Get(schema.Requests); v != 12 {
		t.Fatalf("requests %v, want 12", v)
	}
	if _, err := ParseAnswer([]byte(`{"error":{"code":"BadRequest"}}`), aggTotal); err == nil {
		t.Fatal("an error envelope parsed as an answer")
	}
}

// A byte hit ratio above 100 % is impossible; a split series without its
// dimension would be counted twice; a region named "All" must not
// overwrite the vendor's total; status groups without a field are left.
func TestMapGuards(t *testing.T) {
	ans := func(body string) Answer {
		a, err := ParseAnswer([]byte(body), aggTotal)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	avg, _ := ParseAnswer([]byte(`{"value":[{"name":{"value":"ByteHitRatio"},"timeseries":[{"data":[{"timeStamp":"2025-01-15T10:00:00Z","average":100.5}]}]}]}`), aggAverage)
	answers := map[string]Answer{
		"counts":   ans(`{"value":[{"name":{"value":"RequestCount"},"timeseries":[{"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":10}]}]},{"name":{"value":"ResponseSize"},"timeseries":[{"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":1000}]}]}]}`),
		"averages": avg,
		"status": ans(`{"value":[{"name":{"value":"RequestCount"},"timeseries":[
			{"metadatavalues":[{"name":{"value":"httpstatusgroup"},"value":"2XX"}],"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":9}]},
			{"metadatavalues":[{"name":{"value":"httpstatusgroup"},"value":"Others"}],"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":1}]},
			{"metadatavalues":[],"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":10}]}]}]}`),
		"region": ans(`{"value":[{"name":{"value":"RequestCount"},"timeseries":[
			{"metadatavalues":[{"name":{"value":"clientregion"},"value":"All"}],"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":4}]},
			{"metadatavalues":[{"name":{"value":"clientregion"},"value":""}],"data":[{"timeStamp":"2025-01-15T10:00:00Z","total":6}]}]}]}`),
	}
	m := mapAnswers("www", answers, sampleStart, sampleEnd, longAgo)
	if len(m.Rejected) != 1 || len(m.Bad) != 1 || m.Unmapped != 1 {
		t.Fatalf("rejected %v bad %v unmapped %d", m.Rejected, m.Bad, m.Unmapped)
	}
	locs := map[string]schema.Record{}
	for _, r := range m.Records {
		locs[r.Location] = r
	}
	all := locs["all"]
	if v, _ := all.Get(schema.Requests); v != 10 {
		t.Fatalf("requests at all %v, want 10 (the split series without a dimension is not added)", v)
	}
	if v, _ := all.Get(schema.Status2xx); v != 9 {
		t.Fatalf("status_2xx %v, want 9", v)
	}
	if all.Has(schema.OriginBytes) {
		t.Fatal("origin bytes from a rejected byte hit ratio")
	}
	if _, ok := locs["region_all"]; !ok {
		t.Fatalf("locations %v, want region_all and unknown", locs)
	}
	if _, ok := locs["unknown"]; !ok {
		t.Fatalf("locations %v, want region_all and unknown", locs)
	}
}

func TestQueriesKeepFiltersOnSharedDimensions(t *testing.T) {
	p := Profile{ResourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/p", Endpoint: "www-abc.z01.azurefd.net", ByRegion: true}
	got := map[string]string{}
	for _, q := range queries(p) {
		got[q.name] = q.rawQuery(p, sampleStart, sampleEnd)
	}
	want := map[string]string{
		"counts":        "metricnames=RequestCount%2CResponseSize%2COriginRequestCount&timespan=2025-01-15T10%3A00%3A00Z%2F2025-01-15T10%3A03%3A00Z&interval=PT1M&aggregation=Total&$filter=Endpoint%20eq%20%27www-abc.z01.azurefd.net%27&top=1000",
		"averages":      "metricnames=ByteHitRatio%2CTotalLatency%2COriginLatency&timespan=2025-01-15T10%3A00%3A00Z%2F2025-01-15T10%3A03%3A00Z&interval=PT1M&aggregation=Average&$filter=Endpoint%20eq%20%27www-abc.z01.azurefd.net%27&top=1000",
		"status":        "aggregation=Total&$filter=HttpStatusGroup%20eq%20%27%2A%27%20and%20Endpoint%20eq%20%27www-abc.z01.azurefd.net%27&top=1000",
		"region":        "metricnames=RequestCount%2CResponseSize&",
		"region_status": "$filter=ClientRegion%20eq%20%27%2A%27%20and%20HttpStatusGroup%20eq%20%27%2A%27%20and%20Endpoint",
	}
	for name, frag := range want {
		if !strings.Contains(got[name], frag) {
			t.Errorf("%s: %s\n does not hold %s", name, got[name], frag)
		}
		if !strings.HasPrefix(got[name], "api-version=2023-10-01&metricnamespace=Microsoft.Cdn%2Fprofiles&") {
			t.Errorf("%s: %s", name, got[name])
		}
	}
	// Without an endpoint or a split, no $filter at all.
	q := queries(Profile{})[0]
	if s := q.rawQuery(Profile{}, sampleStart, sampleEnd); strings.Contains(s, "filter") || strings.Contains(s, "top") {
		t.Errorf("counts without endpoint: %s", s)
	}
}

// ClientRegion is Azure's text: one named like the real-user locations
// ("rum", "rum_<cc>", written per provider and service by internal/rum)
// must not write into them, as "all" and "origin" do not.
func TestRegionNamedLikeRUMLocation(t *testing.T) {
	for in, want := range map[string]string{"RUM": "region_rum", "rum_de": "region_rum_de", "Europe": "europe", "origin": "region_origin"} {
		if got := regionLocation(in); got != want {
			t.Errorf("regionLocation(%q) = %q, want %q", in, got, want)
		}
	}
}
