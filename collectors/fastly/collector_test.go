package fastly

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const testToken = "fastly-test-token-7f3a9c"

// fake is a Fastly API stand-in for client tests: it checks the token and
// records every request path.
type fake struct {
	mux  *http.ServeMux
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newFake(t *testing.T) *fake {
	f := &fake{mux: http.NewServeMux()}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.URL.RequestURI())
		f.mu.Unlock()
		if r.Header.Get("Fastly-Key") != testToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"msg":"Provided credentials are missing or invalid","echo":%q}`, r.Header.Get("Fastly-Key"))
			return
		}
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// collector builds a collector against the fake with the given token.
func (f *fake) collector(t *testing.T, token string, logs *syncBuffer, ev collectors.EventPoster, svcs ...Service) *Collector {
	t.Helper()
	o := defaults()
	o.APIURL, o.RTURL, o.TokenEnv = f.srv.URL, f.srv.URL, "FASTLY_TEST_TOKEN"
	o.Regions = []string{"usa", "europe"}
	o.Service = svcs
	env := testEnv(logs, ev)
	env.Getenv = func(k string) string {
		if k == "FASTLY_TEST_TOKEN" {
			return token
		}
		return ""
	}
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// statsBody is a historical answer with one row per start.
func statsBody(starts ...int64) string {
	var rows []string
	for _, s := range starts {
		rows = append(rows, fmt.Sprintf(`{"start_time":%d,"requests":10,"hits":8,"miss":1,"pass":1,"errors":0,"edge_resp_header_bytes":100,"edge_resp_body_bytes":900,
			"origin_fetches":2,"origin_fetch_resp_header_bytes":20,"origin_fetch_resp_body_bytes":180,"status_2xx":9,"status_3xx":0,"status_4xx":1,"status_5xx":0,"hit_ratio":0.888,"service_id":"x"}`, s))
	}
	return `{"data":[` + strings.Join(rows, ",") + `],"meta":{"by":"minute"},"status":"success","msg":null}`
}

// Paging follows the Link header (the sample's shape: rel="last" before
// rel="next"), sends the token on every page, skips deleted services.
func TestDiscoveryFollowsLinkPaging(t *testing.T) {
	f := newFake(t)
	page1 := collectorstest.ReadTestdata(t, "service-list-page1.json")
	// The verbatim Link header of the sample, pointed at the fake.
	var link string
	for _, l := range strings.Split(string(collectorstest.ReadTestdata(t, "service-list-page1.headers.txt")), "\n") {
		if v, ok := strings.CutPrefix(l, "Link: "); ok {
			link = strings.TrimSpace(v)
		}
	}
	if !strings.Contains(link, `rel="next"`) {
		t.Fatalf("no Link in the sample headers: %q", link)
	}
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			w.Header().Set("Link", strings.ReplaceAll(link, "https://api.fastly.com", f.srv.URL))
			w.Write(page1)
		case "2":
			w.Header().Set("Link", `</service?page=3&per_page=100>; rel="next last"`) // relative reference
			fmt.Fprint(w, `[{"id":"S2","name":"api","version":7,"deleted_at":null},{"id":"S2b","name":"old","version":1,"deleted_at":"2023-01-01T00:00:00Z"}]`)
		case "3":
			w.Header().Set("Link", fmt.Sprintf(`<%s/service?page=1&per_page=100>; rel="first"`, f.srv.URL))
			fmt.Fprint(w, `[{"id":"S3","name":"","version":2}]`)
		}
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil)
	svcs, err := c.resolve(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range svcs {
		got = append(got, fmt.Sprintf("%s=%s@%d", s.id, s.name, s.version))
	}
	// Page 1: the sample's two services; page 2: api (old is deleted); page 3: no name → id.
	if strings.Join(got, " ") != "mjvYB61u7BiqD3Nzkl69P3=testing-paginator@1 xp9zn9GbDIOY33VquzNtG0=test-req-setting-unset-behaviour@1 S2=api@7 S3=S3@2" {
		t.Fatalf("services %v", got)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 pages", n)
	}
}

func TestLinkNext(t *testing.T) {
	h := `<https://api.fastly.com/service?direction=descend&page=3&per_page=100&sort=created>; rel="last", <https://api.fastly.com/service?direction=descend&page=2&per_page=100&sort=created>; rel="next"`
	if got := linkNext([]string{h}); got != "https://api.fastly.com/service?direction=descend&page=2&per_page=100&sort=created" {
		t.Fatalf("got %q", got)
	}
	for _, h := range []string{``, `<x>; rel="last"`, `<x>; rel=nextpage`, `garbage <`, `<x; rel="next"`} {
		if got := linkNext([]string{h}); got != "" {
			t.Errorf("%q: got %q", h, got)
		}
	}
	if got := linkNext([]string{`<a>; title="x, y"; REL=next`}); got != "a" {
		t.Errorf("got %q", got)
	}
}

