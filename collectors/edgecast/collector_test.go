package edgecast

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/edgecast/edgecastsim"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// standIn serves the package's stand-in at a fixed vendor clock, counting
// requests per path; wrap may replace answers.
type standIn struct {
	srv      *httptest.Server
	model    *traffic.Model
	requests sync.Map // path → *atomic.Int64
	tokens   atomic.Int64
}

func newStandIn(t *testing.T, now time.Time, wrap func(http.Handler) http.Handler) *standIn {
	t.Helper()
	s := &standIn{model: traffic.Default(3)}
	mux := http.NewServeMux()
	edgecastsim.Serve(mux, simulate.Env{Model: s.model, Now: func() time.Time { return now },
		Secret: func(string) string { return collectors.SimSecret }})
	var h http.Handler = mux
	if wrap != nil {
		h = wrap(h)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect/token" {
			s.tokens.Add(1)
		}
		n, _ := s.requests.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) count(path string) int64 {
	if n, ok := s.requests.Load(path); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// build returns a collector on the stand-in whose clock is now; o may be
// adjusted by edit before the collector is built.
func build(t *testing.T, s *standIn, now time.Time, log *bytes.Buffer, edit func(*Options), env collectors.Env) *Collector {
	t.Helper()
	o := defaults()
	o.APIURL = s.srv.URL
	o.Account = edgecastsim.Account
	o.TokenEnv = "TEST_EDGECAST_TOKEN"
	if edit != nil {
		edit(o)
	}
	env.Getenv = func(k string) string {
		switch k {
		case "TEST_EDGECAST_TOKEN", "TEST_EDGECAST_SECRET":
			return collectors.SimSecret
		}
		return ""
	}
	if log != nil {
		env.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	env.HTTPClient = s.srv.Client()
	for _, p := range o.Validate(env) {
		if !p.Warning {
			t.Fatalf("options: %s: %s", p.Key, p.Message)
		}
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	return c
}

// collect runs Collect and returns what it emitted.
func collect(t *testing.T, c *Collector, w collectors.Window) ([]schema.Record, error) {
	t.Helper()
	var got []schema.Record
	err := c.Collect(context.Background(), w, collectors.EmitterFunc(func(_ context.Context, b collectors.Batch) error {
		got = append(got, b.Records...)
		return nil
	}))
	return got, err
}

var (
	// vendorNow is the stand-in's clock: 20 s into a minute, as a run
	// started by `@every 1m` a little after the minute sees it.
	vendorNow = time.Date(2024, 6, 3, 14, 7, 20, 0, time.UTC)
	liveEnd   = vendorNow.Truncate(time.Minute)
	live      = collectors.Window{Start: liveEnd.Add(-5 * time.Minute), End: liveEnd}
)

func TestCollectEqualsExpectWithTOKAndOAuth(t *testing.T) {
	for _, mode := range []string{"TOK", "OAuth"} {
		t.Run(mode, func(t *testing.T) {
			s := newStandIn(t, vendorNow, nil)
			edit := func(o *Options) {}
			if mode == "OAuth" {
				edit = func(o *Options) {
					o.OAuth = &OAuth{TokenURL: s.srv.URL + "/connect/token", ClientID: edgecastsim.ClientID,
						ClientSecretEnv: "TEST_EDGECAST_SECRET", Scopes: []string{"sec.cdn"}}
				}
			}
			c := build(t, s, vendorNow, nil, edit, collectors.Env{})
			for run := 0; run < 2; run++ {
				got, err := collect(t, c, live)
				if err != nil {
					t.Fatal(err)
				}
				want := edgecastsim.Expect(s.model, live)
				if len(want) != len(edgecastsim.Platforms) {
					t.Fatalf("Expect gave %d records, want one per platform", len(want))
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("run %d: Collect emitted\n%v\nExpect says\n%v", run, got, want)
				}
				for _, r := range got {
					if r.Start != liveEnd.Add(-time.Minute).Unix() || r.Step != 60 {
						t.Fatalf("record %s stamped %d step %d, want the window's last minute", r.Service, r.Start, r.Step)
					}
					if _, ok := r.Counts.Get(schema.OriginBytes); ok {
						t.Fatalf("origin_bytes filled, but the real-time API has no origin figures")
					}
				}
			}
			// The bearer token is fetched once and reused.
			if mode == "OAuth" && s.tokens.Load() != 1 {
				t.Fatalf("%d token requests for two runs, want 1 (cached)", s.tokens.Load())
			}
			if mode == "TOK" && s.tokens.Load() != 0 {
				t.Fatalf("TOK mode asked the token endpoint")
			}
		})
	}
}

func TestWrongCredentialsAreClearAndSecretFree(t *testing.T) {
	s := newStandIn(t, vendorNow, nil)
	var log bytes.Buffer
	c := build(t, s, vendorNow, &log, nil, collectors.Env{})
	c.auth = func() (string, error) { return "TOK:not-the-token-" + collectors.SimSecret[:3], nil }
	c.secrets = append(c.secrets, "not-the-token-"+collectors.SimSecret[:3])
	_, err := collect(t, c, live)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want an HTTP 401", err)
	}
	if strings.Contains(err.Error()+log.String(), "not-the-token") {
		t.Fatalf("the token leaked: %v\n%s", err, log.String())
	}

	// OAuth with a wrong client secret: the error names the token URL and
	// the OAuth error code, never the secret.
	s2 := newStandIn(t, vendorNow, nil)
	c2 := build(t, s2, vendorNow, &log, func(o *Options) {
		o.OAuth = &OAuth{TokenURL: s2.srv.URL + "/connect/token", ClientID: "someone-else", ClientSecretEnv: "TEST_EDGECAST_SECRET"}
	}, collectors.Env{})
	_, err = collect(t, c2, live)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "/connect/token") {
		t.Fatalf("err = %v, want invalid_client from the token endpoint", err)
	}
	if strings.Contains(err.Error()+log.String(), collectors.SimSecret) {
		t.Fatalf("the client secret leaked: %v", err)
	}
}

func TestPastWindowsAndLateSnapshotsEmitNothing(t *testing.T) {
	s := newStandIn(t, vendorNow, nil)
	c := build(t, s, vendorNow, nil, nil, collectors.Env{})
	old := collectors.Window{Start: liveEnd.Add(-2 * time.Hour), End: liveEnd.Add(-time.Hour)}
	got, err := collect(t, c, old)
	if err != nil || len(got) != 0 {
		t.Fatalf("past window: %d records, err %v; want nothing (no history)", len(got), err)
	}
	if n := s.count("/v2/realtimestats/customers/" + edgecastsim.Account + "/media/3/bandwidth"); n != 0 {
		t.Fatalf("past window made %d requests, want none", n)
	}
	// The vendor's clock says the snapshot is two minutes after the
	// window: it would be stamped on the wrong minute, so it is dropped.
	s2 := newStandIn(t, vendorNow.Add(2*time.Minute), nil)
	c2 := build(t, s2, vendorNow, nil, nil, collectors.Env{})
	if got, err := collect(t, c2, live); err != nil || len(got) != 0 {
		t.Fatalf("late snapshot: %d records, err %v; want nothing", len(got), err)
	}
}

func TestOneBadEndpointKeepsTheOthers(t *testing.T) {
	s := newStandIn(t, vendorNow, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/3/statuscode") {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html><body>Maintenance</body></html>"))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	var log bytes.Buffer
	c := build(t, s, vendorNow, &log, nil, collectors.Env{})
	got, err := collect(t, c, live)
	if err == nil || !strings.Contains(err.Error(), "platform http_large") || !strings.Contains(err.Error(), "statuscode") {
		t.Fatalf("err = %v, want it to name the platform and endpoint", err)
	}
	if len(got) != len(edgecastsim.Platforms) {
		t.Fatalf("%d records, want %d (the failure is limited to one endpoint)", len(got), len(edgecastsim.Platforms))
	}
	for _, r := range got {
		_, hasStatus := r.Counts.Get(schema.Status2xx)
		_, hasBytes := r.Counts.Get(schema.EdgeBytes)
		if !hasBytes || hasStatus != (r.Service != "http_large") {
			t.Fatalf("%s: edge_bytes known %v, status_2xx known %v", r.Service, hasBytes, hasStatus)
		}
	}
	if !strings.Contains(log.String(), "bad answer skipped") {
		t.Fatalf("no log line for the bad answer:\n%s", log.String())
	}
}

func TestShardsFiltersAndSelect(t *testing.T) {
	s := newStandIn(t, vendorNow, nil)
	c := build(t, s, vendorNow, nil, nil, collectors.Env{Include: func(id, name string) bool { return name != "adn" }})
	got, err := collect(t, c, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || s.count("/v2/realtimestats/customers/"+edgecastsim.Account+"/media/14/bandwidth") != 0 {
		t.Fatalf("%d records; adn asked %d times: the include filter was not applied", len(got), s.count("/v2/realtimestats/customers/"+edgecastsim.Account+"/media/14/bandwidth"))
	}
	if err := c.SelectServices([]string{"8"}); err != nil { // http_small by media type id
		t.Fatal(err)
	}
	got, err = collect(t, c, live)
	if err != nil || len(got) != 1 || got[0].Service != "http_small" {
		t.Fatalf("after SelectServices: %v, err %v; want http_small only", got, err)
	}
	if err := c.SelectServices([]string{"flash"}); err == nil {
		t.Fatal("selecting an unconfigured platform succeeded")
	}
}
