package gcore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcore/gcoresim"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const testToken = "gc-test-token-7f3a9b20c4e1"

type recorder = collectorstest.Recorder

// counts records what the collector counts in its self-metrics.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(reason string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[reason] += n
}

func (c *counts) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

// newTest builds a collector against url with a fast retry policy, a log
// buffer and counted rejections.
func newTest(t *testing.T, url string, o *Options) (*Collector, *bytes.Buffer, *counts) {
	t.Helper()
	var logs bytes.Buffer
	cnt := &counts{}
	if o == nil {
		o = defaultOptions()
	}
	o.APIURL = url
	o.TokenEnv = "GC_TOKEN"
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string {
			if k == "GC_TOKEN" {
				return testToken
			}
			return ""
		},
		Clock: collectors.Clock{Reject: cnt.add},
	}
	c, err := build(o, env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	return c, &logs, cnt
}

// The request is Gcore's documented one, the token goes in the
// Authorization header as "APIKey <token>", and the documented answer
// becomes one record per region.
func TestCollectRequestAndDocAnswer(t *testing.T) {
	body := collectorstest.ReadTestdata(t, "statistics-series.doc-example.excerpt.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != seriesPath {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "APIKey "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		q := r.URL.Query()
		want := map[string][]string{
			"service": {"CDN"}, "from": {"2018-12-01T00:00:00Z"}, "to": {"2018-12-02T00:00:00Z"}, "granularity": {"1d"},
			"metrics":  {"requests,responses_hit,responses_miss,responses_2xx,responses_3xx,responses_4xx,responses_5xx,total_bytes,upstream_bytes,sent_bytes"},
			"group_by": {"resource", "region"}, "resource": {"1"},
		}
		if fmt.Sprint(map[string][]string(q)) != fmt.Sprint(want) {
			t.Errorf("query = %v\nwant    %v", q, want)
		}
		w.Write(body)
	}))
	defer srv.Close()
	o := defaultOptions()
	o.Granularity = "1d"
	o.Resources = []Resource{{ID: 1, Name: "img"}}
	c, _, _ := newTest(t, srv.URL, o)
	rec := &recorder{}
	day := time.Date(2018, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := c.Collect(context.Background(), collectors.Window{Start: day, End: day.Add(24 * time.Hour)}, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{
		"gcore img asia 1543622400/86400 edge_bytes=1.7329220573e+10 origin_bytes=5.5397416e+07",
		"gcore img cis 1543622400/86400 edge_bytes=2.34582406061e+11 origin_bytes=9.5576787e+07",
	})
}

// One resource failing (here with a 401 whose body echoes the request's
// Authorization header) is reported with its name and id, never with the
// token; the other resource's data is emitted.
func TestCollectOneResourceFailsKeepsOthers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("resource") == "66" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"message":"Invalid authentication credentials","header":%q}`, r.Header.Get("Authorization"))
			return
		}
		fmt.Fprint(w, `{"resource":{"77":{"region":{"eu":{"metrics":{"requests":[[1736935200,10]]}}}}}}`)
	}))
	defer srv.Close()
	o := defaultOptions()
	o.Resources = []Resource{{ID: 66, Name: "shop"}, {ID: 77, Name: "www"}}
	c, logs, _ := newTest(t, srv.URL, o)
	rec := &recorder{}
	start := time.Unix(1736935200, 0)
	err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(5 * time.Minute)}, rec)
	if err == nil {
		t.Fatal("no error for the failing resource")
	}
	for _, s := range []string{"gcore: resource shop (66)", "GET /cdn/statistics/series", "HTTP 401"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(logs.String(), testToken) {
		t.Fatalf("the token leaked: %v\n%s", err, logs.String())
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{"gcore www eu 1736935200/300 requests=10"})
}

// Impossible values are counted in rejected_values and logged once;
// buckets stamped far ahead of our clock in rejected_future.
func TestCollectCountsRejections(t *testing.T) {
	future := time.Now().Add(48 * time.Hour).Unix()
	future -= future % 300
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"resource":{"5":{"region":{"eu":{"metrics":{"requests":[[1736935200,-1],[1736935500,7],[%d,9]],"responses_2xx":[[1736935500,"x"]]}}}}}}`, future)
	}))
	defer srv.Close()
	o := defaultOptions()
	o.Resources = []Resource{{ID: 5}}
	c, logs, cnt := newTest(t, srv.URL, o)
	rec := &recorder{}
	start := time.Unix(1736935200, 0)
	if err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(10 * time.Minute)}, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{"gcore 5 eu 1736935500/300 requests=7"})
	if got := cnt.get(collectors.RejectedValues); got != 2 {
		t.Errorf("rejected_values = %d, want 2 (−1 and \"x\")", got)
	}
	if got := cnt.get(collectors.RejectedFuture); got != 1 {
		t.Errorf("rejected_future = %d, want 1", got)
	}
	for _, s := range []string{"impossible values from vendor rejected", "malformed items from vendor rejected", "ahead of our clock"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs.String())
		}
	}
}

