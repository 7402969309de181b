package steering_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/steering"
	"github.com/cdnmetrics/cdnmetrics/collectors/steering/steeringsim"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

type events struct {
	mu  sync.Mutex
	got []schema.Event
}

func (e *events) PostEvent(_ context.Context, ev schema.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
	return nil
}

// run collects once and returns the points by path.
func run(t *testing.T, c collectors.Collector) map[string]float64 {
	t.Helper()
	rec := &collectorstest.Recorder{}
	if err := c.Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatalf("collect: %v", err)
	}
	out := map[string]float64{}
	for _, b := range rec.Batches() {
		for _, p := range b.Points {
			out[p.Path] = p.Value
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func wantShares(t *testing.T, got map[string]float64, svc string, want map[string]float64) {
	t.Helper()
	n := 0
	for p := range got {
		if strings.HasPrefix(p, "cdn.steering."+svc+".") {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%d weight series for %s, want %d: %v", n, svc, len(want), got)
	}
	for prov, v := range want {
		path := "cdn.steering." + svc + "." + prov + ".weight"
		if g, ok := got[path]; !ok || !near(g, v) {
			t.Errorf("%s = %v (present %v), want %v", path, g, ok, v)
		}
	}
}

func build(t *testing.T, o *steering.Options, env collectors.Env) collectors.Collector {
	t.Helper()
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("validate: %v", ps)
	}
	f, _ := collectors.Lookup(steering.Name)
	c, err := f.New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A file's weights become shares; a change posts one event with the
// old and new weights; a restart with the same weights posts none.
func TestFileWeightsChangeAndRestart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "weights.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"fastly": 70, "akamai": 30}`)
	ev := &events{}
	env := collectors.Env{Prefix: "cdn", StateDir: filepath.Join(dir, "state"), Events: ev}
	os.MkdirAll(env.StateDir, 0o750)
	o := &steering.Options{Cron: "@every 1m", Sources: []steering.Source{{Service: "www", Kind: "file", Path: file}}}
	c := build(t, o, env)
	wantShares(t, run(t, c), "www", map[string]float64{"fastly": 0.7, "akamai": 0.3})
	if len(ev.got) != 0 {
		t.Fatalf("first weights ever seen posted %v", ev.got)
	}
	write(`{"fastly": 50, "akamai": 50}`)
	wantShares(t, run(t, c), "www", map[string]float64{"fastly": 0.5, "akamai": 0.5})
	if len(ev.got) != 1 {
		t.Fatalf("events %v, want one", ev.got)
	}
	if e := ev.got[0]; e.What != "cdn-steering" || e.Data != "www: fastly 70→50, akamai 30→50" || strings.Join(e.Tags, " ") != "cdn-steering www" {
		t.Errorf("event %+v", e)
	}
	// Unchanged: no event.
	run(t, c)
	// Restart: the last weights come from state.
	c2 := build(t, o, env)
	wantShares(t, run(t, c2), "www", map[string]float64{"fastly": 0.5, "akamai": 0.5})
	if len(ev.got) != 1 {
		t.Fatalf("restart posted %v", ev.got[1:])
	}
	// A provider added and one removed.
	write(`{"fastly": 50, "cloudflare": 150}`)
	wantShares(t, run(t, c2), "www", map[string]float64{"fastly": 0.25, "cloudflare": 0.75})
	if got := ev.got[len(ev.got)-1].Data; got != "www: akamai 50→-, cloudflare -→150" {
		t.Errorf("event data %q", got)
	}
}

// Every weight 0: no share, a warning counted in all_zero.
func TestAllZeroWeights(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "w.json")
	os.WriteFile(file, []byte(`{"fastly": 0, "akamai": 0}`), 0o644)
	c := build(t, &steering.Options{Sources: []steering.Source{{Service: "www", Kind: "file", Path: file}}}, collectors.Env{Prefix: "cdn"})
	got := run(t, c)
	wantShares(t, got, "www", nil)
	if got["cdn.cdnmetrics.steering.www.all_zero"] != 1 {
		t.Errorf("all_zero = %v, want 1: %v", got["cdn.cdnmetrics.steering.www.all_zero"], got)
	}
	got = run(t, c)
	if got["cdn.cdnmetrics.steering.www.all_zero"] != 2 {
		t.Errorf("all_zero after two runs = %v", got["cdn.cdnmetrics.steering.www.all_zero"])
	}
}

// The HTTP source sends the bearer token and reads the same JSON.
func TestHTTPWeights(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"fastly": 1, "akamai": 3}`))
	}))
	defer srv.Close()
	env := collectors.Env{Prefix: "cdn", Getenv: func(k string) string {
		if k == "TOK" {
			return "s3cret"
		}
		return ""
	}}
	c := build(t, &steering.Options{Sources: []steering.Source{{Service: "api", Kind: "http", URL: srv.URL, TokenEnv: "TOK"}}}, env)
	wantShares(t, run(t, c), "api", map[string]float64{"fastly": 0.25, "akamai": 0.75})
}

// A source that fails fails the run, counted, while the others still emit.
func TestFailedSourceCounted(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "g.json")
	bad := filepath.Join(dir, "b.json")
	os.WriteFile(good, []byte(`{"fastly": 2, "akamai": 2}`), 0o644)
	os.WriteFile(bad, []byte(`{"fastly": 2}`), 0o644)
	c := build(t, &steering.Options{Sources: []steering.Source{{Service: "www", Kind: "file", Path: good}, {Service: "api", Kind: "file", Path: bad}}}, collectors.Env{Prefix: "cdn"})
	os.WriteFile(bad, []byte(`{"fastly": -1}`), 0o644)
	rec := &collectorstest.Recorder{}
	if err := c.Collect(context.Background(), collectors.Window{}, rec); err == nil || !strings.Contains(err.Error(), "steering api") {
		t.Fatalf("err %v, want the api source named", err)
	}
	got := map[string]float64{}
	for _, b := range rec.Batches() {
		for _, p := range b.Points {
			got[p.Path] = p.Value
		}
	}
	wantShares(t, got, "www", map[string]float64{"fastly": 0.5, "akamai": 0.5})
	if got["cdn.cdnmetrics.steering.api.read_failures"] != 1 {
		t.Errorf("read_failures %v", got)
	}
}

// A corrupt state file is set aside, not fatal.
func TestCorruptStateSetAside(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "w.json")
	os.WriteFile(file, []byte(`{"fastly": 1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "weights.json"), []byte(`{"version":1,"services":{"www":{"fastly":-5}}}`), 0o640)
	c := build(t, &steering.Options{Sources: []steering.Source{{Service: "www", Kind: "file", Path: file}}}, collectors.Env{Prefix: "cdn", StateDir: dir})
	wantShares(t, run(t, c), "www", map[string]float64{"fastly": 1})
	m, _ := filepath.Glob(filepath.Join(dir, "weights.json.corrupt-*"))
	if len(m) != 1 {
		t.Fatalf("corrupt state not set aside: %v", m)
	}
}

