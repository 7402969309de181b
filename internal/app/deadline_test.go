package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
)

// A vendor that holds every request open ends a one-shot collect at
// run_timeout: the collector FAILED, exit 1, well before its requests'
// own 30 s deadline.
func TestCollectEndsAtRunTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select { // holds the answer open, at most 30 s
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	defer srv.Close()
	sim, _ := simulate.Lookup("fastly")
	dir := t.TempDir()
	section, err := sim.Config(srv.URL, dir)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := strings.Cut(section, "\n")
	cfg := filepath.Join(dir, "config.toml")
	text := "state_dir = \"" + filepath.Join(dir, "state") + "\"\nrun_timeout = \"1s\"\n" + head + "\nrequest_timeout = \"30s\"\n" + rest
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == collectors.SimSecretEnv {
			return collectors.SimSecret
		}
		return ""
	}
	var out, errb bytes.Buffer
	type result struct {
		code    int
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		code := Main(context.Background(), []string{"collect", "--config", cfg, "--dry-run"}, IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
		done <- result{code, time.Since(start)}
	}()
	select {
	case r := <-done:
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, errb.String())
		}
		if r.elapsed > 6*time.Second {
			t.Fatalf("collect took %v with run_timeout 1s", r.elapsed)
		}
		// Dry runs print the summary on stderr.
		if s := errb.String(); !strings.Contains(s, "fastly FAILED (run deadline of 1s reached") {
			t.Fatalf("summary does not say the run deadline ended it:\n%s", s)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("collect still running after 40s with run_timeout 1s")
	}
}
