package bunny

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/bunny/bunnysim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

type recorder = collectorstest.Recorder

// newTest builds a collector against url with key in BUNNY_API_KEY and our
// clock at now.
func newTest(t *testing.T, url, key string, now time.Time, zones ...PullZone) (*Collector, *collectorstest.SyncBuffer) {
	t.Helper()
	logs := &collectorstest.SyncBuffer{}
	o := defaultOptions()
	o.APIURL = url
	o.PullZones = zones
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string {
			if k == "BUNNY_API_KEY" {
				return key
			}
			return ""
		},
		Clock: collectors.Clock{Now: func() time.Time { return now }},
	}
	if ps := o.Validate(env); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	c, err := build(o, env, httpx.WithRetries(1), httpx.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

// The request carries the key in AccessKey, the pull zone, the window as
// dateFrom and an inclusive dateTo, hourly=true and the load flags; the
// recorded-shape answer becomes the two hand-computed hours.
func TestCollectSampleAnswer(t *testing.T) {
	body := collectorstest.ReadTestdata(t, "statistics-hourly-response.constructed.json")
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		if r.Header.Get("AccessKey") != "k3y-value" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	start := time.Unix(t10, 0)
	c, logs := newTest(t, srv.URL, "k3y-value", start.Add(5*time.Hour), PullZone{ID: 65109, Name: "img"})
	rec := &recorder{}
	if err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(2 * time.Hour)}, rec); err != nil {
		t.Fatal(err)
	}
	if len(queries) != 1 {
		t.Fatalf("queries = %v", queries)
	}
	for _, want := range []string{"/statistics?", "pullZone=65109", "dateFrom=2025-01-15T10%3A00%3A00Z", "dateTo=2025-01-15T11%3A59%3A59Z",
		"hourly=true", "loadErrors=true", "loadOriginTraffic=true", "loadRequestsServed=true", "loadBandwidthUsed=true"} {
		if !strings.Contains(queries[0], want) {
			t.Errorf("query %s lacks %s", queries[0], want)
		}
	}
	if got := collectorstest.Flatten(rec.Records()); len(got) != 2 || !strings.HasPrefix(got[1], "bunny img all 1736938800/3600 requests=23600 ") {
		t.Errorf("records = %v", got)
	}
	if strings.Contains(logs.String(), "k3y-value") {
		t.Error("key in the logs")
	}
}

