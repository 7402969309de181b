package probe

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// t0 is 2026-11-22 10:00:00 UTC.
const t0 = 1795341600

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer = collectorstest.SyncBuffer

// recorder keeps what a collector emits, with this package's views of it.
type recorder struct{ collectorstest.Recorder }

// values maps path → value over the recorded gauges, checking each time.
func (r *recorder) values(t *testing.T, wantTime int64) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, p := range schema.Points("cdn", nil, r.Gauges()) {
		if p.Time != wantTime {
			t.Errorf("%s stamped %d, want %d", p.Path, p.Time, wantTime)
		}
		m[p.Path] = p.Value
	}
	return m
}

// vendor is an httptest server answering in one CDN's header style.
func vendor(t *testing.T, headers map[string]string, status int, gotHost *atomic.Value) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gotHost != nil {
			gotHost.Store(r.Host)
		}
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(s.Close)
	return s
}

func newCollector(t *testing.T, o *Options, logs *syncBuffer) *Collector {
	t.Helper()
	if ps := o.Validate(collectors.Env{}); len(ps) > 0 {
		for _, p := range ps {
			if !p.Warning {
				t.Fatalf("validate: %v", ps)
			}
		}
	}
	if logs == nil {
		logs = &syncBuffer{}
	}
	c := New(o, collectors.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	c.now = func() time.Time { return time.Unix(t0+37, 0) } // aligned down: t0
	return c
}

func TestVendorHeaderStyles(t *testing.T) {
	var host atomic.Value
	fastly := vendor(t, map[string]string{
		"X-Served-By":  "cache-iad2120-IAD, cache-lhr7324-LHR", // shield, then edge
		"X-Cache":      "MISS, HIT",                            // edge (last) hit
		"X-Cache-Hits": "0, 3",
	}, 200, &host)
	cloudflare := vendor(t, map[string]string{"CF-Cache-Status": "DYNAMIC", "CF-RAY": "8a1b2c3d4e5f6789-CDG"}, 200, nil)
	akamai := vendor(t, map[string]string{"X-Cache": "TCP_HIT from a23-62-44-186.deploy.akamaitechnologies.com (AkamaiGHost/10.6.0.1-31347234) (-)"}, 200, nil)
	nginx := vendor(t, map[string]string{"X-Cache-Status": "EXPIRED"}, 200, nil)
	cloudfront := vendor(t, map[string]string{"X-Cache": "Hit from cloudfront", "X-Amz-Cf-Pop": "FRA56-P2", "X-Amz-Cf-Id": "abc=="}, 200, nil)
	nocache := vendor(t, nil, 200, nil)

	o := DefaultOptions()
	o.Targets = []Target{
		{Provider: "fastly", Service: "www", URL: fastly.URL + "/health", Host: "www.example.com", ExpectStatus: 200},
		{Provider: "cloudflare", Service: "www", URL: cloudflare.URL},
		{Provider: "akamai", Service: "www", URL: akamai.URL},
		{Provider: "nginx", Service: "www", URL: nginx.URL},
		{Provider: "cloudfront", Service: "www", URL: cloudfront.URL},
		{Provider: "plain", Service: "www", URL: nocache.URL},
	}
	rec := &recorder{}
	if err := newCollector(t, o, nil).Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatal(err)
	}
	v := rec.values(t, t0)
	for path, want := range map[string]float64{
		"cdn.fastly.www.lhr.probe_ok":      1,
		"cdn.fastly.www.lhr.probe_hit":     1, // "MISS, HIT": the edge's is last
		"cdn.cloudflare.www.cdg.probe_ok":  1,
		"cdn.cloudflare.www.cdg.probe_hit": 0, // DYNAMIC: not cached
		"cdn.akamai.www.all.probe_hit":     1, // TCP_HIT; Akamai names no POP
		"cdn.nginx.www.all.probe_hit":      0, // EXPIRED: fetched from origin
		"cdn.cloudfront.www.fra.probe_hit": 1, // FRA56-P2 → FRA
		"cdn.plain.www.all.probe_ok":       1,
	} {
		got, ok := v[path]
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", path, got, ok, want)
		}
	}
	if _, ok := v["cdn.plain.www.all.probe_hit"]; ok {
		t.Error("probe_hit emitted without any cache header (unknown is not zero)")
	}
	if h, _ := host.Load().(string); h != "www.example.com" {
		t.Errorf("Host header %q, want the override", h)
	}
	ttfb, total := v["cdn.fastly.www.lhr.probe_ttfb_ms"], v["cdn.fastly.www.lhr.probe_total_ms"]
	if ttfb <= 0 || total < ttfb || total > 10000 {
		t.Errorf("ttfb %v ms, total %v ms", ttfb, total)
	}
	// 6 targets: 6 ok + 6 ttfb + 6 total + 5 hits (plain has none).
	if len(rec.Gauges()) != 23 {
		t.Errorf("%d gauges, want 23", len(rec.Gauges()))
	}
}

