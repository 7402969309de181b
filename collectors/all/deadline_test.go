package all_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all/sim"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
)

// trickleServer answers every request with 200 and then one byte every
// 100 ms (at most 30 s), recording how long each request was held.
type trickleServer struct {
	*httptest.Server
	mu   sync.Mutex
	held []time.Duration
}

func newTrickleServer(t *testing.T) *trickleServer {
	ts := &trickleServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			ts.mu.Lock()
			ts.held = append(ts.held, time.Since(start))
			ts.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 300; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *trickleServer) longest() (time.Duration, int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var m time.Duration
	for _, d := range ts.held {
		m = max(m, d)
	}
	return m, len(ts.held)
}

// Every collector that talks to a vendor API takes request_timeout from
// its section and holds no request longer than that, however slowly the
// vendor trickles its answer.
func TestRequestTimeoutBoundsEveryVendorRequest(t *testing.T) {
	for _, name := range []string{"akamai", "cloudflare", "cloudfront", "edgecast", "fastly", "gcore"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := newTrickleServer(t)
			f, ok := collectors.Lookup(name)
			sim, simOK := simulate.Lookup(name)
			if !ok || !simOK {
				t.Fatalf("%s is not registered with a simulator", name)
			}
			dir := t.TempDir()
			section, err := sim.Config(ts.URL, dir)
			if err != nil {
				t.Fatal(err)
			}
			// The key goes into the collector's own table, before any [[sub]] table.
			head, rest, _ := strings.Cut(section, "\n")
			text := "state_dir = " + `"` + filepath.Join(dir, "state") + `"` + "\n" + head + "\nrequest_timeout = \"1s\"\n" + rest
			path := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string {
				if k == collectors.SimSecretEnv {
					return collectors.SimSecret
				}
				return ""
			}
			cfg, probs := config.Load(path, getenv)
			if errs := probs.Errors(); len(errs) > 0 {
				t.Fatalf("config: %v", errs)
			}
			if len(cfg.Collectors) != 1 {
				t.Fatalf("%d collectors configured", len(cfg.Collectors))
			}
			cc := cfg.Collectors[0]
			o, ok := cc.Options.(interface{ RequestDeadline() time.Duration })
			if !ok || o.RequestDeadline() != time.Second {
				t.Fatalf("options %T do not carry request_timeout = 1s", cc.Options)
			}
			env := collectors.Env{Prefix: "cdn", StateDir: filepath.Join(dir, "state"), Getenv: getenv,
				Logger: slog.New(slog.NewTextHandler(&strings.Builder{}, nil)), HTTPClient: &http.Client{}}
			c, err := f.New(cc.Options, env)
			if err != nil {
				t.Fatal(err)
			}
			step := time.Minute
			if f.Timing != nil && f.Timing(cc.Options).Step > 0 {
				step = f.Timing(cc.Options).Step
			}
			// A live window: EdgeCast serves only the current minute.
			end := time.Now().Truncate(step)
			w := collectors.Window{Start: end.Add(-step), End: end}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err = c.Collect(ctx, w, collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }))
			elapsed := time.Since(start)
			ts.Close() // waits for the handlers, which record how long they were held
			longest, n := ts.longest()
			if err == nil {
				t.Fatalf("Collect against a trickling vendor succeeded (%d requests)", n)
			}
			if ctx.Err() != nil {
				t.Fatalf("Collect ran into the test's own 30s bound (%d requests, longest %v): %v", n, longest, err)
			}
			// 1 s deadline; the rest is slack for a loaded machine. Without
			// it a request lasts 15 s to 2 min (per-attempt timeouts × retries).
			if longest > 3*time.Second {
				t.Fatalf("a request was held %v (of %d; Collect took %v), want at most the 1s request_timeout", longest, n, elapsed)
			}
			t.Logf("%d request(s), longest %v, Collect %v: %v", n, longest, elapsed, err)
		})
	}
}
