package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/azure/azuresim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

var (
	vendorNow = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	past      = collectors.Window{Start: vendorNow.Add(-90 * time.Minute), End: vendorNow.Add(-70 * time.Minute)}
)

// standIn is azuresim's stand-in on a loopback server, mounted under
// /azure as the simulator mounts it, counting requests by kind.
type standIn struct {
	srv             *httptest.Server
	tokenCalls      atomic.Int32
	metricCalls     atomic.Int32
	unauthorized    atomic.Int32
	mu              sync.Mutex
	queries         []string
	onMetricRequest func(n int32)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

func newStandIn(t *testing.T, now func() time.Time) *standIn {
	t.Helper()
	s := &standIn{}
	mux := http.NewServeMux()
	azuresim.Serve(mux, simulate.Env{Model: traffic.Default(0), Now: now, Secret: func(string) string { return collectors.SimSecret }})
	root := http.NewServeMux()
	root.Handle("/azure/", http.StripPrefix("/azure", mux))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			s.tokenCalls.Add(1)
		} else {
			n := s.metricCalls.Add(1)
			s.mu.Lock()
			s.queries = append(s.queries, r.URL.RawQuery)
			s.mu.Unlock()
			if s.onMetricRequest != nil {
				s.onMetricRequest(n)
			}
		}
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		root.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			s.unauthorized.Add(1)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// simOptions decodes the section azuresim.Config writes for s.
func simOptions(t *testing.T, s *standIn) *Options {
	t.Helper()
	section, err := azuresim.Config(s.srv.URL+"/azure", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]toml.Primitive
	md, err := toml.Decode(section, &raw)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := collectors.Lookup(provider)
	o, err := f.Decode(collectors.NewSection(provider, &md, raw[provider]))
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Fatalf("undecoded %v", und)
	}
	return o.(*Options)
}