func TestFailuresDoNotStopOthers(t *testing.T) {
	good := vendor(t, map[string]string{"X-Cache": "HIT"}, 200, nil)
	wrong := vendor(t, nil, 503, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hangs until the probe gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })

	logs := &syncBuffer{}
	o := DefaultOptions()
	// Long enough for a loopback answer on a loaded machine, short enough
	// to show that the slow target is cut off.
	o.Timeout = 2 * time.Second
	o.Targets = []Target{
		{Provider: "good", Service: "www", URL: good.URL},
		{Provider: "wrong", Service: "www", URL: wrong.URL, ExpectStatus: 200},
		{Provider: "dead", Service: "www", URL: deadURL + "/?token=s3cr3t-probe-token"},
		{Provider: "slow", Service: "www", URL: slow.URL},
		{Provider: "redirect", Service: "www", URL: good.URL, ExpectStatus: 301},
	}
	rec := &recorder{}
	began := time.Now()
	if err := newCollector(t, o, logs).Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("took %v: the timeout did not bound the slow target", d)
	}
	v := rec.values(t, t0)
	for path, want := range map[string]float64{
		"cdn.good.www.all.probe_ok":     1,
		"cdn.wrong.www.all.probe_ok":    0, // 503, expected 200
		"cdn.dead.www.all.probe_ok":     0, // refused
		"cdn.slow.www.all.probe_ok":     0, // timed out
		"cdn.redirect.www.all.probe_ok": 0, // 200, expected 301
	} {
		if got, ok := v[path]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", path, got, ok, want)
		}
	}
	if _, ok := v["cdn.wrong.www.all.probe_total_ms"]; !ok {
		t.Error("a wrong status still has timings")
	}
	if _, ok := v["cdn.dead.www.all.probe_total_ms"]; ok {
		t.Error("no answer, yet timings")
	}
	if s := logs.String(); strings.Contains(s, "s3cr3t-probe-token") || !strings.Contains(s, "probe failed") {
		t.Errorf("logs leak the token or miss the failure: %s", s)
	}
}

func TestConcurrencyBound(t *testing.T) {
	const limit, targets = 2, 6
	var inflight, peak, started atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Hold until the limit is reached (or 10 s; or no more requests
		// will come), so overlap is certain when allowed; poll with a
		// deadline.
		deadline := time.Now().Add(10 * time.Second)
		for inflight.Load() < limit && started.Load() < targets && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}))
	t.Cleanup(s.Close)
	o := DefaultOptions()
	o.Concurrency = limit
	for i := 0; i < targets; i++ {
		o.Targets = append(o.Targets, Target{Provider: "p", Service: string(rune('a' + i)), URL: s.URL})
	}
	rec := &recorder{}
	if err := newCollector(t, o, nil).Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency %d, want %d", p, limit)
	}
	if len(rec.values(t, t0)) != targets*3 {
		t.Errorf("gauges %v", rec.Gauges())
	}
}

