package app

import (
	"context"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// statsSink is a closed sink that reports fixed counters.
type statsSink struct{ st graphite.Stats }

func (s statsSink) Send(context.Context, []schema.Point) error { return nil }
func (s statsSink) Flush(context.Context) error                { return nil }
func (s statsSink) Close(context.Context) error                { return nil }
func (s statsSink) Stats() graphite.Stats                      { return s.st }

// TestDeliverySummaryCarriedDamage (review finding 4): the reviewer's run,
// the counters as the sink now keeps them. An earlier run left 35 251
// points; 1 000 of them were in a damaged record; 34 251 were replayed.
// This run's own 16 self-metric points were delivered. The summary must say
// this run dropped nothing, the earlier runs' spool lost 1 000 and nothing
// is left (35 251 = 34 251 + 1 000 + 0), and the run must fail (exit 1)
// because points were lost.
func TestDeliverySummaryCarriedDamage(t *testing.T) {
	st := graphite.Stats{
		SentPoints: 34251 + 16, ReplayedPoints: 34251, SpoolCorruptPoints: 1000,
		CarriedPoints: 35251, CarriedReplayed: 34251, CarriedCorrupt: 1000,
	}
	rt := &program{cfg: &config.Config{StateDir: "/var/lib/cdnmetrics"}, sink: statsSink{st}}
	d := rt.deliverySummary(0, 16)
	want := "sink: 16 points (0 collected, 16 self-metrics): 16 delivered, 0 spooled, 0 dropped; " +
		"earlier runs' spool: 35251 points, 34251 delivered, 1000 dropped (1000 in damaged records), 0 still spooled"
	if d.text != want {
		t.Errorf("summary\n got %q\nwant %q", d.text, want)
	}
	if d.dropped != 1000 {
		t.Errorf("dropped = %d, want 1000 (the run exits 1)", d.dropped)
	}
	if strings.Contains(d.warn, "spooled") {
		t.Errorf("warn %q: nothing was spooled", d.warn)
	}
}
