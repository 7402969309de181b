package gcp

import (
	"context"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The collector, configured by gcpsim.Config (service-account key file
// whose token_uri is the stand-in), reads exactly what gcpsim.Expect
// computes from the model — over several pages per metric, series cut at
// page boundaries.
func TestSimulateCollectEqualsExpect(t *testing.T) {
	m := traffic.Default(7)
	m.Incidents = []traffic.Incident{{Service: "api", Start: 1767225600 + 120, End: 1767225600 + 240, HitRatioDelta: -0.9}}
	now := time.Unix(1767225600+3600, 0)
	c := simSetup(t, m, now)
	w := collectors.Window{Start: time.Unix(1767225600, 0), End: time.Unix(1767225600+10*60, 0)}
	rec := &collectorstest.Recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := gcpsim.Expect(m, w)
	// 3 url maps × 10 minutes × (all + 4 continents), all with traffic.
	if len(want) != 3*10*5 {
		t.Errorf("Expect gave %d records, want 150", len(want))
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
	if len(rec.Batches()) != 3 {
		t.Errorf("batches = %d, want one per url map", len(rec.Batches()))
	}
}