// A server echoing the key into an error body, and a discovery answer
// doing the same, never put it in errors or logs.
func TestKeyNeverInOutput(t *testing.T) {
	const key = "s3cr3t-bunny-key-0123456789"
	status := http.StatusForbidden
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("AccessKey"))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"Message":"key ` + r.Header.Get("AccessKey") + ` has no access to ` + r.URL.Path + `"}`))
	}))
	defer srv.Close()
	now := time.Unix(t10+5*3600, 0)
	// 403 is final; 503 is retried (and logged) before giving up.
	for i, zones := range [][]PullZone{{{ID: 1, Name: "img"}}, nil, {{ID: 1, Name: "img"}}} {
		if i == 2 {
			status = http.StatusServiceUnavailable
		}
		c, logs := newTest(t, srv.URL, key, now, zones...)
		err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(t10, 0), End: time.Unix(t10+3600, 0)}, &recorder{})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(status)) {
			t.Fatalf("err = %v", err)
		}
		if zones != nil && !strings.Contains(err.Error(), "pull zone img (1)") {
			t.Errorf("error does not name the pull zone: %v", err)
		}
		if strings.Contains(err.Error(), key) || strings.Contains(logs.String(), key) {
			t.Fatalf("key leaked: %v\n%s", err, logs)
		}
	}
}

// A window whose hours have not ended is no data yet; the answer's daily
// buckets are refused; impossible values are counted.
func TestCollectNoDataDailyAndRejected(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	start := time.Unix(t10, 0)
	c, _ := newTest(t, srv.URL, "test-key-0451", start.Add(50*time.Minute), PullZone{ID: 1, Name: "img"})
	body = collectorstest.ReadTestdata(t, "statistics-hourly-response.constructed.json")
	if err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(time.Hour)}, &recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Errorf("current hour: err = %v, want ErrNoData", err)
	}
	// 10:20–10:50 holds no start of an hour: nothing to ask Bunny, and not
	// "no data yet" either.
	c, logs := newTest(t, srv.URL, "test-key-0451", start.Add(5*time.Hour), PullZone{ID: 1, Name: "img"})
	if err := c.Collect(context.Background(), collectors.Window{Start: start.Add(20 * time.Minute), End: start.Add(50 * time.Minute)}, &recorder{}); err != nil ||
		!strings.Contains(logs.String(), "window holds no start of a Bunny hour") {
		t.Errorf("window inside an hour: err = %v\n%s", err, logs)
	}
	c, _ = newTest(t, srv.URL, "test-key-0451", time.Unix(1556668800+5*86400, 0), PullZone{ID: 1, Name: "img"})
	body = collectorstest.ReadTestdata(t, "statistics-3day-response.json")
	err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1556668800, 0), End: time.Unix(1556668800+3*86400, 0)}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "daily buckets") {
		t.Errorf("daily answer: err = %v", err)
	}
	rejected := map[string]int{}
	c, logs = newTest(t, srv.URL, "test-key-0451", start.Add(5*time.Hour), PullZone{ID: 1, Name: "img"})
	c.env.Clock.Reject = func(reason string, n int) { rejected[reason] += n }
	// 11:00 has a negative count, "noon" is not a time (both values left
	// out); 22:00 is far ahead of our clock (15:00).
	body = []byte(`{"RequestsServedChart": {"2025-01-15T10:00:00Z": 5, "2025-01-15T11:00:00Z": -3, "noon": 4, "2025-01-15T22:00:00Z": 1}}`)
	rec := &recorder{}
	if err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(2 * time.Hour)}, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{"bunny img all 1736935200/3600 requests=5"})
	if rejected[collectors.RejectedValues] != 2 || rejected[collectors.RejectedFuture] != 1 {
		t.Errorf("rejected = %v\n%s", rejected, logs)
	}
}

// simSetup builds the collector from the simulator's config section (which
// discovers the pull zones) against the stand-in.
func simSetup(t *testing.T, m *traffic.Model, now time.Time, secret string) (*Collector, *collectorstest.SyncBuffer) {
	t.Helper()
	logs := &collectorstest.SyncBuffer{}
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: collectorstest.SimEnv(secret),
		Clock:  collectors.Clock{Now: func() time.Time { return now }},
	}
	opts, factory := collectorstest.SimOptions(t, provider, simulate.Env{Model: m, Now: func() time.Time { return now },
		Secret: func(string) string { return collectors.SimSecret }}, env)
	c, err := factory.New(opts, env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Collector), logs
}

// Collect over the stand-in equals Expect, which is computed from the
// traffic model and Bunny's chart meanings; the stand-in's partial current
// hour is not written.
func TestSimulateCollectEqualsExpect(t *testing.T) {
	m := traffic.Default(5)
	base := int64(1767225600) // 2026-01-01T00:00:00Z
	m.Incidents = []traffic.Incident{{Service: "api", Start: base + 3600, End: base + 5400, HitRatioDelta: -0.4, ErrorRate: 0.1}}
	now := time.Unix(base+3*3600+20*60, 0) // 03:20: 03:00 is partial
	c, logs := simSetup(t, m, now, collectors.SimSecret)
	w := collectors.Window{Start: time.Unix(base, 0), End: time.Unix(base+4*3600, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := bunnysim.Expect(m, collectors.Window{Start: w.Start, End: time.Unix(base+3*3600, 0)})
	if len(want) != 3*3 {
		t.Fatalf("Expect gave %d records, want 9", len(want))
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
	if !strings.Contains(logs.String(), "current hour is partial") {
		t.Errorf("the partial hour is not logged:\n%s", logs)
	}
	// Once 03:00 has ended, a later run writes it whole.
	c, _ = simSetup(t, m, now.Add(time.Hour), collectors.SimSecret)
	rec = &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(bunnysim.Expect(m, w)))
}

func TestSimulateWrongKey(t *testing.T) {
	const wrong = "not-the-simulator-key-4d3c"
	now := time.Unix(1767225600+5*3600, 0)
	c, logs := simSetup(t, traffic.Default(1), now, wrong)
	err := c.Collect(context.Background(), collectors.Window{Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
		t.Errorf("key leaked: %v / %s", err, logs)
	}
}

// --service on configured zones, and discovery naming zones from the API.
func TestSelectAndDiscover(t *testing.T) {
	c, _ := newTest(t, "http://127.0.0.1:1", "test-key-0451", time.Now(), PullZone{ID: 65109, Name: "img"})
	if err := c.SelectServices([]string{"65109"}); err != nil {
		t.Error(err)
	}
	if err := c.SelectServices([]string{"www"}); err == nil {
		t.Error("a zone not configured was selected")
	}
	now := time.Unix(1767225600+5*3600, 0)
	c, _ = simSetup(t, traffic.Default(1), now, collectors.SimSecret)
	zs, err := c.zoneList(context.Background())
	if err != nil || len(zs) != 3 || zs[0] != (PullZone{ID: bunnysim.PullZoneID(0), Name: "www"}) {
		t.Fatalf("zones = %v, %v", zs, err)
	}
}

func TestValidate(t *testing.T) {
	env := collectors.Env{Getenv: func(k string) string { return map[string]string{"SET": "x"}[k] }}
	o := defaultOptions()
	o.TokenEnv = "UNSET"
	o.APIURL = "https://user:pw@api.bunny.net"
	o.Lookback = collectors.Duration(30 * time.Minute)
	o.PullZones = []PullZone{{ID: 0}, {ID: 7, Name: "img"}, {ID: 7, Name: "IMG"}}
	var keys []string
	for _, p := range o.Validate(env) {
		keys = append(keys, p.Key)
	}
	got := strings.Join(keys, " ")
	for _, want := range []string{"bunny.lookback", "bunny.api_url", "bunny.token_env", "bunny.pullzone[0].id", "bunny.pullzone[2].id", "bunny.pullzone[2].name"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %s", got, want)
		}
	}
	o = defaultOptions()
	o.TokenEnv = "SET"
	if ps := o.Validate(env); len(ps) != 0 {
		t.Errorf("defaults: %v", ps)
	}
	tm := timing(o)
	if tm.Step != time.Hour || tm.Overlap != 3*time.Hour || tm.Delay != 10*time.Minute || tm.Retention != 30*24*time.Hour {
		t.Errorf("timing = %+v", tm)
	}
}

// A one-day window (a backfill chunk) answered with daily buckets has a
// single key, at midnight: taken for the 00:00 hour it would stamp a whole
// day's traffic on one hour. An hourly answer has every hour of the window
// (Bunny's charts are zero-filled), so midnight keys alone, in a window
// holding other hour starts, are daily buckets too.
func TestCollectSingleDailyBucketRefused(t *testing.T) {
	day := int64(1736899200) // 2025-01-15T00:00:00Z
	body := []byte(`{"RequestsServedChart": {"2025-01-15T00:00:00Z": 2400}, "BandwidthUsedChart": {"2025-01-15T00:00:00Z": 240000}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, "test-key-0451", time.Unix(day+3*86400, 0), PullZone{ID: 1, Name: "img"})
	rec := &recorder{}
	err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(day, 0), End: time.Unix(day+86400, 0)}, rec)
	if err == nil || !strings.Contains(err.Error(), "daily buckets") {
		t.Errorf("err = %v, want daily buckets refused", err)
	}
	if n := len(rec.Records()); n != 0 {
		t.Errorf("%d records written from a daily answer: %v", n, collectorstest.Flatten(rec.Records()))
	}
}
