package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The daemon refuses what cron/v3 would run every second instead of as
// written, and what would make cron/v3 panic.
func TestDaemonRefusesSubSecondAndBrokenSchedules(t *testing.T) {
	d := NewDaemon(slog.Default())
	for spec, want := range map[string]string{
		"":            "empty",
		"@every 0s":   "minimum of 1s",
		"@every -5s":  "minimum of 1s",
		"@every 1.5s": "whole seconds",
		"TZ=UTC":      "time zone",
		"0 0 30 2 *":  "never fires",
	} {
		err := d.Add(context.Background(), Job{Name: "x", Schedule: spec, Run: func(context.Context) {}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Add(%q) = %v, want an error saying %q", spec, err, want)
		}
	}
	s, err := ParseSchedule("@every 2s")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := s.Next(from).Sub(from); got != 2*time.Second {
		t.Fatalf("@every 2s: next after %v", got)
	}
}
