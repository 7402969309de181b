package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// `event --when` ahead of our clock beyond clock_skew_tolerance is a usage
// error (exit 2) that says why; within the tolerance it is accepted.
func TestEventWhenAheadOfOurClockIsAUsageError(t *testing.T) {
	// Not app_test's run: its plain buffers race with the sink's logging.
	run := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var out, errb collectorstest.SyncBuffer
		code := Main(context.Background(), args, IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "FAKECDN_TOKEN" {
				return secret
			}
			return ""
		}})
		return code, out.String(), errb.String()
	}
	carbon := newFakeCarbon(t)
	cfg := writeConfig(t, carbon.ln.Addr().String(), "")
	code, _, errs := run(t, "event", "--config", cfg, "--when", "2100-01-01T00:00:00Z")
	if code != 2 || !strings.Contains(errs, "ahead of our clock") {
		t.Fatalf("event --when 2100: exit %d, stderr %q; want 2 naming the reason", code, errs)
	}
	code, _, errs = run(t, "event", "--config", cfg, "--when", time.Now().Add(10*time.Minute).Format(time.RFC3339))
	if code != 2 {
		t.Fatalf("event --when now+10m: exit %d, stderr %q; want 2", code, errs)
	}
	when := time.Now().Add(time.Minute).Truncate(time.Second)
	code, _, errs = run(t, "event", "--config", cfg, "--when", when.Format(time.RFC3339))
	if code != 0 || strings.Contains(errs, "ahead of our clock") {
		t.Fatalf("event --when now+1m (within 5m): exit %d, stderr %q", code, errs)
	}
	// The fake carbon reads asynchronously: poll, bounded.
	line := "cdn.events.deploy.deploy 1 " + fmt.Sprint(when.Unix())
	for deadline := time.Now().Add(5 * time.Second); !carbon.has(line) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !carbon.has(line) {
		t.Errorf("the accepted event's metric %q was not written", line)
	}
}