// A next link to another host would hand it the token: refused.
func TestDiscoveryRefusesForeignNextLink(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<https://evil.example/service?page=2>; rel="next"`)
		fmt.Fprint(w, `[{"id":"S1","name":"www","version":1}]`)
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil)
	_, err := c.resolve(context.Background(), true)
	if err == nil || !strings.Contains(err.Error(), "not following it with the token") {
		t.Fatalf("err = %v", err)
	}
}

// When the active version of a service changes, a cdn-config event names
// the service (configured name first) and both versions.
func TestVersionChangePostsEvent(t *testing.T) {
	f := newFake(t)
	var version atomic.Int64
	version.Store(41)
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"id":"S1","name":"api-name","version":%d},{"id":"S2","name":"other","version":3}]`, version.Load())
	})
	var logs syncBuffer
	ev := &events{}
	c := f.collector(t, testToken, &logs, ev, Service{ID: "S1", Name: "www"}, Service{ID: "S2"})
	if _, err := c.resolve(context.Background(), true); err != nil || len(ev.got) != 0 {
		t.Fatalf("first listing: err %v, events %v", err, ev.got)
	}
	version.Store(42)
	svcs, err := c.resolve(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if svcs[1].name != "other" {
		t.Errorf("unnamed configured service named %q, want the API name", svcs[1].name)
	}
	if len(ev.got) != 1 {
		t.Fatalf("events %+v", ev.got)
	}
	e := ev.got[0]
	if e.What != "cdn-config" || strings.Join(e.Tags, ",") != "cdn-config,fastly,www" || e.Data != "fastly www: version 41 → 42" {
		t.Fatalf("event %+v", e)
	}
	// Cached within the refresh period: no new listing.
	n := len(f.requests())
	c.resolve(context.Background(), false)
	if len(f.requests()) != n {
		t.Fatal("listing not cached")
	}
}

// Collect asks for the total and every region of every service, maps the
// rows, and a failing service costs only itself; the error names it.
func TestCollectPerRegionAndServiceFailure(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("by") != "minute" || q.Get("from") != "1700000040" || q.Get("to") != "1700000160" {
			t.Errorf("query %v", q)
		}
		switch r.PathValue("id") {
		case "GOOD":
			fmt.Fprint(w, statsBody(1700000040, 1700000100, 1700000160)) // the last one is outside [from, to)
		case "BAD":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"msg":"Record not found","detail":"Cannot find service 'BAD'"}`)
		}
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "GOOD", Name: "www"}, Service{ID: "BAD", Name: "gone"})
	var rec recorder
	w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0)}
	err := c.Collect(context.Background(), w, &rec)
	if err == nil || !strings.Contains(err.Error(), "service gone (BAD)") || !strings.Contains(err.Error(), "HTTP 404") || strings.Contains(err.Error(), "www") {
		t.Fatalf("err = %v", err)
	}
	// 2 minutes × (all + usa + europe).
	if len(rec.Records()) != 6 {
		t.Fatalf("%d records, want 6: %s", len(rec.Records()), locations(rec.Records()))
	}
	r := find(t, rec.Records(), "europe", 1700000100)
	want(t, r, map[schema.Field]float64{schema.Requests: 10, schema.Hits: 8, schema.Misses: 1, schema.Passes: 1, schema.EdgeBytes: 100 + 900,
		schema.OriginRequests: 2, schema.OriginBytes: 20 + 180, schema.Status2xx: 9, schema.Status4xx: 1, schema.Status5xx: 0, schema.Errors: 0})
	if r.Service != "www" || r.Step != 60 {
		t.Errorf("%+v", r)
	}
	regions := map[string]bool{}
	for _, u := range f.requests() {
		if strings.HasPrefix(u, "/stats/service/GOOD") {
			regions[reqRegion(u)] = true
		}
	}
	if len(regions) != 3 || !regions[""] || !regions["usa"] || !regions["europe"] {
		t.Fatalf("regions asked: %v", regions)
	}
}