// An answer without any pair for the window is "no data yet".
func TestCollectEmptyIsNoData(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"resource":{}}`)
	}))
	defer srv.Close()
	o := defaultOptions()
	o.Resources = []Resource{{ID: 5, Name: "a"}}
	c, _, _ := newTest(t, srv.URL, o)
	start := time.Unix(1736935200, 0)
	err := c.Collect(context.Background(), collectors.Window{Start: start, End: start.Add(5 * time.Minute)}, &recorder{})
	if !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

// Without configured resources the account's are listed once (the
// documented list: 220 is collected under its cname, deleted 222 is
// not), reused within discoveryTTL, and a failed refresh keeps the last
// list.
func TestDiscovery(t *testing.T) {
	list := collectorstest.ReadTestdata(t, "cdn-resources-list.doc-example.json")
	var lists, series atomic.Int32
	var failList atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "APIKey "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		switch r.URL.Path {
		case resourcesPath:
			lists.Add(1)
			if failList.Load() {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Write(list)
		case seriesPath:
			series.Add(1)
			if id := r.URL.Query().Get("resource"); id != "220" {
				t.Errorf("series for resource %q", id)
			}
			fmt.Fprint(w, `{"resource":{"220":{"region":{"na":{"metrics":{"requests":[[1736935200,3]]}}}}}}`)
		default:
			t.Errorf("unexpected %s", r.URL.Path)
		}
	}))
	defer srv.Close()
	c, logs, _ := newTest(t, srv.URL, nil)
	now := time.Unix(1736935200+3600, 0)
	c.now = func() time.Time { return now }
	start := time.Unix(1736935200, 0)
	w := collectors.Window{Start: start, End: start.Add(5 * time.Minute)}
	for i := 0; i < 2; i++ {
		rec := &recorder{}
		if err := c.Collect(context.Background(), w, rec); err != nil {
			t.Fatal(err)
		}
		collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{"gcore cdn.site.com na 1736935200/300 requests=3"})
	}
	if lists.Load() != 1 || series.Load() != 2 {
		t.Errorf("lists %d series %d, want 1 and 2", lists.Load(), series.Load())
	}
	failList.Store(true)
	now = now.Add(discoveryTTL + time.Second)
	if err := c.Collect(context.Background(), w, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "resource discovery failed, reusing the last list") {
		t.Errorf("log lacks the reuse warning:\n%s", logs.String())
	}
	// --service picks discovered resources by cname or id.
	if err := c.SelectServices([]string{"nothing"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), w, &recorder{}); err != nil {
		t.Fatalf("nothing selected: %v", err)
	}
}

func TestDiscoveryFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"Forbidden for token `+r.Header.Get("Authorization")+`"}`)
	}))
	defer srv.Close()
	c, _, _ := newTest(t, srv.URL, nil)
	err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1736935200, 0), End: time.Unix(1736935500, 0)}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "GET /cdn/resources") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("the token leaked: %v", err)
	}
}

// simSetup starts the stand-in under /gcore as the simulator mounts it
// and builds the collector from gcoresim.Config's section.
func simSetup(t testing.TB, m *traffic.Model, now time.Time) (*Collector, *Options) {
	t.Helper()
	env := collectors.Env{Getenv: collectorstest.SimEnv(collectors.SimSecret)}
	opts, _ := collectorstest.SimOptions(t, provider, simulate.Env{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }}, env)
	c, err := build(opts.(*Options), env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	return c, opts.(*Options)
}

func TestSimulateCollectEqualsExpect(t *testing.T) {
	m := traffic.Default(7)
	m.Incidents = []traffic.Incident{{Service: "api", Start: 1767225600 + 600, End: 1767225600 + 900, HitRatioDelta: -0.9}}
	now := time.Unix(1767225600+3600, 0) // 2026-01-01T01:00:00Z
	c, _ := simSetup(t, m, now)
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+30*60, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := gcoresim.Expect(m, w)
	// 3 resources × 6 buckets × 4 regions (eu, na, asia, au), all with traffic.
	if len(want) != 3*6*4 {
		t.Errorf("Expect gave %d records, want 72", len(want))
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
	if len(rec.Batches()) != 3 {
		t.Errorf("batches = %d, want one per resource", len(rec.Batches()))
	}
}

// Discovered from the stand-in's list, the resources are named by their
// cnames and hold the same counts.
func TestSimulateDiscovery(t *testing.T) {
	m := traffic.Default(2)
	now := time.Unix(1767225600+3600, 0)
	c, _ := simSetup(t, m, now)
	c.resources = nil
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+10*60, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := gcoresim.Expect(m, w)
	for i := range want {
		want[i].Service = gcoresim.CNAME(want[i].Service)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
}

// Buckets the stand-in has not published yet are absent, not zero: a
// window ending at the stand-in's clock is no data.
func TestSimulateNotYetPublished(t *testing.T) {
	now := time.Unix(1767225600+3600, 0)
	c, _ := simSetup(t, traffic.Default(1), now)
	w := collectors.Window{Start: now.Add(-5 * time.Minute), End: now}
	err := c.Collect(context.Background(), w, &recorder{})
	if !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}