func newCollector(t *testing.T, o *Options, secret string, now func() time.Time, log *bytes.Buffer, extra ...httpx.Option) *Collector {
	t.Helper()
	if log == nil {
		log = &bytes.Buffer{}
	}
	env := collectors.Env{
		Getenv: collectorstest.SimEnv(secret),
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  collectors.Clock{Now: now},
	}
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("options invalid: %v", ps)
	}
	c, err := build(o, env, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func collect(t *testing.T, c *Collector, w collectors.Window) (*collectorstest.Recorder, error) {
	t.Helper()
	rec := &collectorstest.Recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rec, c.Collect(ctx, w, rec)
}

// flatten is collectorstest.Flatten as one string.
func flatten(recs []schema.Record) string {
	return strings.Join(collectorstest.Flatten(recs), "\n")
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// The collector reads the stand-in and emits exactly what azuresim.Expect
// computes from the traffic model; the stand-in refuses what Azure
// refuses (a filter on a dimension a metric lacks, a missing top would
// cut regions), so passing also proves the queries are well formed.
func TestCollectMatchesExpect(t *testing.T) {
	s := newStandIn(t, fixed(vendorNow))
	c := newCollector(t, simOptions(t, s), collectors.SimSecret, fixed(vendorNow), nil)
	rec, err := collect(t, c, past)
	if err != nil {
		t.Fatal(err)
	}
	want := azuresim.Expect(traffic.Default(0), past)
	if g, e := flatten(rec.Records()), flatten(want); g != e {
		t.Fatalf("records differ from Expect\n got:\n%s\nwant:\n%s", g, e)
	}
	// Two latency gauges per profile and minute.
	if n := len(rec.Gauges()); n != 2*3*20 {
		t.Fatalf("%d gauges, want %d", n, 2*3*20)
	}
	// www: 5 queries (by_region), api and static: 3; one token for all.
	if n := s.metricCalls.Load(); n != 11 {
		t.Fatalf("%d metrics calls, want 11", n)
	}
	if n := s.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d token calls, want 1 (the token is reused)", n)
	}
	for _, q := range s.queries {
		if strings.Contains(q, "ByteHitRatio") && strings.Contains(q, "HttpStatusGroup") {
			t.Fatalf("ByteHitRatio asked with an HttpStatusGroup filter: %s", q)
		}
	}
}

// A wrong client secret fails with an error naming the vendor, the token
// endpoint and the identity platform's code; neither the secret nor the
// stand-in's body reach the error or the log, and no metrics call is made.
func TestWrongSecretIsClearAndSecretFree(t *testing.T) {
	s := newStandIn(t, fixed(vendorNow))
	var log bytes.Buffer
	const wrong = "wrong-client-secret-0123456789"
	c := newCollector(t, simOptions(t, s), wrong, fixed(vendorNow), &log)
	_, err := collect(t, c, past)
	if err == nil {
		t.Fatal("collect with a wrong secret succeeded")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, want := range []string{"azure:", s.srv.URL + "/azure" + azuresim.TokenPath(), "HTTP 401", "invalid_client", "AADSTS7000215"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg+log.String(), wrong) {
		t.Fatalf("the secret leaked:\n%s\n%s", msg, log.String())
	}
	if n := s.metricCalls.Load(); n != 0 {
		t.Fatalf("%d metrics calls without a token", n)
	}
	if n := strings.Count(msg, "oauth token from"); n != 1 {
		t.Fatalf("the token failure is reported %d times, want once for all profiles", n)
	}
}

// A classic Azure CDN profile has no OriginRequestCount: Azure refuses the
// query, and the error says what the profile probably is.
func TestClassicCDNProfileIsNamed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"tok-classic-test"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"BadRequest","message":"Failed to find metric configuration for provider: Microsoft.Cdn, resource Type: profiles, metric: OriginRequestCount, Valid metrics: RequestCount,ResponseSize,ByteHitRatio,TotalLatency"}}`))
	}))
	defer srv.Close()
	o := defaultOptions()
	o.TenantID, o.ClientID, o.ClientSecretEnv = "t1", "c1", collectors.SimSecretEnv
	o.TokenURL, o.APIURL = srv.URL+"/t1/oauth2/v2.0/token", srv.URL
	o.Profiles = []Profile{{ResourceID: azuresim.ResourceID("classic")}}
	c := newCollector(t, o, collectors.SimSecret, fixed(vendorNow), nil)
	_, err := collect(t, c, past)
	t.Logf("error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "classic Azure CDN profile") || !strings.Contains(err.Error(), "profile classic") {
		t.Fatalf("err = %v", err)
	}
}

// An identity service that echoes the request (the client secret among
// it) in its error description: the secret still reaches no output.
func TestEchoedSecretIsRedacted(t *testing.T) {
	const secret = "echoed-client-secret-9876543210"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided: " + r.PostForm.Get("client_secret") + " for " + r.PostForm.Encode()})
	}))
	defer srv.Close()
	o := defaultOptions()
	o.TenantID, o.ClientID, o.ClientSecretEnv = "t1", "c1", collectors.SimSecretEnv
	o.TokenURL, o.APIURL = srv.URL+"/t1/oauth2/v2.0/token", srv.URL
	o.Profiles = []Profile{{ResourceID: azuresim.ResourceID("www")}}
	var log bytes.Buffer
	c := newCollector(t, o, secret, fixed(vendorNow), &log)
	_, err := collect(t, c, past)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), srv.URL+"/t1/oauth2/v2.0/token") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
	if strings.Contains(err.Error()+log.String(), secret) || strings.Contains(err.Error(), "echoed-client") {
		t.Fatalf("the echoed secret leaked: %v\n%s", err, log.String())
	}
}

// A token ARM finds expired mid-run (here: the stand-in's clock jumps two
// hours after the second metrics call while ours still trusts the token)
// is dropped and replaced, and the run completes; a token that our clock
// sees expire is replaced before it is sent.
func TestExpiredTokenRefreshedMidRun(t *testing.T) {
	var jump atomic.Int64
	s := newStandIn(t, func() time.Time { return vendorNow.Add(time.Duration(jump.Load())) })
	s.onMetricRequest = func(n int32) {
		if n == 3 {
			jump.Store(int64(2 * time.Hour))
		}
	}
	ours := vendorNow
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return ours }
	var log bytes.Buffer
	c := newCollector(t, simOptions(t, s), collectors.SimSecret, now, &log)
	rec, err := collect(t, c, past)
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, log.String())
	}
	if g, e := flatten(rec.Records()), flatten(azuresim.Expect(traffic.Default(0), past)); g != e {
		t.Fatalf("records after the refresh differ from Expect\n got:\n%s\nwant:\n%s", g, e)
	}
	if s.tokenCalls.Load() != 2 || s.unauthorized.Load() != 1 {
		t.Fatalf("%d token calls and %d 401s, want 2 and 1", s.tokenCalls.Load(), s.unauthorized.Load())
	}
	if !strings.Contains(log.String(), "ExpiredAuthenticationToken") {
		t.Fatalf("the refresh was not logged with ARM's code:\n%s", log.String())
	}
	// Our clock passes the token's end (issued for an hour at the jumped
	// stand-in time, i.e. our vendorNow+2h): a new one is fetched first.
	mu.Lock()
	ours = vendorNow.Add(2*time.Hour + 59*time.Minute)
	mu.Unlock()
	if _, err := collect(t, c, past); err != nil {
		t.Fatal(err)
	}
	if s.tokenCalls.Load() != 3 || s.unauthorized.Load() != 1 {
		t.Fatalf("%d token calls and %d 401s, want 3 and 1 (renewed before use)", s.tokenCalls.Load(), s.unauthorized.Load())
	}
}

// ARM throttling: a 429 is retried after its Retry-After; an answer that
// says fewer than 100 subscription reads remain holds the next request by
// the shortfall at ARM's slowest refill (here 60 × 300 ms = 18 s).
func TestThrottlingIsHonoured(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"tok-throttle-test"}`))
			return
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(read("monitor-metrics-error.constructed.json"))
			return
		}
		w.Header().Set("x-ms-ratelimit-remaining-subscription-reads", "40")
		q := r.URL.Query()
		switch {
		case q.Get("aggregation") == "Average":
			_, _ = w.Write(read("monitor-metrics-latency.constructed.json"))
		case strings.Contains(q.Get("$filter"), "HttpStatusGroup"):
			_, _ = w.Write(read("monitor-metrics-status-split.constructed.json"))
		default:
			_, _ = w.Write(read("monitor-metrics-frontdoor-response.constructed.json"))
		}
	}))
	defer srv.Close()
	o := defaultOptions()
	o.TenantID, o.ClientID, o.ClientSecretEnv = "t1", "c1", collectors.SimSecretEnv
	o.TokenURL, o.APIURL = srv.URL+"/t1/oauth2/v2.0/token", srv.URL
	o.Profiles = []Profile{{ResourceID: azuresim.ResourceID("www"), Endpoint: "www-contoso-abcdefgh.z01.azurefd.net"}}
	var mu sync.Mutex
	var slept []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	c := newCollector(t, o, collectors.SimSecret, fixed(sampleEnd.Add(time.Hour)), nil, httpx.WithClock(time.Now, sleep))
	rec, err := collect(t, c, collectors.Window{Start: sampleStart, End: sampleEnd})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(slept) != 4 || slept[0] != 7*time.Second {
		t.Fatalf("slept %v, want the 7 s Retry-After, then 18 s after each of the 3 answers", slept)
	}
	for _, d := range slept[1:] {
		if d != 18*time.Second {
			t.Fatalf("slept %v, want 18 s pauses while reads are low", slept)
		}
	}
	// The answers still arrive: 10:00 holds 18,234 requests of which 7 5xx.
	for _, r := range rec.Records() {
		if r.Start == t0 {
			q, _ := r.Get(schema.Requests)
			e, _ := r.Get(schema.Status5xx)
			if q != 18234 || e != 7 {
				t.Fatalf("10:00: requests %v, status_5xx %v", q, e)
			}
			return
		}
	}
	t.Fatalf("no 10:00 record in %+v", rec.Records())
}