func reqRegion(uri string) string {
	_, q, _ := strings.Cut(uri, "?")
	for _, kv := range strings.Split(q, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == "region" {
			return v
		}
	}
	return ""
}

// Everything a vendor can answer wrongly: each a clear error naming the
// endpoint and region, the other regions kept.
func TestCollectBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   string
	}{
		{"error in 200", 200, nil, `{"status":"error","msg":"Invalid region"}`, `status "error": msg "Invalid region"`},
		{"html", 502, nil, `<html><body><h1>502 Bad Gateway</h1></body></html>`, "HTTP 502"},
		{"garbage", 200, nil, `#!?`, "decode: json at offset 0"},
		{"empty", 200, nil, ``, "decode"},
		{"wrong envelope type", 200, nil, `{"data":"none","status":"success"}`, "data is not an array"},
		{"forbidden", 403, nil, `{"msg":"Forbidden"}`, "HTTP 403"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
				if reqRegion(r.URL.RequestURI()) == "usa" {
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body)
					return
				}
				fmt.Fprint(w, statsBody(1700000040))
			})
			f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
			var logs syncBuffer
			c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
			c.http = newFastRetryClient(c)
			var rec recorder
			err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}, &rec)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `region "usa"`) || !strings.Contains(err.Error(), "service www (S1)") {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if len(rec.Records()) != 2 { // all + europe kept
				t.Fatalf("kept %d records: %s", len(rec.Records()), locations(rec.Records()))
			}
		})
	}
}

// 5xx and 429 (with Retry-After) are retried by httpx; the answer after
// them is used.
func TestCollectRetriesThrottlingAndServerErrors(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int64
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"msg":"Too many requests"}`)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, statsBody(1700000040))
		}
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	c.o.Regions = nil
	c.http = newFastRetryClient(c)
	var rec recorder
	if err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}, &rec); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(rec.Records()) != 1 {
		t.Fatalf("%d calls, %d records", calls.Load(), len(rec.Records()))
	}
}

// Rows whose start cannot be used (not an integer, off the minute) are
// skipped and counted in one log line; rows with absurd values (negative
// counts, hits > requests, wrong types, out of range) are kept, their
// values left for the pipeline's value check to reject one by one.
func TestCollectSkipsAbsurdRows(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","msg":null,"data":[
			{"start_time":1700000040,"requests":10,"hits":5},
			{"start_time":1700000100,"requests":-1},
			{"start_time":1700000160,"requests":2,"hits":9},
			{"start_time":1700000220,"requests":"ten"},
			{"start_time":1700000250,"requests":1},
			{"start_time":"1700000280","requests":1},
			{"start_time":1700000340,"requests":1e400},
			{"start_time":1700000400,"requests":3}]}`)
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	c.o.Regions = nil
	var rec recorder
	if err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000460, 0)}, &rec); err != nil {
		t.Fatal(err)
	}
	var starts []int64
	for _, r := range rec.Records() {
		starts = append(starts, r.Start)
	}
	if fmt.Sprint(starts) != "[1700000040 1700000100 1700000160 1700000220 1700000340 1700000400]" {
		t.Fatalf("kept %+v", rec.Records())
	}
	l := logs.String()
	if !strings.Contains(l, "fastly historical rows skipped") || !strings.Contains(l, "count=2") || !strings.Contains(l, "not on a minute") {
		t.Fatalf("log: %s", l)
	}
}