func TestEmitFailureIsReported(t *testing.T) {
	s := vendor(t, nil, 200, nil)
	o := DefaultOptions()
	o.Targets = []Target{{Provider: "p", Service: "s", URL: s.URL}}
	if err := newCollector(t, o, nil).Collect(context.Background(), collectors.Window{}, &recorder{collectorstest.Recorder{Err: errors.New("sink closed")}}); err == nil {
		t.Error("emit failure not reported")
	}
}

func TestClassifyAndPop(t *testing.T) {
	cases := []struct {
		h          map[string]string
		hit, known bool
		pop        string
	}{
		{map[string]string{"X-Cache": "HIT"}, true, true, ""},
		{map[string]string{"X-Cache": "HIT, MISS"}, false, true, ""}, // edge missed
		{map[string]string{"X-Cache": "TCP_MISS from a23-1-2-3.deploy.akamaitechnologies.com (AkamaiGHost/10.6.0.1-31347234) (-)"}, false, true, ""},
		{map[string]string{"X-Cache": "TCP_REFRESH_HIT from a23-1-2-3.deploy.akamaitechnologies.com"}, true, true, ""},
		{map[string]string{"X-Cache": "TCP_MEM_HIT from a23-1-2-3.deploy.akamaitechnologies.com"}, true, true, ""},
		{map[string]string{"X-Cache": "RefreshHit from cloudfront", "X-Amz-Cf-Pop": "IAD89-C3"}, true, true, "IAD"},
		{map[string]string{"X-Cache": "Miss from cloudfront"}, false, true, ""},
		{map[string]string{"X-Cache": "Error from cloudfront"}, false, false, ""},
		{map[string]string{"CF-Cache-Status": "REVALIDATED", "X-Cache": "MISS"}, true, true, ""},
		{map[string]string{"CF-Cache-Status": "NONE", "X-Cache": "MISS"}, false, true, ""}, // unknown, next header decides
		{map[string]string{"X-Cache-Status": "STALE"}, true, true, ""},
		{map[string]string{"X-Cache-Status": "BYPASS"}, false, true, ""},
		{map[string]string{"X-Served-By": "cache-lhr7324-LHR"}, false, false, "LHR"},
		{map[string]string{"X-Served-By": "some-proxy.example"}, false, false, ""},
		{map[string]string{"CF-RAY": "8a1b2c3d4e5f6789-../../x"}, false, false, ""},
		// A POP named like one of our own locations never lands on it.
		{map[string]string{"CF-RAY": "8a1b2c3d4e5f6789-ALL"}, false, false, "POP_ALL"},
		{map[string]string{"X-Served-By": "cache-x-rum"}, false, false, "POP_RUM"},
		{map[string]string{"X-Served-By": "cache-x-Origin"}, false, false, "POP_ORIGIN"},
		{map[string]string{}, false, false, ""},
	}
	for _, tc := range cases {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		hit, known := cacheVerdict(h)
		if hit != tc.hit || known != tc.known {
			t.Errorf("%v: verdict %v/%v, want %v/%v", tc.h, hit, known, tc.hit, tc.known)
		}
		if p := popOf(h); p != tc.pop {
			t.Errorf("%v: pop %q, want %q", tc.h, p, tc.pop)
		}
	}
}

