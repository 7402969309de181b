package fastly

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, recs []schema.Record, loc string, start int64, f schema.Field) (float64, bool) {
	t.Helper()
	for _, r := range recs {
		if r.Location == loc && r.Start == start {
			return r.Get(f)
		}
	}
	t.Fatalf("no record %s@%d in %d records", loc, start, len(recs))
	return 0, false
}

// The real-time sample holds seconds 1603400951, 955, 971 (bucket 940 at
// 60 s resolution) and 1603401000 (bucket 1000). Timestamp 1603401013 minus
// AggregateDelay 9 minus grace 2 = 1603401002: bucket 940 (ends 1000) is
// closed, bucket 1000 (ends 1060) is not.
func TestRealTimeSampleNormalisation(t *testing.T) {
	ans, err := parseRT(sample(t, "rt-channel-ts-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	agg := newAggregator("www", time.Minute)
	recs, skipped := agg.add(ans)
	if len(skipped) != 0 {
		t.Fatalf("skipped %v", skipped)
	}
	const b = 1603400940
	for _, r := range recs {
		if r.Start != b {
			t.Fatalf("emitted bucket %d; only %d is closed", r.Start, b)
		}
	}
	checks := []struct {
		loc  string
		f    schema.Field
		want float64
	}{
		{"all", schema.Requests, 3},        // 1 (951) + 0 (955, absent) + 2 (971)
		{"all", schema.Hits, 2},            // 1 + 1
		{"all", schema.Misses, 0},          // absent everywhere: a known 0
		{"all", schema.EdgeBytes, 11614},   // 428+10944 (951) + 242+0 (971)
		{"all", schema.OriginRequests, 2},  // 955 BWI 1 + 971 YUL 1
		{"all", schema.OriginBytes, 22345}, // 971: 251 + 22094
		{"all", schema.Status2xx, 1},       // 951
		{"all", schema.Status3xx, 1},       // 971
		{"TYO", schema.EdgeBytes, 11372},   // 428+10944
		{"BWI", schema.Requests, 0},        // only an origin fetch
		{"BWI", schema.OriginRequests, 1},  //
		{"BUR", schema.Hits, 1},            //
		{"YUL", schema.OriginBytes, 22345}, // 251 + 22094
	}
	for _, c := range checks {
		v, ok := get(t, recs, c.loc, b, c.f)
		if !ok || v != c.want {
			t.Errorf("%s %s = %v (known %v), want %v", c.loc, c.f, v, ok, c.want)
		}
	}
	// Derived: hit ratio of all = 2/(2+0) = 1.
	pts := map[string]float64{}
	for _, p := range schema.Points("cdn", recs, nil) {
		pts[p.Path] = p.Value
	}
	if pts["cdn.fastly.www.all.hit_ratio"] != 1 || pts["cdn.fastly.www.bur.hit_ratio"] != 1 {
		t.Errorf("hit ratios: %v %v", pts["cdn.fastly.www.all.hit_ratio"], pts["cdn.fastly.www.bur.hit_ratio"])
	}
}

// A second that arrives after its bucket was emitted re-emits the whole
// bucket with the corrected total, never just the late second.
func TestLateSecondReEmitsWholeBucket(t *testing.T) {
	ans, _ := parseRT(sample(t, "rt-channel-ts-response.json"))
	agg := newAggregator("www", time.Minute)
	agg.add(ans)
	late, err := parseRT([]byte(`{"Data":[{"datacenter":{"TYO":{"requests":5,"hits":4,"miss":1}},"aggregated":{"requests":5,"hits":4,"miss":1},"recorded":1603400990}],"Timestamp":1603401014,"AggregateDelay":9}`))
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := agg.add(late)
	if len(recs) == 0 {
		t.Fatal("late second did not re-emit its bucket")
	}
	if v, _ := get(t, recs, "all", 1603400940, schema.Requests); v != 8 { // 3 before + 5 late
		t.Fatalf("re-emitted all.requests = %v, want 8", v)
	}
	if v, _ := get(t, recs, "TYO", 1603400940, schema.Requests); v != 6 { // 1 + 5
		t.Fatalf("re-emitted TYO.requests = %v, want 6", v)
	}
	// Memory: only the open bucket and the few emitted ones are kept.
	for i := int64(0); i < 50; i++ {
		agg.add(&rtAnswer{Timestamp: 1603401100 + i*60, AggregateDelay: 9, Data: ans.Data[:0]})
	}
	if len(agg.buckets) > keepEmitted+1 {
		t.Fatalf("aggregator holds %d buckets", len(agg.buckets))
	}
}

func TestNoDataAnswerIsNotAnError(t *testing.T) {
	ans, err := parseRT(sample(t, "rt-channel-ts-nodata.json"))
	if err != nil || ans.Timestamp != 1635959484 || len(ans.Data) != 0 || !strings.Contains(ans.Error, "No data") {
		t.Fatalf("ans=%+v err=%v", ans, err)
	}
	recs, skipped := newAggregator("www", time.Minute).add(ans)
	if len(recs) != 0 || len(skipped) != 0 {
		t.Fatalf("recs=%v skipped=%v", recs, skipped)
	}
}

// The constructed per-service sample: two rows of the real aggregate row,
// start_time 1710258360 and +60; requests 234, hits 233, miss 1, edge bytes
// 80301+3042 = 83343, origin bytes 167+13 = 180.
func TestHistoricalSampleNormalisation(t *testing.T) {
	w := collectors.Window{Start: time.Unix(1710258360, 0), End: time.Unix(1710258480, 0)}
	recs, skipped, err := parseHistorical(sample(t, "stats-service-minute-response.constructed.json"), "www", "europe", w)
	if err != nil || len(skipped) != 0 || len(recs) != 2 {
		t.Fatalf("recs=%d skipped=%v err=%v", len(recs), skipped, err)
	}
	for f, want := range map[schema.Field]float64{schema.Requests: 234, schema.Hits: 233, schema.Misses: 1, schema.EdgeBytes: 83343, schema.OriginBytes: 180, schema.OriginRequests: 1, schema.Status2xx: 234} {
		if v, ok := recs[1].Get(f); !ok || v != want {
			t.Errorf("%s = %v, want %v", f, v, want)
		}
	}
	if recs[1].Start != 1710258420 || recs[0].Location != "europe" {
		t.Errorf("rec = %+v", recs[1])
	}
	// Outside the window: nothing.
	recs, _, _ = parseHistorical(sample(t, "stats-service-minute-response.constructed.json"), "www", "all", collectors.Window{Start: time.Unix(0, 0), End: time.Unix(60, 0)})
	if len(recs) != 0 {
		t.Fatal("rows outside the window kept")
	}
	// Empty data is not an error.
	if recs, _, err := parseHistorical(sample(t, "stats-service-minute-empty.json"), "www", "all", w); err != nil || len(recs) != 0 {
		t.Fatalf("empty: %v %v", recs, err)
	}
}

func TestHistoricalBadRowsSkippedOthersKept(t *testing.T) {
	body := `{"status":"success","data":[
	 {"start_time":60,"requests":10,"hits":5,"miss":5},
	 {"start_time":120,"requests":"ten"},
	 {"start_time":180,"requests":-1},
	 {"start_time":240,"requests":2,"hits":9},
	 {"requests":3},
	 {"start_time":330,"requests":1}]}`
	recs, skipped, err := parseHistorical([]byte(body), "www", "all", collectors.Window{Start: time.Unix(0, 0), End: time.Unix(600, 0)})
	if err != nil || len(recs) != 1 || len(skipped) != 5 {
		t.Fatalf("recs=%d skipped=%v err=%v", len(recs), skipped, err)
	}
	for _, bad := range []string{"<html>502 Bad Gateway</html>", "", `{"status":"error","msg":"Bad from"}`, `{"data":[`} {
		if _, _, err := parseHistorical([]byte(bad), "www", "all", collectors.Window{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// recorder is an Emitter that keeps every record.
type recorder struct {
	mu   sync.Mutex
	recs []schema.Record
}

func (r *recorder) Emit(_ context.Context, b collectors.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, b.Records...)
	return nil
}

type events struct{ got []collectors.Event }

func (e *events) PostEvent(_ context.Context, ev collectors.Event) error {
	e.got = append(e.got, ev)
	return nil
}

// newSim starts the stand-in with a fixed clock and returns a collector
// configured by simConfig.
func newSim(t *testing.T, now time.Time, logs *bytes.Buffer, ev collectors.EventPoster) (*Collector, *traffic.Model, *httptest.Server) {
	t.Helper()
	m := traffic.Default(1)
	mux := http.NewServeMux()
	simulate(mux, collectors.SimEnv{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }})
	srv := httptest.NewServer(http.StripPrefix("/fastly", mux))
	t.Cleanup(srv.Close)
	text, _ := simConfig(srv.URL+"/fastly", t.TempDir())
	o := defaults()
	if _, err := decodeTOML(text, o); err != nil {
		t.Fatal(err)
	}
	env := collectors.Env{
		Getenv: func(k string) string { return map[string]string{collectors.SimSecretEnv: collectors.SimSecret}[k] },
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Events: ev,
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	return c, m, srv
}

func TestSimulatorCollectEqualsExpect(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	var logs bytes.Buffer
	c, m, _ := newSim(t, now, &logs, nil)
	w := collectors.Window{Start: now.Add(-20 * time.Minute).Truncate(time.Minute), End: now.Add(-5 * time.Minute).Truncate(time.Minute)}
	var rec recorder
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatal(err)
	}
	want := expect(m, w)
	// 3 services × 15 minutes × (all + 4 regions) = 225 records.
	if len(rec.recs) != len(want) || len(want) != 225 {
		t.Fatalf("got %d records, expect %d (want 225)", len(rec.recs), len(want))
	}
	key := func(r schema.Record) string { return fmt.Sprintf("%s/%s/%d", r.Service, r.Location, r.Start) }
	got := map[string]schema.Record{}
	for _, r := range rec.recs {
		got[key(r)] = r
	}
	for _, w := range want {
		g, ok := got[key(w)]
		if !ok || g.Counts != w.Counts {
			t.Fatalf("%s: got %+v, want %+v", key(w), g.Counts, w.Counts)
		}
	}
}

func TestStreamAgainstSimulatorAddsUpToTheModel(t *testing.T) {
	// The stand-in serves real time around the wall clock; the aggregated
	// buckets must equal the model's sums for those seconds.
	var logs bytes.Buffer
	m := traffic.Default(1)
	mux := http.NewServeMux()
	simulate(mux, collectors.SimEnv{Model: m, Now: time.Now, Secret: func(string) string { return collectors.SimSecret }})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	o := defaults()
	o.APIURL, o.RTURL, o.TokenEnv, o.Resolution = srv.URL, srv.URL, "T", duration(2*time.Second)
	o.Service = []Service{{ID: m.Services[1].ID, Name: "api"}}
	c, err := New(o, collectors.Env{Getenv: func(string) string { return collectors.SimSecret }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rec recorder
	done := make(chan struct{})
	go func() { c.Stream(ctx, &rec); close(done) }()
	// Wait (bounded) until three buckets were emitted, then stop.
	for ctx.Err() == nil {
		rec.mu.Lock()
		n := 0
		for _, r := range rec.recs {
			if r.Location == "all" {
				n++
			}
		}
		rec.mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	checked := 0
	for _, r := range rec.recs {
		if r.Location != "all" {
			continue
		}
		// The first bucket may have started mid-way (ts=0 starts at the
		// newest second); check the complete ones.
		first := r.Start == rec.recs[0].Start
		if first {
			continue
		}
		s := m.SumAll(1, r.Start, r.Start+2)
		if v, _ := r.Get(schema.Requests); v != float64(s.Requests) {
			t.Errorf("bucket %d requests %v, model %d", r.Start, v, s.Requests)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no complete bucket checked; logs:\n%s", logs.String())
	}
}

func TestDiscoveryPagingVersionEventsAndNoTokenInLogs(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	var logs bytes.Buffer
	ev := &events{}
	c, m, _ := newSim(t, now, &logs, ev)
	c.o.Service = nil // discover
	svcs, err := c.resolve(context.Background())
	if err != nil || len(svcs) != len(m.Services) { // 3 services over 2 pages of 2
		t.Fatalf("discovered %d (%v), want %d", len(svcs), err, len(m.Services))
	}
	// An hour later the simulator's active version moved: one event per service.
	c.listedAt = time.Time{}
	c.mu.Lock()
	for id := range c.versions {
		c.versions[id]--
	}
	c.mu.Unlock()
	if _, err := c.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ev.got) != 3 || ev.got[0].What != "cdn-config" || !strings.Contains(ev.got[0].Data, "→") {
		t.Fatalf("events = %+v", ev.got)
	}
	// A wrong token: a clear error, and the token appears nowhere.
	c.token = "wrong-token-123456"
	c.listedAt = time.Time{}
	// With a list from before, a failing refresh keeps it (and says so).
	if kept, err := c.resolve(context.Background()); err != nil || len(kept) != 3 || !strings.Contains(logs.String(), "keeping the last list") {
		t.Fatalf("refresh failure: %d services, err %v", len(kept), err)
	}
	c.listedAt, c.services = time.Time{}, nil
	_, err = c.resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error()+logs.String(), "wrong-token-123456") || strings.Contains(logs.String(), collectors.SimSecret) {
		t.Fatal("token leaked into an error or log")
	}
}
