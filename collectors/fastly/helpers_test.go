package fastly

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// decodeTOML decodes a [fastly] section text over o, as the config
// package does.
func decodeTOML(text string, o *Options) (toml.MetaData, error) {
	var wrap struct {
		Fastly *Options `toml:"fastly"`
	}
	wrap.Fastly = o
	return toml.Decode(text, &wrap)
}

// find returns the record at loc and start.
func find(t *testing.T, recs []schema.Record, loc string, start int64) schema.Record {
	t.Helper()
	for _, r := range recs {
		if r.Location == loc && r.Start == start {
			return r
		}
	}
	t.Fatalf("no record %s@%d in %d records", loc, start, len(recs))
	return schema.Record{}
}

// want checks fields of a record: each must be known and equal.
func want(t *testing.T, r schema.Record, fields map[schema.Field]float64) {
	t.Helper()
	for f, w := range fields {
		if v, ok := r.Get(f); !ok || v != w {
			t.Errorf("%s@%d %s = %v (known %v), want %v", r.Location, r.Start, f, v, ok, w)
		}
	}
}

// recorder keeps what a collector emits.
type recorder = collectorstest.Recorder

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

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer = collectorstest.SyncBuffer

// testEnv is an Env with the simulator secret under SimSecretEnv and logs
// captured in logs.
func testEnv(logs *syncBuffer, ev collectors.EventPoster) collectors.Env {
	return collectors.Env{
		Getenv: func(k string) string { return map[string]string{collectors.SimSecretEnv: collectors.SimSecret}[k] },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Events: ev,
	}
}

// newSim starts the stand-in behind the simulator's /fastly prefix with
// the clock now, and returns a collector configured by fastlysim.Config.
func newSim(t *testing.T, now func() time.Time, logs *syncBuffer, ev collectors.EventPoster) (*Collector, *traffic.Model) {
	t.Helper()
	m := traffic.Default(1)
	mux := http.NewServeMux()
	fastlysim.Serve(mux, simulate.Env{Model: m, Now: now, Secret: func(string) string { return collectors.SimSecret }})
	outer := http.NewServeMux()
	outer.Handle("/fastly/", http.StripPrefix("/fastly", mux))
	srv := httptest.NewServer(outer)
	t.Cleanup(srv.Close)
	text, err := fastlysim.Config(srv.URL+"/fastly", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := defaults()
	md, err := decodeTOML(text, o)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("simConfig has keys Options does not know: %v", u)
	}
	env := testEnv(logs, ev)
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("simConfig does not validate: %v", ps)
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	c.now = now
	return c, m
}

// fastClock runs speed times faster than the wall clock from start.
func fastClock(start time.Time, speed float64) func() time.Time {
	t0 := time.Now()
	return func() time.Time { return start.Add(time.Duration(float64(time.Since(t0)) * speed)) }
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// windowAll is a window every sample row is inside.
var windowAll = collectors.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)}

type httpxClient = httpx.Client

// newHTTPClientForTest is an httpx client with millisecond backoff.
func newHTTPClientForTest(l *slog.Logger) *httpx.Client {
	return httpx.New("fastly", httpx.WithLogger(l), httpx.WithBackoff(time.Millisecond, 5*time.Millisecond), httpx.WithRetries(3))
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }
