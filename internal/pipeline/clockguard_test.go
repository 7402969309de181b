package pipeline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The emitter's guard, for a collector stating a retention (CloudFront's
// 15 days): rows ahead of our clock + tolerance or older than the retention
// are dropped per row, with one warning for the batch, and counted in
// cdn.cdnmetrics.collector.cloudfront.rejected_future / rejected_too_old.
func TestEmitterGuardRejectsRowsOutsideOurClockAndCounts(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	p := New(Options{Prefix: "cdn", Logger: slog.New(slog.NewTextHandler(&logs, nil)), ClockSkewTolerance: config.Default().ClockSkewTolerance.D()})
	p.clockGuard.now = func() time.Time { return now }
	p.SetRetention("cloudfront", 15*24*time.Hour)
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
	kept := p.trust("cloudfront", b)
	if len(kept.Records) != 1 || kept.Records[0].Start != now.Add(-10*time.Minute).Unix() {
		t.Fatalf("kept %+v, want only the row 10 minutes ago", kept.Records)
	}
	if n := strings.Count(logs.String(), "rejected"); n != 1 || !strings.Contains(logs.String(), "future=2") || !strings.Contains(logs.String(), "too_old=1") ||
		!strings.Contains(logs.String(), "newest=2100-01-01T00:00:00Z") {
		t.Errorf("want one warning naming future=2 (newest 2100) and too_old=1, got:\n%s", logs.String())
	}
	got := map[string]float64{}
	for _, pt := range p.SelfPoints(now) {
		got[pt.Path] = pt.Value
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

// A collector's renamed locations (a POP named like our "all") reach the
// self-metric <prefix>.cdnmetrics.collector.<name>.renamed_locations.
func TestRenamedLocationsCounted(t *testing.T) {
	p := New(Options{Prefix: "cdn", Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	p.Clock("fastly").Count(collectors.RenamedLocations, 2)
	p.Clock("fastly").Count(collectors.RenamedLocations, 1)
	for _, pt := range p.SelfPoints(time.Unix(1700000000, 0)) {
		if pt.Path == "cdn.cdnmetrics.collector.fastly.renamed_locations" {
			if pt.Value != 3 {
				t.Errorf("%s = %v, want 3", pt.Path, pt.Value)
			}
			return
		}
	}
	t.Error("no cdn.cdnmetrics.collector.fastly.renamed_locations self-metric")
}
