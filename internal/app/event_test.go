package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

// An event graphite-web refuses is reported as rejected and not retried;
// one it cannot be reached for is reported as queued. Each output says
// only what is true of that event.
func TestEventOutputSaysRejectedOrQueuedNotBoth(t *testing.T) {
	var posts atomic.Int32
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Error(w, "invalid event", http.StatusBadRequest)
	}))
	defer refusing.Close()
	unreachable, err := graphitetest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url      string
		stdout, stderr string // must appear
		notOut, notErr string // must not appear
		code           int    // README "Exit codes": rejected 1, backend unreachable 3
	}{
		{name: "rejected", url: refusing.URL,
			stdout: "REJECTED 1", stderr: "1 event(s) rejected by graphite-web and not retried",
			notOut: "NOT DELIVERED", notErr: "kept queued", code: 1},
		{name: "unreachable", url: "http://" + unreachable,
			stdout: "NOT DELIVERED 1", stderr: "1 event(s) kept queued; the daemon",
			notOut: "REJECTED", notErr: "rejected by graphite-web", code: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCarbon(t)
			cfg := writeConfig(t, fc.ln.Addr().String(), "[events]\ngraphite_web_urls = [\""+tc.url+"\"]\n")
			code, out, errs := run(t, "event", "--config", cfg, "--what", "deploy", "--tags", "deploy www")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.stdout) || strings.Contains(out, tc.notOut) {
				t.Errorf("stdout wants %q and not %q:\n%s", tc.stdout, tc.notOut, out)
			}
			if !strings.Contains(errs, tc.stderr) || strings.Contains(errs, tc.notErr) {
				t.Errorf("stderr wants %q and not %q:\n%s", tc.stderr, tc.notErr, errs)
			}
		})
	}
	if posts.Load() != 1 {
		t.Errorf("the refusing graphite-web got %d posts, want 1 (a rejected event is not retried)", posts.Load())
	}
}
