package timespec

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Time{
		"now":                  now,
		"-7d":                  now.Add(-7 * 24 * time.Hour),
		"-24h":                 now.Add(-24 * time.Hour),
		"-30min":               now.Add(-30 * time.Minute),
		"-30m":                 now.Add(-30 * time.Minute),
		"now-1h":               now.Add(-time.Hour),
		"-1h30min":             now.Add(-90 * time.Minute),
		"-2w":                  now.Add(-14 * 24 * time.Hour),
		"-1mon":                now.Add(-30 * 24 * time.Hour),
		"1795381779":           time.Unix(1795381779, 0),
		"2026-11-22T10:00:00Z": time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		"-1.5h":                now.Add(-90 * time.Minute), // a Go duration
		"-90s":                 now.Add(-90 * time.Second),
	}
	for in, want := range tests {
		got, err := Parse(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", "-7", "-7q", "yesterday", "-999999999y", "--1h", "-0.5", "-876001h"} {
		if _, err := Parse(bad, now); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
