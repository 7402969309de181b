package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudflare/cloudflaresim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const testToken = "cf-test-token-5c2d9e81f0"

// recorder keeps what a collector emits.
type recorder = collectorstest.Recorder

// newTest builds a collector against url with a fast retry policy and a
// log buffer.
func newTest(t *testing.T, url string, zones []Zone, perColo bool) (*Collector, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	o := defaultOptions()
	o.APIURL = url
	o.TokenEnv = "CF_TOKEN"
	o.Zones = zones
	o.PerColo = perColo
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string {
			if k == "CF_TOKEN" {
				return testToken
			}
			return ""
		},
	}
	c, err := build(o, env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	return c, &logs
}

type gqlBody struct {
	Query     string            `json:"query"`
	Variables map[string]string `json:"variables"`
}

func decodeBody(t *testing.T, r *http.Request) gqlBody {
	var b gqlBody
	data, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(data, &b); err != nil {
		t.Errorf("request body: %v", err)
	}
	return b
}

func sampleWindow(t *testing.T) collectors.Window {
	return collectors.Window{Start: collectorstest.MustTime(t, "2019-09-08T20:00:00Z"), End: collectorstest.MustTime(t, "2019-09-08T20:02:00Z")}
}

// One zone's error inside a 200 is reported with the zone's name, id and
// the error's path; the other zone's data is still emitted.
func TestCollectErrorIn200KeepsOtherZones(t *testing.T) {
	okBody := collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json")
	errBody := collectorstest.ReadTestdata(t, "graphql-error-in-200.json")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != graphqlPath || r.Method != http.MethodPost {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		b := decodeBody(t, r)
		if b.Variables["start"] != "2019-09-08T20:00:00Z" || b.Variables["end"] != "2019-09-08T20:02:00Z" {
			t.Errorf("variables = %v", b.Variables)
		}
		if b.Variables["zoneTag"] == "badzone" {
			w.Write(errBody)
			return
		}
		w.Write(okBody)
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, []Zone{{ID: "badzone", Name: "shop"}, {ID: "goodzone", Name: "www"}}, false)
	rec := &recorder{}
	err := c.Collect(context.Background(), sampleWindow(t), rec)
	if err == nil {
		t.Fatal("no error for the failing zone")
	}
	for _, s := range []string{"cloudflare", "zone shop (badzone)", "POST /client/v4/graphql", "viewer.zones.0.firewallEventsAdaptiveGroups", "cannot request data older than 2678400s"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "www") {
		t.Errorf("error %q blames the good zone", err)
	}
	if len(rec.Records()) != 2 || rec.Records()[0].Service != "www" {
		t.Fatalf("emitted %v, want the 2 minutes of www", collectorstest.Flatten(rec.Records()))
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
}

// An error on the per-colo dataset keeps the zone totals of the same answer.
func TestCollectPartialAnswerKeepsOtherNode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]any
		json.Unmarshal(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"), &a)
		z := a["data"].(map[string]any)["viewer"].(map[string]any)["zones"].([]any)[0].(map[string]any)
		z[nodeColo] = nil
		a["errors"] = []any{map[string]any{"message": "quota exceeded", "path": []any{"viewer", "zones", 0, nodeColo}}}
		json.NewEncoder(w).Encode(a)
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, []Zone{{ID: "z1", Name: "www"}}, true)
	rec := &recorder{}
	err := c.Collect(context.Background(), sampleWindow(t), rec)
	if err == nil || !strings.Contains(err.Error(), "viewer.zones.0.httpRequestsAdaptiveGroups: quota exceeded") {
		t.Fatalf("err = %v", err)
	}
	if len(rec.Records()) != 2 {
		t.Fatalf("emitted %d records, want the 2 totals", len(rec.Records()))
	}
}

