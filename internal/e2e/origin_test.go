package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// An origin access log written by the test (requests carrying
// X-CDN-Provider) and the Fastly stand-in collected in one run: graphite-web
// renders the origin-observed counts per provider and, for Fastly, the
// reconciliation ratio origin-observed / vendor-reported per minute.
func TestOriginLogAndReconciliationThroughRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	m := traffic.Default(5)
	dir := t.TempDir()
	_, text := startSim(t, simulate.Options{Model: m, Only: []string{"fastly"}}, dir, simulate.Core{GraphiteAddr: g.CarbonAddr, Prefix: "e2eo"})
	// Four minutes of origin log, two hours back. Fastly's origin sees
	// 40, 41, 42 requests in minutes 0..2 (and minute 3 closes them);
	// Akamai 3 a minute; requests without the header count as "direct".
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	var log strings.Builder
	line := func(ts time.Time, status int, bytes int, provider string) {
		fmt.Fprintf(&log, "10.0.0.1 - - [%s] \"GET /obj HTTP/1.1\" %d %d \"-\" \"curl/8.0\" \"%s\"\n", ts.UTC().Format("02/Jan/2006:15:04:05 -0700"), status, bytes, provider)
	}
	observed := map[int64]float64{}
	for min := 0; min < 4; min++ {
		start := t0.Add(time.Duration(min) * time.Minute)
		n := 40 + min
		for i := 0; i < n; i++ {
			status := 200
			if i == 0 {
				status = 503
			}
			line(start.Add(time.Duration(i)*time.Second), status, 1000, "fastly")
		}
		observed[start.Unix()] = float64(n)
		for i := 0; i < 3; i++ {
			line(start.Add(time.Duration(30+i)*time.Second), 200, 10, "akamai")
		}
		line(start.Add(50*time.Second), 404, 0, "-")
	}
	logPath := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logPath, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text += fmt.Sprintf("\n[filters.fastly]\nallow = [\"^www$\"]\naggregate_only = true\n\n[originlog]\nservice = \"www\"\n[[originlog.file]]\npath = %q\n", logPath)
	cfg := writeConfig(t, dir, text)
	var out, errb bytes.Buffer
	getenv := simGetenv
	code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--from", fmt.Sprint(t0.Unix()), "--to", fmt.Sprint(t0.Add(5 * time.Minute).Unix())},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	if code != 0 {
		t.Fatalf("collect exit %d: %s\n%s", code, out.String(), errb.String())
	}
	want := map[string]map[int64]float64{
		"e2eo.fastly.www.origin.origin_requests":             {},
		"e2eo.fastly.www.origin.origin_bytes":                {},
		"e2eo.fastly.www.origin.status_5xx":                  {},
		"e2eo.akamai.www.origin.origin_requests":             {},
		"e2eo.direct.www.origin.status_4xx":                  {},
		"e2eo.fastly.www.origin.origin_requests_delta_ratio": {},
	}
	www := m.ServiceIndex("www")
	for min := 0; min < 4; min++ {
		ts := t0.Add(time.Duration(min) * time.Minute).Unix()
		want["e2eo.fastly.www.origin.origin_requests"][ts] = observed[ts]
		want["e2eo.fastly.www.origin.origin_bytes"][ts] = observed[ts] * 1000 // body bytes
		want["e2eo.fastly.www.origin.status_5xx"][ts] = 1
		want["e2eo.akamai.www.origin.origin_requests"][ts] = 3
		want["e2eo.direct.www.origin.status_4xx"][ts] = 1
		// Reconciliation: what the origin logged over what the stand-in
		// said Fastly fetched from origin for www in that minute.
		reported := float64(m.SumAll(www, ts, ts+60).OriginFetches)
		want["e2eo.fastly.www.origin.origin_requests_delta_ratio"][ts] = observed[ts] / reported
		if min == 0 {
			t.Logf("minute %d: origin logged %v, Fastly reported %v origin fetches → ratio %v", ts, observed[ts], reported, observed[ts]/reported)
		}
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("%d values rendered as computed, %d missing", found, missing)
	if missing != 0 {
		t.Fatalf("%d values missing or different\n%s", missing, errb.String())
	}
}