func TestDecodeAndValidate(t *testing.T) {
	const text = `
[probe]
schedule = "@every 30s"
timeout = "5s"
concurrency = 4
[[probe.target]]
provider = "fastly"
service = "www"
url = "https://www.example.com.global.prod.fastly.net/health"
host = "www.example.com"
expect_status = 200
`
	var top map[string]toml.Primitive
	md, err := toml.Decode(text, &top)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := collectors.Lookup(Name)
	if !ok {
		t.Fatal("probe not registered")
	}
	oo, err := f.Decode(collectors.NewSection(Name, &md, top[Name]))
	if err != nil {
		t.Fatal(err)
	}
	o := oo.(*Options)
	if o.Timeout != 5*time.Second || o.Concurrency != 4 || o.Schedule() != "@every 30s" || len(o.Targets) != 1 || o.Targets[0].ExpectStatus != 200 {
		t.Fatalf("decoded %+v", o)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("undecoded %v", u)
	}
	if ps := o.Validate(collectors.Env{}); len(ps) != 0 {
		t.Errorf("problems %v", ps)
	}
	bad := DefaultOptions()
	bad.Concurrency = 0
	bad.Timeout = 0
	bad.Targets = []Target{{Provider: "", Service: "s", URL: "ftp://x/?token=t0ken", ExpectStatus: 42, Host: "a b"},
		{Provider: "p", Service: "s", URL: "http://[::1"}}
	keys := map[string]bool{}
	for _, p := range bad.Validate(collectors.Env{}) {
		keys[p.Key] = true
		if strings.Contains(p.Message, "t0ken") {
			t.Errorf("problem leaks the query: %s", p)
		}
	}
	for _, k := range []string{"probe.concurrency", "probe.timeout", "probe.target[0].provider", "probe.target[0].url",
		"probe.target[0].expect_status", "probe.target[0].host", "probe.target[1].url"} {
		if !keys[k] {
			t.Errorf("no problem for %s (got %v)", k, keys)
		}
	}
}

// TestTLSWithHostOverride uses the environment's transport (here one that
// trusts the test server) and checks that TLS verifies the URL's host
// while the request carries the overriding Host header.
func TestTLSWithHostOverride(t *testing.T) {
	var host atomic.Value
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		w.Header().Set("CF-Cache-Status", "HIT")
		w.Header().Set("CF-RAY", "8a1b2c3d4e5f6789-AMS")
	}))
	t.Cleanup(s.Close)
	o := DefaultOptions()
	o.Targets = []Target{{Provider: "cloudflare", Service: "www", URL: s.URL + "/", Host: "www.example.com", ExpectStatus: 200}}
	c := New(o, collectors.Env{HTTPClient: s.Client(), Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	c.now = func() time.Time { return time.Unix(t0+59, 0) }
	rec := &recorder{}
	if err := c.Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatal(err)
	}
	v := rec.values(t, t0)
	if v["cdn.cloudflare.www.ams.probe_ok"] != 1 || v["cdn.cloudflare.www.ams.probe_hit"] != 1 {
		t.Errorf("values %v", v)
	}
	if h, _ := host.Load().(string); h != "www.example.com" {
		t.Errorf("Host %q", h)
	}
	// Without the test server's roots the same probe fails verification.
	c2 := New(o, collectors.Env{Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	c2.now = c.now
	rec2 := &recorder{}
	if err := c2.Collect(context.Background(), collectors.Window{}, rec2); err != nil {
		t.Fatal(err)
	}
	if v := rec2.values(t, t0); v["cdn.cloudflare.www.all.probe_ok"] != 0 {
		t.Errorf("untrusted certificate accepted: %v", v)
	}
}

// A probe answered by a POP named like one of our locations is written
// under POP_<name>, warned about once per name and counted in
// renamed_locations, however many runs see it.
func TestProbePOPNamedLikeAReservedLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("CF-Ray", "8a1b2c3d4e5f6789-ALL")
	}))
	defer srv.Close()
	var logs bytes.Buffer
	counted := map[string]int{}
	env := collectors.Env{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Clock: collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}}
	o := &Options{Step: time.Minute, Timeout: 5 * time.Second, Concurrency: 1,
		Targets: []Target{{Provider: "cloudflare", Service: "www", URL: srv.URL}}}
	c := New(o, env)
	for range 2 {
		rec := &collectorstest.Recorder{}
		if err := c.Collect(context.Background(), collectors.Window{}, rec); err != nil {
			t.Fatal(err)
		}
		for _, g := range rec.Gauges() {
			if g.Location != "POP_ALL" {
				t.Errorf("gauge %s at %q, want POP_ALL", g.Metric, g.Location)
			}
		}
	}
	if counted[collectors.RenamedLocations] != 1 || strings.Count(logs.String(), "reserved location") != 1 {
		t.Errorf("counted %v, want %s: 1, and one warning:\n%s", counted, collectors.RenamedLocations, logs.String())
	}
}
