package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	// Every vendor's stand-in, its config section and Expect.
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all/sim"
)

// writeConfig writes text to dir/config.toml and returns its path. A
// config without an [admin] section gets one turned off: the default
// 127.0.0.1:9107 would make daemons of tests running at the same time (or
// a real daemon on this machine) refuse to start.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	if !strings.Contains(text, "[admin]") {
		text += "\n[admin]\nlisten = \"\"\n"
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSim starts the simulator with o (closed when the test ends) and
// returns it with the text of a config for every vendor it serves, built
// from core with its state in dir/state (the simulator's files go to
// dir/sim).
func startSim(t *testing.T, o simulate.Options, dir string, core simulate.Core) (*simulate.Server, string) {
	t.Helper()
	srv, err := simulate.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	core.StateDir = filepath.Join(dir, "state")
	text, err := srv.Config(core, filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	return srv, text
}

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