// The Route 53 stand-in serves the demo model's weights: 100 × each
// provider's traffic scale (fastly 1, cloudfront 0.7, cloudflare 0.9,
// akamai 1.2, edgecast 0.5; total 4.3), through the SDK with SigV4.
func TestRoute53StandIn(t *testing.T) {
	env := collectors.Env{Prefix: "cdn", Getenv: collectorstest.SimEnv(collectors.SimSecret)}
	sim := simulate.Env{Model: traffic.Demo(1), Now: time.Now, Secret: func(string) string { return collectors.SimSecret }}
	opts, f := collectorstest.SimOptions(t, steering.Name, sim, env)
	c, err := f.New(opts, env)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, c)
	for _, svc := range []string{"www", "api", "static"} {
		wantShares(t, got, svc, map[string]float64{
			"fastly": 100.0 / 430, "cloudfront": 70.0 / 430, "cloudflare": 90.0 / 430, "akamai": 120.0 / 430, "edgecast": 50.0 / 430})
	}
	_ = steeringsim.HostedZoneID
}

// A wrong credential is an error naming Route 53, not a zero.
func TestRoute53Refused(t *testing.T) {
	env := collectors.Env{Prefix: "cdn", Getenv: collectorstest.SimEnv(collectors.SimSecret)}
	sim := simulate.Env{Model: traffic.Default(1), Now: time.Now}
	opts, f := collectorstest.SimOptions(t, steering.Name, sim, env)
	o := opts.(*steering.Options)
	o.Sources = o.Sources[:1]
	o.Sources[0].AccessKeyID = "someone-else"
	c, err := f.New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Collect(context.Background(), collectors.Window{}, &collectorstest.Recorder{})
	if err == nil || !strings.Contains(err.Error(), "route53") {
		t.Fatalf("err %v", err)
	}
}

// A change whose event was posted but whose batch (or state write) failed
// is still written to state at the next run, though the weights did not
// change again: a restart then posts no second event for that one change.
func TestChangeKeptAfterFailedEmit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "weights.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"fastly": 70, "akamai": 30}`)
	ev := &events{}
	env := collectors.Env{Prefix: "cdn", StateDir: filepath.Join(dir, "state"), Events: ev}
	os.MkdirAll(env.StateDir, 0o750)
	o := &steering.Options{Cron: "@every 1m", Sources: []steering.Source{{Service: "www", Kind: "file", Path: file}}}
	c := build(t, o, env)
	run(t, c)
	write(`{"fastly": 50, "akamai": 50}`)
	failing := collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return context.DeadlineExceeded })
	if err := c.Collect(context.Background(), collectors.Window{}, failing); err == nil {
		t.Fatal("a failed emit was not reported")
	}
	if len(ev.got) != 1 {
		t.Fatalf("events %v, want the one change", ev.got)
	}
	run(t, c) // same weights, the sink is back
	c2 := build(t, o, env)
	run(t, c2)
	if len(ev.got) != 1 {
		t.Errorf("restart posted the change again: %v", ev.got[1:])
	}
}
