package collectors

import (
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func TestClockFilterRejectsFutureAndTooOldPerItem(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := Clock{Tolerance: 5 * time.Minute, Retention: 15 * 24 * time.Hour}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	b := Batch{
		Records: []schema.Record{
			{Service: "ok", Start: at(-time.Minute), Step: 60},
			{Service: "edge", Start: at(5 * time.Minute), Step: 60}, // exactly the tolerance: kept
			{Service: "ahead", Start: at(5*time.Minute + time.Second), Step: 60},
			{Service: "2100", Start: 4102444800, Step: 60},
			{Service: "old", Start: at(-15*24*time.Hour - time.Minute), Step: 60},
		},
		Gauges: []schema.Gauge{{Service: "g-ok", Time: at(0)}, {Service: "g-ahead", Time: at(time.Hour)}},
		Points: []schema.Point{{Path: "p.old", Time: at(-20 * 24 * time.Hour)}, {Path: "p.ok", Time: at(-time.Hour)}},
	}
	kept, rej := c.Filter(b, now)
	var names []string
	for _, r := range kept.Records {
		names = append(names, r.Service)
	}
	if len(kept.Records) != 2 || names[0] != "ok" || names[1] != "edge" {
		t.Errorf("records kept %v, want [ok edge]", names)
	}
	if len(kept.Gauges) != 1 || kept.Gauges[0].Service != "g-ok" || len(kept.Points) != 1 || kept.Points[0].Path != "p.ok" {
		t.Errorf("gauges kept %+v, points kept %+v", kept.Gauges, kept.Points)
	}
	want := Rejections{Future: 3, TooOld: 2, NewestFuture: 4102444800, OldestTooOld: at(-20 * 24 * time.Hour)}
	if rej != want {
		t.Errorf("rejections %+v, want %+v", rej, want)
	}
	if len(b.Records) != 5 || b.Records[2].Service != "ahead" {
		t.Errorf("Filter modified its input: %+v", b.Records)
	}
}

func TestClockZeroValueUsesDefaultToleranceAndNoRetention(t *testing.T) {
	now := time.Now()
	var c Clock
	if got := c.Limit(now).Sub(now); got != DefaultClockSkewTolerance {
		t.Errorf("zero Clock tolerance %v, want %v", got, DefaultClockSkewTolerance)
	}
	if why := c.Judge(0, now); why != "" {
		t.Errorf("zero Clock judged 1970 %q: it has no retention", why)
	}
	if why := c.Judge(now.Add(time.Hour).Unix(), now); why != RejectedFuture {
		t.Errorf("an hour ahead judged %q, want %s", why, RejectedFuture)
	}
	c.Count(RejectedFuture, 3) // nil Reject: no panic
}
