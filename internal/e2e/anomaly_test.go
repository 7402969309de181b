package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// anomalyRun collects six hours of Fastly www minute data (aggregate only)
// from a simulator whose model may hold a hit-ratio drop, with the
// anomaly detector on the all-location hit ratio, and returns the anomaly
// events graphite-web then holds.
func anomalyRun(t *testing.T, g *graphitetest.Server, prefix string, end time.Time, incident *traffic.Incident, cuts ...time.Time) []ghEvent {
	t.Helper()
	m := traffic.Default(11)
	m.BurstChance = 0
	if incident != nil {
		m.Incidents = []traffic.Incident{*incident}
	}
	dir := t.TempDir()
	_, text := startSim(t, simulate.Options{Model: m, Only: []string{"fastly"}}, dir, simulate.Core{GraphiteAddr: g.CarbonAddr, GraphiteWebURL: g.WebURL, Prefix: prefix})
	text += "\n[filters.fastly]\nallow = [\"^www$\"]\naggregate_only = true\n"
	text += fmt.Sprintf("\n[anomaly]\nenabled = true\nfilter = '^%s\\.fastly\\.www\\.all\\.hit_ratio$'\n", prefix)
	cfg := writeConfig(t, dir, text)
	var out, errb bytes.Buffer
	getenv := simGetenv
	// One collect over the six hours, or one per stretch between cuts (as
	// cron runs would): the detectors' state carries over in state_dir.
	bounds := append(append([]time.Time{end.Add(-6 * time.Hour)}, cuts...), end)
	for i := 1; i < len(bounds); i++ {
		code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(bounds[i-1].Unix()), "--to", fmt.Sprint(bounds[i].Unix())},
			app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
		if code != 0 {
			t.Fatalf("collect exit %d: %s %s", code, out.String(), errb.String())
		}
	}
	var mine []ghEvent
	for _, e := range getEvents(t, g.WebURL, "anomaly") {
		if e.When >= end.Add(-6*time.Hour).Unix() && e.When < end.Unix() {
			mine = append(mine, e)
		}
	}
	return mine
}

// The simulator drops www's hit ratio by 0.3 after a "deploy" five hours
// into a six-hour window: the detector's anomaly event appears in
// graphite-web near the drop. The same six hours without the drop give no
// event at all.
func TestAnomalyEventNearHitRatioDrop(t *testing.T) {
	g := graphitetest.Start(t)
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	// A clean run first, on a different day-time window of the same length.
	clean := anomalyRun(t, g, "e2eclean", end.Add(-8*time.Hour), nil)
	if len(clean) != 0 {
		t.Errorf("clean run raised %d anomaly events: %+v", len(clean), clean)
	}
	drop := end.Add(-time.Hour)
	evs := anomalyRun(t, g, "e2edrop", end, &traffic.Incident{Service: "www", Start: drop.Unix(), End: drop.Add(30 * time.Minute).Unix(), HitRatioDelta: -0.3})
	if len(evs) == 0 {
		t.Fatalf("no anomaly event for a 0.3 hit-ratio drop at %v", drop)
	}
	first := evs[0]
	delay := time.Duration(first.When-drop.Unix()) * time.Second
	t.Logf("hit-ratio drop at %v; first anomaly event at %v (%v after), %d event(s): %q", drop.UTC().Format(time.RFC3339),
		time.Unix(first.When, 0).UTC().Format(time.RFC3339), delay, len(evs), first.Data)
	if delay < 0 || delay > 10*time.Minute {
		t.Fatalf("first anomaly event %v after the drop, want within 10 minutes", delay)
	}
	// The score series is in Graphite too: 1 at the drop.
	g.WaitValue(t, "e2edrop.anomaly.fastly.www.all.hit_ratio", first.When, 1, 20*time.Second)
}

// The detectors' state is kept in state_dir between runs: the last hour,
// collected by a run of its own (60 points, fewer than a series needs to
// learn), still flags the drop, because the run before taught it.
func TestAnomalyStateCarriesAcrossCollectRuns(t *testing.T) {
	g := graphitetest.Start(t)
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	drop := end.Add(-30 * time.Minute)
	evs := anomalyRun(t, g, "e2ecron", end, &traffic.Incident{Service: "www", Start: drop.Unix(), End: drop.Add(20 * time.Minute).Unix(), HitRatioDelta: -0.3}, end.Add(-time.Hour))
	if len(evs) == 0 {
		t.Fatalf("no anomaly event for the drop at %v in the second collect run", drop)
	}
	if d := time.Duration(evs[0].When-drop.Unix()) * time.Second; d < 0 || d > 10*time.Minute {
		t.Fatalf("first anomaly event %v after the drop, want within 10 minutes", d)
	}
	t.Logf("drop at %v flagged at %v by the second of two collect runs", drop.UTC().Format(time.RFC3339), time.Unix(evs[0].When, 0).UTC().Format(time.RFC3339))
}