func TestValidate(t *testing.T) {
	env := collectors.Env{Getenv: collectorstest.SimEnv("x")}
	base := func() *Options {
		o := defaultOptions()
		o.TenantID, o.ClientID, o.ClientSecretEnv = "contoso.onmicrosoft.com", "c1", collectors.SimSecretEnv
		o.Profiles = []Profile{{ResourceID: azuresim.ResourceID("www")}}
		return o
	}
	if ps := base().Validate(env); len(ps) != 0 {
		t.Fatalf("valid section: %v", ps)
	}
	for name, tc := range map[string]struct {
		edit func(*Options)
		key  string
	}{
		"no tenant":        {func(o *Options) { o.TenantID = "" }, "azure.tenant_id"},
		"tenant with path": {func(o *Options) { o.TenantID = "a/b" }, "azure.tenant_id"},
		"no client":        {func(o *Options) { o.ClientID = " " }, "azure.client_id"},
		"secret unset":     {func(o *Options) { o.ClientSecretEnv = "NOT_SET_ANYWHERE" }, "azure.client_secret_env"},
		"secret file gone": {func(o *Options) { o.ClientSecretFile = "/nonexistent/azure.secret" }, "azure.client_secret_file"},
		"token url query":  {func(o *Options) { o.TokenURL = "https://login.example/t?x=1" }, "azure.token_url"},
		"api url":          {func(o *Options) { o.APIURL = "ftp://x" }, "azure.api_url"},
		"no profile":       {func(o *Options) { o.Profiles = nil }, "azure.profile"},
		"classic path": {func(o *Options) {
			o.Profiles[0].ResourceID = "/subscriptions/x/resourceGroups/g/providers/Microsoft.Network/frontDoors/fd"
		}, "azure.profile[0].resource_id"},
		"endpoint quote": {func(o *Options) { o.Profiles[0].Endpoint = "a' or 1 eq 1" }, "azure.profile[0].endpoint"},
		"duplicate": {func(o *Options) {
			o.Profiles = append(o.Profiles, Profile{ResourceID: strings.ToLower(o.Profiles[0].ResourceID), Name: "other"})
		}, "azure.profile[1].resource_id"},
		"name clash": {func(o *Options) {
			o.Profiles = append(o.Profiles, Profile{ResourceID: azuresim.ResourceID("WWW"), Endpoint: "e.example"})
		}, "azure.profile[1].name"},
		"lookback": {func(o *Options) { o.Lookback = collectors.Duration(100 * 24 * time.Hour) }, "azure.lookback"},
	} {
		o := base()
		tc.edit(o)
		found := false
		for _, p := range o.Validate(env) {
			found = found || (p.Key == tc.key && !p.Warning)
		}
		if !found {
			t.Errorf("%s: no problem at %s in %v", name, tc.key, o.Validate(env))
		}
	}
	// Delay and overlap shorter than Azure's publication delay: a warning.
	o := base()
	o.Delay, o.Overlap = 0, collectors.Duration(time.Minute)
	ps := o.Validate(env)
	if len(ps) != 1 || !ps[0].Warning || ps[0].Key != "azure.delay" {
		t.Fatalf("short delay+overlap: %v", ps)
	}
}

