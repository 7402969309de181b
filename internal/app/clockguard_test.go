package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The emitter's guard, for a collector stating a retention (CloudFront's
// 15 days): rows ahead of our clock + tolerance or older than the retention
// are dropped per row, with one warning for the batch, and counted in
// cdn.cdnmetrics.collector.cloudfront.rejected_future / rejected_too_old.
func TestEmitterGuardRejectsRowsOutsideOurClockAndCounts(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	var logs bytes.Buffer
	rt := &program{cfg: &cfg, logger: slog.New(slog.NewTextHandler(&logs, nil)), stats: map[string]*collectorStats{}}
	rt.clockGuard.now = func() time.Time { return now }
	rt.clockGuard.setRetention("cloudfront", 15*24*time.Hour)
	rec := func(start time.Time) schema.Record {
		r := schema.Record{Provider: "cloudfront", Service: "www", Location: "all", Start: start.Unix(), Step: 60}
		r.Set(schema.Requests, 1)
		return r
	}
	b := collectors.Batch{Records: []schema.Record{
		rec(now.Add(-10 * time.Minute)),
		rec(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)),
		rec(now.Add(6 * time.Minute)),
		rec(now.Add(-16 * 24 * time.Hour)),
	}}
	kept := rt.trust("cloudfront", b)
	if len(kept.Records) != 1 || kept.Records[0].Start != now.Add(-10*time.Minute).Unix() {
		t.Fatalf("kept %+v, want only the row 10 minutes ago", kept.Records)
	}
	if n := strings.Count(logs.String(), "rejected"); n != 1 || !strings.Contains(logs.String(), "future=2") || !strings.Contains(logs.String(), "too_old=1") ||
		!strings.Contains(logs.String(), "newest=2100-01-01T00:00:00Z") {
		t.Errorf("want one warning naming future=2 (newest 2100) and too_old=1, got:\n%s", logs.String())
	}
	got := map[string]float64{}
	for _, p := range rt.selfPoints(now) {
		got[p.Path] = p.Value
	}
	for path, v := range map[string]float64{
		"cdn.cdnmetrics.collector.cloudfront.rejected_future":   2,
		"cdn.cdnmetrics.collector.cloudfront.rejected_too_old":  1,
		"cdn.cdnmetrics.collector.cloudfront.checkpoint_resets": 0,
	} {
		if g, ok := got[path]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", path, g, ok, v)
		}
	}
}

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
