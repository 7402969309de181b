package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/edgecast/edgecastsim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestEdgeCastLiveThroughRealGraphite: EdgeCast's real-time API only
// answers for "now", so the window is the current one (as the daemon's
// once-a-minute run sees it) and the stand-in runs on the real clock.
// graphite-web must render exactly the snapshot the stand-in served,
// stamped on the window's last minute.
func TestEdgeCastLiveThroughRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(9)
	dir := t.TempDir()
	_, text := startSim(t, simulate.Options{Model: model, Only: []string{"edgecast"}}, dir, simulate.Core{GraphiteAddr: g.CarbonAddr, Prefix: "e2eec"})
	cfgPath := writeConfig(t, dir, text)
	// Keep clear of a minute boundary: the stand-in answers for the last
	// whole minute, which must be the window's last minute.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Second() > 50; {
		if time.Now().After(deadline) {
			t.Fatal("clock did not leave the end of the minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	end := time.Now().Truncate(time.Minute)
	w := collectors.Window{Start: end.Add(-5 * time.Minute), End: end}
	getenv := simGetenv
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"collect", "--config", cfgPath, "--collector", "edgecast",
		"--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	if code != 0 {
		t.Fatalf("collect exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	want := map[string]map[int64]float64{}
	n := addPoints(t, want, "e2eec", edgecastsim.Expect(model, w))
	if n == 0 {
		t.Fatal("Expect gave no points")
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("edgecast: %d points expected, %d rendered exactly, %d missing or different; %s", n, found, missing, strings.TrimSpace(out.String()))
	if missing != 0 {
		t.Fatalf("%d of %d points not rendered as served", missing, n)
	}
}
