package e2e

import (
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// simGetenv is the environment of an in-process cdnmetrics run against the
// simulator: only the simulator's credential is set.
func simGetenv(k string) string {
	if k == collectors.SimSecretEnv {
		return collectors.SimSecret
	}
	return ""
}

// addPoints adds the points of recs under prefix to want (path → time →
// value, what graphite-web must render) and returns how many it added. A
// point already in want fails the test: the expected sets must not overlap.
func addPoints(t *testing.T, want map[string]map[int64]float64, prefix string, recs []schema.Record) int {
	t.Helper()
	n := 0
	for _, p := range schema.Points(prefix, recs, nil) {
		if want[p.Path] == nil {
			want[p.Path] = map[int64]float64{}
		}
		if _, dup := want[p.Path][p.Time]; dup {
			t.Fatalf("expected points overlap: %s@%d twice", p.Path, p.Time)
		}
		want[p.Path][p.Time] = p.Value
		n++
	}
	return n
}