// An empty answer is "not yet" while the window is within Fastly's
// documented publication lag, and simply nothing afterwards.
func TestCollectNoData(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Write(collectorstest.ReadTestdata(t, "stats-service-minute-empty.json"))
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	end := time.Unix(1700000100, 0)
	w := collectors.Window{Start: end.Add(-time.Minute), End: end}
	var rec recorder
	c.now = func() time.Time { return end.Add(5 * time.Minute) }
	if err := c.Collect(context.Background(), w, &rec); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("recent window: err %v, want ErrNoData", err)
	}
	c.now = func() time.Time { return end.Add(publishLag + time.Minute) }
	if err := c.Collect(context.Background(), w, &rec); err != nil || len(rec.Records()) != 0 {
		t.Fatalf("old window: err %v, %d records", err, len(rec.Records()))
	}
}

// The token never appears in an error or a log line, even when the vendor
// echoes it back in an error body.
func TestTokenNeverLeaks(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	const wrong = "wrong-token-5d1e8b2c"
	var logs syncBuffer
	c := f.collector(t, wrong, &logs, nil, Service{ID: "S1", Name: "www"})
	c.http = newFastRetryClient(c)
	var rec recorder
	err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}, &rec)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("err = %v", err)
	}
	// The real-time path: refused, logged once.
	c.rt = newFastRetryClient(c)
	ctx, cancel := context.WithCancel(context.Background())
	var sleeps atomic.Int64
	c.sleep = func(ctx context.Context, d time.Duration) {
		if sleeps.Add(1) >= 3 {
			cancel()
		}
	}
	c.subscribe(ctx, service{id: "S1", name: "www"}, &rec)
	all := err.Error() + logs.String()
	if strings.Contains(all, wrong) || strings.Contains(all, testToken) {
		t.Fatalf("token leaked:\n%s", all)
	}
	if !strings.Contains(all, "[redacted]") {
		t.Fatalf("the echoed token was not redacted (test not exercising the echo?):\n%s", all)
	}
}

// newFastRetryClient is the collector's client with tiny retry delays, so
// retry tests take milliseconds.
func newFastRetryClient(c *Collector) *httpxClient {
	return newHTTPClientForTest(c.logger)
}

// A configured service without a name takes the API's name; if the list
// cannot be read it is an error (retried), never a series under the id
// that would later move to another path. Named services carry on.
func TestUnnamedServiceNeedsTheList(t *testing.T) {
	f := newFake(t)
	var fail atomic.Bool
	fail.Store(true)
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"msg":"insufficient permissions"}`)
			return
		}
		fmt.Fprint(w, `[{"id":"S2","name":"api","version":3}]`)
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S2"})
	if _, err := c.resolve(context.Background(), true); err == nil || !strings.Contains(err.Error(), "service[0] (S2)") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("err = %v", err)
	}
	fail.Store(false)
	svcs, err := c.resolve(context.Background(), false)
	if err != nil || len(svcs) != 1 || svcs[0].name != "api" {
		t.Fatalf("%+v %v", svcs, err)
	}
	// Once learned, the name survives a failing refresh.
	fail.Store(true)
	svcs, err = c.resolve(context.Background(), true)
	if err != nil || len(svcs) != 1 || svcs[0].name != "api" {
		t.Fatalf("after a failed refresh: %+v %v", svcs, err)
	}
}