func TestCollectHTTPFailures(t *testing.T) {
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, n int32)
		want    []string
		okAfter bool
	}{
		{"html 502 page", func(w http.ResponseWriter, _ int32) {
			w.WriteHeader(502)
			io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		}, []string{"cloudflare", "POST /client/v4/graphql", "HTTP 502", "zone www (z1)"}, false},
		{"garbage 200", func(w http.ResponseWriter, _ int32) { io.WriteString(w, "\x00\x01not json") }, []string{"cloudflare", "zone www (z1)", "decode answer"}, false},
		{"empty 200", func(w http.ResponseWriter, _ int32) {}, []string{"zone www (z1)", "decode answer"}, false},
		{"401 with errors", func(w http.ResponseWriter, _ int32) {
			w.WriteHeader(401)
			io.WriteString(w, `{"data":null,"errors":[{"message":"authentication failed"}]}`)
		}, []string{"HTTP 401", "zone www (z1)"}, false},
		{"400 with errors", func(w http.ResponseWriter, _ int32) {
			w.WriteHeader(400)
			io.WriteString(w, `{"data":null,"errors":[{"message":"limit exceeded","path":["viewer"]}]}`)
		}, []string{"error at viewer: limit exceeded"}, false},
		{"429 then ok", func(w http.ResponseWriter, n int32) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
				io.WriteString(w, `{"data":null,"errors":[{"message":"rate limiter budget depleted, try again after 5 minutes"}]}`)
				return
			}
			w.Write(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"))
		}, nil, true},
		{"503 then ok", func(w http.ResponseWriter, n int32) {
			if n == 1 {
				w.WriteHeader(503)
				return
			}
			w.Write(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"))
		}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(w, n.Add(1))
			}))
			defer srv.Close()
			c, logs := newTest(t, srv.URL, []Zone{{ID: "z1", Name: "www"}}, false)
			rec := &recorder{}
			err := c.Collect(context.Background(), sampleWindow(t), rec)
			if tc.okAfter {
				if err != nil || len(rec.Records()) != 2 {
					t.Fatalf("err = %v, records = %d", err, len(rec.Records()))
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tc.want {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
			}
			if err != nil && strings.Contains(err.Error(), testToken) || strings.Contains(logs.String(), testToken) {
				t.Errorf("token leaked: err=%v logs=%s", err, logs)
			}
		})
	}
}

// The token never appears in errors or logs, even when the vendor echoes
// the request (some proxies do).
func TestTokenNeverLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprintf(w, "upstream error for request with headers %v", r.Header)
	}))
	defer srv.Close()
	c, logs := newTest(t, srv.URL, []Zone{{ID: "z1", Name: "www"}}, true)
	err := c.Collect(context.Background(), sampleWindow(t), &recorder{})
	if err == nil {
		t.Fatal("no error")
	}
	// httpx quotes the start of the body, which here holds the token.
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("token in error: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") || !strings.HasPrefix(err.Error(), "cloudflare: zone www (z1): POST /client/v4/graphql: HTTP 500") {
		t.Errorf("error = %v", err)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("token in logs: %s", logs)
	}
}

func TestCollectNoDataYet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":{"viewer":{"zones":[{"httpRequests1mGroups":[],"httpRequestsAdaptiveGroups":[]}]}},"errors":null}`)
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, []Zone{{ID: "z1"}, {ID: "z2"}}, true)
	if err := c.Collect(context.Background(), sampleWindow(t), &recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

func TestDiscoveryPaging(t *testing.T) {
	var gql atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("no bearer token on %s", r.URL)
		}
		switch r.URL.Path {
		case zonesPath:
			q := r.URL.Query()
			if q.Get("account.id") != "acc1" {
				t.Errorf("account.id = %q", q.Get("account.id"))
			}
			page := q.Get("page")
			res := `[{"id":"z1","name":"one.example","status":"active"},{"id":"z2","name":"two.example","status":"active"}]`
			if page == "2" {
				res = `[{"id":"z3","name":"three.example","status":"active"}]`
			}
			fmt.Fprintf(w, `{"success":true,"errors":[],"messages":[],"result":%s,"result_info":{"page":%s,"per_page":2,"total_pages":2,"count":2,"total_count":3}}`, res, page)
		case graphqlPath:
			gql.Add(1)
			b := decodeBody(t, r)
			if b.Variables["zoneTag"] == "z3" {
				w.Write(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"))
				return
			}
			io.WriteString(w, `{"data":{"viewer":{"zones":[{"httpRequests1mGroups":[]}]}},"errors":null}`)
		}
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, nil, false)
	c.account = "acc1"
	rec := &recorder{}
	if err := c.Collect(context.Background(), sampleWindow(t), rec); err != nil {
		t.Fatal(err)
	}
	if gql.Load() != 3 {
		t.Errorf("graphql calls = %d, want one per discovered zone (3)", gql.Load())
	}
	if len(rec.Records()) != 2 || rec.Records()[0].Service != "three.example" {
		t.Errorf("records = %v", collectorstest.Flatten(rec.Records()))
	}
}

func TestDiscoveryFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		io.WriteString(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`)
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, nil, false)
	c.account = "acc1"
	err := c.Collect(context.Background(), sampleWindow(t), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "GET /client/v4/zones") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("err = %v", err)
	}
}

// simSetup starts the stand-in under /cloudflare as the simulator mounts
// it, and builds the collector from cloudflaresim.Config's section.
func simSetup(t testing.TB, m *traffic.Model, now time.Time) *Collector {
	t.Helper()
	env := collectors.Env{Getenv: collectorstest.SimEnv(collectors.SimSecret)}
	opts, _ := collectorstest.SimOptions(t, provider, simulate.Env{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }}, env)
	c, err := build(opts.(*Options), env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSimulateCollectEqualsExpect(t *testing.T) {
	m := traffic.Default(7)
	m.Incidents = []traffic.Incident{{Service: "api", Start: 1767225600 + 120, End: 1767225600 + 240, HitRatioDelta: -0.9}}
	now := time.Unix(1767225600+3600, 0) // 2026-01-01T01:00:00Z
	c := simSetup(t, m, now)
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+10*60, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := cloudflaresim.Expect(m, w)
	// 3 zones × 10 minutes × (1 total + 6 POPs), all with traffic.
	if len(want) != 3*10*7 {
		t.Errorf("Expect gave %d records, want 210", len(want))
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
	if len(rec.Batches()) != 3 {
		t.Errorf("batches = %d, want one per zone", len(rec.Batches()))
	}
}

// With a small row limit the per-colo query fills it, so the collector
// splits the window until each part fits; the result is unchanged.
func TestSimulateColoSplit(t *testing.T) {
	m := traffic.Default(3)
	now := time.Unix(1767225600+3600, 0)
	c := simSetup(t, m, now)
	c.rowLimit = 60 // a minute has about 6 POPs × 3..6 rows < 60; 4 minutes do not fit
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+4*60, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(cloudflaresim.Expect(m, w)))

	// A limit no minute fits in: totals are kept, the error names the zone.
	c.rowLimit = 3
	rec = &recorder{}
	err := c.Collect(context.Background(), w, rec)
	if err == nil || !strings.Contains(err.Error(), "zone www") || !strings.Contains(err.Error(), "row limit") {
		t.Fatalf("err = %v", err)
	}
}

func TestSimulateAuthAndLag(t *testing.T) {
	m := traffic.Default(1)
	now := time.Unix(1767225600+600, 0)
	c := simSetup(t, m, now)
	// Data ends cloudflaresim.Lag (2 min) before now: a window over the last 5 minutes
	// has 3 published minutes.
	w := collectors.Window{Start: now.Add(-5 * time.Minute), End: now}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	pub := collectors.Window{Start: w.Start, End: now.Add(-cloudflaresim.Lag)}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(cloudflaresim.Expect(m, pub)))
	// Nothing published yet.
	if err := c.Collect(context.Background(), collectors.Window{Start: now.Add(-time.Minute), End: now}, &recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}
	// Wrong token: 403, named.
	c.token = "wrong"
	err := c.Collect(context.Background(), w, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("err = %v, want HTTP 403", err)
	}
}

func TestSimulateDiscovery(t *testing.T) {
	m := traffic.Default(1)
	now := time.Unix(1767225600+3600, 0)
	c := simSetup(t, m, now)
	c.zones, c.account = nil, cloudflaresim.AccountID
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+120, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(cloudflaresim.Expect(m, w)))
}

func TestValidate(t *testing.T) {
	env := collectors.Env{Getenv: func(k string) string {
		if k == "SET" {
			return "x"
		}
		return ""
	}}
	cases := []struct {
		name   string
		mutate func(o *Options)
		want   []string // keys
	}{
		{"ok", func(o *Options) {}, nil},
		{"unset env", func(o *Options) { o.TokenEnv = "UNSET" }, []string{"cloudflare.token_env"}},
		{"no token", func(o *Options) { o.TokenEnv = "" }, []string{"cloudflare.token_env"}},
		{"missing file", func(o *Options) { o.TokenFile = "/nonexistent/token" }, []string{"cloudflare.token_file"}},
		{"bad url", func(o *Options) { o.APIURL = "ftp:/x" }, []string{"cloudflare.api_url"}},
		{"no zones", func(o *Options) { o.Zones = nil }, []string{"cloudflare.zone"}},
		{"discovery", func(o *Options) { o.Zones = nil; o.AccountID = "acc" }, nil},
		{"dup id and name", func(o *Options) {
			o.Zones = append(o.Zones, Zone{ID: "a", Name: "other"}, Zone{ID: "c", Name: "WWW"})
		}, []string{"cloudflare.zone[2].id", "cloudflare.zone[3].name"}},
		{"empty id", func(o *Options) { o.Zones = append(o.Zones, Zone{}) }, []string{"cloudflare.zone[2].id"}},
	}
	for _, tc := range cases {
		o := defaultOptions()
		o.TokenEnv = "SET"
		o.Zones = []Zone{{ID: "a", Name: "www"}, {ID: "b", Name: "api"}}
		tc.mutate(o)
		var keys []string
		for _, p := range o.Validate(env) {
			keys = append(keys, p.Key)
		}
		if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: problems %v, want %v", tc.name, o.Validate(env), tc.want)
		}
	}
}