func TestSelectServices(t *testing.T) {
	s := newStandIn(t, fixed(vendorNow))
	c := newCollector(t, simOptions(t, s), collectors.SimSecret, fixed(vendorNow), nil)
	if err := c.SelectServices([]string{"nothing"}); err == nil {
		t.Fatal("a selection matching no profile was accepted")
	}
	if err := c.SelectServices([]string{azuresim.ResourceID("api")}); err != nil {
		t.Fatal(err)
	}
	rec, err := collect(t, c, past)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.Records() {
		if r.Service != "api" {
			t.Fatalf("record of %s with only api selected", r.Service)
		}
	}
	if n := s.metricCalls.Load(); n != 3 {
		t.Fatalf("%d metrics calls, want 3 (api only)", n)
	}
}

// Datapoints skipped as untrustworthy (a timestamp that is not RFC 3339 or
// not on a minute, a series without its split dimension) are values lost:
// logged and counted in rejected_values, as the impossible values are.
func TestBadDatapointsCounted(t *testing.T) {
	s := newStandIn(t, fixed(vendorNow))
	c := newCollector(t, simOptions(t, s), collectors.SimSecret, fixed(vendorNow), nil)
	counted := map[string]int{}
	c.env.Clock.Reject = func(reason string, n int) { counted[reason] += n }
	a, err := ParseAnswer([]byte(`{"interval":"PT1M","value":[{"name":{"value":"RequestCount"},"unit":"Count","timeseries":[{"metadatavalues":[],"data":[
		{"timeStamp":"2026-03-02T13:30:00Z","total":10},{"timeStamp":"2026-03-02T13:31:30Z","total":4},{"timeStamp":"yesterday","total":2}]}]}]}`), "Total")
	if err != nil {
		t.Fatal(err)
	}
	m := mapAnswers("www", map[string]Answer{"counts": a}, past.Start, past.End, vendorNow.Unix())
	if len(m.Bad) != 2 {
		t.Fatalf("bad %v, want 2", m.Bad)
	}
	c.report("www", m, past)
	if counted[collectors.RejectedValues] != 2 {
		t.Errorf("counted %v, want %s: 2", counted, collectors.RejectedValues)
	}
}
